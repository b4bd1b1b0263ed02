// attention/benchmark.h — time and peak memory of any registered scheme's kernel, forward + backward, at
// growing n: the efficiency table of the course (`attnzoo bench`, `make bench`, the comparison lesson).
//
// One measurement = q, k, v of shape (B, H, n, d) drawn once; then out = kernel(q, k, v);
// sum(out * G).backward(); timed as the median of a few runs after a warm-up, with the peak bytes the
// counting allocator saw above what was live before (q, k, v and G excluded: activation memory only).
// Growth is summarised by the exponent of a least-squares fit of log(cost) against log(n), and speed by the
// achieved GFLOP/s of the scheme's own useful work (Scheme::flops), so that a slow kernel cannot hide behind a
// good exponent.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "attention/scheme.h"

namespace attention {

struct BenchOptions {
  std::vector<std::string> schemes;  // names; empty = every registered scheme
  std::vector<int64_t> ns = {1024, 2048, 4096};
  int64_t batch = 1, heads = 4, d_head = 64;
  bool causal = false;
  uint64_t seed = 0;
  int repeats = 3;                   // timed runs per point (median), after one warm-up
  double max_seconds_per_point = 20; // a point slower than this (warm-up) is not repeated
  double max_mib = 6144;             // skip a point whose memory, extrapolated as n² from the scheme's last
                                     // measured point, would exceed this (e.g. dense attention at 16K)
  std::function<void(const std::string&)> progress;  // called with one line per configuration
};

struct BenchPoint {
  std::string scheme;
  int64_t n = 0;
  double seconds = 0;      // forward + backward, median
  double peak_mib = 0;     // activation memory, MiB
  double gflop = 0;        // the scheme's useful work (Scheme::flops), GFLOP; NaN if unknown
  std::string skipped;     // non-empty: why this point was not measured (e.g. causal unsupported)
};

std::vector<BenchPoint> run_benchmark(const BenchOptions& options);

// What attention.csv holds: the points, and the shape they were measured at (batch, heads, d_head, causal).
struct BenchReport {
  BenchOptions options;  // ns, batch, heads, d_head, causal as read; the other fields keep their defaults
  std::vector<BenchPoint> points;
};
// Reads DIR/attention.csv as write_benchmark_report writes it (lesson 15 uses `make bench`'s file when present).
// Throws core::Error "bench: PATH:LINE: ..." on a malformed file, "bench: cannot open PATH" if it cannot be read.
BenchReport read_benchmark_csv(const std::string& path);

// Slope of log(y) against log(x) by least squares (the empirical complexity exponent); NaN if < 2 points.
double fit_exponent(const std::vector<double>& x, const std::vector<double>& y);

// Writes DIR/attention.csv, DIR/attention.md (table + fitted exponents) and DIR/attention.png (log-log time
// and memory vs n, one line per scheme). Returns the markdown text.
std::string write_benchmark_report(const std::vector<BenchPoint>& points, const BenchOptions& options,
                                   const std::string& dir);

}  // namespace attention
