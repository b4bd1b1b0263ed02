// tests/test_cost.cpp — lessons/cost.h's reading of measurements, on made-up numbers (no timing is asserted):
// a point's runs and their spread, the sentence a curve's times support (time_verdict), the sentence one doubling
// supports (doubling_verdict), and run_repeated's rounds on a tiny benchmark (how many runs, which one is kept).
#include <cmath>
#include <string>
#include <vector>

#include "lessons/cost.h"
#include "tests/helpers.h"

namespace {

// A curve with these times at n = 1024, 2048, 4096, 8192, fitted as fit_scaling would.
attention::Scaling curve(const std::vector<double>& ms) {
  attention::Scaling c;
  c.scheme = "made-up";
  c.n = {1024, 2048, 4096, 8192};
  c.ms = ms;
  c.mib = {1, 2, 4, 8};
  c.time_exponent = attention::fit_exponent(c.n, c.ms);
  c.memory_exponent = attention::fit_exponent(c.n, c.mib);
  return c;
}

std::vector<lesson::Runs> steady(size_t points) { return std::vector<lesson::Runs>(points, lesson::Runs{{10.0, 10.5, 11.0}}); }

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("cost: a point's runs give the fastest, the spread, and a noisy flag above 25 %") {
  const lesson::Runs agree{{12.0, 10.0, 11.0}};
  CHECK(agree.fastest() == 10.0);
  CHECK(agree.slowest() == 12.0);
  CHECK(agree.spread() == doctest::Approx(0.2));
  CHECK_FALSE(agree.noisy());
  CHECK(agree.cell() == "20%");
  const lesson::Runs apart{{10.0, 30.0}};
  CHECK(apart.noisy());
  CHECK(apart.cell() == "200% noisy");
  const lesson::Runs one{{10.0}};
  CHECK(std::isnan(one.spread()));
  CHECK_FALSE(one.noisy());  // one run cannot disagree with itself: the table says "1 run" instead
  CHECK(one.cell() == "1 run");
}

TEST_CASE("cost: time_verdict picks the sentence the numbers support, not the expected growth") {
  // Exactly quadratic: the fit matches.
  CHECK(has(lesson::time_verdict(curve({1, 4, 16, 64}), steady(4), 2.0, 0.45), "matches the expected n²"));
  // ... and says so with a caveat when its points were noisy.
  std::vector<lesson::Runs> loud = steady(4);
  loud[2] = lesson::Runs{{10.0, 40.0}};
  CHECK(has(lesson::time_verdict(curve({1, 4, 16, 64}), loud, 2.0, 0.45), "1 of its 4 points is noisy"));
  // Flat while fixed costs dominate, then quadratic: the whole fit is low (1.4), the last two doublings are 2.
  const attention::Scaling overhead = curve({10, 10, 40, 160});
  CHECK(overhead.time_exponent == doctest::Approx(1.4));
  const std::string o = lesson::time_verdict(overhead, steady(4), 2.0, 0.45);
  CHECK(has(o, "pulled down by the smaller n"));
  CHECK(has(o, "last two doublings (n = 2048 → 8192)"));
  // Lesson 05's 3.22 for full attention: far from 2 everywhere; noisy runs -> the fit is not trusted.
  const attention::Scaling steep = curve({1, 10, 100, 1000});
  CHECK(has(lesson::time_verdict(steep, loud, 2.0, 0.45), "does not measure the growth"));
  // Noise at the smallest n only can flatten a fit, not steepen it: the steep fit is not blamed on it.
  std::vector<lesson::Runs> loud_small = steady(4);
  loud_small[0] = lesson::Runs{{10.0, 40.0}};
  const std::string s = lesson::time_verdict(steep, loud_small, 2.0, 0.45);
  CHECK(has(s, "above the expected n²"));
  CHECK(has(s, "noisy points are at the smaller n"));
  // The same numbers from runs that agreed: above, with the reasons a CPU has.
  CHECK(has(lesson::time_verdict(steep, steady(4), 2.0, 0.45), "above the expected n²"));
  // Lesson 15's star at -0.10: flat times, runs that agreed -> below, fixed costs.
  CHECK(has(lesson::time_verdict(curve({5, 5, 5, 5}), steady(4), 1.0, 0.45), "below the expected n"));
  // The same flat times on a machine other programs kept 60 % busy: runs that agree are not trusted.
  CHECK(has(lesson::time_verdict(curve({5, 5, 5, 5}), steady(4), 1.0, 0.45, 0.6), "60% of this machine's CPU time busy"));
  // Read from a file without runs: says so instead of "repeatable".
  CHECK(has(lesson::time_verdict(curve({5, 5, 5, 5}), {}, 1.0, 0.45), "runs not recorded"));
}

TEST_CASE("cost: doubling_verdict reads one x-prev ratio against the growth's prediction") {
  const attention::Scaling c = curve({1, 4, 16, 16 * 28.68});
  CHECK(has(lesson::doubling_verdict(c, steady(4), 1, 4.0), "close to 4"));
  // Lesson 01's x prev 28.68 at n = 8192: noisy there -> a busy machine; steady -> above 4 (the cache).
  std::vector<lesson::Runs> loud = steady(4);
  loud[3] = lesson::Runs{{10.0, 90.0}};
  CHECK(has(lesson::doubling_verdict(c, loud, 3, 4.0), "the runs disagree there"));
  CHECK(has(lesson::doubling_verdict(c, steady(4), 3, 4.0), "above 4 with repeatable runs"));
  CHECK(has(lesson::doubling_verdict(curve({1, 2, 8, 32}), steady(4), 1, 4.0), "below 4"));
  CHECK(has(lesson::doubling_verdict(c, steady(4), 3, 4.0, 0.5), "does not measure the growth"));
  CHECK(has(lesson::doubling_verdict(c, steady(4), 1, 4.0, 0.5), "close to 4"));  // a ratio that fits stays read
}

TEST_CASE("cost: OtherLoad's share is a fraction of the machine, or NaN where it cannot be read") {
  const lesson::OtherLoad load;
  const double share = load.share();
  CHECK((std::isnan(share) || (share >= 0.0 && share <= 1.0)));
}

TEST_CASE("cost: late_time_exponent fits the last three points only") {
  CHECK(lesson::late_time_exponent(curve({7, 7, 14, 28})) == doctest::Approx(1.0));
  CHECK(lesson::late_time_exponent(curve({1, 100, 400, 1600})) == doctest::Approx(2.0));
}

TEST_CASE("cost: run_repeated keeps the fastest of 3 to 5 runs per point, and skipped points have none") {
  attention::BenchOptions o;
  o.cases = {attention::BenchCase("linear"), attention::BenchCase("full", {}, "full (to 32)")};
  o.cases[1].max_n = 32;
  o.ns = {32, 64};
  o.heads = 1;
  o.d_head = 8;
  // A budget far above what these microsecond points cost: every point gets its 3 rounds.
  const lesson::Repeated r = lesson::run_repeated(o, 3, 5, 30.0);
  REQUIRE(r.points.size() == 4);
  REQUIRE(r.runs.size() == 4);
  for (size_t i = 0; i < r.points.size(); ++i) {
    if (!r.points[i].skipped.empty()) {
      CHECK(r.points[i].scheme == "full (to 32)");
      CHECK(r.runs[i].count() == 0);
      continue;
    }
    CHECK(r.runs[i].count() >= 3);
    CHECK(r.runs[i].count() <= 5);
    CHECK(r.runs[i].count() <= 3 + 2 * int(r.runs[i].noisy()));  // extra rounds only for noisy points
    CHECK(r.points[i].seconds * 1e3 == doctest::Approx(r.runs[i].fastest()));
  }
  // runs_of lines the runs up with a fitted curve's n.
  for (const attention::Scaling& c : attention::fit_scaling(r.points))
    CHECK(lesson::runs_of(r, c).size() == c.n.size());
}
