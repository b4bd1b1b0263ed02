// attention/longformer.cpp — Longformer's band + global key lists, the kernel (sparse_pattern_attention for local rows,
// a small dense block for the global rows), its effective attention and pattern, the layer with separate
// global projections, and the registered scheme "longformer".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, w = window, G = global tokens,
//         W = band width (2w+1, causal w+1), K = W + G.
#include "attention/longformer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "attention/decode.h"
#include "attention/kernels/block_sparse.h"
#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_shape.h"

namespace attention {

using namespace core;

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// is_global[j] for j in [0, n).
std::vector<char> global_flags(const LongformerOptions& o, int64_t n) {
  std::vector<char> flags(static_cast<size_t>(n), 0);
  for (int64_t g : o.global) flags[static_cast<size_t>(g)] = 1;
  return flags;
}

IntTensor global_positions(const LongformerOptions& o) {
  return IntTensor::from_vector({static_cast<int64_t>(o.global.size())}, o.global);
}

// Whether every head uses the same dilation (then one index serves all heads).
bool one_dilation(const LongformerOptions& o) {
  return std::all_of(o.dilation.begin(), o.dilation.end(), [&](int64_t x) { return x == o.dilation[0]; });
}

// 1 where global token g (row) may not see key j: (B or 1, 1, G, n).
Tensor global_blocked(const LongformerOptions& o, int64_t B, int64_t n, const Tensor& pad) {
  const int64_t G = static_cast<int64_t>(o.global.size()), Bb = pad.defined() ? B : 1;
  Tensor blocked = Tensor::zeros({Bb, 1, G, n});
  float* p = blocked.data();
  for (int64_t b = 0; b < Bb; ++b)
    for (int64_t r = 0; r < G; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const bool future = o.causal && j > o.global[static_cast<size_t>(r)];
        const bool padding = pad.defined() && pad.data()[b * n + j] == 0.0f;
        p[(b * G + r) * n + j] = (future || padding) ? 1.0f : 0.0f;
      }
  return blocked;
}

void check_pad(const Tensor& pad, int64_t B, int64_t n) {
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({B, n}), "longformer: key_padding_mask must be (B, n) = ", Shape({B, n}), ", got ",
             pad.shape());
}
}  // namespace

// ---- options ----------------------------------------------------------------------------------------------
const ParamTable<LongformerOptions>& longformer_params() {
  using O = LongformerOptions;
  static const auto table =
      ParamTable<O>("longformer")
          .integer("window", &O::window, 1, kNoLimit,
                   "w: each token sees the w keys on either side (causal: the w keys before it) and itself; w >= n "
                   "is cut to n - 1")
          .integers("dilation", &O::dilation, 1, kNoLimit, 1,
                    "gap between window keys, per head, cycling over heads (e.g. 1,2: odd heads skip every other key)")
          .integers("global", &O::global, 0, kNoLimit, 0,
                    "positions of global tokens (e.g. 0 or 0,5): they see everything and everything sees them")
          .rule([](const std::string& scheme, const O& o) {
            std::vector<int64_t> g = o.global;
            std::sort(g.begin(), g.end());
            for (size_t i = 1; i < g.size(); ++i)
              AZ_CHECK(g[i] != g[i - 1], scheme, ": global lists position ", g[i], " twice");
          });
  return table;
}

LongformerOptions longformer_options(const Config& cfg) {
  LongformerOptions o = longformer_params().read(cfg.settings);
  std::sort(o.global.begin(), o.global.end());  // the order of the list does not matter
  o.causal = cfg.causal;
  return o;
}

void longformer_check_length(const LongformerOptions& o, int64_t n) {
  for (int64_t g : o.global)
    AZ_CHECK(g < n, "longformer: global position ", g, " is outside the sequence (n = ", n, ")");
}

int64_t longformer_dilation(const LongformerOptions& o, int64_t h) {
  return o.dilation[static_cast<size_t>(h % static_cast<int64_t>(o.dilation.size()))];
}

int64_t longformer_band_width(const LongformerOptions& o) { return o.causal ? o.window + 1 : 2 * o.window + 1; }

LongformerOptions longformer_fit(const LongformerOptions& o, int64_t n) {
  LongformerOptions fitted = o;
  fitted.window = std::min(o.window, std::max<int64_t>(n - 1, 0));  // w >= n - 1 already reaches every key
  for (int64_t& delta : fitted.dilation) delta = std::min(delta, std::max<int64_t>(n, 1));  // δ >= n: only i itself
  return fitted;
}

