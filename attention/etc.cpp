// attention/etc.cpp — ETC's four pieces of attention (g2g, g2l, l2g, l2l band) with clipped relative-position
// biases: the key lists of the long queries, the bias columns that carry the relative biases through the shared
// sparse_pattern_attention kernel, the dense global rows, the O(n²) reference, effective attention and pattern, the layer
// with separate global projections, and the registered scheme "etc".
//
// Legend: B = batch, H = heads, n = G + n_l, d = head size, G = global tokens, n_l = long tokens, r = window (the paper's radius),
//         R = min(r, n_l - 1), W = band slots (2R+1, causal R+1), M = W bias columns, k = clip, V = ids.
#include "attention/etc.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/kernels/block_sparse.h"
#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_shape.h"
#include "core/random.h"

namespace attention {

using namespace core;

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int64_t band_reach(const EtcOptions& o, int64_t n_l) { return std::min(o.window, n_l - 1); }             // R
int64_t band_slots(const EtcOptions& o, int64_t n_l) { return o.causal ? band_reach(o, n_l) + 1 : 2 * band_reach(o, n_l) + 1; }  // W

// The band offset j - i whose residue modulo M is c: offsets -R..R (causal -R..0) are distinct modulo M = W.
int64_t offset_of_column(const EtcOptions& o, int64_t R, int64_t c) {
  const int64_t M = o.causal ? R + 1 : 2 * R + 1;
  if (o.causal) return c == 0 ? 0 : c - M;
  return c <= R ? c : c - M;
}

void check_pad(const Tensor& pad, int64_t B, int64_t n) {
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({B, n}), "etc: key_padding_mask must be (B, n) = ", Shape({B, n}), ", got ", pad.shape());
}

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const EtcOptions& o, const Tensor& rel_bias,
                  const Tensor& pad) {
  Scheme::check_qkv(q, k, v, "etc");
  AZ_CHECK(k.size(2) == q.size(2), "etc: global and long tokens form one sequence, so k and v need as many positions "
           "as q: q ", q.shape(), ", k ", k.shape());
  etc_check_length(o, q.size(2));
  check_pad(pad, q.size(0), q.size(2));
  AZ_CHECK(rel_bias.defined() && rel_bias.shape() == Shape({q.size(1), etc_num_relative_ids(o)}),
           "etc: rel_bias must be (H, V) = ", Shape({q.size(1), etc_num_relative_ids(o)}), " (V = ",
           o.causal ? "k+2" : "2k+3", " relative ids), got ", rel_bias.defined() ? rel_bias.shape() : Shape{});
}

// b[h, ids[...]] for an int tensor of ids (rows, cols) -> (H, rows, cols), differentiable in rel_bias (H, V).
Tensor lookup(const Tensor& rel_bias, const IntTensor& ids) {
  return permute(embedding(transpose(rel_bias, 0, 1), ids), {2, 0, 1});
}

// 1 where global token g may not see key j: (B or 1, 1, G, n) (causal: j > g; padding keys).
Tensor global_blocked(const EtcOptions& o, int64_t B, int64_t n, const Tensor& pad) {
  const int64_t G = o.global_tokens, Bb = pad.defined() ? B : 1;
  Tensor blocked = Tensor::zeros({Bb, 1, G, n});
  float* p = blocked.data();
  for (int64_t b = 0; b < Bb; ++b)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t j = 0; j < n; ++j)
        p[(b * G + g) * n + j] = (o.causal && j > g) || (pad.defined() && pad.data()[b * n + j] == 0.0f) ? 1.0f : 0.0f;
  return blocked;
}

// The global rows' probabilities: softmax(q_g kᵀ / √d + b[g2g | g2l], blocked -> -inf): (B, H, G, n).
Tensor global_probabilities(const Tensor& q, const Tensor& k, const EtcOptions& o, const Tensor& rel_bias,
                            const Tensor& pad) {
  const int64_t B = q.size(0), n = q.size(2), G = o.global_tokens;
  IntTensor ids({G, n});  // (G, n): distance ids among globals, g2l for long keys (causal: masked anyway)
  for (int64_t g = 0; g < G; ++g)
    for (int64_t j = 0; j < n; ++j)
      ids.data[static_cast<size_t>(g * n + j)] = j < G || o.causal ? etc_distance_id(o, j - g) : etc_g2l_id(o);
  const Tensor scores = matmul(slice(q, 2, 0, G), k, false, true) / std::sqrt(static_cast<float>(q.size(3))) +
                        unsqueeze(lookup(rel_bias, ids), 0);  // (B, H, G, n)
  return softmax(masked_fill(scores, global_blocked(o, B, n, pad), kNegInf), -1);
}

