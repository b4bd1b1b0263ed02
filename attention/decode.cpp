// attention/decode.cpp — see decode.h: the decoders every scheme can use (KV cache, recompute) and the checks.
#include "attention/decode.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <typeinfo>

#include "core/core.h"

namespace attention {

Tensor Decoder::step(const Tensor& q, const Tensor& k, const Tensor& v) {
  AZ_CHECK(q.dim() == 4 && q.size(2) == 1, scheme_, " decode: q must be one token (B, H, 1, d), got ", q.shape());
  AZ_CHECK(k.shape() == q.shape() && v.shape() == q.shape(), scheme_, " decode: q, k, v must have the same shape ",
           "(B, H, 1, d), got ", q.shape(), ", ", k.shape(), ", ", v.shape());
  AZ_CHECK(q.size(0) >= 1 && q.size(1) >= 1 && q.size(3) >= 1, scheme_, " decode: empty token ", q.shape());
  AZ_CHECK(t_ < n_, scheme_, " decode: step ", t_ + 1, " is past the sequence's ", n_, " tokens");
  if (t_ == 0) {
    B = q.size(0), H = q.size(1), d = q.size(3);
  } else {
    AZ_CHECK(q.shape() == core::Shape({B, H, 1, d}), scheme_, " decode: token ", t_, " has shape ", q.shape(),
             "; the tokens before it had ", core::Shape({B, H, 1, d}));
  }
  core::NoGradGuard no_grad;
  Tensor out = do_step(q.detach(), k.detach(), v.detach());
  ++t_;
  return out;
}

void Decoder::prefill(const Tensor& q, const Tensor& k, const Tensor& v) {
  AZ_CHECK(q.dim() == 4 && q.size(0) >= 1 && q.size(1) >= 1 && q.size(2) >= 1 && q.size(3) >= 1, scheme_,
           " decode: prefill takes (B, H, T, d) with T >= 1, got ", q.shape());
  AZ_CHECK(k.shape() == q.shape() && v.shape() == q.shape(), scheme_, " decode: prefill's q, k, v must have the ",
           "same shape, got ", q.shape(), ", ", k.shape(), ", ", v.shape());
  const int64_t T = q.size(2);
  AZ_CHECK(t_ + T <= n_, scheme_, " decode: prefill of ", T, " tokens after ", t_, " is past the sequence's ", n_,
           " tokens");
  if (t_ == 0) {
    B = q.size(0), H = q.size(1), d = q.size(3);
  } else {
    AZ_CHECK(q.size(0) == B && q.size(1) == H && q.size(3) == d, scheme_, " decode: prefill has shape ", q.shape(),
             "; the tokens before it had ", core::Shape({B, H, 1, d}));
  }
  core::NoGradGuard no_grad;
  const Tensor qc = q.detach(), kc = k.detach(), vc = v.detach();
  if (do_prefill(qc, kc, vc)) {
    t_ += T;
    return;
  }
  for (int64_t i = 0; i < T; ++i)
    step(core::slice(qc, 2, i, i + 1), core::slice(kc, 2, i, i + 1), core::slice(vc, 2, i, i + 1));
}

void attend_cached(const float* q, const std::vector<const float*>& keys, const std::vector<const float*>& values,
                   int64_t d, float* out) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> s(keys.size());
  float m = -std::numeric_limits<float>::infinity();
  for (size_t j = 0; j < keys.size(); ++j) {
    float dot = 0.0f;
    for (int64_t c = 0; c < d; ++c) dot += q[c] * keys[j][c];
    s[j] = dot * scale;
    m = std::max(m, s[j]);
  }
  double total = 0.0;
  for (float& x : s) total += x = std::exp(x - m);
  std::fill(out, out + d, 0.0f);
  for (size_t j = 0; j < keys.size(); ++j) {
    const float p = static_cast<float>(s[j] / total);
    for (int64_t c = 0; c < d; ++c) out[c] += p * values[j][c];
  }
}

