// lessons/cost.h — a lesson's cost step in one call: time and peak memory of registered schemes at growing n,
// measured by the course's benchmark (attention/benchmark.h, timed by core::measure), printed as a table,
// fitted as exponents, checked against the exponents the lesson expects, and drawn as a log-log figure.
//
//   const lesson::CostResult cost = lesson::cost_step(L,
//       {lesson::Curve("full").up_to(L.quick() ? 1024 : 4096).expect(2.0, 2.0),
//        lesson::Curve("linformer", {"k=64"}, "linformer k=64").expect(1.0, 1.0)},
//       lesson::CostOptions().sizes(256, L.quick() ? 2048 : 16384).title("Linformer (k = 64) vs full attention"));
//   (without .sizes(): the lessons' usual n = 256 … 4096, or 512 … 2048 with --quick)
//   cost.fit("linformer k=64").mib.back();   // the measured points, for the lesson's later prose
//   cost.runs("linformer k=64").back().noisy();  // did that point's repeated runs disagree?
//
// What it prints, in order: one row per (curve, n) — time (ms), how many runs it is the fastest of and how far
// apart they were (the spread), its ratio to the previous n, peak memory (MiB) and its ratio, and how many times
// more time and memory the reference curve ("full") needed at that n; then the fitted exponents; then one check
// per expected memory exponent and, per expected time exponent, the sentence its measured times support.
//
// Times, honestly. A time is measured on this machine and moves with its load: another program on the same cores
// makes a run slower, never faster. So every point is run in several rounds (the whole sweep once, then the points
// again, cheapest first), spread over the step so that a busy moment hits one run of a point and not all of them,
// and its time is the fastest run. The spread, (slowest − fastest) / fastest, says how much the runs disagreed;
// above kNoisySpread the row is marked noisy and the narration says so instead of asserting a growth. Memory is
// counted by core::memory, so its exponents are exact and the same on every machine: they are checked. Time
// exponents are reported, never checked (under a parallel build, full's fitted time exponent came out anywhere
// from 0.01 to 2.63), with the sentence the numbers support (time_verdict).
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "attention/benchmark.h"
#include "core/timing.h"
#include "lessons/lesson.h"

namespace lesson {

// ---- repeated runs: the fastest, and how far apart the runs were ----

// Above this spread a point's runs disagree too much to read its time without a caveat: the slowest run took more
// than 25 % longer than the fastest. On a quiet machine the runs of one point agree within a few %.
constexpr double kNoisySpread = 0.25;

// Every timed run of one point, in milliseconds, in the order they ran.
struct Runs {
  std::vector<double> ms;
  int count() const { return static_cast<int>(ms.size()); }
  double fastest() const { return ms.empty() ? kNaN : *std::min_element(ms.begin(), ms.end()); }
  double slowest() const { return ms.empty() ? kNaN : *std::max_element(ms.begin(), ms.end()); }
  // (slowest − fastest) / fastest: 0.4 = the slowest run took 40 % longer. NaN with fewer than two runs.
  double spread() const { return count() < 2 ? kNaN : slowest() / fastest() - 1.0; }
  bool noisy() const { return count() >= 2 && spread() > kNoisySpread; }
  // The table's cell: "4%", "63% noisy", or "1 run" (no spread to show).
  std::string cell() const {
    if (count() < 2) return count() == 1 ? "1 run" : "-";
    return fixed(100.0 * spread(), 0) + "%" + (noisy() ? " noisy" : "");
  }
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
};

// How busy other programs kept this machine while something ran: the CPU time all cores spent busy (Linux's
// /proc/stat) minus the CPU time of this process (getrusage), as a share of what the cores could give in that
// wall time. A steadily busy machine slows every run alike — its runs agree, their spread stays small — so the
// spread cannot see it; this share can. NaN where /proc/stat cannot be read.
class OtherLoad {
 public:
  OtherLoad() : busy_(machine_busy_seconds()), own_(own_seconds()) {}
  double share() const {
    const double wall = clock_.seconds(), busy = machine_busy_seconds() - busy_, own = own_seconds() - own_;
    const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (std::isnan(busy) || wall <= 0 || cores <= 0) return std::numeric_limits<double>::quiet_NaN();
    return std::clamp((busy - own) / (wall * double(cores)), 0.0, 1.0);
  }
  static constexpr double kBusy = 0.25;  // above this share, a lesson says the machine was busy

