// tests/helpers.h — small helpers shared by the test files: random inputs, closeness checks, paths.
#pragma once

#include <doctest/doctest.h>

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "attention/dense.h"
#include "attention/scheme.h"
#include "core/core.h"

namespace testing {

using core::Shape;
using core::Tensor;

inline std::string source_dir() { return ATTNZOO_SOURCE_DIR; }

// The build directory that holds this test binary (build/ or build/asan/): lessons and the CLI sit beside it.
inline std::string build_dir() {
  return std::filesystem::canonical("/proc/self/exe").parent_path().parent_path().string();
}

// A fresh empty directory under the system temp dir, unique per call.
inline std::string temp_dir(const std::string& tag) {
  static int counter = 0;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("attnzoo_test_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// A fresh directory under the system temp dir (temp_dir), removed with everything in it at the end of the test.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag = "tmp") : path(temp_dir(tag)) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// The message of the core::Error that f() throws, or a sentence saying none was thrown.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.what();
  }
  return "(no core::Error was thrown)";
}

// Uniform in [lo, hi), seeded.
inline Tensor rand_tensor(const Shape& shape, uint64_t seed, float lo = -2.0f, float hi = 2.0f) {
  core::Rng rng(seed);
  return core::rand_uniform(shape, rng, lo, hi);
}

// Uniform in ±[0.2, 2]: keeps inputs away from kinks (relu, abs, max ties) in finite-difference checks.
inline Tensor rand_away_from_zero(const Shape& shape, uint64_t seed) {
  Tensor t = rand_tensor(shape, seed, -1.8f, 1.8f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += t.data()[i] >= 0 ? 0.2f : -0.2f;
  return t;
}

// The largest |a - b| relative to (atol + rtol |b|); <= 1 means close. Shapes must match.
struct Closeness {
  bool ok;
  std::string detail;
};
inline Closeness close(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return {false, "shape " + core::shape_str(a.shape()) + " vs " + core::shape_str(b.shape())};
  double worst = 0.0;
  int64_t where = -1;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data()[i], y = b.data()[i];
    if (std::isnan(x) != std::isnan(y)) return {false, "NaN mismatch at flat index " + std::to_string(i)};
    if (std::isinf(y) && x == y) continue;
    const double ratio = std::fabs(x - y) / (atol + rtol * std::fabs(y));
    if (ratio > worst) {
      worst = ratio;
      where = i;
    }
  }
  if (worst <= 1.0) return {true, ""};
  return {false, "flat index " + std::to_string(where) + ": got " + std::to_string(a.data()[where]) + ", want " +
                     std::to_string(b.data()[where]) + " (" + std::to_string(worst) + "x the tolerance)"};
}

inline float max_abs(const Tensor& t) {
  float m = 0.0f;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data()[i]));
  return m;
}

inline bool all_finite(const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t.data()[i])) return false;
  return true;
}

inline bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

// The dense reference for a sparse scheme (attention/dense.h): softmax(q kᵀ/√d, -∞ where pattern == 0) v.
using attention::masked_dense_attention;

// A random key index (Bi, Hi, n, K) over m keys, for the sparse kernels: each row lists a random number of
// distinct keys in random slots, the rest -1. Row 0 of every slice is left empty when `empty_row0`.
inline core::IntTensor random_index(int64_t Bi, int64_t Hi, int64_t n, int64_t K, int64_t m, uint64_t seed,
                                    bool empty_row0 = false) {
  core::Rng rng(seed);
  core::IntTensor index({Bi, Hi, n, K}, -1);
  for (int64_t r = 0; r < Bi * Hi * n; ++r) {
    if (empty_row0 && r % n == 0) continue;
    const core::IntTensor perm = core::permutation(m, rng);
    const int64_t used = rng.randint(1, std::min(K, m) + 1);
    const core::IntTensor slots = core::permutation(K, rng);
    for (int64_t t = 0; t < used; ++t) index.data[r * K + slots.data[t]] = perm.data[t];
  }
  return index;
}

// Gradcheck of a whole attention layer in its input x (which must require grad) and every one of its
// parameters; the caller asserts on the result.
inline core::GradcheckResult gradcheck_layer(attention::AttentionLayer& layer, const Tensor& x,
                                             const core::GradcheckOptions& options = {}) {
  std::vector<Tensor> leaves = {x};
  for (const Tensor& p : layer.parameters()) leaves.push_back(p);
  return core::gradcheck_leaves([&] { return layer.forward(x); }, leaves, options);
}

// The config of a layer of width d_model with n_heads heads and the given settings (max_len and seed at their
// defaults: set them on the result where a test needs them).
inline attention::LayerConfig layer_config(int64_t d_model, int64_t n_heads, std::vector<std::string> set = {},
                                           bool causal = false) {
  attention::LayerConfig lc;
  lc.d_model = d_model;
  lc.n_heads = n_heads;
  lc.set = std::move(set);
  lc.causal = causal;
  return lc;
}

