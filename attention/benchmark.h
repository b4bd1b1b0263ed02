// attention/benchmark.h — time and peak memory of any registered scheme's kernel, forward + backward, at
// growing n: the efficiency table of the course (`attnzoo bench`, `make bench`, the comparison lesson).
//
// One measurement = q, k, v of shape (B, H, n, d) drawn once; then out = kernel(q, k, v);
// out.backward(G) (the gradient of sum(out * G)); timed by core::measure (core/timing.h) as the median of a few runs after a warm-up,
// with the peak bytes the counting allocator saw above what was live before (q, k, v and G excluded: the
// activations and the gradients of q, k, v).
// Growth is summarised by the exponent of a least-squares fit of log(cost) against log(n), and speed by the
// achieved GFLOP/s of the scheme's own useful work (Scheme::flops), so that a slow kernel cannot hide behind a
// good exponent; and how close each point comes to this machine's limits: the achieved GB/s of the scheme's
// compulsory traffic (Scheme::bytes) and its % of roofline, max(FLOPs / peak, bytes / bandwidth) over the time
// measured, with the peak and bandwidth of core::measure_machine (core/machine.h) when BenchOptions::machine
// holds them.
#pragma once

#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "attention/scheme.h"
#include "core/machine.h"
#include "plot/plot.h"

namespace attention {

// One curve of a benchmark: a registered scheme with its settings (what the lessons compare).
struct BenchCase {
  BenchCase(std::string scheme_name = "", std::vector<std::string> settings = {}, std::string label_ = "")
      : scheme(std::move(scheme_name)), set(std::move(settings)), label(std::move(label_)) {}
  std::string scheme;             // a registered name
  std::vector<std::string> set;   // its key=value settings (Scheme::configure); empty = the defaults
  std::string label;              // its name in tables and legends (BenchPoint::scheme); empty = scheme
  bool causal = false;
  bool backward = true;           // false: the forward alone, with autograd off (NoGradGuard)
  int64_t max_n = 0;              // measure only n <= max_n (0: every n), to stop a quadratic scheme early
  // A kernel that is not the scheme's own (lesson 03's dense-mask version of the sparse pattern): called with
  // q, k, v and the scheme's Config instead of Scheme::kernel. Empty: the scheme's kernel.
  std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, const Config&)> kernel;
  std::string name() const { return label.empty() ? scheme : label; }
};

struct BenchOptions {
  std::vector<std::string> schemes;  // names at default settings; empty = every registered scheme
  std::vector<BenchCase> cases;      // when not empty: these curves instead of `schemes` (and `causal`)
  std::vector<int64_t> ns = {1024, 2048, 4096};
  int64_t batch = 1, heads = 4, d_head = 64;
  bool causal = false;
  uint64_t seed = 0;
  int repeats = 3;                   // timed runs per point (median), after one warm-up
  double max_seconds_per_point = 20; // stop repeating once the timed runs took this long; a point whose warm-up
                                     // alone took longer is not repeated (core::measure's budget)
  double max_mib = 6144;             // skip a point whose memory, extrapolated as n² from the scheme's last
                                     // measured point, would exceed this (e.g. dense attention at 16K)
  std::function<void(const std::string&)> progress;  // called with one line per configuration
  core::MachineLimits machine;       // this machine's sgemm peak and triad bandwidth (measure_machine), for the
                                     // % of roofline; not measured (NaN): the report leaves it out
  bool thread_speedup = false;       // also time every point with 1 OpenMP thread, just before the timing with
                                     // all of them (omp_get_max_threads): the report gives the speed-up
};

struct BenchPoint {
  std::string scheme;      // the scheme's name, or its BenchCase label
  int64_t n = 0;
  double seconds = 0;      // forward + backward, median
  double peak_mib = 0;     // activation memory, MiB
  double gflop = 0;        // the scheme's useful work (Scheme::flops), GFLOP; NaN if unknown
  double gbyte = 0;        // its compulsory traffic (Scheme::bytes), GB (1e9 bytes); NaN if unknown
  double seconds_1thread = std::numeric_limits<double>::quiet_NaN();  // the same with 1 thread (thread_speedup)
  int threads = 0;         // how many OpenMP threads `seconds` was measured with
  std::string skipped;     // non-empty: why this point was not measured (e.g. causal unsupported)
};

