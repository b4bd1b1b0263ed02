// attention/dense.cpp — materialised softmax attention, and the "full" scheme of the registry.
#include "attention/dense.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/decode.h"
#include "core/autograd.h"
#include "core/fast_exp.h"
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_shape.h"
#include "core/parallel.h"
#include "core/row_sums.h"

namespace attention {

using namespace core;

Tensor blocked_mask(int64_t batch, int64_t n, int64_t m, const DenseOptions& o) {
  const Tensor& pad = o.key_padding_mask;
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({batch, m}), "attention: key_padding_mask must be (B, m) = ", Shape({batch, m}),
             ", got ", pad.shape());
  const int64_t b_out = pad.defined() ? batch : 1;
  Tensor blocked = Tensor::zeros({b_out, 1, n, m});  // (B or 1, 1, n, m)
  float* p = blocked.data();
  for (int64_t b = 0; b < b_out; ++b)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) {
        const bool future = o.causal && j > i;
        const bool padding = pad.defined() && pad.data()[b * m + j] == 0.0f;
        p[(b * n + i) * m + j] = (future || padding) ? 1.0f : 0.0f;
      }
  return blocked;
}

Tensor dense_scores(const Tensor& q, const Tensor& k) {
  return matmul(q, k, false, true) / std::sqrt(static_cast<float>(q.size(-1)));  // (B, H, n, m)
}

// ---- A = softmax(scale · q kᵀ + mask), one op ----------------------------------------------------------------
namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One row of scores s (m floats, q_i · k_j) becomes one row of probabilities, in place. `visible` keys
// j < visible are not in the future; pad_row (m floats, or null) marks padding keys with 0.
void softmax_row_in_place(float* s, int64_t m, float scale, int64_t visible, const float* pad_row) {
  float mx = kNegInf;
  for (int64_t j = 0; j < m; ++j) {
    const bool blocked = j >= visible || (pad_row && pad_row[j] == 0.0f);
    s[j] = blocked ? kNegInf : s[j] * scale;
    mx = s[j] > mx ? s[j] : mx;
  }
  if (mx == kNegInf) {  // every key blocked: the row attends to nothing -> zeros, not NaN
    for (int64_t j = 0; j < m; ++j) s[j] = 0.0f;
    return;
  }
  // as core::softmax: exp(s - max) <= 1, summed in double (8 lanes, core/row_sums.h), then one multiply by the
  // reciprocal
  for (int64_t j = 0; j < m; ++j) s[j] = fast_exp(s[j] - mx);
  const double total = detail::lane_sum(m, [&](int64_t j) { return static_cast<double>(s[j]); });
  const float inv = static_cast<float>(1.0 / total);
  for (int64_t j = 0; j < m; ++j) s[j] *= inv;
}
}  // namespace

Tensor attention_probabilities(const Tensor& q, const Tensor& k, float scale, const DenseOptions& o) {
  AZ_CHECK(q.defined() && k.defined(), "attention_probabilities: q and k must both be given");
  AZ_CHECK(q.dim() == 4 && k.dim() == 4,
           "attention_probabilities: q and k must be (B, H, n, d) and (B, H, m, d), got q ", q.shape(), " k ", k.shape());
  AZ_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3), "attention_probabilities: q ",
           q.shape(), " and k ", k.shape(), " must agree on B, H and d");
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), m = k.size(2);
  const Tensor& pad = o.key_padding_mask;
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({B, m}), "attention: key_padding_mask must be (B, m) = ", Shape({B, m}), ", got ",
             pad.shape());

  Tensor probs;  // (B, H, n, m): first the raw scores q kᵀ, then, row by row in place, the probabilities
  {
    NoGradGuard no_grad;  // the matmul is a step inside this op, not a node of the graph
    probs = matmul(q, k, false, true);
  }
  float* pp = probs.data();
  const float* ppad = pad.defined() ? pad.data() : nullptr;
  detail::parallel_rows(B * H * n, m, [&](int64_t r) {  // r = (b * H + h) * n + i
    const int64_t i = r % n, b = r / (H * n);
    const int64_t visible = o.causal ? std::min(m, i + 1) : m;  // causal: keys j <= i
    softmax_row_in_place(pp + r * m, m, scale, visible, ppad ? ppad + b * m : nullptr);
  });

  // The node holds q, k (alive anyway: they are the caller's) and reads A as its output: no other n×m buffer.
  return record(probs, "attention_probabilities", {q, k}, [scale](BackwardContext& c) {
    // forward: A = softmax(S), S = scale · q kᵀ (+ -inf where blocked)
    //   dS = A ∘ (dA − rowsum(dA ∘ A)) · scale   (blocked entries have A = 0, so they get dS = 0)
    const Tensor& a = c.out;        // (B, H, n, m)
    const Tensor& ga = c.grad_out;  // (B, H, n, m)
    const int64_t m = a.size(-1), rows = m ? a.numel() / m : 0;
    Tensor gs = Tensor::empty(a.shape());  // (B, H, n, m)
    const float* pa = a.data();
    const float* pg = ga.data();
    float* pgs = gs.data();
    detail::parallel_rows(rows, m, [&](int64_t r) {
      const float* ar = pa + r * m;
      const float* gr = pg + r * m;
      const float d =
          static_cast<float>(detail::lane_sum(m, [&](int64_t j) { return static_cast<double>(gr[j]) * ar[j]; }));
      for (int64_t j = 0; j < m; ++j) pgs[r * m + j] = ar[j] * (gr[j] - d) * scale;
    });
    // forward: S = scale · q kᵀ  =>  dq = dS k (B, H, n, d),  dk = dSᵀ q (B, H, m, d)  (scale is already in dS)
    if (c.needs_grad(0)) c.add_grad(0, matmul(gs, c.inputs[1]));
    if (c.needs_grad(1)) c.add_grad(1, matmul(gs, c.inputs[0], true, false));
  });
}

