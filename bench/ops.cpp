// bench/ops.cpp — how fast the engine's core ops are on this machine (`make bench`).
//
//  1. matmul: core::matmul (allocation, shape checks and the graph hook included) against a bare
//     cblas_sgemm call into preallocated buffers, on the same shapes, measured interleaved in one run.
//     Target: within 5% of raw sgemm for n = 512…2048.
//  2. softmax, layer_norm, gelu: forward and forward+backward throughput in GB/s of memory traffic
//     (bytes each pass must read and write), against this machine's bandwidth measured first in the same run
//     (the STREAM triad of core/machine.h). Target (issue 18): >= 50% of it at (4096, 1024).
//
// Figures are ratios or rates from one run, medians of several repetitions: the machine is shared and noisy.
// Writes out/bench/ops.csv and out/bench/ops.md (the table the README shows).
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/core.h"

using namespace core;

namespace {

// Median seconds of f over `reps` runs after one warm-up run (core::measure, with no time budget).
double time_median(const std::function<void()>& f, int reps) {
  return measure(f, reps, std::numeric_limits<double>::infinity()).seconds;
}

struct Row {
  std::string what, shape;
  double ours, reference;  // ours: GFLOP/s or GB/s; reference: raw sgemm GFLOP/s or triad GB/s (0 when none)
  std::string unit;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string out_dir = "out/bench";
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--out" && i + 1 < argc) out_dir = argv[++i];
      else if (a == "--quick") quick = true;
      else {
        std::fprintf(stderr, "ops: unknown argument '%s' (usage: ops [--out DIR] [--quick])\n", a.c_str());
        return 2;
      }
    }
    std::filesystem::create_directories(out_dir);
    const int reps = quick ? 3 : 7;
    std::vector<Row> rows;
    // ---- 1. matmul vs raw sgemm (forward only: no graph recorded) ----
    {
    NoGradGuard no_grad;
    std::printf("matmul vs raw cblas_sgemm (median of %d, interleaved)\n", reps);
    for (int64_t n : {512, 1024, 2048}) {
      std::printf("  n=%lld ...", static_cast<long long>(n));
      std::fflush(stdout);
      Rng rng(1);
      const Tensor a = randn({n, n}, rng), b = randn({n, n}, rng);
      std::vector<float> c(static_cast<size_t>(n * n));
      auto raw = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                    c.data(), n);
      };
      auto ours = [&] { Tensor r = matmul(a, b); };
      raw();
      ours();
      std::vector<double> t_raw, t_ours;
      const int pairs = quick ? reps : static_cast<int>(reps * (2048 / n) * (2048 / n) / 4) + reps;  // more for small n
      for (int r = 0; r < pairs; ++r) {  // interleave so that machine noise hits both alike
        const Stopwatch raw_clock;
        raw();
        t_raw.push_back(raw_clock.seconds());
        const Stopwatch ours_clock;
        ours();
        t_ours.push_back(ours_clock.seconds());
      }
      const double flops = 2.0 * n * n * n;
      const double g_raw = flops / median(t_raw) / 1e9, g_ours = flops / median(t_ours) / 1e9;
      std::printf(" ours %.1f GFLOP/s, raw %.1f GFLOP/s (%.1f%%)\n", g_ours, g_raw, 100.0 * g_ours / g_raw);
      rows.push_back({"matmul", std::to_string(n) + "x" + std::to_string(n) + " @ same", g_ours, g_raw, "GFLOP/s"});
    }
    // A transposed operand goes straight to BLAS (no copy): q kᵀ at attention shapes, batched.
    {
      const int64_t B = 8, n = 1024, d = 64;
      Rng rng(2);
      const Tensor q = randn({B, n, d}, rng), k = randn({B, n, d}, rng);
      const double t = time_median([&] { Tensor s = matmul(q, k, false, true); }, reps);
      const double g = 2.0 * B * n * n * d / t / 1e9;
      std::printf("  q kᵀ (8,1024,64)x(8,1024,64)ᵀ: %.1f GFLOP/s\n", g);
      rows.push_back({"matmul q kᵀ (batched, transposed)", "(8,1024,64) @ (8,1024,64)ᵀ", g, 0.0, "GFLOP/s"});
    }
    }

    // ---- 2. memory-bound ops, forward and forward+backward ----
    const int64_t R = quick ? 1024 : 4096, C = 1024;
    const double N = static_cast<double>(R * C);
    std::printf("softmax / layer_norm / gelu on (%lld, %lld), GB/s of memory traffic\n", static_cast<long long>(R),
                static_cast<long long>(C));
    Rng rng(3);
    const Tensor x0 = randn({R, C}, rng), g0 = randn({R, C}, rng);
    const Tensor gamma = Tensor::ones({C}), beta = Tensor::zeros({C});
    std::printf("  this machine's bandwidth, STREAM triad ...");
    std::fflush(stdout);
    const double triad = measure_triad_gbs(int64_t{1} << 25, reps);
    std::printf(" %.1f GB/s\n", triad);
    struct OpSpec {
      const char* name;
      std::function<Tensor(const Tensor&)> f;
      double fwd_bytes, fwdbwd_bytes;  // floats moved per element
    };
    const std::vector<OpSpec> ops = {
        // forward: read x, write y. backward: read y (or x) and g, write dx.
        {"softmax", [](const Tensor& x) { return softmax(x, -1); }, 2, 5},
        {"layer_norm", [&](const Tensor& x) { return layer_norm(x, gamma, beta); }, 2, 5},
        {"gelu", [](const Tensor& x) { return gelu(x); }, 2, 5},
    };
    for (const OpSpec& op : ops) {
      std::printf("  %s ...", op.name);
      std::fflush(stdout);
      double t_fwd;
      {
        NoGradGuard ng;
        t_fwd = time_median([&] { Tensor y = op.f(x0); }, reps);
      }
      double t_both;
      {
        // recording on: forward builds the graph, backward runs the hand-written gradient
        Tensor x = x0.detach();
        x.set_requires_grad();
        auto both = [&] {
          x.zero_grad();
          Tensor y = op.f(x);
          y.backward(g0);
        };
        t_both = time_median(both, reps);
      }
      const double gbs_fwd = op.fwd_bytes * N * 4 / t_fwd / 1e9;
      const double gbs_both = op.fwdbwd_bytes * N * 4 / t_both / 1e9;
      std::printf(" forward %.1f GB/s (%.2f ms), forward+backward %.1f GB/s (%.2f ms)\n", gbs_fwd, t_fwd * 1e3,
                  gbs_both, t_both * 1e3);
      rows.push_back({std::string(op.name) + " forward", std::to_string(R) + "x" + std::to_string(C), gbs_fwd, triad,
                      "GB/s"});
      rows.push_back({std::string(op.name) + " forward+backward", std::to_string(R) + "x" + std::to_string(C), gbs_both,
                      triad, "GB/s"});
    }

    // ---- write the tables ----
    std::ofstream csv(out_dir + "/ops.csv");
    // The limit: raw cblas_sgemm's GFLOP/s for matmul, the triad's GB/s for the memory-bound ops.
    csv << "op,shape,value,unit,limit,ratio_to_limit\n";
    std::ostringstream md;
    md << "| op | shape | ours | this machine's limit (raw cblas_sgemm; STREAM triad) | ours / limit |\n"
          "|---|---|---|---|---|\n";
    for (const Row& r : rows) {
      char value[64], ref[64] = "", ratio[64] = "";
      std::snprintf(value, sizeof value, "%.1f %s", r.ours, r.unit.c_str());
      if (r.reference > 0) {
        std::snprintf(ref, sizeof ref, "%.1f %s", r.reference, r.unit.c_str());
        std::snprintf(ratio, sizeof ratio, "%.3f", r.ours / r.reference);
      }
      // op and shape hold commas ("(8,1024,64) @ ..."): quoted, as CSV readers expect
      csv << '"' << r.what << "\",\"" << r.shape << "\"," << r.ours << "," << r.unit << "," << r.reference << ","
          << (r.reference > 0 ? r.ours / r.reference : 0.0) << "\n";
      md << "| " << r.what << " | " << r.shape << " | " << value << " | " << (r.reference > 0 ? ref : "–") << " | "
         << (r.reference > 0 ? ratio : "–") << " |\n";
    }
    std::ofstream(out_dir + "/ops.md") << md.str();
    std::printf("\n%s\nwrote %s/ops.csv and %s/ops.md\n", md.str().c_str(), out_dir.c_str(), out_dir.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ops: %s\n", e.what());
    return 2;
  }
}