 private:
  static double machine_busy_seconds() {
    std::ifstream stat("/proc/stat");
    std::string cpu;
    double user, nice, system, idle, iowait, irq, softirq, steal;
    if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu")
      return std::numeric_limits<double>::quiet_NaN();
    const long tick = ::sysconf(_SC_CLK_TCK);
    return (user + nice + system + irq + softirq + steal) / double(tick > 0 ? tick : 100);
  }
  static double own_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  }
  core::Stopwatch clock_;
  double busy_, own_;
};

// A benchmark measured in rounds: points as attention::run_benchmark returns them, each with seconds = its
// fastest run, and every run of each point (parallel to points; empty for a skipped point).
struct Repeated {
  std::vector<attention::BenchPoint> points;
  std::vector<Runs> runs;
  double other_load = std::numeric_limits<double>::quiet_NaN();  // OtherLoad::share() over all the rounds
};

// Runs `bench` once (its progress lines, its skips), then again point by point, cheapest first, until every
// measured point has `rounds` runs — and points whose runs disagree (noisy) up to `max_rounds` — or until the
// re-runs have taken as long as the first sweep did (at least `min_extra_seconds`): so the whole takes at most
// about twice one sweep. Each run is one call after a warm-up (core::measure); a point slower than
// 50 ms skips its warm-up in the later rounds (the allocator's block cache is warm from the first round), so the
// largest n, which cost the most, are not run twice per round. The points keep the first round's peak memory.
inline Repeated run_repeated(attention::BenchOptions bench, int rounds, int max_rounds, double min_extra_seconds) {
  constexpr double kWarmUpBelow = 0.05;  // seconds: cheaper points are warmed up again in every round
  bench.repeats = 1;
  bench.max_seconds_per_point = 0.5;  // the first round: a warm-up, then the timed run (a point slower than
                                      // 0.5 s is timed by its warm-up alone: the later rounds find it warm)
  Repeated out;
  const OtherLoad load;
  core::Stopwatch first_sweep;
  out.points = attention::run_benchmark(bench);
  const double extra_seconds = std::max(min_extra_seconds, first_sweep.seconds());
  out.runs.resize(out.points.size());
  for (size_t i = 0; i < out.points.size(); ++i)
    if (out.points[i].skipped.empty()) out.runs[i].ms.push_back(out.points[i].seconds * 1e3);

  // The curve each point belongs to, by its label (run_benchmark names points by BenchCase::name()).
  std::vector<attention::BenchCase> cases = bench.cases;
  if (cases.empty()) {
    if (bench.schemes.empty())
      for (const attention::Scheme* s : attention::all_schemes()) cases.emplace_back(s->name());
    else
      for (const std::string& name : bench.schemes) cases.emplace_back(name);
    for (attention::BenchCase& c : cases) c.causal = bench.causal;
  }
  std::map<std::string, attention::BenchCase> case_of;
  for (const attention::BenchCase& c : cases) case_of.emplace(c.name(), c);

  attention::BenchOptions one = bench;
  one.progress = nullptr;
  one.max_seconds_per_point = kWarmUpBelow;
  core::Stopwatch clock;
  for (int round = 2; round <= max_rounds; ++round) {
    std::vector<size_t> order;  // the points this round runs again, cheapest first
    for (size_t i = 0; i < out.points.size(); ++i) {
      const Runs& r = out.runs[i];
      if (r.count() == 0 || r.count() >= round) continue;  // skipped, or left behind by the budget
      if (round <= rounds || r.noisy()) order.push_back(i);
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return out.runs[a].fastest() < out.runs[b].fastest(); });
    for (size_t i : order) {
      const double cost = out.runs[i].fastest() / 1e3 * (out.runs[i].fastest() / 1e3 < kWarmUpBelow ? 2.0 : 1.0);
      if (clock.seconds() + cost > extra_seconds) break;  // cheapest first: the rest would not fit either
      one.cases = {case_of.at(out.points[i].scheme)};
      one.ns = {out.points[i].n};
      const std::vector<attention::BenchPoint> again = attention::run_benchmark(one);
      if (again.size() == 1 && again[0].skipped.empty()) out.runs[i].ms.push_back(again[0].seconds * 1e3);
    }
  }
  for (size_t i = 0; i < out.points.size(); ++i)
    if (out.runs[i].count() > 0) out.points[i].seconds = out.runs[i].fastest() / 1e3;
  out.other_load = load.share();
  return out;
}

