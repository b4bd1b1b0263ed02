// attention/etc.h — Extended Transformer Construction: global-local attention with relative positions
// (Ainslie et al. 2020, ETC: Encoding Long and Structured Inputs in Transformers, EMNLP), registered as "etc".
//
// Legend: B = batch, H = heads, n = G + n_l positions, d = head size, G = global tokens, n_l = long tokens,
//         r = window (the paper's radius), k = relative-position clip, V = number of relative ids, K = slots per long query.
//
// Two inputs in one sequence: the FIRST G positions are the global tokens, the remaining n_l = n - G positions
// the long input (this is the convention everywhere: `attnzoo run etc` treats the first `global_tokens` positions of
// q, k, v as the global tokens, and the layer those of x). Four pieces of attention:
//   long i   -> long j with |i - j| <= r (l2l, a band)  and  every global token (l2g)   under ONE softmax
//   global g -> every global token (g2g)                and  every long token (g2l)    under ONE softmax
// Positions of long tokens are counted within the long input (long token i sits at sequence position G + i).
//
// Relative positions: every attended pair gets a relative id, and a learned per-head scalar b[h, id] is added to
// its logit:  score = q·k/√d + b[h, id(i, j)].  (The paper uses relative position representations in the style
// of Shaw et al. 2018, vectors that enter the logits; a per-head scalar per clipped relative position is the
// simplest member of that family — a scalar bias — and is what this course implements.)
//   l2l:  id = clip(j - i, -k, k) + k          (2k+1 ids: distances beyond k share the id of ±k)
//   g2g:  id = clip(g' - g, -k, k) + k         (the same distance table, on the global tokens' own positions)
//   l2g:  id = 2k+1                            one id for "long token -> global token"
//   g2l:  id = 2k+2                            one id for "global token -> long token"
// (The paper's structured inputs give l2g/g2l two labels, "this global token summarises my segment" or not;
// without segments there is one label each.) V = 2k+3.
//
// Causal (a choice of this course; the paper's ETC is an encoder): the causal mask is taken over sequence
// positions, and the global tokens come first. So a global token sees only the global tokens before it (g2g
// lower triangle; g2l is empty — every long token lies in its future), and a long token sees the band behind it
// (j in [i - r, i]) and every global token (all in its past). The global tokens then act as a prefix memory that
// cannot summarise the long input; the ids in use are the distances -k..0 (ids 0..k) and l2g (id k+1): V = k+2.
//
// The kernel: long rows through the shared kernel sparse_pattern_attention — keys (1, 1, n_l, K), K = (2R+1) + G with
// R = min(r, n_l - 1) (causal R+1 + G) — and the G global rows as a small dense block (G, n). That kernel
// has no additive bias, so the relative biases enter through M extra coordinates of q and k (exact, no n×n):
//   M = 2R+1 (causal R+1) distinct band offsets; offsets are distinct modulo M, so with
//   q'_i = [q_i, √d·onehot(i mod M)]  and  k'_j = [k_j, ψ_j],  ψ_j[a] = b[id(offset ≡ j - a mod M)]  (long key j),
//   ψ_g = b[l2g]·1 (global key g),   q'_i·k'_j / √d = q_i·k_j / √d + b[id(i, j)]   on every listed pair.
// v gets M zero columns (the kernel wants k and v of one shape); the output drops them.
// Cost O(n·K·(d+M) + G·n·d) time, O(n·(K + M)) memory: linear in n.
#pragma once

#include <vector>

#include "attention/kernels/index_attention.h"
#include "attention/scheme.h"