// ---- key lists --------------------------------------------------------------------------------------------
IntTensor longformer_index(const LongformerOptions& given, int64_t n, int64_t H) {
  longformer_check_length(given, n);
  const LongformerOptions o = longformer_fit(given, n);
  const int64_t w = o.window, W = longformer_band_width(o), G = static_cast<int64_t>(o.global.size()), K = W + G;
  const int64_t Hi = one_dilation(o) ? 1 : H;
  const std::vector<char> is_global = global_flags(o, n);
  IntTensor index({1, Hi, n, K}, -1);  // (1, Hi, n, W + G)
  for (int64_t h = 0; h < Hi; ++h) {
    const int64_t delta = longformer_dilation(o, h);
    for (int64_t i = 0; i < n; ++i) {
      if (is_global[static_cast<size_t>(i)]) continue;  // global rows: computed densely
      int64_t* row = index.data.data() + (h * n + i) * K;
      for (int64_t slot = 0; slot < W; ++slot) {
        const int64_t j = i + delta * (slot - w);  // slot w is the query itself
        if (j >= 0 && j < n && !is_global[static_cast<size_t>(j)]) row[slot] = j;  // globals: only in their column
      }
      for (int64_t g = 0; g < G; ++g) {
        const int64_t j = o.global[static_cast<size_t>(g)];
        if (!o.causal || j <= i) row[W + g] = j;
      }
    }
  }
  return index;
}

Tensor longformer_pattern(const LongformerOptions& o, int64_t B, int64_t H, int64_t n, const Tensor& pad) {
  check_pad(pad, B, n);
  Tensor P = index_pattern(longformer_index(o, n, H), B, H, n, pad);  // (B, H, n, n): local rows
  const Tensor blocked = global_blocked(o, B, n, pad);                // (B or 1, 1, G, n)
  const int64_t G = static_cast<int64_t>(o.global.size()), Bb = blocked.size(0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t r = 0; r < G; ++r)
        for (int64_t j = 0; j < n; ++j)
          P.at({b, h, o.global[static_cast<size_t>(r)], j}) = 1.0f - blocked.at({Bb == 1 ? 0 : b, 0, r, j});
  return P;
}

// ---- kernel -----------------------------------------------------------------------------------------------
Tensor longformer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const LongformerOptions& o,
                            const Tensor& pad, const Tensor& q_global, const Tensor& k_global, const Tensor& v_global) {
  Scheme::check_qkv(q, k, v, "longformer");
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3);
  AZ_CHECK(k.size(2) == n, "longformer: the window is self-attention, so k and v need as many positions as q: q ",
           q.shape(), ", k ", k.shape());
  check_pad(pad, B, n);
  const int64_t G = static_cast<int64_t>(o.global.size());

  // Local rows: band + global columns under one softmax, through the shared kernel.
  auto index = std::make_shared<const IntTensor>(longformer_index(o, n, H));  // (1, Hi, n, W + G)
  IndexAttentionOptions io;
  io.who = "longformer";  // a refusal names the scheme
  io.key_padding_mask = pad;
  Tensor out = sparse_pattern_attention(q, k, v, index, io);  // (B, H, n, d); rows of global tokens are 0
  if (G == 0) return out;

  // Global rows: softmax(Q_g K_gᵀ / √d) V_g over every key (causal: j <= g), a (B, H, G, n) block.
  const IntTensor positions = global_positions(o);
  const Tensor qg = q_global.defined() ? q_global : index_select(q, 2, positions);  // (B, H, G, d)
  const Tensor kg = k_global.defined() ? k_global : k;                               // (B, H, n, d)
  const Tensor vg = v_global.defined() ? v_global : v;                               // (B, H, n, d)
  AZ_CHECK(qg.shape() == Shape({B, H, G, d}), "longformer: q_global must be (B, H, G, d) = ", Shape({B, H, G, d}),
           ", got ", qg.shape());
  AZ_CHECK(kg.shape() == q.shape() && vg.shape() == q.shape(), "longformer: k_global and v_global must be ", q.shape(),
           ", got ", kg.shape(), " and ", vg.shape());
  const Tensor scores = matmul(qg, kg, false, true) / std::sqrt(static_cast<float>(d));  // (B, H, G, n)
  const Tensor probs = softmax(masked_fill(scores, global_blocked(o, B, n, pad), kNegInf), -1);
  const Tensor out_global = matmul(probs, vg);  // (B, H, G, d)
  // Put row r of out_global at position global[r] (those rows of `out` are exactly 0).
  IntTensor where({B, H, G, d});
  for (int64_t e = 0; e < where.numel(); ++e) where.data[e] = o.global[static_cast<size_t>((e / d) % G)];
  return scatter_add(out, 2, where, out_global);  // (B, H, n, d)
}