// The runs of each of a curve's measured points, in the order of curve.n (fit_scaling leaves skipped points out).
inline std::vector<Runs> runs_of(const Repeated& measured, const attention::Scaling& curve) {
  std::vector<Runs> runs;
  for (double n : curve.n)
    for (size_t i = 0; i < measured.points.size(); ++i)
      if (measured.points[i].scheme == curve.scheme && double(measured.points[i].n) == n) runs.push_back(measured.runs[i]);
  return runs;
}

// The exponent of time over the last two doublings of a curve (its last three points; two when it has two), where
// the n-dependent work has had the most room to outgrow the fixed costs. NaN with fewer than two points.
inline double late_time_exponent(const attention::Scaling& c) {
  const size_t m = c.n.size(), from = m >= 3 ? m - 3 : 0;
  return attention::fit_exponent(std::vector<double>(c.n.begin() + long(from), c.n.end()),
                                 std::vector<double>(c.ms.begin() + long(from), c.ms.end()));
}

// The growth n^e as a learner reads it: "n", "n·√n", "n²", or "n^1.30".
inline std::string growth_name(double e) {
  return e == 1 ? std::string("n") : e == 1.5 ? std::string("n·√n") : e == 2 ? std::string("n²") : "n^" + fixed(e, 2);
}

// The noisiest of some runs (parallel to a curve's n): its index, or -1 when none has a spread.
// Noise only ever slows a run, and a slowed run at small n flattens a fitted exponent while one at large n steepens
// it. So with `steepens` (is an exponent too high?) only the larger half of the n is looked at, with !steepens
// only the smaller half (a middle point counts for both): noise elsewhere cannot explain the deviation.
inline int noisiest(const std::vector<Runs>& runs) {
  int worst = -1;
  for (size_t i = 0; i < runs.size(); ++i)
    if (runs[i].count() >= 2 && (worst < 0 || runs[i].spread() > runs[size_t(worst)].spread())) worst = int(i);
  return worst;
}
inline int noisiest(const std::vector<Runs>& runs, bool steepens) {
  int worst = -1;
  const size_t m = runs.size();
  for (size_t i = 0; i < m; ++i) {
    const bool larger = 2 * i + 1 >= m, smaller = 2 * i + 1 <= m;  // halves of the n; the middle one is in both
    if ((steepens ? larger : smaller) && runs[i].count() >= 2 &&
        (worst < 0 || runs[i].spread() > runs[size_t(worst)].spread()))
      worst = int(i);
  }
  return worst;
}

