// tests/test_attention_weights.cpp — AttentionLayer::attention_weights(x), the (B, H, n, n) matrix a trained layer
// puts on its input (what lm/attention_maps.h draws), for every registered scheme through the registry: its
// product with the layer's values must be what the layer's attention computes before w_o.
#include <cmath>
#include <string>

#include "attention/reformer.h"
#include "attention/scheme.h"
#include "attention/synthesizer.h"
#include "core/core.h"
#include "tests/helpers.h"

using namespace attention;
using core::Tensor;

namespace {

float max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.data()[i] - b.data()[i]));
  return m;
}

// The heads' output before w_o, (B, H, n, d), and the values v (B, H, n, d) the layer mixes, computed the layer's
// own way (not through attention_weights).
struct Reference {
  Tensor out, v;
};

Reference reference(AttentionLayer& layer, const Tensor& x, int64_t n_heads) {
  if (auto* p = dynamic_cast<ProjectedAttention*>(&layer)) {
    const ProjectedAttention::Heads h = p->project(x);
    return {p->attend(x, h.q, h.k, h.v, Tensor()), h.v};
  }
  if (auto* s = dynamic_cast<SynthesizerLayer*>(&layer)) {
    const Tensor A = s->probabilities(x);  // (1 or B, H, n, n)
    const Tensor v = split_heads(s->w_v.forward(x), n_heads);
    return {core::matmul(core::expand(A, {x.size(0), A.size(1), A.size(2), A.size(3)}), v), v};
  }
  if (auto* r = dynamic_cast<LSHAttentionLayer*>(&layer)) {
    const Tensor qk = split_heads(r->w_qk.forward(x), n_heads);
    const Tensor v = split_heads(r->w_v.forward(x), n_heads);
    return {lsh_attention(qk, v, r->options()), v};
  }
  return {};
}

}  // namespace

TEST_CASE("attention_weights: every scheme's layer, A @ v == its attention output before w_o") {
  const int64_t B = 2, n = 64, d_model = 16, H = 2;
  int checked = 0;
  for (const Scheme* s : all_schemes()) {
    for (bool causal : {false, true}) {
      if (causal && !s->supports_causal()) continue;
      CAPTURE(s->name());
      CAPTURE(causal);
      LayerConfig lc;
      lc.d_model = d_model;
      lc.n_heads = H;
      lc.max_len = n;
      lc.causal = causal;
      lc.seed = 7;
      lc.set = s->info().gallery_settings;
      core::Rng rng(11);
      std::unique_ptr<AttentionLayer> layer = s->make_layer(lc, rng);
      layer->eval();
      const Tensor x = core::randn({B, n, d_model}, rng);
      if (s->name() == "star") {
        // Star's satellites mix their ring neighbours, their embedding and a relay node that is not a token: the
        // output is not one n×n mix of the value rows, so there is no such matrix to return.
        CHECK_THROWS_AS(layer->attention_weights(x), core::Error);
        continue;
      }
      core::NoGradGuard no_grad;
      const Tensor A = layer->attention_weights(x);
      REQUIRE(A.shape() == core::Shape({B, H, n, n}));
      const Reference ref = reference(*layer, x, H);
      REQUIRE_MESSAGE(ref.out.defined(), "no reference for this layer type");
      CHECK(max_abs_diff(core::matmul(A, ref.v), ref.out) < 2e-5f);
      // Rows are probability distributions (or 0, routing's unrouted queries), except Linformer's P̄·F: F's rows
      // are learned, not stochastic.
      double worst_sum = 0, worst_future = 0, min_entry = 0;
      for (int64_t r = 0; r < B * H * n; ++r) {
        const int64_t i = r % n;
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          const float a = A.data()[r * n + j];
          sum += a;
          min_entry = std::min<double>(min_entry, a);
          if (j > i) worst_future = std::max<double>(worst_future, std::fabs(a));
        }
        // routing: a query in no cluster (or, causal, with no earlier key in its cluster) gets 0: its row is 0
        if (s->name() == "routing" && std::fabs(sum) < 1e-6) continue;
        worst_sum = std::max(worst_sum, std::fabs(sum - 1.0));
      }
      if (s->name() != "linformer") {
        CHECK(worst_sum < 1e-4);
        CHECK(min_entry > -1e-6);
      }
      if (causal) CHECK(worst_future == 0.0);
      ++checked;
    }
  }
  CHECK(checked >= 20);
}

TEST_CASE("attention_weights: refuses training mode where it reads the matrix off attend") {
  const Scheme& s = find_scheme("bigbird");
  LayerConfig lc;
  lc.d_model = 16;
  lc.n_heads = 2;
  lc.max_len = 64;
  lc.set = {"block=8"};
  core::Rng rng(3);
  std::unique_ptr<AttentionLayer> layer = s.make_layer(lc, rng);
  const Tensor x = core::randn({1, 64, 16}, rng);
  CHECK_THROWS_AS(layer->attention_weights(x), core::Error);  // a fresh layer is in training mode
  layer->eval();
  CHECK(layer->attention_weights(x).shape() == core::Shape({1, 2, 64, 64}));
}
