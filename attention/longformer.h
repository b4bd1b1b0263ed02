// attention/longformer.h — sliding-window, dilated and global attention (Beltagy, Peters, Cohan 2020,
// Longformer: The Long-Document Transformer), registered as the scheme "longformer".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, w = window (one side), δ = dilation of a
//         head, G = number of global tokens, W = band width (2w+1, or w+1 when causal), K = W + G.
//
// Local tokens (every token that is not global):
//   band(i)   = {j = i + δ·t : -w <= t <= w, 0 <= j < n, j not global}     (causal: -w <= t <= 0)
//   global(i) = {g : g global}                                             (causal: g <= i)
//   query i attends to band(i) ∪ global(i) under ONE softmax. A global key that falls inside the band is removed
//   from the band and kept only as a global column, so it is never counted twice.
// Global tokens (symmetric): every local token attends to them (above), and they attend to every token
//   (causal: every token j <= g), with their own projections Q_g, K_g, V_g in the layer:
//   out[g] = softmax(Q_g[g] K_gᵀ / √d) V_g.
//   At the kernel level (`attnzoo run`, kernel(q, k, v)) there is only one q, k, v, so the global rows use
//   Q_g = q, K_g = k, V_g = v.
// Dilation: each head h uses δ = dilation[h mod len(dilation)] (e.g. dilation=1,2: even heads dense, odd heads
// every other token), so different heads see different receptive fields (2wδ+1 positions wide).
// Causal: the band looks back only (t <= 0); global tokens are only visible to queries after them, and a global
// token itself only sees the past (j <= g) — the whole layer is causal.
//
// Storage: local tokens list their keys in band form (1, H or 1, n, W + G): slot t + w holds key i + δt, the
// last G slots the global keys (sparse_pattern_attention over that list: tiles for wide bands, index_attention
// for narrow ones); the G global rows are a
// (B, H, G, n) dense block. Time O(n·(W+G)·d + G·n·d), memory O(n·(W+G)): linear in n, never an n×n matrix.
#pragma once

#include <vector>

#include "attention/kernels/index_attention.h"
#include "attention/scheme.h"

namespace attention {

struct LongformerOptions {
  LongformerOptions() = default;  // the defaults below; or all four in one expression (lessons, tests):
  LongformerOptions(int64_t w, std::vector<int64_t> dilations, std::vector<int64_t> globals, bool is_causal)
      : window(w), dilation(std::move(dilations)), global(std::move(globals)), causal(is_causal) {}
  int64_t window = 8;                  // w: keys on each side (causal: keys back)
  std::vector<int64_t> dilation = {1};  // δ per head, cycling over heads
  std::vector<int64_t> global;         // positions of the global tokens (distinct, < n)
  bool causal = false;
};

// The table of window, dilation, global (attention/params.h).
const ParamTable<LongformerOptions>& longformer_params();
// Reads window, dilation, global from the settings (and cfg.causal); one-line errors name the key.
LongformerOptions longformer_options(const Config& cfg);
// Throws unless every global position is < n (naming the key, the position and n).
void longformer_check_length(const LongformerOptions& o, int64_t n);

int64_t longformer_dilation(const LongformerOptions& o, int64_t h);  // δ of head h
int64_t longformer_band_width(const LongformerOptions& o);           // W = 2w+1 (w+1 when causal)
// The options as applied to n tokens: a window of n - 1 or more already reaches every key, so w = min(w, n - 1)
// (memory follows the input, not the setting). longformer_index applies it: its rows are then W(fit) + G wide.
LongformerOptions longformer_fit(const LongformerOptions& o, int64_t n);

// Key lists (1, 1 or H, n, W + G) in band form: slot t' < W holds i + δ·(t' - w) (or -1 outside [0, n) or when
// that key is global), slot W + g holds global[g] (-1 when causal and global[g] > i). Rows of global tokens are
// all -1: they are computed densely by longformer_attention.
IntTensor longformer_index(const LongformerOptions& o, int64_t n, int64_t H);

// The 0/1 pattern (B, H, n, n): band + global columns for local rows, full (causal: prefix) global rows.
Tensor longformer_pattern(const LongformerOptions& o, int64_t B, int64_t H, int64_t n,
                          const Tensor& key_padding_mask = Tensor());

// The kernel. q, k, v (B, H, n, d) for the local rows and the global columns; q_global (B, H, G, d) are the
// queries of the global tokens, k_global and v_global (B, H, n, d) what they attend to. Undefined q_global /
// k_global / v_global mean "the rows of q / k / v" (the kernel-level convention).
Tensor longformer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const LongformerOptions& o,
                            const Tensor& key_padding_mask = Tensor(), const Tensor& q_global = Tensor(),
                            const Tensor& k_global = Tensor(), const Tensor& v_global = Tensor());

// What the kernel applied (q_global = q rows, k_global = k, v_global = v), for drawing and tests at small n.
struct LongformerProbabilities {
  Tensor band;    // (B, H, n, W + G): local rows in band form (rows of global tokens are 0)
  Tensor global;  // (B, H, G, n): the global tokens' rows
  Tensor dense;   // (B, H, n, n): both scattered into one matrix: out == dense @ v
};
LongformerProbabilities longformer_probabilities(const Tensor& q, const Tensor& k, const Tensor& v,
                                                 const LongformerOptions& o, const Tensor& key_padding_mask = Tensor());

}  // namespace attention