// What a curve's measured times say about its growth, as the sentence its numbers support (the caller prints it
// after the curve's name): the fitted exponent agrees with the expected one (within `tolerance`); or only its last
// two doublings do, the smaller n being dominated by fixed costs; or its runs disagree (noisy), so the fit does not
// measure the growth; or, with repeatable runs, it is really far from it — and why that can happen on a CPU.
// `runs` is parallel to c.n (runs_of); empty when the points were read from a file without their runs.
inline std::string time_verdict(const attention::Scaling& c, const std::vector<Runs>& runs, double expected,
                                double tolerance, double other_load = std::numeric_limits<double>::quiet_NaN()) {
  const std::string want = "the expected " + growth_name(expected);
  if (c.n.size() < 2) return "too few sizes to fit a time exponent";
  const double a = c.time_exponent, late = late_time_exponent(c);
  const std::string fitted = "time exponent " + fixed(a, 2);
  int noisy = 0;
  for (const Runs& r : runs) noisy += r.noisy();
  const std::string though =
      other_load > OtherLoad::kBusy
          ? ", though other programs kept " + fixed(100.0 * other_load, 0) + "% of the machine busy meanwhile, so the "
                "match is less certain"
      : noisy == 0 ? std::string()
                   : ", though " + std::to_string(noisy) + " of its " + std::to_string(runs.size()) + " points " +
                         (noisy == 1 ? "is" : "are") + " noisy (their runs disagreed), so the match is less certain";
  if (std::fabs(a - expected) <= tolerance)
    return fitted + ": matches " + want + " (± " + fixed(tolerance, 2) + ")" + though;
  const std::string span = std::to_string(int64_t(c.n[c.n.size() >= 3 ? c.n.size() - 3 : 0])) + " → " +
                           std::to_string(int64_t(c.n.back()));
  if (c.n.size() > 3 && std::fabs(late - expected) <= tolerance)
    return fitted + " over all sizes, " + (a < expected ? "pulled down by the smaller n, whose time is mostly fixed "
                                                          "costs that do not grow with n"
                                                        : "steepened by the smaller n (a busy moment or a cache "
                                                          "boundary between them)") +
           "; over the last two doublings (n = " + span + ") it is " + fixed(late, 2) + ", close to " + want + though;
  const int w = noisiest(runs, a > expected);
  if (w >= 0 && runs[size_t(w)].noisy())
    return fitted + ", far from " + want + ", and the runs disagree (at n = " + std::to_string(int64_t(c.n[size_t(w)])) +
           " the slowest of " + std::to_string(runs[size_t(w)].count()) + " took " +
           fixed(100.0 * runs[size_t(w)].spread(), 0) +
           "% longer than the fastest): something else on the machine slowed them, so this fit does not measure the "
           "growth — the memory exponent, counted exactly, does; rerun on a quiet machine";
  // Runs that agree on a steadily busy machine are all slow alike: then the deviation cannot be read as the
  // kernel's own behaviour.
  if (other_load > OtherLoad::kBusy)
    return fitted + ", far from " + want + ", while other programs kept " + fixed(100.0 * other_load, 0) +
           "% of this machine's CPU time busy: a steadily busy machine slows every run alike (the spread stays small) "
           "and stretches small kernels most, so this fit does not measure the growth — the memory exponent, counted "
           "exactly, does; rerun on a quiet machine";
  const std::string caveat = runs.empty() ? " (runs not recorded)"
                             : noisy > 0 ? std::string(" (its noisy points are at the ") + (a > expected ? "smaller" : "larger") +
                                               " n, where a slowed run would pull the exponent the other way)"
                                         : " with repeatable runs";
  if (a < expected)
    return fitted + ", below " + want + caveat + ": at these n the time is mostly fixed costs (calls, threads, "
           "small loops) that do not grow with n; the growing work would show at larger n";
  return fitted + ", above " + want + caveat + ": the larger n pay more per operation (their arrays no longer fit in "
         "the cache), or the machine was steadily busy during the larger n";
}

// What one doubling of a curve's time says (from c.n[i-1] to c.n[i]), against the ratio its growth predicts
// (4 for n², 2 for n): the sentence its numbers support. "Close" is within 25 % of the prediction.
inline std::string doubling_verdict(const attention::Scaling& c, const std::vector<Runs>& runs, size_t i,
                                    double expected_ratio,
                                    double other_load = std::numeric_limits<double>::quiet_NaN()) {
  const double r = c.ms[i] / c.ms[i - 1];
  const std::string what = "time x prev " + fixed(r, 2) + " at n = " + std::to_string(int64_t(c.n[i - 1])) + " → " +
                           std::to_string(int64_t(c.n[i]));
  const std::string want = fixed(expected_ratio, 0);
  if (r >= 0.8 * expected_ratio && r <= 1.25 * expected_ratio) return what + ": close to " + want;
  const Runs* loud = nullptr;  // the noisier of the two points, when one of them is noisy
  for (size_t k : {i - 1, i})
    if (k < runs.size() && runs[k].noisy() && (!loud || runs[k].spread() > loud->spread())) loud = &runs[k];
  if (loud)
    return what + ": far from " + want + ", and the runs disagree there (the slowest took " +
           fixed(100.0 * loud->spread(), 0) + "% longer than the fastest): something else on the machine slowed "
           "them, so this ratio does not measure the growth";
  if (other_load > OtherLoad::kBusy)
    return what + ": far from " + want + ", while other programs kept " + fixed(100.0 * other_load, 0) +
           "% of the machine's CPU time busy, so this ratio does not measure the growth";
  if (r < expected_ratio)
    return what + ": below " + want + " with repeatable runs — fixed costs that do not grow with n are still a large "
           "part of the time at these n";
  return what + ": above " + want + " with repeatable runs — at the larger n the arrays no longer fit in the "
         "processor's cache, so every pass over them waits for memory (or the machine was steadily busy)";
}

