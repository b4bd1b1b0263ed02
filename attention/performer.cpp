// attention/performer.cpp — FAVOR+ random features, the stabilised kernel, and the registered scheme "performer".
#include "attention/performer.h"

#include <cmath>
#include <limits>
#include <memory>

#include "attention/decode.h"
#include "attention/kernels/feature_attention.h"
#include "core/autograd.h"
#include "core/fast_exp.h"
#include "core/ops_elementwise.h"
#include "core/ops_linalg.h"
#include "core/ops_reduce.h"
#include "core/ops_shape.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/row_sums.h"

namespace attention {

using namespace core;

// ---- random features --------------------------------------------------------------------------------------
uint64_t feature_seed(uint64_t seed, uint64_t draw) {
  return seed + draw * 0x9E3779B97F4A7C15ULL;  // draw 0 is the seed itself; wraps around modulo 2^64
}

Tensor draw_random_features(int64_t m, int64_t d, bool orthogonal_rows, uint64_t seed) {
  AZ_CHECK(m >= 1 && d >= 1, "performer: features (", m, ") and head size (", d, ") must be >= 1");
  Rng rng(seed);
  if (!orthogonal_rows) return randn({m, d}, rng);  // (m, d) iid N(0, 1)
  Tensor W = Tensor::empty({m, d});                 // (m, d)
  for (int64_t start = 0; start < m; start += d) {
    const Tensor Q = orthogonal(d, d, rng);  // (d, d), orthonormal rows
    for (int64_t row = 0; row < d; ++row) {
      // the norm of a fresh N(0, I_d) vector: chi with d degrees of freedom, like an iid Gaussian row's norm
      double norm2 = 0.0;
      for (int64_t t = 0; t < d; ++t) {
        const double g = rng.normal();
        norm2 += g * g;
      }
      if (start + row >= m) continue;  // the last block is cut to m rows (its draws are still consumed)
      const float norm = static_cast<float>(std::sqrt(norm2));
      for (int64_t t = 0; t < d; ++t) W.data()[(start + row) * d + t] = Q.data()[row * d + t] * norm;
    }
  }
  return W;
}

namespace {

void check_features(const Tensor& x, const Tensor& W, const char* what) {
  AZ_CHECK(x.dim() == 4, "performer: ", what, " must be (B, H, n, d), got ", x.shape());
  AZ_CHECK(W.dim() == 2 && W.size(1) == x.size(3), "performer: random features W must be (m, d) with d = ", x.size(3),
           ", got ", W.shape());
}

// The exponents W x' - ‖x'‖²/2 with x' = x d^(-1/4): (B, H, n, m).
Tensor exponents(const Tensor& x, const Tensor& W) {
  const float scale = 1.0f / std::pow(static_cast<float>(x.size(3)), 0.25f);
  const Tensor xs = x * scale;                               // (B,H,n,d)  x' = x / d^(1/4)
  const Tensor proj = matmul(xs, W, false, true);            // (B,H,n,d) @ (d,m) -> (B,H,n,m)
  return proj - sum(square(xs), -1, true) * 0.5f;            // (B,H,n,m) - (B,H,n,1)
}

float inv_sqrt_m(const Tensor& W) { return 1.0f / std::sqrt(static_cast<float>(W.size(0))); }

// The stabilised features, one fused op: (B, H, n, d) -> phi (B, H, n, m) and c (B, H, n), with
//   e_l = w_l·x' - ‖x'‖²/2,  c = max_l e_l,  phi_l = exp(e_l - c) / √m      (x' = s x, s = d^(-1/4))
// c is a constant for autograd (it cancels: see the header). Only phi is kept for backward — composing the
// same from core ops would keep five (n, m) intermediates alive.
struct Stabilised {
  Tensor phi, c;
};
Stabilised stabilised_features(const Tensor& x, const Tensor& W, const char* what) {
  const int64_t d = x.size(3), m = W.size(0), rows = x.numel() / d;
  const float s = 1.0f / std::pow(static_cast<float>(d), 0.25f), inv = inv_sqrt_m(W);
  Tensor proj;
  {
    NoGradGuard no_grad;
    proj = matmul(x.detach(), W, false, true);  // (B,H,n,d) @ (d,m) -> (B,H,n,m): w_l·x (unscaled)
  }
  Shape c_shape = x.shape();
  c_shape.pop_back();
  Tensor phi = Tensor::empty(proj.shape());  // (B,H,n,m)
  Tensor c = Tensor::empty(c_shape);          // (B,H,n)
  const float *px = x.data(), *pp = proj.data();
  float *pphi = phi.data(), *pc = c.data();
  detail::parallel_rows(rows, m + d, [&](int64_t r) {
    // Row pointers and factors in locals: read through the captured references, GCC could not keep them in
    // registers across the stores and left the exp loop scalar ("control flow in loop").
    const float* xr = px + r * d;  // (d)
    const float* p = pp + r * m;   // (m) w_l·x
    float* phi_r = pphi + r * m;   // (m)
    const float s_r = s, inv_r = inv;
    float half_norm2 = 0.0f;  // ‖x'‖²/2
    for (int64_t t = 0; t < d; ++t) half_norm2 += (s_r * xr[t]) * (s_r * xr[t]);
    half_norm2 *= 0.5f;
    const float p_max = core::detail::row_max(p, m);
    // e_l - c = s (w_l·x - max_l' w_l'·x): the ‖x'‖²/2 of e_l and c cancels, so it is left out here (at large ‖x‖
    // it is far bigger than s w_l·x, and subtracting two rounded copies of it would lose the difference).
    for (int64_t l = 0; l < m; ++l) phi_r[l] = core::fast_exp(s_r * (p[l] - p_max)) * inv_r;
    pc[r] = s_r * p_max - half_norm2;  // c = max_l e_l
  });
  // A non-finite c (‖x'‖² overflowed float, or the input holds inf/NaN) would read as "drop this key" (c = -inf)
  // or poison every row: refuse. Outside the parallel loop (an exception may not leave it).
  for (int64_t r = 0; r < rows; ++r)
    AZ_CHECK(std::isfinite(pc[r]), "performer: the random-feature exponent of ", what,
             " row ", r % x.size(2), " is not finite (|x|^2 overflows float32, or the input is not finite)");
  phi = record(phi, "favor_features", {x}, [W, s, d, m](BackwardContext& ctx) {
    // forward: phi_l = exp(e_l - c) / √m, e_l = s w_l·x - s² ‖x‖²/2
    //   =>  de_l = dphi_l phi_l,  dx = s Σ_l de_l w_l - s² (Σ_l de_l) x
    const Tensor de = ctx.grad_out * ctx.out;  // (B,H,n,m)
    Tensor dx = matmul(de, W) * s;             // (B,H,n,m) @ (m,d) -> (B,H,n,d)
    const int64_t rows = dx.numel() / d;
    const float *pde = de.data(), *px = ctx.inputs[0].data();
    float* pdx = dx.data();
    detail::parallel_rows(rows, m + d, [&](int64_t r) {
      float total = 0.0f;
      for (int64_t l = 0; l < m; ++l) total += pde[r * m + l];
      for (int64_t t = 0; t < d; ++t) pdx[r * d + t] -= s * s * total * px[r * d + t];
    });
    ctx.add_grad(0, dx);
  });
  return {phi, c};
}

}  // namespace

Tensor positive_random_features(const Tensor& x, const Tensor& W) {
  check_features(x, W, "x");
  return exp(exponents(x, W)) * inv_sqrt_m(W);  // (B,H,n,m)
}

Tensor trig_random_features(const Tensor& x, const Tensor& W) {
  check_features(x, W, "x");
  NoGradGuard no_grad;
  const int64_t m = W.size(0), d = x.size(3), rows = x.numel() / d;
  const float scale = 1.0f / std::pow(static_cast<float>(d), 0.25f), norm = inv_sqrt_m(W);
  const Tensor proj = matmul(x * scale, W, false, true);  // (B,H,n,m)  W x'
  Shape shape = x.shape();
  shape.back() = 2 * m;
  Tensor out = Tensor::empty(shape);  // (B,H,n,2m)
  for (int64_t r = 0; r < rows; ++r) {
    double half_norm2 = 0.0;
    for (int64_t t = 0; t < d; ++t) half_norm2 += 0.5 * double(x.data()[r * d + t] * scale) * (x.data()[r * d + t] * scale);
    const float amp = static_cast<float>(std::exp(half_norm2)) * norm;  // exp(‖x'‖²/2) / √m
    for (int64_t l = 0; l < m; ++l) {
      const float a = proj.data()[r * m + l];
      out.data()[r * 2 * m + l] = amp * std::sin(a);
      out.data()[r * 2 * m + m + l] = amp * std::cos(a);
    }
  }
  return out;
}

Tensor favor_query_features(const Tensor& q, const Tensor& W) {
  check_features(q, W, "q");
  return stabilised_features(q, W, "q").phi;  // (B,H,n,m): each row divided by exp(its own max exponent)
}

KeyFeatures favor_key_features(const Tensor& k, const Tensor& W, const Tensor& key_padding_mask) {
  check_features(k, W, "k");
  const int64_t B = k.size(0), H = k.size(1), n = k.size(2);
  Stabilised f = stabilised_features(k, W, "k");  // phi (B,H,n,m) / exp(c_j), c_j = key j's own max exponent
  Tensor phi = f.phi, log_scale = f.c;       // log_scale (B,H,n): its own storage
  if (key_padding_mask.defined()) {
    AZ_CHECK(key_padding_mask.shape() == Shape({B, n}), "performer: key_padding_mask must be (B, n) = ", Shape({B, n}),
             ", got ", key_padding_mask.shape());
    Tensor keep = Tensor::empty({B, 1, n, 1});
    for (int64_t i = 0; i < B * n; ++i) keep.data()[i] = key_padding_mask.data()[i] != 0.0f ? 1.0f : 0.0f;
    phi = phi * keep;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j < n; ++j)
          if (keep.data()[b * n + j] == 0.0f) log_scale.data()[(b * H + h) * n + j] = -std::numeric_limits<float>::infinity();
  }
  return {phi, log_scale};
}