std::vector<BenchPoint> run_benchmark(const BenchOptions& options);

// roofline seconds / measured seconds, in %: 100 is as fast as this machine allows for the scheme's work and
// traffic. NaN when the machine was not measured, the point was skipped or its FLOPs are unknown.
double roofline_percent(const BenchPoint& p, const core::MachineLimits& machine);

// What attention.csv holds: the points, and the shape they were measured at (batch, heads, d_head, causal),
// and the machine's limits (files written before they were measured: NaN).
struct BenchReport {
  BenchOptions options;  // ns, batch, heads, d_head, causal, machine as read; the other fields keep their defaults
  std::vector<BenchPoint> points;
};
// Reads DIR/attention.csv as write_benchmark_report writes it (lesson 15 uses `make bench`'s file when present).
// Throws core::Error "bench: PATH:LINE: ..." on a malformed file, "bench: cannot open PATH" if it cannot be read.
BenchReport read_benchmark_csv(const std::string& path);

// The benchmark tables' formatting, shared by attnzoo bench, bench --decode and the LRA efficiency table:
// format_number("%.2f", 3.14159) == "3.14" (one double through a printf format); length_label(4096) == "4K",
// length_label(300) == "300" (a length in K when it is a multiple of 1024).
std::string format_number(const char* format, double v);
std::string length_label(int64_t n);

// Slope of log(y) against log(x) by least squares (the empirical complexity exponent); NaN if < 2 points.
double fit_exponent(const std::vector<double>& x, const std::vector<double>& y);

// The measured points of one curve and how they grow: cost ~ n^exponent.
struct Scaling {
  std::string scheme;               // BenchPoint::scheme
  std::vector<double> n, ms, mib;   // the measured points (skipped ones left out): n, time in ms, peak in MiB
  double time_exponent = std::numeric_limits<double>::quiet_NaN();    // fit_exponent(n, ms)
  double memory_exponent = std::numeric_limits<double>::quiet_NaN();  // fit_exponent(n, mib)
  // Where n_value sits in n (an index into n, ms and mib), or -1 when it was not measured.
  int index_of(double n_value) const;
};
// One Scaling per curve, in the order the curves first appear in `points`.
std::vector<Scaling> fit_scaling(const std::vector<BenchPoint>& points);

// One line per curve, time (ms) or peak memory (MiB) against n, for plot::line_plot. With
// `exponent_in_name`, each name ends in its fitted exponent: "linformer (n^1.02)".
std::vector<plot::Series> cost_series(const std::vector<Scaling>& curves, bool memory, bool exponent_in_name);
// Time and peak memory against n, two log-log panels side by side under one title: a straight line's slope is
// the exponent (1 linear, 2 quadratic). Legends carry the fitted exponents. Times are machine-dependent: the
// subtitle says so. time_statistic names what each time is ("median": attnzoo bench; the lessons time the
// fastest of repeated runs) in the time panel's title.
plot::Image cost_figure(const std::vector<Scaling>& curves, const std::string& title, const std::string& subtitle,
                        const std::string& time_statistic = "median");

// Each scheme at one n as a point: x = log10 of its arithmetic intensity (useful FLOPs per compulsory byte),
// y = its % of roofline; guides at the machine's ridge point (left of it memory-bound, right compute-bound)
// and at `target` percent. Points without FLOPs or skipped are left out.
plot::Image roofline_figure(const std::vector<BenchPoint>& points, const core::MachineLimits& machine, int64_t n,
                            double target = 35);

// Writes DIR/attention.csv, DIR/attention.md (table + fitted exponents) and DIR/attention.png (log-log time
// and memory vs n, one line per scheme); with options.machine measured, also DIR/roofline.png
// (roofline_figure at the largest n with measured points). Returns the markdown text.
std::string write_benchmark_report(const std::vector<BenchPoint>& points, const BenchOptions& options,
                                   const std::string& dir);

}  // namespace attention