// One curve of a cost step: what to measure (an attention::BenchCase) and how it should grow. Every setter
// returns a changed copy, so a curve reads as one expression.
class Curve {
 public:
  // scheme: a registered name; set: its key=value settings; label: its name in the table and the legend.
  explicit Curve(std::string scheme, std::vector<std::string> set = {}, std::string label = "")
      : run_(std::move(scheme), std::move(set), std::move(label)) {}
  // The expected exponents: memory ~ n^memory, time ~ n^time (NaN: not checked).
  Curve expect(double memory, double time = kNone) const {
    Curve c = *this;
    c.memory_exponent_ = memory;
    c.time_exponent_ = time;
    return c;
  }
  // Instead of expect(memory) ± the tolerance: the fitted memory exponent must lie in [lo, hi] — for a scheme
  // whose leading term only takes over beyond the measured n (routing's n·√n weights behind n·d gradients).
  Curve memory_between(double lo, double hi) const {
    Curve c = *this;
    c.memory_lo_ = lo;
    c.memory_hi_ = hi;
    return c;
  }
  Curve causal() const { return with([](attention::BenchCase& r) { r.causal = true; }); }
  Curve forward_only() const { return with([](attention::BenchCase& r) { r.backward = false; }); }
  // Measure only n <= n_max (full attention stops where its n² matrices would take too long).
  Curve up_to(int64_t n_max) const { return with([&](attention::BenchCase& r) { r.max_n = n_max; }); }
  // A kernel other than the scheme's own, on q, k, v and the scheme's settings (lesson 03's dense mask).
  Curve kernel(std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, const attention::Config&)> f) const {
    return with([&](attention::BenchCase& r) { r.kernel = std::move(f); });
  }

  const attention::BenchCase& run() const { return run_; }
  double memory_exponent() const { return memory_exponent_; }
  double memory_lo() const { return memory_lo_; }
  double memory_hi() const { return memory_hi_; }
  double time_exponent() const { return time_exponent_; }
  static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

 private:
  template <class F>
  Curve with(F&& change) const {
    Curve c = *this;
    change(c.run_);
    return c;
  }
  attention::BenchCase run_;
  double memory_exponent_ = kNone, time_exponent_ = kNone;
  double memory_lo_ = kNone, memory_hi_ = kNone;
};

// The sizes, shape and presentation of a cost step. Setters return changed copies, like Curve's.
class CostOptions {
 public:
  // n = from, 2·from, 4·from, ... up to `to`.
  CostOptions sizes(int64_t from, int64_t to) const {
    CostOptions o = *this;
    o.ns_.clear();
    for (int64_t n = from; n <= to; n *= 2) o.ns_.push_back(n);
    return o;
  }
  CostOptions sizes(std::vector<int64_t> ns) const { return with([&](CostOptions& o) { o.ns_ = std::move(ns); }); }
  CostOptions heads(int64_t h) const { return with([&](CostOptions& o) { o.heads_ = h; }); }
  // The figure's title (say what is compared), its file in the lesson's folder ("" = no figure: the lesson
  // draws its own from the result), and the caption that says what to look for.
  CostOptions title(std::string t) const { return with([&](CostOptions& o) { o.title_ = std::move(t); }); }
  CostOptions figure(std::string file, std::string caption = "") const {
    return with([&](CostOptions& o) { o.figure_ = std::move(file), o.caption_ = std::move(caption); });
  }
  // The label of the curve the ratio columns compare with (default "full"; no such curve: no ratio columns).
  CostOptions reference(std::string label) const { return with([&](CostOptions& o) { o.reference_ = std::move(label); }); }
  // How far a fitted exponent may be from the expected one and still pass.
  CostOptions tolerance(double memory, double time) const {
    return with([&](CostOptions& o) { o.memory_tolerance_ = memory, o.time_tolerance_ = time; });
  }

  std::vector<int64_t> ns_;  // empty: the lessons' usual sizes, n = 256 … 4096 (512 … 2048 with --quick)
  int64_t heads_ = 1, d_head_ = 64;
  std::string title_ = "cost vs n", figure_ = "cost.png", caption_, reference_ = "full";
  double memory_tolerance_ = 0.2, time_tolerance_ = 0.45;

 private:
  template <class F>
  CostOptions with(F&& change) const {
    CostOptions o = *this;
    change(o);
    return o;
  }
};

