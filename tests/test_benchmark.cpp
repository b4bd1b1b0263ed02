// tests/test_benchmark.cpp — attention/benchmark on its own: a small run, the exponent fit on exact power laws,
// and the report written by write_benchmark_report read back by read_benchmark_csv (lesson 15 reads `make bench`'s
// file), with malformed files rejected naming the file and the line; and the decoding benchmark on a small run.
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "attention/benchmark.h"
#include "attention/decode_bench.h"
#include "tests/helpers.h"

using namespace attention;

namespace {

// A benchmark run small enough for a test: H = 2, d = 8, one timed run per point.
BenchOptions small_run(std::vector<std::string> schemes, std::vector<int64_t> ns) {
  BenchOptions o;
  o.schemes = std::move(schemes);
  o.ns = std::move(ns);
  o.heads = 2;
  o.d_head = 8;
  o.repeats = 1;
  return o;
}

}  // namespace

TEST_CASE("benchmark: fit_exponent recovers exact power laws") {
  const std::vector<double> n = {1024, 2048, 4096, 8192};
  std::vector<double> lin, quad, n15;
  for (double x : n) lin.push_back(3 * x), quad.push_back(0.5 * x * x), n15.push_back(x * std::sqrt(x));
  CHECK(fit_exponent(n, lin) == doctest::Approx(1.0));
  CHECK(fit_exponent(n, quad) == doctest::Approx(2.0));
  CHECK(fit_exponent(n, n15) == doctest::Approx(1.5));
  CHECK(std::isnan(fit_exponent({1024}, {1.0})));
}

TEST_CASE("benchmark: the report's CSV reads back as the points that were measured") {
  BenchOptions o = small_run({"full", "linear"}, {32, 64});
  const std::vector<BenchPoint> points = run_benchmark(o);
  REQUIRE(points.size() == 4);
  testing::TempDir dir("bench_report");
  write_benchmark_report(points, o, dir.path.string());
  const BenchReport back = read_benchmark_csv(dir / "attention.csv");
  CHECK(back.options.heads == 2);
  CHECK(back.options.d_head == 8);
  CHECK_FALSE(back.options.causal);
  CHECK(back.options.ns == std::vector<int64_t>{32, 64});
  REQUIRE(back.points.size() == points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    CHECK(back.points[i].scheme == points[i].scheme);
    CHECK(back.points[i].n == points[i].n);
    CHECK(back.points[i].peak_mib == doctest::Approx(points[i].peak_mib).epsilon(1e-3));
    CHECK(back.points[i].seconds == doctest::Approx(points[i].seconds).epsilon(1e-3));
  }
  // A skipped point's reason, commas and quotes included, reads back as it was (core/csv.h quotes it).
  std::vector<BenchPoint> skipped = {points[0]};
  skipped[0].skipped = "failed: \"out of memory\", at n = 32";
  write_benchmark_report(skipped, o, dir.path.string());
  const BenchReport again = read_benchmark_csv(dir / "attention.csv");
  REQUIRE(again.points.size() == 1);
  CHECK(again.points[0].skipped == skipped[0].skipped);
}

TEST_CASE("benchmark: a malformed attention.csv is a one-line error naming the file and the line") {
  testing::TempDir dir("bench_bad");
  const std::string header = "scheme,n,batch,heads,d_head,causal,fwd_bwd_ms,peak_mib,useful_gflop,gflops,skipped\n";
  auto write = [&](const std::string& text) { std::ofstream(dir / "attention.csv") << text; };
  auto error = [&](const std::string& file) { return testing::error_of([&] { read_benchmark_csv(dir / file); }); };
  write("wrong header\n");
  CHECK(error("attention.csv").find("attention.csv:1: expected the header") != std::string::npos);
  write(header + "full,1024,1,4,64,0,abc,83.0,3.2,67.7,\"\"\n");
  CHECK(error("attention.csv").find(":2: fwd_bwd_ms 'abc' is not a number") != std::string::npos);
  write(header + "full,1024,1,4\n");
  CHECK(error("attention.csv").find(":2: expected 11") != std::string::npos);
  CHECK(error("missing.csv").find("bench: cannot open") != std::string::npos);
  // A skipped point keeps its reason and no numbers.
  write(header + "full,16384,1,4,64,0,,,,,\"would need ~20000 MiB (limit 8192)\"\n");
  const BenchReport r = read_benchmark_csv(dir / "attention.csv");
  REQUIRE(r.points.size() == 1);
  CHECK(r.points[0].skipped == "would need ~20000 MiB (limit 8192)");
  // That was the format before the roofline columns: a measured point reads too, with no traffic and no machine.
  write(header + "full,1024,1,4,64,0,83.5,52.0,3.2,38.3,\n");
  const BenchReport old = read_benchmark_csv(dir / "attention.csv");
  REQUIRE(old.points.size() == 1);
  CHECK(old.points[0].seconds == doctest::Approx(0.0835));
  CHECK(std::isnan(old.points[0].gbyte));
  CHECK_FALSE(old.options.machine.measured());
}