// ---- KV cache ---------------------------------------------------------------------------------------------
KvCacheDecoder::KvCacheDecoder(std::string scheme, int64_t n) : Decoder(std::move(scheme), n) {}

int64_t KvCacheDecoder::state_floats() const { return 2 * B * H * tokens() * d; }

std::string KvCacheDecoder::state() const {
  return "KV cache: every key and value so far, 2·t·d floats per head (grows with t)";
}

void KvCacheDecoder::store(const Tensor& k, const Tensor& v) {
  const int64_t t = tokens(), n = length(), T = k.size(2);
  if (t == 0) {
    K_.assign(static_cast<size_t>(B * H * n * d), 0.0f);
    V_.assign(K_.size(), 0.0f);
  }
  for (int64_t bh = 0; bh < B * H; ++bh) {  // rows t .. t + T - 1 of (n, d)
    std::copy_n(k.data() + bh * T * d, T * d, K_.data() + (bh * n + t) * d);
    std::copy_n(v.data() + bh * T * d, T * d, V_.data() + (bh * n + t) * d);
  }
}

Tensor KvCacheDecoder::do_step(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t t = tokens(), n = length();
  store(k, v);
  Tensor out = Tensor::empty({B, H, 1, d});
  std::vector<const float*> keys(static_cast<size_t>(t + 1)), values(keys.size());
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const float* K = K_.data() + bh * n * d;  // (n, d): rows 0..t
    const float* V = V_.data() + bh * n * d;
    for (int64_t j = 0; j <= t; ++j) keys[static_cast<size_t>(j)] = K + j * d, values[static_cast<size_t>(j)] = V + j * d;
    attend_cached(q.data() + bh * d, keys, values, d, out.data() + bh * d);
  }
  AZ_CHECK(core::all_finite(out.data(), out.numel()), "decode: token ", t,
           "'s output is not finite (the scores overflow float32)");
  return out;
}

bool KvCacheDecoder::do_prefill(const Tensor&, const Tensor& k, const Tensor& v) {
  store(k, v);
  return true;
}

// ---- a KV cache read through a pattern -------------------------------------------------------------------------
IndexKvDecoder::IndexKvDecoder(std::string scheme, int64_t n, std::function<core::IntTensor(int64_t H)> index_for,
                               std::string what)
    : KvCacheDecoder(std::move(scheme), n), index_for_(std::move(index_for)), what_(std::move(what)) {}

std::string IndexKvDecoder::state() const {
  return "KV cache read through the pattern (" + what_ + "): every key and value so far, 2·t·d floats per head, "
         "but a step reads only its row's keys";
}

Tensor IndexKvDecoder::do_step(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t t = tokens(), n = length();
  if (index_.data.empty()) {
    index_ = index_for_(H);
    AZ_CHECK(index_.dim() == 4 && index_.shape[0] == 1 && (index_.shape[1] == 1 || index_.shape[1] == H) &&
                 index_.shape[2] == n,
             "decode: the key lists have shape ", index_.shape, ", expected (1, 1 or ", H, ", ", n, ", K)");
  }
  store(k, v);
  const int64_t Hi = index_.shape[1], Kn = index_.shape[3];
  Tensor out = Tensor::empty({B, H, 1, d});
  std::vector<const float*> keys, values;
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t h = bh % H;
    const int64_t* row = index_.data.data() + ((Hi == 1 ? 0 : h) * n + t) * Kn;  // row t's keys, -1 = none
    keys.clear();
    values.clear();
    for (int64_t s = 0; s < Kn; ++s) {
      const int64_t j = row[s];
      if (j < 0) continue;
      AZ_CHECK(j <= t, "decode: the pattern's row ", t, " lists key ", j, ", a later token (not causal)");
      keys.push_back(K_.data() + (bh * n + j) * d);
      values.push_back(V_.data() + (bh * n + j) * d);
    }
    AZ_CHECK(!keys.empty(), "decode: the pattern gives query ", t, " no key");
    attend_cached(q.data() + bh * d, keys, values, d, out.data() + bh * d);
  }
  AZ_CHECK(core::all_finite(out.data(), out.numel()), "decode: token ", t,
           "'s output is not finite (the scores overflow float32)");
  return out;
}

