// attention/linear.cpp — elu+1 kernel attention, its RNN form, and the registered scheme "linear".
#include "attention/linear.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "attention/decode.h"
#include "attention/kernels/feature_attention.h"
#include "core/autograd.h"
#include "core/fast_exp.h"
#include "core/ops_elementwise.h"
#include "core/ops_shape.h"
#include "core/parallel.h"

namespace attention {

using namespace core;

// One fused op (elu then + 1 would keep two tensors alive for backward; this keeps its output only).
Tensor elu_feature_map(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* po = out.data();
  detail::parallel_chunks(x.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) po[i] = px[i] > 0.0f ? px[i] + 1.0f : core::fast_exp(px[i]);
  });
  return record(out, "elu_feature_map", {x}, [](BackwardContext& c) {
    // forward: phi = x + 1 (x > 0), e^x (x <= 0)  =>  dphi/dx = 1 (x > 0), e^x = phi (x <= 0)
    Tensor g = Tensor::empty(c.out.shape());
    const float *pg = c.grad_out.data(), *px = c.inputs[0].data(), *po = c.out.data();
    float* pd = g.data();
    detail::parallel_chunks(g.numel(), [&](int64_t begin, int64_t end) {
      // Local copies of the pointers: read through the captured references inside the threads' region, GCC
      // reloaded them after every store to pd and left the loop scalar (a measured 13% of linear's kernel).
      const float *g_in = pg, *x_in = px, *phi = po;
      float* dx = pd;
      for (int64_t i = begin; i < end; ++i) dx[i] = x_in[i] > 0.0f ? g_in[i] : g_in[i] * phi[i];
    });
    c.add_grad(0, g);
  });
}

namespace {

// phi(k) with padding keys zeroed: (B, H, n, d), and the log-scales that tell feature_attention which keys are
// padding (0 = a token, -inf = padding; undefined without a mask), so that a row whose keys are all padding is
// told apart from a row whose normaliser underflowed.
struct LinearKeys {
  Tensor phi, log_scale;
};
LinearKeys key_features(const Tensor& k, const Tensor& key_padding_mask) {
  Tensor phi_k = elu_feature_map(k);
  if (!key_padding_mask.defined()) return {phi_k, Tensor()};
  const int64_t B = k.size(0), H = k.size(1), n = k.size(2);
  AZ_CHECK(key_padding_mask.shape() == Shape({B, n}), "linear: key_padding_mask must be (B, n) = ", Shape({B, n}),
           ", got ", key_padding_mask.shape());
  Tensor keep = Tensor::empty({B, 1, n, 1});  // 1 = token, 0 = padding (any nonzero counts as a token)
  for (int64_t i = 0; i < B * n; ++i) keep.data()[i] = key_padding_mask.data()[i] != 0.0f ? 1.0f : 0.0f;
  Tensor log_scale = Tensor::empty({B, H, n});  // (B,H,n)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t j = 0; j < n; ++j)
        log_scale.data()[(b * H + h) * n + j] = keep.data()[b * n + j] != 0.0f ? 0.0f : -std::numeric_limits<float>::infinity();
  return {phi_k * keep, log_scale};
}

}  // namespace

Tensor linear_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float eps,
                        const Tensor& key_padding_mask) {
  Scheme::check_qkv(q, k, v, "linear");
  AZ_CHECK(!causal || q.size(2) == k.size(2), "linear: causal attention needs as many queries as keys, got q ",
           q.shape(), " and k ", k.shape());
  const Tensor phi_q = elu_feature_map(q);                   // (B,H,n,d)
  const LinearKeys phi_k = key_features(k, key_padding_mask);  // (B,H,n,d), (B,H,n) or none
  return feature_attention(phi_q, phi_k.phi, v, {causal, eps, phi_k.log_scale, "linear"});  // (B,H,n,d)
}

Tensor linear_attention_matrix(const Tensor& q, const Tensor& k, bool causal, float eps,
                               const Tensor& key_padding_mask) {
  AZ_CHECK(q.dim() == 4 && k.dim() == 4, "linear: q ", q.shape(), " and k ", k.shape(), " must be (B, H, n, d)");
  const LinearKeys phi_k = key_features(k, key_padding_mask);
  return feature_attention_matrix(elu_feature_map(q), phi_k.phi, {causal, eps, phi_k.log_scale, "linear"});
}

// ---- the RNN form -----------------------------------------------------------------------------------------
LinearAttentionState::LinearAttentionState(int64_t batch, int64_t heads, int64_t d_k, int64_t d_v, float eps)
    : B_(batch), H_(heads), dk_(d_k), dv_(d_v), eps_(eps) {
  AZ_CHECK(batch >= 1 && heads >= 1 && d_k >= 1 && d_v >= 1, "LinearAttentionState: sizes must be >= 1, got B=",
           batch, " H=", heads, " d_k=", d_k, " d_v=", d_v);
  AZ_CHECK(eps > 0.0f && std::isfinite(eps), "LinearAttentionState: eps must be a positive number, got ", eps);
  S_ = Tensor::zeros({B_, H_, dk_, dv_});
  z_ = Tensor::zeros({B_, H_, dk_});
}

void LinearAttentionState::reset() {
  std::memset(S_.data(), 0, sizeof(float) * S_.numel());
  std::memset(z_.data(), 0, sizeof(float) * z_.numel());
  position_ = 0;
}

std::size_t LinearAttentionState::state_bytes() const { return sizeof(float) * (S_.numel() + z_.numel()); }