Tensor dense_probabilities(const Tensor& q, const Tensor& k, const DenseOptions& o) {
  // (a q of the wrong rank gets scale 1 here and its error from attention_probabilities)
  const float scale = q.defined() && q.dim() == 4 ? 1.0f / std::sqrt(static_cast<float>(q.size(3))) : 1.0f;
  return attention_probabilities(q, k, scale, o);
}

Tensor dense_attention(const Tensor& q, const Tensor& k, const Tensor& v, const DenseOptions& o) {
  Scheme::check_qkv(q, k, v, "dense_attention");
  return matmul(dense_probabilities(q, k, o), v);  // (B, H, n, d)
}

// ---- the registered scheme "full" -----------------------------------------------------------------------
namespace {

SchemeInfo full_info() {
  SchemeInfo i;
  i.name = "full";
  i.summary = "vanilla softmax(QKᵀ/√d)V, materialised: O(n²) time and memory (the reference)";
  i.paper = "Vaswani et al. 2017, Attention Is All You Need";
  i.lecture = 1;
  i.causal = true;
  i.has_pattern = true;
  i.families = {Family::EX};
  i.exactness = Exactness::exact;
  i.masked_softmax = true;
  i.time_growth = "n²";
  i.memory_exponent = 2;
  i.idea = "every pair; the n x n matrix is materialised (the reference)";
  i.lra_paper = {"Transformer", 36.37, 71.40, 54.39, 64.27, 57.46, 42.44};
  return i;
}

class FullScheme : public Scheme {
 public:
  FullScheme() : Scheme(full_info()) {}
  // Decoding: a KV cache, every key and value so far (exact; attention/decode.h).
  std::unique_ptr<Decoder> make_decoder(const Config&, int64_t n) const override {
    return std::make_unique<KvCacheDecoder>("full", n);
  }
  double flops(const Shape& q, const Config& cfg) const override {
    const int64_t n = q[2];
    return attention_flops(q, cfg.causal ? causal_pairs(n) : static_cast<double>(n) * n);
  }
  // Full attention's algorithm keeps the probabilities P (B, H, n, n), masked entries included: written forward,
  // read backward, on top of the inputs and outputs.
  double bytes(const Shape& q, const Config&) const override {
    return io_bytes(q) + 2.0 * 4.0 * static_cast<double>(q[0] * q[1]) * static_cast<double>(q[2] * q[2]);
  }

  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "full");  // refusals name the scheme, as effective_attention's do
    return dense_attention(q, k, v, {cfg.causal, cfg.key_padding_mask});
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "full");
    return dense_probabilities(q, k, {cfg.causal, cfg.key_padding_mask});
  }
  Tensor pattern(const Shape& q_shape, const Config& cfg) const override {
    AZ_CHECK(q_shape.size() == 4, "full: pattern needs a (B, H, n, d) shape, got ", q_shape);
    const int64_t B = q_shape[0], H = q_shape[1], n = q_shape[2];
    const Tensor blocked = blocked_mask(B, n, n, {cfg.causal, cfg.key_padding_mask});
    return expand(1.0f - blocked, {B, H, n, n});  // 1 = may attend
  }
};

Registrar registrar(std::make_unique<FullScheme>());

}  // namespace

Tensor masked_dense_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& pattern) {
  const Tensor blocked = 1.0f - pattern;  // 1 = query i may not look at key j
  const Tensor scores =
      core::masked_fill(dense_scores(q, k), blocked, -std::numeric_limits<float>::infinity());  // (B, H, n, m)
  return core::matmul(core::softmax(scores, -1), v);  // (B, H, n, m) @ (B, H, m, d) -> (B, H, n, d)
}

}  // namespace attention
