// core/machine.h — what this machine can do at most, measured: the yardstick of the roofline.
//
// A kernel's time is bounded below by two things: the arithmetic it must do at the machine's peak rate, and the
// bytes it must move at the machine's memory bandwidth. The roofline time of a kernel is the larger of the two,
//
//   roofline seconds = max(FLOPs / peak, bytes / bandwidth)
//
// and "% of roofline" = roofline seconds / measured seconds: 100% is a kernel that runs as fast as this machine
// allows for its algorithm's work (attention/benchmark.h reports it per scheme). Both limits are measured here,
// on this machine, at this load — never taken from a data sheet:
//   peak       cblas_sgemm on (n × n) @ (n × n) float32 (n = 2048 by default): the fastest float32 arithmetic
//              the engine can reach (every matmul goes through it); 2·n³ FLOPs per call.
//   bandwidth  the STREAM triad a[i] = b[i] + s·c[i] on float arrays far larger than the caches (3 × 128 MiB by
//              default), over every OpenMP thread; 12 bytes per element counted (read b, c, write a), as STREAM
//              counts them.
// Each is the best of a few runs after a warm-up: the limit, not the typical value.
//
//   const core::MachineLimits m = core::measure_machine();
//   m.peak_gflops, m.bandwidth_gbs, m.roofline_seconds(flops, bytes)
#pragma once

#include <cstdint>
#include <limits>

namespace core {

struct MachineLimits {
  double peak_gflops = std::numeric_limits<double>::quiet_NaN();    // sgemm, GFLOP/s
  double bandwidth_gbs = std::numeric_limits<double>::quiet_NaN();  // triad, GB/s (1 GB = 1e9 bytes)
  int threads = 0;                                                  // OpenMP threads used for both
  bool measured() const { return peak_gflops > 0 && bandwidth_gbs > 0; }
  // max(flops / peak, bytes / bandwidth) in seconds; NaN when not measured or flops is NaN.
  double roofline_seconds(double flops, double bytes) const;
  // The arithmetic intensity (FLOP per byte) above which a kernel is compute-bound here: peak / bandwidth.
  double ridge() const { return peak_gflops / bandwidth_gbs; }
  // Which limit binds for work of this many FLOPs over this many bytes: true for the peak (intensity at or
  // right of the ridge), false for the bandwidth.
  bool compute_bound(double flops, double bytes) const { return flops / bytes >= ridge(); }
};

// Measures both limits (about a second or two). sgemm_n: the matrices' side; triad_floats: each array's length.
MachineLimits measure_machine(int sgemm_n = 2048, int64_t triad_floats = int64_t{1} << 25, int runs = 5);

// The two measurements alone: best-of-`runs` GFLOP/s of sgemm at n × n × n, and GB/s of the triad.
double measure_sgemm_gflops(int n, int runs);
double measure_triad_gbs(int64_t floats, int runs);

}  // namespace core