// q, k, v of one shape, uniform in [lo, hi), seeded seed, seed + 1, seed + 2.
struct QKV {
  Tensor q, k, v;
};
inline QKV random_qkv(const Shape& shape, uint64_t seed, float lo = -2.0f, float hi = 2.0f) {
  return {rand_tensor(shape, seed, lo, hi), rand_tensor(shape, seed + 1, lo, hi), rand_tensor(shape, seed + 2, lo, hi)};
}

// Gradcheck of an attention kernel f(q, k, v) in all three inputs; the caller asserts on the result.
template <class F>
core::GradcheckResult gradcheck_qkv(F f, const Tensor& q, const Tensor& k, const Tensor& v,
                                    const core::GradcheckOptions& options = {}) {
  return core::gradcheck([&](const std::vector<Tensor>& x) { return f(x[0], x[1], x[2]); }, {q, k, v}, options);
}

// The peak bytes allocated above the start while f(q, k, v) runs forward and then backward (from ones) through q,
// for q, k, v of shape (1, 1, n, d), seeds 50, 51, 52: what "memory grows linearly in n" tests measure.
template <class F>
double peak_bytes_forward_backward(F f, int64_t n, int64_t d = 8) {
  const QKV x = random_qkv({1, 1, n, d}, 50);
  Tensor q = x.q.clone().detach().set_requires_grad();
  core::memory::PeakScope scope;
  f(q, x.k, x.v).backward(Tensor::ones(q.shape()));
  return static_cast<double>(scope.peak_above_start());
}

// Which rows (token positions) of layer.forward(x), x (B, n, d_model), change when every parameter whose name
// starts with `prefix` is shifted by 0.5: e.g. the global projections of Longformer and ETC move only global rows.
inline std::vector<bool> rows_moved_by(attention::AttentionLayer& layer, const Tensor& x, const std::string& prefix) {
  const Tensor before = layer.forward(x);
  for (const auto& [name, p] : layer.named_parameters())
    if (name.rfind(prefix, 0) == 0)
      for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] += 0.5f;
  const Tensor after = layer.forward(x);
  std::vector<bool> moved;
  for (int64_t i = 0; i < x.size(1); ++i)
    moved.push_back(!bit_equal(core::slice(before, 1, i, i + 1), core::slice(after, 1, i, i + 1)));
  return moved;
}

// f() run with `threads` OpenMP threads; the previous number is restored afterwards.
template <class F>
auto with_threads(int threads, F f) {
  struct Restore {
    int before = omp_get_max_threads();
    ~Restore() { omp_set_num_threads(before); }
  } restore;
  omp_set_num_threads(threads);
  return f();
}

// The output of f(q, k, v) and the gradients of sum(out * g) with respect to fresh copies of q, k, v.
struct Grads {
  Tensor out, dq, dk, dv;
};
template <class F>
Grads with_grads(F f, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g) {
  Tensor a = q.clone().detach().set_requires_grad(), b = k.clone().detach().set_requires_grad(),
         c = v.clone().detach().set_requires_grad();
  const Tensor out = f(a, b, c);
  out.backward(g);
  auto grad_or_zero = [](const Tensor& t) { return t.grad().defined() ? t.grad() : Tensor::zeros(t.shape()); };
  return {out.detach(), grad_or_zero(a), grad_or_zero(b), grad_or_zero(c)};
}

}  // namespace testing

#define CHECK_CLOSE(a, b, rtol, atol)                         \
  do {                                                        \
    const auto _c = ::testing::close((a), (b), (rtol), (atol)); \
    INFO(_c.detail);                                          \
    CHECK(_c.ok);                                             \
  } while (0)

// Outputs and the three gradients of two testing::Grads agree within rtol/atol.
#define CHECK_SAME_GRADS(a, b, rtol, atol)   \
  do {                                       \
    CHECK_CLOSE((a).out, (b).out, rtol, atol); \
    CHECK_CLOSE((a).dq, (b).dq, rtol, atol);   \
    CHECK_CLOSE((a).dk, (b).dk, rtol, atol);   \
    CHECK_CLOSE((a).dv, (b).dv, rtol, atol);   \
  } while (0)

// ---- added for the input-hardening tests (npy, LRA loaders) ----------------------------------------------------
#include <cstdio>
#include <cstdlib>

namespace testing {

// True when every byte of `s` is printable ASCII (0x20..0x7E): no control byte, no newline, nothing a terminal
// would act on. For checking that an error message quoting input is one safe line.
inline bool printable_line(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

// The process's resident set in KiB: now (VmRSS) or its high-water mark (VmHWM), from /proc/self/status; -1 if
// unavailable.
inline long proc_status_kib(const char* key) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long value = -1;
  const size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, n) == 0 && line[n] == ':') value = std::atol(line + n + 1);
  }
  std::fclose(f);
  return value;
}