// q', k', v' of the long rows (see etc.h): (B, H, n_l, d+M), (B, H, n, d+M), (B, H, n, d+M).
struct Augmented {
  Tensor q, k, v;
};
Augmented augment(const Tensor& q, const Tensor& k, const Tensor& v, const EtcOptions& o, const Tensor& rel_bias) {
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3), G = o.global_tokens, n_l = n - G;
  const EtcBiasColumns cols = etc_bias_columns(o, rel_bias, n, d);
  const int64_t M = cols.query.size(1);
  Augmented a;
  a.q = concat({slice(q, 2, G, n), expand(reshape(cols.query, {1, 1, n_l, M}), {B, H, n_l, M})}, 3);
  a.k = concat({k, expand(unsqueeze(cols.key, 0), {B, H, n, M})}, 3);
  a.v = pad(v, 3, 0, M);
  return a;
}

IndexAttentionOptions long_options(int64_t d, const Tensor& pad) {
  IndexAttentionOptions io;
  io.who = "etc";  // a refusal names the scheme
  io.scale = 1.0f / std::sqrt(static_cast<float>(d));  // 1/√d of the real head size, not of d + M
  io.key_padding_mask = pad;
  return io;
}
}  // namespace

// ---- options ----------------------------------------------------------------------------------------------
const ParamTable<EtcOptions>& etc_params() {
  using O = EtcOptions;
  static const auto table =
      ParamTable<O>("etc")
          .integer("global_tokens", &O::global_tokens, 0, kNoLimit,
                   "G: the first G positions are the global tokens (the rest is the long input)")
          .integer("window", &O::window, 0, kNoLimit,
                   "r (the paper's radius): a long token sees the long tokens within distance r (causal: the r "
                   "before it) and itself")
          .integer("rel_clip", &O::rel_clip, 0, kNoLimit,
                   "k: relative distances are clipped to [-k, k]; one learned bias per clipped distance and head (k "
                   ">= n is cut to n - 1)")
          .number("rel_std", &O::rel_std, closed(0, 1e6),
                  "std of the relative biases: drawn from the seed at kernel level (run/show), the layer's init")
          .flag("shared_qkv", &O::shared_qkv,
                "layer: one Q/K/V projection for global and long tokens (default: separate ones)");
  return table;
}

EtcOptions etc_options(const Config& cfg) {
  EtcOptions o = etc_params().read(cfg.settings);
  o.causal = cfg.causal;
  return o;
}

EtcOptions etc_fit(const EtcOptions& o, int64_t n) {
  EtcOptions fitted = o;
  fitted.rel_clip = std::min(o.rel_clip, std::max<int64_t>(n - 1, 0));  // no distance among n tokens exceeds n - 1
  return fitted;
}

void etc_check_length(const EtcOptions& o, int64_t n) {
  AZ_CHECK(n > o.global_tokens, "etc: n = ", n, " must be larger than global_tokens = ", o.global_tokens,
           " (the first `global_tokens` positions are the global tokens, the rest the long input)");
}

// ---- relative ids -----------------------------------------------------------------------------------------
int64_t etc_num_relative_ids(const EtcOptions& o) { return o.causal ? o.rel_clip + 2 : 2 * o.rel_clip + 3; }

int64_t etc_distance_id(const EtcOptions& o, int64_t delta) {
  return std::clamp<int64_t>(delta, -o.rel_clip, o.causal ? 0 : o.rel_clip) + o.rel_clip;
}

int64_t etc_l2g_id(const EtcOptions& o) { return o.causal ? o.rel_clip + 1 : 2 * o.rel_clip + 1; }
int64_t etc_g2l_id(const EtcOptions& o) { return o.causal ? -1 : 2 * o.rel_clip + 2; }

IntTensor etc_parts(const EtcOptions& o, int64_t n) {
  etc_check_length(o, n);
  const int64_t G = o.global_tokens;
  IntTensor parts({n, n}, kEtcNone);  // (n, n)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int part = kEtcNone;
      if (i < G) {
        if (j < G) part = !o.causal || j <= i ? kEtcG2G : kEtcNone;
        else part = o.causal ? kEtcNone : kEtcG2L;
      } else if (j < G) {
        part = kEtcL2G;
      } else {
        const int64_t delta = j - i;  // long positions differ by the same amount as sequence positions
        part = delta <= (o.causal ? 0 : o.window) && delta >= -o.window ? kEtcL2L : kEtcNone;
      }
      parts.data[static_cast<size_t>(i * n + j)] = part;
    }
  return parts;
}