namespace attention {

struct EtcOptions {
  EtcOptions() = default;  // the defaults below; or the pattern in one expression (lessons, tests):
  EtcOptions(int64_t globals, int64_t radius, int64_t clip, bool is_causal)
      : global_tokens(globals), window(radius), rel_clip(clip), causal(is_causal) {}
  int64_t global_tokens = 4;  // G: the first G positions are global tokens
  int64_t window = 8;         // r (the paper's radius): long tokens see long tokens with |i - j| <= r
  int64_t rel_clip = 4;   // k: relative distances are clipped to [-k, k]
  float rel_std = 0.5f;   // std of the seeded biases of the kernel, and of the layer's initial biases
  bool shared_qkv = false;  // layer: one Q/K/V for global and long tokens (default: separate ones)
  bool causal = false;
};

// Reads global_tokens, window, rel_clip, rel_std, shared_qkv from the settings (and cfg.causal); errors name the key.
EtcOptions etc_options(const Config& cfg);
const ParamTable<EtcOptions>& etc_params();  // the table of those settings (attention/params.h)
// The options as applied to n tokens (the layer: max_len): rel_clip = min(rel_clip, n - 1), since no distance
// exceeds n - 1 — the same attention with only the biases that can occur, so memory follows the input.
EtcOptions etc_fit(const EtcOptions& o, int64_t n);
// Throws unless n > G (naming n and global_tokens).
void etc_check_length(const EtcOptions& o, int64_t n);

// ---- relative ids ----
int64_t etc_num_relative_ids(const EtcOptions& o);           // V: 2k+3 (causal k+2)
int64_t etc_distance_id(const EtcOptions& o, int64_t delta);  // clip(delta, -k, k) + k (causal: clip to [-k, 0])
int64_t etc_l2g_id(const EtcOptions& o);                      // 2k+1 (causal k+1)
int64_t etc_g2l_id(const EtcOptions& o);                      // 2k+2 (causal: -1, never used)

// Which piece each (query, key) pair of the n x n matrix belongs to (0 where not attended).
enum EtcPart : int { kEtcNone = 0, kEtcG2G = 1, kEtcG2L = 2, kEtcL2G = 3, kEtcL2L = 4 };
IntTensor etc_parts(const EtcOptions& o, int64_t n);         // (n, n)
IntTensor etc_relative_ids(const EtcOptions& o, int64_t n);  // (n, n): id of every attended pair, -1 elsewhere
Tensor etc_pattern(const EtcOptions& o, int64_t B, int64_t H, int64_t n, const Tensor& key_padding_mask = Tensor());

// Key lists of the long queries (1, 1, n_l, K): slot t < W holds long token i + (t - R) as a sequence position
// (-1 outside the long input), slot W + g holds global token g.
IntTensor etc_long_index(const EtcOptions& o, int64_t n);

// The relative biases as extra coordinates (see above): query columns (n_l, M), constant; key columns
// (H, n, M), differentiable in rel_bias (H, V).
struct EtcBiasColumns {
  Tensor query;  // (n_l, M): √d·onehot(i mod M)
  Tensor key;    // (H, n, M)
};
EtcBiasColumns etc_bias_columns(const EtcOptions& o, const Tensor& rel_bias, int64_t n, int64_t d);

// The seeded biases the kernel uses at `attnzoo run` level: (H, V) ~ N(0, rel_std²) from core::Rng(seed).
Tensor etc_seeded_bias(const EtcOptions& o, int64_t H, uint64_t seed);

// The kernel: q, k, v (B, H, n, d), rel_bias (H, V) -> (B, H, n, d). Differentiable in q, k, v and rel_bias.
Tensor etc_attention(const Tensor& q, const Tensor& k, const Tensor& v, const EtcOptions& o, const Tensor& rel_bias,
                     const Tensor& key_padding_mask = Tensor());

// The same computation the O(n²) way: dense scores + the (H, n, n) bias matrix, -inf outside the pattern.
Tensor etc_bias_matrix(const EtcOptions& o, const Tensor& rel_bias, int64_t n);  // (H, n, n), 0 where not attended
Tensor etc_dense_reference(const Tensor& q, const Tensor& k, const Tensor& v, const EtcOptions& o,
                           const Tensor& rel_bias, const Tensor& key_padding_mask = Tensor());

// What the kernel applied, for drawing and tests at small n.
struct EtcProbabilities {
  Tensor long_slots;  // (B, H, n_l, K): the long rows in slot form
  Tensor global;      // (B, H, G, n): the global rows
  Tensor dense;       // (B, H, n, n): out == dense @ v
};
EtcProbabilities etc_probabilities(const Tensor& q, const Tensor& k, const Tensor& v, const EtcOptions& o,
                                   const Tensor& rel_bias, const Tensor& key_padding_mask = Tensor());

// The layer: x (B, n, d_model) whose first G positions are the global tokens. The standard Q, K, V projections
// (ProjectedAttention) for the long tokens and separate Q_g, K_g, V_g for the global tokens (shared_qkv=true: one
// set for both), one output projection, and the learned relative biases rel_bias (H, V).
class EtcLayer : public ProjectedAttention {
 public:
  EtcLayer(const LayerConfig& cfg, core::Rng& rng);
  // q, k, v (B, H, n, d): rows 0..G-1 from the global projections, the rest from the long ones
  Heads project(const Tensor& x) override;
  // etc_attention with the layer's rel_bias: (B, H, n, d)
  Tensor attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                const Tensor& key_padding_mask) override;
  // The matrix attend applies (with the relative biases and the global projections), read off attend: (B, H, n, n). Eval mode.
  Tensor attention_weights(const Tensor& x) override { return attend_matrix(x); }

  EtcOptions options;
  std::unique_ptr<core::nn::Linear> w_qg, w_kg, w_vg;  // only with separate projections and G > 0
  Tensor rel_bias;                                     // (H, V)
};

}  // namespace attention