TEST_CASE("benchmark: cases carry settings, labels, a size limit and forward-only runs; memory is exact") {
  attention::BenchOptions o;
  o.ns = {64, 128};
  o.heads = 1;
  o.d_head = 16;
  o.repeats = 1;
  attention::BenchCase wide("longformer", {"window=16"}, "longformer w=16");
  attention::BenchCase narrow("longformer", {"window=2"});
  attention::BenchCase full("full");
  full.max_n = 64;
  attention::BenchCase fwd("full", {}, "full forward");
  fwd.backward = false;
  o.cases = {wide, narrow, full, fwd};
  // With several OpenMP threads, the order in which threads allocate their scratch moves the peak by a few hundred
  // bytes between runs (seen under ASan, and for flash in lesson 16); on one thread the bytes are exact. The very
  // first kernel call of a process can also differ, so the comparison below is between two later runs.
  const auto run = [&] { return testing::with_threads(1, [&] { return attention::run_benchmark(o); }); };
  run();
  const std::vector<attention::BenchPoint> points = run();
  REQUIRE(points.size() == 8);
  CHECK(points[0].scheme == "longformer w=16");
  CHECK(points[2].scheme == "longformer");  // no label: the scheme's name
  CHECK(points[5].skipped == "n > 64");
  // the same run again gives the same bytes (memory is counted, not timed)
  const std::vector<attention::BenchPoint> again = run();
  for (size_t i = 0; i < points.size(); ++i) {
    CAPTURE(i);
    CHECK(points[i].peak_mib == again[i].peak_mib);
  }
  // a wider window keeps more weights; the forward alone keeps less than forward + backward
  CHECK(points[1].peak_mib > points[3].peak_mib);
  CHECK(points[6].peak_mib < points[4].peak_mib);
  CHECK(std::isnan(points[6].gflop));  // useful work is counted for forward + backward only

  const std::vector<attention::Scaling> curves = attention::fit_scaling(points);
  REQUIRE(curves.size() == 4);
  CHECK(curves[2].scheme == "full");
  CHECK(curves[2].n == std::vector<double>{64});  // the skipped point is left out
  CHECK(std::isnan(curves[2].memory_exponent));   // one point: no exponent
  CHECK(curves[0].index_of(128) == 1);
  CHECK(curves[0].index_of(96) == -1);
  CHECK(curves[3].memory_exponent > 1.8);  // the forward's n x n probabilities
  CHECK(attention::cost_series(curves, true, true).size() == 4);
  CHECK(attention::cost_series(curves, true, true)[0].name.find("(n^") != std::string::npos);
  CHECK(attention::cost_series(curves, false, false)[0].name == "longformer w=16");
}

TEST_CASE("benchmark: a bad setting in a case is a one-line error naming the scheme") {
  attention::BenchOptions o;
  o.ns = {64};
  o.cases = {attention::BenchCase("longformer", {"windw=3"})};
  CHECK_THROWS_WITH_AS(attention::run_benchmark(o), doctest::Contains("longformer"), core::Error);
}