LongformerProbabilities longformer_probabilities(const Tensor& q, const Tensor& k, const Tensor& v,
                                                 const LongformerOptions& o, const Tensor& pad) {
  NoGradGuard no_grad;
  Scheme::check_qkv(q, k, v, "longformer");
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), G = static_cast<int64_t>(o.global.size());
  AZ_CHECK(k.size(2) == n, "longformer: the window is self-attention, so k and v need as many positions as q: q ",
           q.shape(), ", k ", k.shape());
  check_pad(pad, B, n);
  const IntTensor index = longformer_index(o, n, H);
  IndexAttentionOptions io;
  io.who = "longformer";  // a refusal names the scheme
  io.key_padding_mask = pad;
  LongformerProbabilities r;
  r.band = index_attention_forward(q, k, v, index, io).probs;  // (B, H, n, W + G)
  r.dense = index_to_dense(r.band, index, n);                  // (B, H, n, n)
  r.global = Tensor::zeros({B, H, G, n});
  if (G > 0) {
    const Tensor scores = matmul(index_select(q, 2, global_positions(o)), k, false, true) /
                          std::sqrt(static_cast<float>(q.size(3)));  // (B, H, G, n)
    r.global = softmax(masked_fill(scores, global_blocked(o, B, n, pad), kNegInf), -1);
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t g = 0; g < G; ++g)
        std::copy(r.global.data() + (bh * G + g) * n, r.global.data() + (bh * G + g + 1) * n,
                  r.dense.data() + (bh * n + o.global[static_cast<size_t>(g)]) * n);
  }
  return r;
}

// ---- the layer: local projections plus the paper's separate global projections -------------------------------
namespace {

// The standard projections (ProjectedAttention) for the window; the global tokens' rows and columns use their
// own Q_g, K_g, V_g, as in the paper, registered only when there are global tokens.
class LongformerLayer : public ProjectedAttention {
 public:
  LongformerLayer(const Scheme& s, const LayerConfig& cfg, core::Rng& rng)
      : ProjectedAttention(s, cfg, rng), options(longformer_options(config)) {
    if (!options.global.empty()) {  // Q_g, K_g, V_g exist only when there are global tokens to use them
      w_qg = std::make_unique<core::nn::Linear>(cfg.d_model, cfg.d_model, rng);
      w_kg = std::make_unique<core::nn::Linear>(cfg.d_model, cfg.d_model, rng);
      w_vg = std::make_unique<core::nn::Linear>(cfg.d_model, cfg.d_model, rng);
      register_module("w_q_global", *w_qg);
      register_module("w_k_global", *w_kg);
      register_module("w_v_global", *w_vg);
    }
  }

  // The window on q, k, v (B, H, n, d); the global rows and columns from x's own global projections.
  Tensor attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                const Tensor& key_padding_mask) override {
    if (options.global.empty()) return longformer_attention(q, k, v, options, key_padding_mask);
    longformer_check_length(options, x.size(1));
    const Tensor x_global = index_select(x, 1, global_positions(options));  // (B, G, d_model)
    const Tensor qg = split_heads(w_qg->forward(x_global), n_heads);        // (B, H, G, d)
    const Tensor kg = split_heads(w_kg->forward(x), n_heads);               // (B, H, n, d)
    const Tensor vg = split_heads(w_vg->forward(x), n_heads);               // (B, H, n, d)
    return longformer_attention(q, k, v, options, key_padding_mask, qg, kg, vg);  // (B, H, n, d)
  }
  // The matrix attend applies (with the global projections), read off attend: (B, H, n, n). Eval mode.
  Tensor attention_weights(const Tensor& x) override { return attend_matrix(x); }
  // Without global tokens attend is the scheme's kernel: the ring buffer. With them, the global tokens' own
  // projections are the layer's, so it recomputes (the fallback).
  std::unique_ptr<LayerDecoder> make_decoder(int64_t n) override {
    AZ_CHECK(config.causal, "longformer layer decode: the layer is not causal (decoding is causal attention)");
    if (!options.global.empty()) return std::make_unique<RecomputeLayerDecoder>(*this, "longformer", n);
    return std::make_unique<ProjectedLayerDecoder>(*this, attention::make_decoder(scheme, config, n));
  }