// What a cost step measured: every point, each curve's fit, and each point's runs.
struct CostResult {
  std::vector<attention::BenchPoint> points;   // seconds = the fastest run of the point
  std::vector<attention::Scaling> curves;      // fitted on the fastest runs
  std::vector<std::vector<Runs>> runs;         // runs[c][i]: every run of curves[c] at curves[c].n[i]
  double other_load = std::numeric_limits<double>::quiet_NaN();  // other programs' share of the CPU (OtherLoad)
  bool busy() const { return other_load > OtherLoad::kBusy; }
  // The fit of the curve with this label (its scheme name when it has none); throws when there is none.
  const attention::Scaling& fit(const std::string& label) const { return curves[index(label)]; }
  // The runs of that curve, parallel to fit(label).n.
  const std::vector<Runs>& runs_of(const std::string& label) const { return runs[index(label)]; }

 private:
  size_t index(const std::string& label) const {
    for (size_t i = 0; i < curves.size(); ++i)
      if (curves[i].scheme == label) return i;
    AZ_FAIL("cost: no curve named '", label, "'");
  }
};

// One line on how busy other programs kept the machine while a step measured (OtherLoad), and what that means.
inline void say_load(Lesson& L, double other_load) {
  if (std::isnan(other_load)) return;
  L.say("While these were measured, other programs kept ", fixed(100.0 * other_load, 0), "% of this machine's CPU time busy",
        other_load > OtherLoad::kBusy ? ": a busy machine slows runs, all alike when it stays busy, so read the times "
                                        "with care (the memory columns are exact)."
                                      : ": quiet enough for the times to be read.");
}