IntTensor etc_relative_ids(const EtcOptions& o, int64_t n) {
  const IntTensor parts = etc_parts(o, n);
  IntTensor ids({n, n}, -1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t& id = ids.data[static_cast<size_t>(i * n + j)];
      switch (parts.data[static_cast<size_t>(i * n + j)]) {
        case kEtcG2G:
        case kEtcL2L: id = etc_distance_id(o, j - i); break;
        case kEtcL2G: id = etc_l2g_id(o); break;
        case kEtcG2L: id = etc_g2l_id(o); break;
        default: break;
      }
    }
  return ids;
}

Tensor etc_pattern(const EtcOptions& o, int64_t B, int64_t H, int64_t n, const Tensor& pad) {
  check_pad(pad, B, n);
  const IntTensor parts = etc_parts(o, n);
  Tensor P = Tensor::zeros({B, H, n, n});
  float* p = P.data();
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t e = 0; e < n * n; ++e)
      p[bh * n * n + e] = parts.data[static_cast<size_t>(e)] != kEtcNone &&
                                  !(pad.defined() && pad.data()[(bh / H) * n + e % n] == 0.0f)
                              ? 1.0f
                              : 0.0f;
  return P;
}

IntTensor etc_long_index(const EtcOptions& o, int64_t n) {
  etc_check_length(o, n);
  const int64_t G = o.global_tokens, n_l = n - G, R = band_reach(o, n_l), W = band_slots(o, n_l), K = W + G;
  IntTensor index({1, 1, n_l, K}, -1);  // (1, 1, n_l, W + G)
  for (int64_t i = 0; i < n_l; ++i) {
    int64_t* row = index.data.data() + i * K;
    for (int64_t t = 0; t < W; ++t) {
      const int64_t j = i + t - R;  // slot t is the offset t - R (causal: -R..0)
      if (j >= 0 && j < n_l) row[t] = G + j;
    }
    for (int64_t g = 0; g < G; ++g) row[W + g] = g;  // every global token precedes every long token
  }
  return index;
}

// ---- the bias columns -------------------------------------------------------------------------------------
EtcBiasColumns etc_bias_columns(const EtcOptions& o, const Tensor& rel_bias, int64_t n, int64_t d) {
  etc_check_length(o, n);
  const int64_t G = o.global_tokens, n_l = n - G, R = band_reach(o, n_l), M = band_slots(o, n_l);
  EtcBiasColumns cols;
  cols.query = Tensor::zeros({n_l, M});  // (n_l, M): √d·onehot(i mod M)
  for (int64_t i = 0; i < n_l; ++i) cols.query.data()[i * M + i % M] = std::sqrt(static_cast<float>(d));
  IntTensor ids({n, M});  // (n, M): the id each key column holds
  for (int64_t j = 0; j < n; ++j)
    for (int64_t a = 0; a < M; ++a) {
      const int64_t jl = j - G, c = ((jl - a) % M + M) % M;  // long key jl meets query i ≡ a: offset ≡ jl - a
      ids.data[static_cast<size_t>(j * M + a)] = j < G ? etc_l2g_id(o) : etc_distance_id(o, offset_of_column(o, R, c));
    }
  cols.key = lookup(rel_bias, ids);  // (H, n, M)
  return cols;
}

Tensor etc_seeded_bias(const EtcOptions& o, int64_t H, uint64_t seed) {
  Rng rng(seed);
  return randn({H, etc_num_relative_ids(o)}, rng, 0.0f, o.rel_std);  // (H, V)
}