  LongformerOptions options;
  std::unique_ptr<core::nn::Linear> w_qg, w_kg, w_vg;
};

SchemeInfo longformer_info() {
  SchemeInfo i;
  i.name = "longformer";
  i.summary =
      "Longformer: sliding window |i-j| <= w with per-head dilation, plus symmetric global tokens with their own "
      "projections; band storage (n, 2w+1+G), O(n·w·d)";
  i.paper = "Beltagy, Peters, Cohan 2020, Longformer: The Long-Document Transformer";
  i.lecture = 5;
  i.use(longformer_params());
  i.causal = true;
  i.has_pattern = true;
  i.families = {Family::FP, Family::M};
  i.exactness = Exactness::on_pattern;
  i.masked_softmax = true;
  i.time_growth = "n";
  i.memory_exponent = 1;
  i.idea = "sliding (dilated) window + symmetric global tokens";
  i.claim = {"Beltagy et al. 2020 (Tables 2, 3, 7): long contexts through a sliding window: enwik8 1.00 BPC "
              "(12 layers) and 0.99 (30 layers); beats RoBERTa on every long-document task it tried",
             attention::ClaimTest::longer_context_helps};
  i.lra_paper = {"Longformer", 35.63, 69.71, 53.46, 62.85, 56.89, 42.22};
  i.lm_settings = {"window=64"};  // 64 keys on either side (causal: before), at every n
  i.gallery_settings = {"dilation=2"};
  i.test_settings = {{"window=3", "dilation=1,2", "global=0,5"}, {"window=1", "global=7"}};
  return i;
}

// Decoding (causal): a local token t sees t, t - δ, ..., t - wδ (head h's δ) and the global tokens g <= t, so a
// ring buffer of the last R = w·δ_max + 1 keys and values and the global tokens' own keys and values are all it
// needs: constant in t. A global token g sees every j <= g, so while some global position is still ahead and out
// of the ring's reach, the decoder also keeps the history (dropped once the last global token has been decoded).
class LongformerDecoder : public Decoder {
 public:
  LongformerDecoder(const LongformerOptions& given, int64_t n) : Decoder("longformer", n), o_(longformer_fit(given, n)) {
    longformer_check_length(given, n);
    int64_t delta_max = 1;
    for (int64_t delta : o_.dilation) delta_max = std::max(delta_max, delta);
    R_ = std::min(n, o_.window * delta_max + 1);
    last_global_ = o_.global.empty() ? -1 : o_.global.back();  // sorted by longformer_options
    keep_history_ = last_global_ >= R_;
  }
  int64_t state_floats() const override {
    return static_cast<int64_t>(ring_k_.size() + ring_v_.size() + global_k_.size() + global_v_.size() +
                                history_k_.size() + history_v_.size());
  }
  std::string state() const override {
    return "ring buffer of the last w·δ + 1 keys and values (" + std::to_string(R_) +
           " here) and the global tokens': 2·(w·δ + 1 + G)·d floats per head, constant in t";
  }