// Measures every curve at every size (forward + backward of the kernel alone, B = 1, H heads, d = 64, the same
// q, k, v for every curve at one n) in rounds (run_repeated), prints the table and the exponents, checks each
// expected memory exponent, says what the times support for each expected time exponent, and shows the figure.
inline CostResult cost_step(Lesson& L, const std::vector<Curve>& curves, const CostOptions& options) {
  attention::BenchOptions bench;
  for (const Curve& c : curves) bench.cases.push_back(c.run());
  bench.ns = options.ns_;
  if (bench.ns.empty()) bench.ns = L.quick() ? std::vector<int64_t>{512, 1024, 2048} : std::vector<int64_t>{256, 512, 1024, 2048, 4096};
  bench.batch = 1;
  bench.heads = options.heads_;
  bench.d_head = options.d_head_;
  bench.seed = L.seed();
  // Three runs per point, five where they disagree; the re-runs may take as long as the first round did (at least
  // 2 s, 0.5 s with --quick), so a cost step takes at most about twice the time of one sweep.
  constexpr int kRounds = 3, kMaxRounds = 5;
  const Repeated measured = run_repeated(bench, kRounds, kMaxRounds, L.quick() ? 0.5 : 2.0);
  CostResult result;
  result.points = measured.points;
  result.other_load = measured.other_load;
  result.curves = attention::fit_scaling(result.points);
  for (const attention::Scaling& c : result.curves) result.runs.push_back(lesson::runs_of(measured, c));

  int fewest = kMaxRounds, most = 0, noisy = 0, rows = 0;
  for (const auto& rs : result.runs)
    for (const Runs& r : rs) fewest = std::min(fewest, r.count()), most = std::max(most, r.count()), ++rows, noisy += r.noisy();
  L.say("The kernel alone (forward + backward unless a curve says otherwise), B = 1, H = ", options.heads_, ", d = ",
        options.d_head_, ". Time: the fastest of ", fewest == most ? std::to_string(most) : std::to_string(fewest) + " to " + std::to_string(most),
        " runs, each after a warm-up,");
  L.say("run in rounds over the whole step, so that a busy moment of this machine slows one run of a point, not all;");
  L.say("spread: how much longer the slowest run took (noisy above ", fixed(100 * kNoisySpread, 0),
        "%). Memory: peak bytes of tensors above q, k, v");
  L.say("(core::memory), counted exactly: the same on every machine (flash's moves a few % with thread timing).");
  const attention::Scaling* ref = nullptr;
  for (const auto& c : result.curves)
    if (c.scheme == options.reference_) ref = &c;
  auto ratio = [](const std::vector<double>& ys, size_t i) { return i == 0 ? std::string() : fixed(ys[i] / ys[i - 1], 2); };
  std::vector<std::string> headers = {"scheme", "n", "time (ms)", "runs", "spread", "x prev", "peak (MiB)", "x prev"};
  if (ref) headers.insert(headers.end(), {ref->scheme + "/this time", ref->scheme + "/this memory"});
  Table table(headers, 6);
  for (size_t k = 0; k < result.curves.size(); ++k) {
    const attention::Scaling& c = result.curves[k];
    for (size_t i = 0; i < c.n.size(); ++i) {
      const Runs& r = result.runs[k][i];
      std::vector<std::string> row = {c.scheme, std::to_string(int64_t(c.n[i])), fixed(c.ms[i], 2), std::to_string(r.count()),
                                      r.cell(), ratio(c.ms, i), fixed(c.mib[i], 2), ratio(c.mib, i)};
      if (ref) {
        const int j = ref->index_of(c.n[i]);
        const bool vs = ref != &c && j >= 0;
        row.push_back(ref == &c ? "" : vs ? fixed(ref->ms[size_t(j)] / c.ms[i], 1) + "x" : "-");
        row.push_back(ref == &c ? "" : vs ? fixed(ref->mib[size_t(j)] / c.mib[i], 1) + "x" : "-");
      }
      table.add(row);
    }
  }
  table.print();
  L.say("(x prev: the ratio to the previous n; per doubling of n, 2.00 is linear, 2.83 is n·√n and 4.00 quadratic)");
  say_load(L, result.other_load);
  if (noisy > 0)
    L.say(noisy, " of ", rows, " rows are noisy: their runs disagreed (",
          result.busy()                    ? "other programs were using this machine's cores"
          : std::isnan(result.other_load) ? "other programs on this machine's cores, threads woken late, the "
                                            "processor changing its clock"
                                          : "not for want of a free core, by the line above: threads woken late, other "
                                            "programs' memory traffic, the processor changing its clock",
          "); their times, and the ratios and exponents built on them, are less certain than the memory columns.");
  for (const attention::Scaling& c : result.curves)
    L.say("fitted exponents of ", c.scheme, " (cost ~ n^a, over ", c.n.size(), " sizes): time ", fixed(c.time_exponent, 2),
          c.n.size() > 3 ? " (last two doublings " + fixed(late_time_exponent(c), 2) + ")" : std::string(),
          ", memory ", fixed(c.memory_exponent, 2));

  bool time_reported = false;
  for (size_t i = 0; i < curves.size(); ++i) {
    const attention::Scaling& c = result.curves[i];
    const double em = curves[i].memory_exponent(), et = curves[i].time_exponent();
    if (!std::isnan(em))
      L.check(c.scheme + ": peak memory grows like " + growth_name(em), std::fabs(c.memory_exponent - em) <= options.memory_tolerance_,
              "fitted exponent " + fixed(c.memory_exponent, 2) + ", expected " + fixed(em, 2) + " ± " +
                  fixed(options.memory_tolerance_, 2));
    const double lo = curves[i].memory_lo(), hi = curves[i].memory_hi();
    if (!std::isnan(lo))
      L.check(c.scheme + ": peak memory grows between " + growth_name(lo) + " and " + growth_name(hi),
              c.memory_exponent >= lo && c.memory_exponent <= hi,
              "fitted exponent " + fixed(c.memory_exponent, 2) + ", band " + fixed(lo, 2) + " - " + fixed(hi, 2));
    // Time is reported, never checked: on a shared machine a busy minute bends the fit (measured under a parallel
    // build: full's time exponent came out 0.01 to 2.63), and a lesson must not fail because the machine was busy.
    // What is printed is the sentence the measured times support (time_verdict), not the paper's claim.
    if (!std::isnan(et))
      L.say(c.scheme, ": ", time_verdict(c, result.runs[i], et, options.time_tolerance_, result.other_load), ".");
    time_reported = time_reported || !std::isnan(et);
  }
  if (time_reported) L.say("(time exponents are reported, not checked: they depend on the machine and its load)");

  if (!options.figure_.empty()) {
    // Say what was timed: the kernel's forward and backward pass, or only its forward pass for some curves.
    size_t forward_only = 0;
    for (const Curve& c : curves) forward_only += !c.run().backward;
    const std::string timed = forward_only == 0              ? "forward + backward"
                              : forward_only == curves.size() ? "the forward pass"
                                                              : "forward only or forward + backward, as named";
    std::string sub = "B=1 H=" + std::to_string(options.heads_) + " d=" + std::to_string(options.d_head_) +
                      "; time of " + timed + ", fastest of repeated runs";
    L.show(attention::cost_figure(result.curves, options.title_, sub, "fastest run"), options.figure_,
           options.caption_.empty() ? "time and peak memory vs n on log-log axes, fitted exponents in the legend"
                                    : options.caption_,
           Figure::timing);
  }
  return result;
}

}  // namespace lesson