// ---- kernel -----------------------------------------------------------------------------------------------
Tensor etc_attention(const Tensor& q, const Tensor& k, const Tensor& v, const EtcOptions& o, const Tensor& rel_bias,
                     const Tensor& pad) {
  check_inputs(q, k, v, o, rel_bias, pad);
  const int64_t n = q.size(2), d = q.size(3), G = o.global_tokens;

  // Long rows: band of long keys + every global key under one softmax, biases in the extra columns.
  auto index = std::make_shared<const IntTensor>(etc_long_index(o, n));  // (1, 1, n_l, W + G)
  const Augmented a = augment(q, k, v, o, rel_bias);
  const Tensor out_long = slice(sparse_pattern_attention(a.q, a.k, a.v, index, long_options(d, pad)), 3, 0, d);  // (B,H,n_l,d)
  if (G == 0) return out_long;

  // Global rows: every global and every long key (causal: the earlier globals), a (B, H, G, n) block.
  const Tensor out_global = matmul(global_probabilities(q, k, o, rel_bias, pad), v);  // (B, H, G, d)
  return concat({out_global, out_long}, 2);                                          // (B, H, n, d)
}

Tensor etc_bias_matrix(const EtcOptions& o, const Tensor& rel_bias, int64_t n) {
  IntTensor ids = etc_relative_ids(o, n);  // (n, n), -1 where not attended
  Tensor attended = Tensor::zeros({1, n, n});
  for (int64_t e = 0; e < n * n; ++e) {
    attended.data()[e] = ids.data[static_cast<size_t>(e)] >= 0 ? 1.0f : 0.0f;
    ids.data[static_cast<size_t>(e)] = std::max<int64_t>(0, ids.data[static_cast<size_t>(e)]);
  }
  return lookup(rel_bias, ids) * attended;  // (H, n, n)
}

Tensor etc_dense_reference(const Tensor& q, const Tensor& k, const Tensor& v, const EtcOptions& o,
                           const Tensor& rel_bias, const Tensor& pad) {
  check_inputs(q, k, v, o, rel_bias, pad);
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2);
  const Tensor scores = matmul(q, k, false, true) / std::sqrt(static_cast<float>(q.size(3))) +
                        unsqueeze(etc_bias_matrix(o, rel_bias, n), 0);  // (B, H, n, n)
  const Tensor allowed = etc_pattern(o, B, H, n, pad);
  return matmul(softmax(masked_fill(scores, 1.0f - allowed, kNegInf), -1), v);  // (B, H, n, d)
}

EtcProbabilities etc_probabilities(const Tensor& q, const Tensor& k, const Tensor& v, const EtcOptions& o,
                                   const Tensor& rel_bias, const Tensor& pad) {
  NoGradGuard no_grad;
  check_inputs(q, k, v, o, rel_bias, pad);
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3), G = o.global_tokens;
  const IntTensor index = etc_long_index(o, n);
  const Augmented a = augment(q, k, v, o, rel_bias);
  EtcProbabilities r;
  r.long_slots = index_attention_forward(a.q, a.k, a.v, index, long_options(d, pad)).probs;  // (B, H, n_l, K)
  r.global = G > 0 ? global_probabilities(q, k, o, rel_bias, pad) : Tensor::zeros({B, H, 0, n});
  const Tensor long_dense = index_to_dense(r.long_slots, index, n);  // (B, H, n_l, n)
  r.dense = G > 0 ? concat({r.global, long_dense}, 2) : long_dense;  // (B, H, n, n)
  return r;
}

// ---- the layer --------------------------------------------------------------------------------------------
// rel_clip beyond max_len - 1 would only add biases no pair of positions can use: etc_fit clips it
EtcLayer::EtcLayer(const LayerConfig& cfg, core::Rng& rng)
    : ProjectedAttention(find_scheme("etc"), cfg, rng), options(etc_fit(etc_options(config), cfg.max_len)) {
  if (!options.shared_qkv && options.global_tokens > 0) {  // the global tokens' own Q_g, K_g, V_g
    w_qg = std::make_unique<core::nn::Linear>(cfg.d_model, cfg.d_model, rng);
    w_kg = std::make_unique<core::nn::Linear>(cfg.d_model, cfg.d_model, rng);
    w_vg = std::make_unique<core::nn::Linear>(cfg.d_model, cfg.d_model, rng);
    register_module("w_q_global", *w_qg);
    register_module("w_k_global", *w_kg);
    register_module("w_v_global", *w_vg);
  }
  rel_bias = register_parameter("rel_bias", randn({cfg.n_heads, etc_num_relative_ids(options)}, rng, 0.0f,
                                                  options.rel_std));
}