// ---- recompute ----------------------------------------------------------------------------------------------
RecomputeDecoder::RecomputeDecoder(const Scheme& scheme, const Config& cfg, int64_t n)
    : Decoder(scheme.name(), n), scheme_(scheme), cfg_(cfg) {}

int64_t RecomputeDecoder::state_floats() const { return 3 * B * H * tokens() * d; }

std::string RecomputeDecoder::state() const {
  return "no cheaper state: q, k, v of every token so far, 3·t·d floats per head, and the whole causal kernel "
         "again at every step";
}

Tensor RecomputeDecoder::do_step(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t t = tokens();
  do_prefill(q, k, v);                                   // token t's q, k, v into row t
  const Tensor all = scheme_.kernel(Q_, K_, V_, cfg_);  // (B, H, n, d): rows after t are not used
  return core::slice(all, 2, t, t + 1);                 // (B, H, 1, d)
}

bool RecomputeDecoder::do_prefill(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t t = tokens(), n = length(), T = q.size(2);
  if (t == 0) {
    Q_ = Tensor::zeros({B, H, n, d});
    K_ = Tensor::zeros({B, H, n, d});
    V_ = Tensor::zeros({B, H, n, d});
  }
  for (auto [dst, src] : {std::pair<Tensor*, const Tensor*>{&Q_, &q}, {&K_, &k}, {&V_, &v}})
    for (int64_t bh = 0; bh < B * H; ++bh)  // rows t .. t + T - 1 of (n, d)
      std::copy_n(src->data() + bh * T * d, T * d, dst->data() + (bh * n + t) * d);
  return true;
}

// ---- layers -------------------------------------------------------------------------------------------------
Tensor LayerDecoder::step(const Tensor& x) {
  AZ_CHECK(x.dim() == 3 && x.size(1) == 1 && x.size(0) >= 1 && x.size(2) >= 1, who_,
           " layer decode: x must be one token (B, 1, d_model), got ", x.shape());
  AZ_CHECK(t_ < n_, who_, " layer decode: step ", t_ + 1, " is past the sequence's ", n_, " tokens");
  if (t_ == 0) {
    B_ = x.size(0), width_ = x.size(2);
  } else {
    AZ_CHECK(x.size(0) == B_ && x.size(2) == width_, who_, " layer decode: token ", t_, " has shape ", x.shape(),
             "; the tokens before it had ", core::Shape({B_, 1, width_}));
  }
  core::NoGradGuard no_grad;
  Tensor out = do_step(x.detach());
  ++t_;
  return out;
}

ProjectedLayerDecoder::ProjectedLayerDecoder(ProjectedAttention& layer, std::unique_ptr<Decoder> decoder)
    : LayerDecoder(layer.scheme.name(), decoder->length()), layer_(layer), decoder_(std::move(decoder)) {}

int64_t ProjectedLayerDecoder::state_floats() const { return decoder_->state_floats(); }

std::string ProjectedLayerDecoder::state() const { return decoder_->state(); }

Tensor ProjectedLayerDecoder::do_step(const Tensor& x) {
  AZ_CHECK(!layer_.training(), who(), " layer decode: decoding is inference; put the model in eval mode first");
  AZ_CHECK(x.size(2) == layer_.d_model, who(), " layer decode: x must be (B, 1, ", layer_.d_model, "), got ",
           x.shape());
  const ProjectedAttention::Heads h = layer_.project(x);     // q, k, v: (B, H, 1, d)
  const Tensor out = decoder_->step(h.q, h.k, h.v);          // (B, H, 1, d)
  return layer_.w_o.forward(merge_heads(out));               // (B, 1, d_model)
}