Tensor performer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& W, bool causal, float eps,
                           const Tensor& key_padding_mask) {
  Scheme::check_qkv(q, k, v, "performer");
  AZ_CHECK(!causal || q.size(2) == k.size(2), "performer: causal attention needs as many queries as keys, got q ",
           q.shape(), " and k ", k.shape());
  const Tensor phi_q = favor_query_features(q, W);                   // (B,H,n,m)
  const KeyFeatures phi_k = favor_key_features(k, W, key_padding_mask);  // (B,H,n,m), (B,H,n)
  return feature_attention(phi_q, phi_k.phi, v, {causal, eps, phi_k.log_scale, "performer"});  // (B,H,n,d)
}

Tensor performer_attention_matrix(const Tensor& q, const Tensor& k, const Tensor& W, bool causal, float eps,
                                  const Tensor& key_padding_mask) {
  AZ_CHECK(!causal || q.size(2) == k.size(2), "performer: causal attention needs as many queries as keys, got q ",
           q.shape(), " and k ", k.shape());
  const Tensor phi_q = favor_query_features(q, W);
  const KeyFeatures phi_k = favor_key_features(k, W, key_padding_mask);
  return feature_attention_matrix(phi_q, phi_k.phi, {causal, eps, phi_k.log_scale, "performer"});  // (B,H,n,n)
}