ProjectedAttention::Heads EtcLayer::project(const Tensor& x) {
  const int64_t n = x.size(1), G = options.global_tokens;
  etc_check_length(options, n);
  if (!w_qg) return ProjectedAttention::project(x);  // one set of projections for every token
  auto heads = [&](const core::nn::Linear& w, const Tensor& t) { return split_heads(w.forward(t), n_heads); };
  const Tensor x_global = slice(x, 1, 0, G), x_long = slice(x, 1, G, n);  // (B, G, d_model), (B, n_l, d_model)
  return {concat({heads(*w_qg, x_global), heads(w_q, x_long)}, 2),  // (B, H, n, d)
          concat({heads(*w_kg, x_global), heads(w_k, x_long)}, 2),
          concat({heads(*w_vg, x_global), heads(w_v, x_long)}, 2)};
}

Tensor EtcLayer::attend(const Tensor&, const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& key_padding_mask) {
  return etc_attention(q, k, v, options, rel_bias, key_padding_mask);  // (B, H, n, d)
}

// ---- the registered scheme --------------------------------------------------------------------------------
namespace {

SchemeInfo etc_info() {
  SchemeInfo i;
  i.name = "etc";
  i.summary =
      "ETC: the first G positions are global tokens; long tokens see a band of radius r and every global, globals "
      "see everything; clipped relative-position biases on the logits; O(n·(r+G)·d)";
  i.paper = "Ainslie et al. 2020, ETC: Encoding Long and Structured Inputs in Transformers (EMNLP)";
  i.lecture = 8;
  i.use(etc_params());
  i.causal = true;
  i.has_pattern = true;
  i.families = {Family::FP, Family::M};
  i.exactness = Exactness::on_pattern;
  i.time_growth = "n";
  i.memory_exponent = 1;
  i.idea = "band of radius r + global-long inputs + relative biases";
  i.claim = {"Ainslie et al. 2020 (abstract): state of the art at the time on long, structured inputs "
              "(Natural Questions, HotpotQA, WikiHop, OpenKP), pretrained with MLM + CPC",
             attention::ClaimTest::none,
             "its gains come from structure given to the global tokens (one per sentence or paragraph) and "
              "from long-document QA; which book? has neither, and we pretrain no CPC"};
  i.lra_paper.model = "ETC";
  i.lm_settings = {"window=64"};  // radius 64 and the 4 global tokens
  i.gallery_settings = {"window=3"};
  i.test_settings = {{"global_tokens=2", "window=3", "rel_clip=2"}, {"global_tokens=0", "window=1", "shared_qkv=true"}};
  return i;
}

class EtcScheme : public Scheme {
 public:
  EtcScheme() : Scheme(etc_info()) {}

  double flops(const Shape& q, const Config& cfg) const override {
    const EtcOptions o = etc_fit(etc_options(cfg), q[2]);
    // the long rows' band and global keys, plus the global rows (n keys each; causal: the globals up to g)
    double global_rows = 0;
    for (int64_t g = 0; g < o.global_tokens; ++g) global_rows += o.causal ? static_cast<double>(g + 1) : static_cast<double>(q[2]);
    return attention_flops(q, index_pairs_per_head(etc_long_index(o, q[2])) + global_rows);
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    const EtcOptions o = etc_fit(etc_options(cfg), q.size(2));
    return etc_attention(q, k, v, o, etc_seeded_bias(o, q.size(1), cfg.seed), cfg.key_padding_mask);
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    const EtcOptions o = etc_fit(etc_options(cfg), q.size(2));
    return etc_probabilities(q, k, v, o, etc_seeded_bias(o, q.size(1), cfg.seed), cfg.key_padding_mask).dense;
  }
  Tensor pattern(const Shape& q_shape, const Config& cfg) const override {
    AZ_CHECK(q_shape.size() == 4, "etc: pattern needs a (B, H, n, d) shape, got ", q_shape);
    return etc_pattern(etc_fit(etc_options(cfg), q_shape[2]), q_shape[0], q_shape[1], q_shape[2], cfg.key_padding_mask);
  }
  Figure extra_figure(int64_t n, const Config& cfg) const override {
    const IntTensor ids = etc_relative_ids(etc_fit(etc_options(cfg), n), n);
    Tensor m = Tensor::empty({n, n});
    for (int64_t e = 0; e < n * n; ++e) m.data()[e] = static_cast<float>(ids.data[static_cast<size_t>(e)]);
    return {m, "etc - relative id per pair", "key position j (globals first)", "query position i",
            "id (-1 = not attended)"};
  }
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& lc, core::Rng& rng) const override {
    return std::make_unique<EtcLayer>(lc, rng);
  }
};

Registrar registrar(std::make_unique<EtcScheme>());

}  // namespace

}  // namespace attention