RecomputeLayerDecoder::RecomputeLayerDecoder(AttentionLayer& layer, std::string who, int64_t n)
    : LayerDecoder(std::move(who), n), layer_(layer) {}

int64_t RecomputeLayerDecoder::state_floats() const { return X_.defined() ? X_.size(0) * tokens() * X_.size(2) : 0; }

std::string RecomputeLayerDecoder::state() const {
  return "no cheaper state: the layer's input of every token so far, t·d_model floats, and the whole layer "
         "again at every step";
}

Tensor RecomputeLayerDecoder::do_step(const Tensor& x) {
  AZ_CHECK(!layer_.training(), who(), " layer decode: decoding is inference; put the model in eval mode first");
  const int64_t t = tokens(), n = length(), B = x.size(0), D = x.size(2);
  if (t == 0) X_ = Tensor::zeros({B, n, D});
  for (int64_t b = 0; b < B; ++b) std::copy_n(x.data() + b * D, D, X_.data() + (b * n + t) * D);
  const Tensor all = layer_.forward(X_);  // (B, n, d_model): causal, so rows after t do not reach row t
  return core::slice(all, 1, t, t + 1);   // (B, 1, d_model)
}

std::unique_ptr<LayerDecoder> AttentionLayer::make_decoder(int64_t n) {
  AZ_CHECK(n >= 1, "layer decode: needs a sequence of at least one token, got n = ", n);
  return std::make_unique<RecomputeLayerDecoder>(*this, "attention", n);
}

std::unique_ptr<LayerDecoder> ProjectedAttention::make_decoder(int64_t n) {
  AZ_CHECK(config.causal, scheme.name(), " layer decode: the layer is not causal (decoding is causal attention)");
  if (typeid(*this) != typeid(ProjectedAttention))  // a subclass's attend has its own parameters or state
    return std::make_unique<RecomputeLayerDecoder>(*this, scheme.name(), n);
  return std::make_unique<ProjectedLayerDecoder>(*this, attention::make_decoder(scheme, config, n));
}

// ---- entry points -------------------------------------------------------------------------------------------
std::unique_ptr<Decoder> Scheme::make_decoder(const Config& cfg, int64_t n) const {
  return std::make_unique<RecomputeDecoder>(*this, cfg, n);
}

std::unique_ptr<Decoder> make_decoder(const Scheme& scheme, const Config& cfg, int64_t n) {
  AZ_CHECK(scheme.supports_causal(), scheme.name(), ": no causal variant to decode (", scheme.causal_refusal(), ")");
  AZ_CHECK(cfg.causal, scheme.name(), ": decoding is causal attention, one token at a time: set causal");
  AZ_CHECK(!cfg.key_padding_mask.defined(), scheme.name(), ": decoding takes no key padding mask (every token is real)");
  AZ_CHECK(n >= 1, scheme.name(), ": decoding needs a sequence of at least one token, got n = ", n);
  return scheme.make_decoder(cfg, n);
}

Tensor decode_all(Decoder& decoder, const Tensor& q, const Tensor& k, const Tensor& v) {
  Scheme::check_qkv(q, k, v, "decode");
  const int64_t n = q.size(2);
  AZ_CHECK(k.size(2) == n, "decode: causal self-attention needs as many keys as queries, got q ", q.shape(), " and k ",
           k.shape());
  AZ_CHECK(decoder.tokens() == 0 && decoder.length() == n, "decode: the decoder was made for ", decoder.length(),
           " tokens and has seen ", decoder.tokens(), "; q has ", n);
  std::vector<Tensor> rows;
  rows.reserve(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t)
    rows.push_back(decoder.step(core::slice(q, 2, t, t + 1), core::slice(k, 2, t, t + 1),
                                core::slice(v, 2, t, t + 1)));
  return core::concat(rows, 2);  // (B, H, n, d)
}

}  // namespace attention