TEST_CASE("timing: measure takes the median of the timed runs and the peak of one call") {
  CHECK(core::median({3.0, 1.0, 2.0}) == 2.0);
  CHECK(core::median({4.0, 1.0, 2.0, 3.0}) == 2.5);
  CHECK_THROWS_AS(core::median({}), core::Error);
  int calls = 0;
  const core::Cost c = core::measure(
      [&] {
        ++calls;
        core::Tensor t = core::Tensor::zeros({1024});  // 4 KiB, dropped before the call returns
      },
      3, 1e9);
  CHECK(calls == 4);  // one warm-up, then 3 timed calls
  CHECK(c.runs == 3);
  CHECK(c.peak_bytes >= 4096);
  CHECK(c.peak_bytes < 2 * 4096);
  CHECK_THROWS_AS(core::measure([] {}, 0), core::Error);
}

// ---- decoding (attention/decode_bench.h) ------------------------------------------------------------------------

TEST_CASE("decode benchmark: cached and recomputed points, the constant-state schemes at the long lengths") {
  DecodeBenchOptions o;
  o.schemes = {"full", "linear", "reformer"};
  o.ts = {16, 32, 64};
  o.long_ts = {128};
  o.heads = 1;
  o.d_head = 4;
  o.steps = 2;
  const std::vector<DecodePoint> points = run_decode_benchmark(o);
  // full: 3 lengths × 2 modes; linear: 4 × 2 (its state is constant, so it also runs at 128); reformer 3 × 2
  REQUIRE(points.size() == 6 + 8 + 6);
  int long_points = 0;
  for (const DecodePoint& p : points) {
    INFO(p.scheme, " ", p.mode, " t=", p.t);
    CHECK(p.skipped.empty());
    CHECK(p.ms_per_token > 0);
    if (p.t == 128) {
      ++long_points;
      CHECK(p.scheme == "linear");
    }
    if (p.mode != "cached") continue;
    CHECK(p.constant_state == (p.scheme == "linear"));
    CHECK(p.fallback == (p.scheme == "reformer"));
    // the state is counted exactly: full's KV cache after t tokens is 2·H·t·d floats
    if (p.scheme == "full") CHECK(p.mib == doctest::Approx(2.0 * 1 * p.t * 4 * 4 / (1024.0 * 1024.0)));
    if (p.scheme == "reformer") CHECK(p.mib == doctest::Approx(3.0 * 1 * p.t * 4 * 4 / (1024.0 * 1024.0)));
  }
  CHECK(long_points == 2);
  const std::string dir = testing::temp_dir("decode_bench");
  const std::string md = write_decode_report(points, o, dir);
  for (const char* part : {"| linear | cached |", "| reformer | cached (fallback: recomputes) |", "Crossover",
                           "Speed-up of the cache", "Targets", "t=128"})
    CHECK_MESSAGE(md.find(part) != std::string::npos, part);
  std::ifstream csv(dir + "/decode.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  CHECK(lines == 1 + 20);
  CHECK(plot::load_png(dir + "/decode.png").width > 1000);
  std::filesystem::remove_all(dir);
}

TEST_CASE("roofline: max(FLOPs / peak, bytes / bandwidth) over the time measured, per point and in the report") {
  core::MachineLimits m;
  CHECK_FALSE(m.measured());
  CHECK(std::isnan(m.roofline_seconds(1e9, 1e9)));
  m.peak_gflops = 100;
  m.bandwidth_gbs = 10;
  m.threads = 2;
  CHECK(m.ridge() == doctest::Approx(10));
  CHECK(m.compute_bound(2e9, 1e8));       // 20 FLOP/byte: right of the ridge
  CHECK_FALSE(m.compute_bound(1e8, 1e9));  // 0.1 FLOP/byte
  CHECK(m.roofline_seconds(2e9, 1e8) == doctest::Approx(0.02));  // compute-bound: 2 GFLOP at 100 GFLOP/s
  CHECK(m.roofline_seconds(1e8, 1e9) == doctest::Approx(0.1));   // memory-bound: 1 GB at 10 GB/s
  BenchPoint p;
  p.scheme = "x";
  p.n = 64;
  p.seconds = 0.08;
  p.gflop = 2;
  p.gbyte = 0.1;
  CHECK(roofline_percent(p, m) == doctest::Approx(25));  // 0.02 s allowed, 0.08 s taken
  p.skipped = "no";
  CHECK(std::isnan(roofline_percent(p, m)));

  // Compulsory bytes: every scheme moves at least its inputs and outputs; full attention also its n×n P.
  const Shape q{1, 4, 1024, 64};
  const Config none = find_scheme("flash").configure({});
  CHECK(io_bytes(q) == doctest::Approx(8.0 * 4 * 4 * 1024 * 64));
  CHECK(find_scheme("flash").bytes(q, none) == doctest::Approx(io_bytes(q)));
  CHECK(find_scheme("full").bytes(q, find_scheme("full").configure({})) ==
        doctest::Approx(io_bytes(q) + 2.0 * 4 * 4 * 1024 * 1024));
  for (const Scheme* s : all_schemes())
    CHECK_MESSAGE(s->bytes(q, s->configure({})) >= io_bytes(q), s->info().name);

  // A run with the machine's limits: the report gives the roofline table and figure, and the CSV keeps them.
  BenchOptions o = small_run({"full", "linear"}, {32, 64});
  o.machine = m;
  const std::vector<BenchPoint> points = run_benchmark(o);
  REQUIRE(points.size() == 4);
  for (const BenchPoint& pt : points) CHECK(pt.gbyte > 0);
  testing::TempDir dir("bench_roofline");
  const std::string md = write_benchmark_report(points, o, dir.path.string());
  CHECK(md.find("sgemm peak 100.0 GFLOP/s, STREAM triad 10.0 GB/s") != std::string::npos);
  CHECK(md.find("% (m), ") != std::string::npos);  // d = 8: few FLOPs per byte, below this made-up ridge (10)
  CHECK(plot::load_png(dir / "roofline.png").width > 800);
  const BenchReport back = read_benchmark_csv(dir / "attention.csv");
  CHECK(back.options.machine.peak_gflops == doctest::Approx(100));
  CHECK(back.options.machine.bandwidth_gbs == doctest::Approx(10));
  REQUIRE(back.points.size() == points.size());
  for (size_t i = 0; i < points.size(); ++i)
    CHECK(back.points[i].gbyte == doctest::Approx(points[i].gbyte).epsilon(1e-3));
  for (const BenchPoint& pt : back.points) CHECK(pt.threads == points[0].threads);
  // Without the machine: no roofline table, no figure.
  o.machine = core::MachineLimits();
  testing::TempDir plain("bench_no_roofline");
  CHECK(write_benchmark_report(points, o, plain.path.string()).find("% (c)") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(plain / "roofline.png"));
}

TEST_CASE("machine: sgemm peak and triad bandwidth are measured, positive, and bad sizes are refused") {
  CHECK(core::measure_sgemm_gflops(64, 2) > 0);
  CHECK(core::measure_triad_gbs(int64_t{1} << 16, 2) > 0);
  const core::MachineLimits m = core::measure_machine(64, int64_t{1} << 16, 1);
  CHECK(m.measured());
  CHECK(m.threads >= 1);
  CHECK(testing::error_of([] { core::measure_sgemm_gflops(0, 1); }).find("measure_sgemm_gflops") != std::string::npos);
  CHECK(testing::error_of([] { core::measure_triad_gbs(16, 0); }).find("measure_triad_gbs") != std::string::npos);
}

TEST_CASE("benchmark: --thread-speedup times each point with 1 thread too, and the report gives the speed-up") {
  BenchOptions o = small_run({"flash"}, {64});
  o.thread_speedup = true;
  const int threads_before = omp_get_max_threads();
  const std::vector<BenchPoint> points = run_benchmark(o);
  CHECK(omp_get_max_threads() == threads_before);  // restored
  REQUIRE(points.size() == 1);
  CHECK(points[0].seconds_1thread > 0);
  CHECK(points[0].threads == threads_before);
  testing::TempDir dir("bench_threads");
  const std::string md = write_benchmark_report(points, o, dir.path.string());
  CHECK(md.find("Threads: the speed-up from 1 to " + std::to_string(threads_before)) != std::string::npos);
  const BenchReport back = read_benchmark_csv(dir / "attention.csv");
  REQUIRE(back.points.size() == 1);
  CHECK(back.points[0].seconds_1thread == doctest::Approx(points[0].seconds_1thread).epsilon(1e-3));
  o.thread_speedup = false;
  const std::vector<BenchPoint> once = run_benchmark(o);
  CHECK(std::isnan(once[0].seconds_1thread));
  CHECK(write_benchmark_report(once, o, dir.path.string()).find("Threads:") == std::string::npos);
}