// ---- the registered scheme "performer" -------------------------------------------------------------------
namespace {

struct PerformerSettings {
  int64_t features = 128;  // m
  bool orthogonal = true;
  int64_t redraw = 0;
  float eps = 1e-12f;
};

const ParamTable<PerformerSettings>& performer_params() {
  using O = PerformerSettings;
  static const auto table =
      ParamTable<O>("performer")
          .integer("features", &O::features, 1, 65536,
                   "m, the number of random features (more = closer to softmax, cost ~ m)")
          .flag("orthogonal", &O::orthogonal, "draw W in orthogonal blocks (FAVOR+); false = iid Gaussian rows")
          .integer("redraw", &O::redraw, 0, kNoLimit, "the layer redraws W every N training forward passes (0 = never)")
          .number("eps", &O::eps, open_closed(0, 1),
                  "the normaliser of a row that sees no key (its output is 0); other rows are normalised exactly");
  return table;
}

PerformerSettings parse(const Settings& s) { return performer_params().read(s); }

SchemeInfo performer_info() {
  SchemeInfo i;
  i.name = "performer";
  i.summary = "FAVOR+: positive orthogonal random features estimate softmax attention, O(n·m·d), causal by prefix sums";
  i.paper = "Choromanski et al. 2021, Rethinking Attention with Performers";
  i.lecture = 11;
  i.use(performer_params());
  i.causal = true;
  i.families = {Family::KR};
  i.exactness = Exactness::approximate;
  i.time_growth = "n";
  i.memory_exponent = 1;
  i.idea = "positive random features: an unbiased estimate of exp(q.k)";
  i.claim = {"Choromanski et al. 2021 (its protein experiments): Performers reach the accuracy of a regular "
              "Transformer of the same size on TrEMBL, above Reformer and Linformer",
             attention::ClaimTest::lm_matches_exact};
  i.lra_paper = {"Performer", 18.01, 77.05, 51.41, 65.40, 53.82, 42.77};
  i.gallery_settings = {"features=16"};
  i.test_settings = {{"features=16", "orthogonal=false"}, {"features=7"}};
  return i;
}

// Decoding: the causal FAVOR+ kernel as a recurrence — S = Σ φ(k) vᵀ (m × d) and z = Σ φ(k) (m) per head, kept
// in units of exp(M), M the largest key exponent so far (the causal stabiliser): constant in t (attention/decode.h).
class PerformerDecoder : public Decoder {
 public:
  PerformerDecoder(int64_t n, const PerformerSettings& p, uint64_t seed) : Decoder("performer", n), p_(p), seed_(seed) {}
  int64_t state_floats() const override { return rnn_ ? rnn_->state_floats() + W_.numel() : 0; }
  std::string state() const override {
    return "recurrent state S = Σ φ(k)vᵀ (m × d), z = Σ φ(k) (m) and the running maximum exponent per head, plus "
           "the m × d random features: constant in t";
  }

