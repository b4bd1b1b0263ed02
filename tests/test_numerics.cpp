// tests/test_numerics.cpp — a numerics fuzzer over every registered scheme (attention::all_schemes()).
//
// For each scheme × causal (where supported) × input scale (1e-3, 1, 10, 1e3, 1e19, 1e30) × n (odd and even), plus
// inputs holding a NaN or an Inf, the kernel must do one of three things:
//   (a) refuse: throw core::Error whose message is one printable line naming the scheme ("flash: ...");
//   (b) return an output with a non-finite value (the CLI's own check refuses it; (a) is preferred);
//   (c) return a finite output that is right:
//       - out == A v, with A = the scheme's effective_attention, against float64(A) @ v: error <= 1e-4 of
//         Σ_j |A_ij| · max|v| per row (1e-4: float32 products over n <= 40 terms, with room);
//       - A's rows are probability rows (>= 0, sum 1 within 1e-4) for the schemes that say so (kNormalised);
//       - for the schemes that ARE a masked softmax with the standard 1/√d scaling (kMaskedSoftmax: full, flash,
//         sparse, longformer, bigbird — each computes softmax(QKᵀ/√d on its pattern) V exactly), out against a
//         float64 softmax over data_pattern, within max|v| · (1e-5 + 4δ_i), where δ_i = 1e-7 (d + 2) ·
//         max_j Σ_e |q_ie k_je| / √d bounds float32's rounding of row i's scores (e^{±δ} moves each weight
//         by that much: at scale 1e3 this bound is vacuous — float32 scores of 1e6 are only known to ~0.1).
//   NaN/Inf: a NaN in q (row 3, head 0) or an Inf in k (row 5, head 1) must not give an all-finite output, unless
//   the scheme truly ignores q/k (kIgnoresQK: the default synthesizer mode "random" uses neither).
// Every registered scheme must pass; a failure names the scheme, causal, the input and the error.
#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "attention/scheme.h"
#include "tests/helpers.h"

using namespace core;

namespace {

const std::set<std::string> kMaskedSoftmax = {"full", "flash", "sparse", "longformer", "bigbird"};
const std::set<std::string> kNormalised = {"full",      "flash",     "sparse", "longformer", "bigbird",
                                           "performer", "linear",    "synthesizer"};
const std::set<std::string> kIgnoresQK = {"synthesizer"};

struct Outcome {
  std::string failure;  // empty = fine
};

std::string describe(const std::string& scheme, bool causal, const std::string& input, int64_t n) {
  std::ostringstream s;
  s << scheme << (causal ? " causal" : "") << " input=" << input << " n=" << n;
  return s.str();
}

// (c): out == A v, rows of A, and the masked-softmax reference.
std::string check_finite_output(const attention::Scheme& s, const attention::Config& cfg, const Tensor& q,
                                const Tensor& k, const Tensor& v, const Tensor& out) {
  Tensor A;
  try {
    A = s.effective_attention(q, k, v, cfg);  // (B, H, n, n)
  } catch (const core::Error& e) {
    return std::string("kernel answered but effective_attention refused: ") + e.what();
  }
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3);
  const double vmax = testing::max_abs(v);
  std::ostringstream fail;
  double worst = 0.0, worst_rows = 0.0;
  for (int64_t r = 0; r < B * H * n; ++r) {
    const float* a = A.data() + r * n;
    const int64_t bh = r / n;
    double mass = 0.0, abs_mass = 0.0;
    bool negative = false, finite = true;
    for (int64_t j = 0; j < n; ++j) {
      mass += a[j];
      abs_mass += std::fabs(double(a[j]));
      negative = negative || a[j] < 0.0f;
      finite = finite && std::isfinite(a[j]);
    }
    if (!finite) return "effective_attention has a non-finite entry where the kernel's output is finite";
    for (int64_t e = 0; e < d; ++e) {
      double ref = 0.0;
      for (int64_t j = 0; j < n; ++j) ref += double(a[j]) * v.data()[(bh * n + j) * d + e];
      worst = std::max(worst, std::fabs(out.data()[r * d + e] - ref) / (abs_mass * vmax + 1e-30));
    }
    if (kNormalised.count(s.name())) {
      if (negative) return "a row of A has a negative entry";
      worst_rows = std::max(worst_rows, std::fabs(mass - 1.0));
    }
  }
  if (worst > 1e-4) fail << "out differs from float64(A) v by " << worst << " (relative to Σ|A_ij| max|v|); ";
  if (worst_rows > 1e-4) fail << "rows of A sum to 1 +- " << worst_rows << "; ";
  if (kMaskedSoftmax.count(s.name())) {
    const Tensor pattern = s.data_pattern(q, k, cfg);  // (B or 1, H or 1, n, n), causal included
    const testing::Reference64 ref = testing::softmax_reference64(q, k, v, 1.0 / std::sqrt(double(d)), cfg.causal, pattern);
    double worst_ref = 0.0;
    for (int64_t r = 0; r < B * H * n; ++r) {
      const int64_t bh = r / n, i = r % n;
      double smax = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        double sabs = 0.0;
        for (int64_t e = 0; e < d; ++e)
          sabs += std::fabs(double(q.data()[(bh * n + i) * d + e]) * k.data()[(bh * n + j) * d + e]);
        smax = std::max(smax, sabs / std::sqrt(double(d)));
      }
      const double delta = 1e-7 * (d + 2) * smax;
      for (int64_t e = 0; e < d; ++e) {
        const double err = std::fabs(out.data()[r * d + e] - ref.out[static_cast<size_t>(r * d + e)]);
        worst_ref = std::max(worst_ref, err / (vmax * (1e-5 + 4.0 * delta)));
      }
    }
    if (worst_ref > 1.0) fail << "out differs from the float64 masked softmax by " << worst_ref << " x its bound; ";
  }
  return fail.str();
}

}  // namespace