// Resets VmHWM to the current RSS (Linux >= 4.0: "5" > /proc/self/clear_refs), so that a test can measure the peak
// RSS of one call: reset, call, then proc_status_kib("VmHWM") - proc_status_kib("VmRSS") taken before. False when
// the kernel does not allow it (the caller then skips the RSS check and says so).
inline bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

// ---- float64 references (tests/test_flash.cpp, tests/test_numerics.cpp) ----------------------------------------

// Masked softmax attention in double: out = softmax(scale · q kᵀ + mask) v with allowed (B or 1, H or 1, n, m)
// 0/1 (undefined = all allowed; causal additionally hides j > i), and, if g is given, the gradients dq, dk, dv of
// sum(out ∘ g). A row with no allowed key gives 0. Every tensor is float (B, H, ·, d); results are row-major
// doubles of the same shapes. Slow (O(B·H·n·m·d) loops): for small shapes only.
struct Reference64 {
  std::vector<double> out, dq, dk, dv;
};
inline Reference64 softmax_reference64(const Tensor& q, const Tensor& k, const Tensor& v, double scale, bool causal,
                                       const Tensor& allowed = Tensor(), const Tensor& g = Tensor()) {
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3), m = k.size(2), dv = v.size(3);
  Reference64 r;
  r.out.assign(static_cast<size_t>(B * H * n * dv), 0.0);
  const bool grads = g.defined();
  if (grads) {
    r.dq.assign(static_cast<size_t>(B * H * n * d), 0.0);
    r.dk.assign(static_cast<size_t>(B * H * m * d), 0.0);
    r.dv.assign(static_cast<size_t>(B * H * m * dv), 0.0);
  }
  std::vector<double> s(static_cast<size_t>(m)), p(static_cast<size_t>(m)), dp(static_cast<size_t>(m));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t bh = b * H + h;
      for (int64_t i = 0; i < n; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < m; ++j) {
          bool ok = !causal || j <= i;
          if (ok && allowed.defined()) {
            const int64_t ab = allowed.size(0) == 1 ? 0 : b, ah = allowed.size(1) == 1 ? 0 : h;
            ok = allowed.data()[((ab * allowed.size(1) + ah) * n + i) * m + j] != 0.0f;
          }
          double acc = 0.0;
          for (int64_t e = 0; e < d; ++e)
            acc += static_cast<double>(q.data()[(bh * n + i) * d + e]) * k.data()[(bh * m + j) * d + e];
          s[j] = ok ? scale * acc : -std::numeric_limits<double>::infinity();
          mx = std::max(mx, s[j]);
        }
        if (mx == -std::numeric_limits<double>::infinity()) continue;  // no key: out 0, gradients 0
        double total = 0.0;
        for (int64_t j = 0; j < m; ++j) total += (p[j] = std::exp(s[j] - mx));
        for (int64_t j = 0; j < m; ++j) p[j] /= total;
        double* o = r.out.data() + (bh * n + i) * dv;
        for (int64_t j = 0; j < m; ++j)
          if (p[j] != 0.0)
            for (int64_t e = 0; e < dv; ++e) o[e] += p[j] * v.data()[(bh * m + j) * dv + e];
        if (!grads) continue;
        const float* gi = g.data() + (bh * n + i) * dv;
        double D = 0.0;  // Σ_j p_j dp_j
        for (int64_t j = 0; j < m; ++j) {
          dp[j] = 0.0;
          for (int64_t e = 0; e < dv; ++e) dp[j] += static_cast<double>(gi[e]) * v.data()[(bh * m + j) * dv + e];
          D += p[j] * dp[j];
        }
        for (int64_t j = 0; j < m; ++j) {
          if (p[j] == 0.0) continue;
          const double ds = p[j] * (dp[j] - D) * scale;  // forward: s = scale q·k, p = softmax(s), out = p v
          for (int64_t e = 0; e < d; ++e) {
            r.dq[(bh * n + i) * d + e] += ds * k.data()[(bh * m + j) * d + e];
            r.dk[(bh * m + j) * d + e] += ds * q.data()[(bh * n + i) * d + e];
          }
          for (int64_t e = 0; e < dv; ++e) r.dv[(bh * m + j) * dv + e] += p[j] * gi[e];
        }
      }
    }
  return r;
}

// max |a - b| / norm: a float tensor against a double reference of the same size (inf when a is not finite).
inline double max_error64(const Tensor& a, const std::vector<double>& b, double norm) {
  double worst = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data()[i];
    if (!std::isfinite(x)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::fabs(x - b[static_cast<size_t>(i)]));
  }
  return worst / norm;
}

}  // namespace testing
