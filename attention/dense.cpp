// attention/dense.cpp — materialised softmax attention, and the "full" scheme of the registry.
#include "attention/dense.h"

#include <cmath>
#include <limits>

#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_shape.h"

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

Tensor dense_probabilities(const Tensor& q, const Tensor& k, const DenseOptions& o) {
  Tensor scores = dense_scores(q, k);  // (B, H, n, m)
  if (o.causal || o.key_padding_mask.defined()) {
    const Tensor blocked = blocked_mask(q.size(0), q.size(2), k.size(2), o);
    scores = masked_fill(scores, blocked, -std::numeric_limits<float>::infinity());
  }
  return softmax(scores, -1);  // a fully blocked row gives zeros (see core::softmax)
}

Tensor dense_attention(const Tensor& q, const Tensor& k, const Tensor& v, const DenseOptions& o) {
  Scheme::check_qkv(q, k, v, "dense_attention");
  return matmul(dense_probabilities(q, k, o), v);  // (B, H, n, d)
}

// ---- the registered scheme "full" -----------------------------------------------------------------------
namespace {

class FullScheme : public Scheme {
 public:
  std::string name() const override { return "full"; }
  std::string summary() const override {
    return "vanilla softmax(QKᵀ/√d)V, materialised: O(n²) time and memory (the reference)";
  }
  std::string paper() const override { return "Vaswani et al. 2017, Attention Is All You Need"; }
  int lecture() const override { return 1; }
  bool supports_causal() const override { return true; }
  bool has_pattern() const override { return true; }
  double flops(const Shape& q, const Config& cfg) const override {
    const int64_t n = q[2];
    return attention_flops(q, cfg.causal ? causal_pairs(n) : static_cast<double>(n) * n);
  }

  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
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

}  // namespace attention