 protected:
  Tensor do_step(const Tensor& q, const Tensor& k, const Tensor& v) override {
    if (!rnn_) {
      W_ = draw_random_features(p_.features, d, p_.orthogonal, seed_);  // (m, d): the kernel's draw
      rnn_ = std::make_unique<FeatureRecurrence>(B, H, p_.features, d, p_.eps, true, "performer");
    }
    const KeyFeatures phi_k = favor_key_features(k, W_);               // (B, H, 1, m), (B, H, 1)
    return rnn_->step(favor_query_features(q, W_), phi_k.phi, v, phi_k.log_scale);
  }

 private:
  PerformerSettings p_;
  uint64_t seed_;
  Tensor W_;
  std::unique_ptr<FeatureRecurrence> rnn_;
};

class PerformerScheme : public Scheme {
 public:
  PerformerScheme() : Scheme(performer_info()) {}
  std::unique_ptr<Decoder> make_decoder(const Config& cfg, int64_t n) const override {
    return std::make_unique<PerformerDecoder>(n, parse(cfg.settings), cfg.seed);
  }

  // Features φ(Q), φ(K) (2·n·m·d each) and the linear attention over m features (4·n·m·d) forward, twice that
  // backward: 24·n·m·d.
  double flops(const Shape& q, const Config& cfg) const override {
    return attention_flops(q, 2.0 * static_cast<double>(q[2]) * static_cast<double>(cfg.settings.get_int("features")));
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "performer");
    const PerformerSettings p = parse(cfg.settings);
    const Tensor W = draw_random_features(p.features, q.size(3), p.orthogonal, cfg.seed);  // (m, d)
    return performer_attention(q, k, v, W, cfg.causal, p.eps, cfg.key_padding_mask);
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "performer");
    const PerformerSettings p = parse(cfg.settings);
    const Tensor W = draw_random_features(p.features, q.size(3), p.orthogonal, cfg.seed);
    return performer_attention_matrix(q, k, W, cfg.causal, p.eps, cfg.key_padding_mask);
  }
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& cfg, core::Rng& rng) const override {
    return std::make_unique<PerformerLayer>(*this, cfg, rng);
  }
};

Registrar registrar(std::make_unique<PerformerScheme>());

}  // namespace

// ---- the layer ---------------------------------------------------------------------------------------------
PerformerLayer::PerformerLayer(const Scheme& scheme, const LayerConfig& cfg, core::Rng& rng)
    : ProjectedAttention(scheme, cfg, rng),
      base_seed_(cfg.seed),
      redraw_every_(parse(config.settings).redraw),
      draw_(Tensor::scalar(0.0f)),
      training_calls_(Tensor::scalar(0.0f)) {
  register_buffer("draw", draw_);
  register_buffer("training_calls", training_calls_);
}

uint64_t PerformerLayer::draws() const { return static_cast<uint64_t>(draw_.item()); }

void PerformerLayer::redraw() { draw_.data()[0] += 1.0f; }

Tensor PerformerLayer::features(int64_t d_head) const {
  const PerformerSettings p = parse(config.settings);
  return draw_random_features(p.features, d_head, p.orthogonal, feature_seed(base_seed_, draws()));
}

Tensor PerformerLayer::attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& key_padding_mask) {
  if (training() && redraw_every_ > 0) {
    const int64_t calls = static_cast<int64_t>(training_calls_.item());
    if (calls > 0 && calls % redraw_every_ == 0) redraw();
    training_calls_.data()[0] += 1.0f;
  }
  Config cfg = config;
  cfg.seed = feature_seed(base_seed_, draws());  // draw 0 is the layer's seed itself
  cfg.key_padding_mask = key_padding_mask;
  return scheme.kernel(q, k, v, cfg);  // (B, H, n, d)
}

std::unique_ptr<LayerDecoder> PerformerLayer::make_decoder(int64_t n) {
  AZ_CHECK(config.causal, "performer layer decode: the layer is not causal (decoding is causal attention)");
  Config cfg = config;
  cfg.seed = feature_seed(base_seed_, draws());  // the features attend uses now
  return std::make_unique<ProjectedLayerDecoder>(*this, attention::make_decoder(scheme, cfg, n));
}

}  // namespace attention