Tensor LinearAttentionState::step(const Tensor& q, const Tensor& k, const Tensor& v) {
  AZ_CHECK(q.shape() == Shape({B_, H_, dk_}) && k.shape() == Shape({B_, H_, dk_}), "LinearAttentionState: q ",
           q.shape(), " and k ", k.shape(), " must be (B, H, d_k) = ", Shape({B_, H_, dk_}));
  AZ_CHECK(v.shape() == Shape({B_, H_, dv_}), "LinearAttentionState: v must be (B, H, d_v) = ", Shape({B_, H_, dv_}),
           ", got ", v.shape());
  NoGradGuard no_grad;
  const Tensor phi_q = elu_feature_map(q), phi_k = elu_feature_map(k);  // (B,H,d_k): the kernel's elementwise ops
  Tensor out = Tensor::empty({B_, H_, dv_});                             // (B,H,d_v)
  for (int64_t r = 0; r < B_ * H_; ++r) {
    const float s = feature_attention_step(S_.data() + r * dk_ * dv_, z_.data() + r * dk_, phi_q.data() + r * dk_,
                                           phi_k.data() + r * dk_, v.data() + r * dv_, dk_, dv_, eps_,
                                           out.data() + r * dv_);
    // the causal kernel's rule: every step sees a key (itself), so its normaliser must be a normal float
    AZ_CHECK(s >= std::numeric_limits<float>::min() && s <= std::numeric_limits<float>::max(),
             "linear: the normaliser of step ", position_, " is ", s,
             ", outside float32's normal range (features underflowed or overflowed)");
  }
  AZ_CHECK(core::all_finite(out.data(), out.numel()), "linear: the output of step ", position_,
           " has a non-finite value");
  ++position_;
  return out;
}

// ---- the registered scheme "linear" ----------------------------------------------------------------------
namespace {

struct LinearOptions {
  float eps = 1e-6f;  // the normaliser of a row that sees no key
};

const ParamTable<LinearOptions>& linear_params() {
  static const auto table = ParamTable<LinearOptions>("linear").number(
      "eps", &LinearOptions::eps, open_closed(0, 1),
      "the normaliser of a row that sees no key (all padded): its output is 0; other rows are exact");
  return table;
}

float eps_setting(const Config& cfg) { return linear_params().read(cfg.settings).eps; }

SchemeInfo linear_info() {
  SchemeInfo i;
  i.name = "linear";
  i.summary = "kernel attention phi(q)ᵀ(Σ phi(k) vᵀ) with phi = elu+1: O(n·d²) time, O(n·d) memory; causal = an RNN";
  i.paper = "Katharopoulos et al. 2020, Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention";
  i.lecture = 10;
  i.use(linear_params());
  i.causal = true;
  i.families = {Family::KR};
  i.exactness = Exactness::approximate;
  i.time_growth = "n";
  i.memory_exponent = 1;
  i.idea = "exp(q.k) replaced by phi(q).phi(k), phi = elu + 1";
  i.claim = {"Katharopoulos et al. 2020 (Table 2): quality on par with softmax attention (CIFAR-10 3.40 vs "
              "3.47 bits/dim, same training time) and about 4,460x faster generation",
             attention::ClaimTest::lm_matches_exact};
  i.lra_paper = {"Linear Trans.", 16.13, 75.30, 50.55, 65.90, 53.09, 42.34};
  i.test_settings = {{"eps=1e-3"}};
  return i;
}

// Decoding: the RNN of "Transformers are RNNs" — S = Σ φ(k) vᵀ (d × d) and z = Σ φ(k) (d) per head, updated
// by each token and read by its query; the state does not grow with t (attention/decode.h).
class LinearDecoder : public Decoder {
 public:
  LinearDecoder(int64_t n, float eps) : Decoder("linear", n), eps_(eps) {}
  int64_t state_floats() const override { return rnn_ ? rnn_->state_floats() : 0; }
  std::string state() const override {
    return "recurrent state S = Σ φ(k)vᵀ (d × d) and z = Σ φ(k) (d) per head: constant in t";
  }

 protected:
  Tensor do_step(const Tensor& q, const Tensor& k, const Tensor& v) override {
    if (!rnn_) rnn_ = std::make_unique<FeatureRecurrence>(B, H, d, d, eps_, false, "linear");
    return rnn_->step(elu_feature_map(q), elu_feature_map(k), v);  // φ = elu + 1: (B, H, 1, d) each
  }

 private:
  float eps_;
  std::unique_ptr<FeatureRecurrence> rnn_;
};

class LinearScheme : public Scheme {
 public:
  LinearScheme() : Scheme(linear_info()) {}
  std::unique_ptr<Decoder> make_decoder(const Config& cfg, int64_t n) const override {
    return std::make_unique<LinearDecoder>(n, eps_setting(cfg));
  }

  // φ(K)ᵀV and φ(Q)S (2·n·d² each) plus the normaliser forward, about twice that backward: 12·n·d².
  double flops(const Shape& q, const Config&) const override {
    return attention_flops(q, static_cast<double>(q[2]) * q[3]);
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return linear_attention(q, k, v, cfg.causal, eps_setting(cfg), cfg.key_padding_mask);
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "linear");
    AZ_CHECK(!cfg.causal || q.size(2) == k.size(2), "linear: causal attention needs as many queries as keys, got q ",
             q.shape(), " and k ", k.shape());
    return linear_attention_matrix(q, k, cfg.causal, eps_setting(cfg), cfg.key_padding_mask);
  }
};

Registrar registrar(std::make_unique<LinearScheme>());

}  // namespace

}  // namespace attention