 protected:
  Tensor do_step(const Tensor& q, const Tensor& k, const Tensor& v) override {
    const int64_t t = tokens(), G = static_cast<int64_t>(o_.global.size());
    if (t == 0) {
      ring_k_.assign(static_cast<size_t>(B * H * R_ * d), 0.0f);
      ring_v_.assign(ring_k_.size(), 0.0f);
      global_k_.assign(static_cast<size_t>(B * H * G * d), 0.0f);
      global_v_.assign(global_k_.size(), 0.0f);
    }
    const auto global_slot = std::find(o_.global.begin(), o_.global.end(), t);
    const bool is_global = global_slot != o_.global.end();
    const int64_t slot = t % R_;
    for (int64_t bh = 0; bh < B * H; ++bh) {  // token t into the ring (and the global store, the history)
      std::copy_n(k.data() + bh * d, d, ring_k_.data() + (bh * R_ + slot) * d);
      std::copy_n(v.data() + bh * d, d, ring_v_.data() + (bh * R_ + slot) * d);
      if (is_global) {
        const int64_t g = global_slot - o_.global.begin();
        std::copy_n(k.data() + bh * d, d, global_k_.data() + (bh * G + g) * d);
        std::copy_n(v.data() + bh * d, d, global_v_.data() + (bh * G + g) * d);
      }
    }
    if (keep_history_) {  // (t + 1, B·H, d), appended token by token
      history_k_.insert(history_k_.end(), k.data(), k.data() + B * H * d);
      history_v_.insert(history_v_.end(), v.data(), v.data() + B * H * d);
    }
    Tensor out = Tensor::empty({B, H, 1, d});
    std::vector<const float*> keys, values;
    for (int64_t bh = 0; bh < B * H; ++bh) {
      keys.clear();
      values.clear();
      if (is_global) {  // every j <= t: from the ring while it reaches back to 0, else from the history
        for (int64_t j = 0; j <= t; ++j) {
          if (keep_history_) {
            keys.push_back(history_k_.data() + (j * B * H + bh) * d);
            values.push_back(history_v_.data() + (j * B * H + bh) * d);
          } else {
            keys.push_back(ring_k_.data() + (bh * R_ + j % R_) * d);
            values.push_back(ring_v_.data() + (bh * R_ + j % R_) * d);
          }
        }
      } else {  // the band t - δs (s = 0..w) without global positions, then the global tokens g <= t
        const int64_t delta = longformer_dilation(o_, bh % H);
        for (int64_t s = 0; s <= o_.window; ++s) {
          const int64_t j = t - delta * s;
          if (j < 0) break;
          if (std::binary_search(o_.global.begin(), o_.global.end(), j)) continue;
          keys.push_back(ring_k_.data() + (bh * R_ + j % R_) * d);
          values.push_back(ring_v_.data() + (bh * R_ + j % R_) * d);
        }
        for (int64_t g = 0; g < G && o_.global[static_cast<size_t>(g)] <= t; ++g) {
          keys.push_back(global_k_.data() + (bh * G + g) * d);
          values.push_back(global_v_.data() + (bh * G + g) * d);
        }
      }
      attend_cached(q.data() + bh * d, keys, values, d, out.data() + bh * d);
    }
    if (keep_history_ && t >= last_global_) {  // no global token ahead: the ring is enough from here on
      keep_history_ = false;
      std::vector<float>().swap(history_k_);
      std::vector<float>().swap(history_v_);
    }
    AZ_CHECK(core::all_finite(out.data(), out.numel()), "longformer decode: token ", t,
             "'s output is not finite (the scores overflow float32)");
    return out;
  }

 private:
  LongformerOptions o_;
  int64_t R_ = 1, last_global_ = -1;
  bool keep_history_ = false;
  std::vector<float> ring_k_, ring_v_;        // (B·H, R, d): token j in slot j mod R
  std::vector<float> global_k_, global_v_;    // (B·H, G, d)
  std::vector<float> history_k_, history_v_;  // (t + 1, B·H, d) while a global token beyond the ring is ahead
};

class LongformerScheme : public Scheme {
 public:
  LongformerScheme() : Scheme(longformer_info()) {}
  std::unique_ptr<Decoder> make_decoder(const Config& cfg, int64_t n) const override {
    return std::make_unique<LongformerDecoder>(longformer_options(cfg), n);
  }

  double flops(const Shape& q, const Config& cfg) const override {
    const LongformerOptions o = longformer_options(cfg);
    // the band and global columns from the index, plus the global tokens' own dense rows
    double global_rows = 0;
    for (int64_t g : o.global) global_rows += o.causal ? static_cast<double>(g + 1) : static_cast<double>(q[2]);
    return attention_flops(q, index_pairs_per_head(longformer_index(o, q[2], q[1])) + global_rows);
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return longformer_attention(q, k, v, longformer_options(cfg), cfg.key_padding_mask);
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return longformer_probabilities(q, k, v, longformer_options(cfg), cfg.key_padding_mask).dense;
  }
  Tensor pattern(const Shape& q_shape, const Config& cfg) const override {
    AZ_CHECK(q_shape.size() == 4, "longformer: pattern needs a (B, H, n, d) shape, got ", q_shape);
    return longformer_pattern(longformer_options(cfg), q_shape[0], q_shape[1], q_shape[2], cfg.key_padding_mask);
  }
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& lc, core::Rng& rng) const override {
    return std::make_unique<LongformerLayer>(*this, lc, rng);
  }
};

Registrar registrar(std::make_unique<LongformerScheme>());

}  // namespace

}  // namespace attention