TEST_CASE("numerics fuzzer: every scheme refuses, flags or answers correctly at any input scale, NaN and Inf") {
  const std::vector<std::pair<std::string, float>> scales = {{"1e-3", 1e-3f}, {"1", 1.0f},     {"10", 10.0f},
                                                             {"1e3", 1e3f},   {"1e19", 1e19f}, {"1e30", 1e30f}};
  int answered = 0, refused = 0, flagged = 0;
  for (const attention::Scheme* s : attention::all_schemes()) {
    for (bool causal : {false, true}) {
      if (causal && !s->supports_causal()) continue;
      for (int64_t n : {23, 32}) {
        Rng rng(1000 + n + (causal ? 7 : 0));
        const Tensor q0 = randn({1, 2, n, 8}, rng), k0 = randn({1, 2, n, 8}, rng), v0 = randn({1, 2, n, 8}, rng);
        std::vector<std::pair<std::string, std::vector<Tensor>>> inputs;
        for (const auto& [label, c] : scales) inputs.push_back({label, {q0 * c, k0 * c, v0 * c}});
        Tensor qn = q0.clone(), ki = k0.clone();
        qn.data()[3 * 8 + 1] = std::nanf("");                              // q[0, 0, 3, 1]
        ki.data()[(n + 5) * 8 + 2] = std::numeric_limits<float>::infinity();  // k[0, 1, 5, 2]
        inputs.push_back({"nan-in-q", {qn, k0, v0}});
        inputs.push_back({"inf-in-k", {q0, ki, v0}});
        for (const auto& [label, qkv] : inputs) {
          const std::string what = describe(s->name(), causal, label, n);
          const attention::Config cfg = s->configure({}, causal, 5);
          std::string failure;
          try {
            const Tensor out = s->kernel(qkv[0], qkv[1], qkv[2], cfg);
            if (!testing::all_finite(out)) {
              ++flagged;  // (b): the CLI refuses it
            } else if (label == "nan-in-q" || label == "inf-in-k") {
              if (!kIgnoresQK.count(s->name())) failure = "a finite output although an input is not finite";
              else ++answered;
            } else {
              failure = check_finite_output(*s, cfg, qkv[0], qkv[1], qkv[2], out);
              if (failure.empty()) ++answered;
            }
          } catch (const core::Error& e) {
            ++refused;  // (a): one line, naming the scheme
            const std::string msg = e.what();
            if (!testing::printable_line(msg)) failure = "refusal is not one printable line: " + msg;
            else if (msg.find(s->name()) == std::string::npos)
              failure = "refusal does not name the scheme: " + msg;
          }
          if (!failure.empty()) FAIL_CHECK(what << ": " << failure);
        }
      }
    }
  }
  MESSAGE("numerics fuzzer: ", answered, " answered correctly, ", refused, " refused, ", flagged,
          " flagged non-finite");
  CHECK(answered > 100);  // the fuzzer did check results, not only refusals
}

TEST_CASE("all_finite finds one NaN or infinity at any index, and passes every finite value") {
  const float inf = std::numeric_limits<float>::infinity();
  const float finite[] = {0.0f, -0.0f, 1.0f, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()};
  for (int64_t n : {1, 7, 16, 33, 100}) {  // lengths around the vector width, so the tail loop is covered too
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = finite[i % 7];
    CHECK(core::all_finite(x.data(), n));
    for (float bad : {inf, -inf, std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN()})
      for (int64_t at : {int64_t(0), n / 2, n - 1}) {
        std::vector<float> y = x;
        y[static_cast<size_t>(at)] = bad;
        CHECK_MESSAGE(!core::all_finite(y.data(), n), "n = " << n << ", " << bad << " at " << at);
      }
  }
  CHECK(core::all_finite(nullptr, 0));
}

TEST_CASE("first_non_finite names the first bad index, or -1") {
  std::vector<float> x(37, 1.0f);
  CHECK(core::first_non_finite(x.data(), 37) == -1);
  x[20] = std::numeric_limits<float>::quiet_NaN();
  x[30] = std::numeric_limits<float>::infinity();
  CHECK(core::first_non_finite(x.data(), 37) == 20);
  CHECK(core::first_non_finite(x.data(), 20) == -1);  // only p[0..n) is read
  x[0] = -std::numeric_limits<float>::infinity();
  CHECK(core::first_non_finite(x.data(), 37) == 0);
}
