// attention/linformer.h — Linformer (Wang, Li, Khabsa, Fang, Ma 2020, Linformer: Self-Attention with Linear
// Complexity), registered as the scheme "linformer".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, k = projected length (k << n),
//         Hs = number of projection matrices per layer (H when every head has its own, 1 when heads share).
//
// The paper observes that the n × n attention matrix P = softmax(Q Kᵀ/√d) is close to low rank, and replaces it
// by attention over k "projected positions": two learned (k, n) matrices E and F mix the n keys and the n values
// along the sequence axis into k rows each,
//
//   K̄ = E K              (k, n) @ (n, d) -> (k, d)
//   V̄ = F V              (k, n) @ (n, d) -> (k, d)
//   P̄ = softmax(Q K̄ᵀ/√d)  (n, d) @ (d, k) -> (n, k)     the "context mapping", each row sums to 1
//   out = P̄ V̄            (n, k) @ (k, d) -> (n, d)
//
// Everything is O(n·k·d) time and O(n·k) memory: linear in n for a fixed k. The n × n matrix the kernel applies
// to V is A = P̄ F (out = P̄ (F V) = (P̄ F) V), of rank at most k; it is built only by effective_attention.
//
// What the scheme fixes, and why:
//   - A fixed maximum length: E and F have max_len columns. A shorter sequence of length n uses their first n
//     columns (as if it were padded to max_len with zero keys and values). Longer sequences are an error.
//     For `attnzoo run`, max_len is q's length n.
//   - Not causal. Each projected key Σ_j E[r, j] k_j mixes every position, future ones included, so query i would
//     see tokens after i: the scheme refuses causal with an error that says so.
//   - Padding (key_padding_mask): padded keys and values are set to 0 before the projection, so they contribute
//     nothing; a padded sequence gives, at its real positions, exactly what the unpadded one gives.
//
// Sharing (hyperparameter share=, the paper's §4 "Parameter sharing"):
//   none       every head h has its own E_h and F_h            E, F: (H, k, max_len)   2·H·k·max_len parameters
//   headwise   one E and one F for all heads of a layer        E, F: (1, k, max_len)   2·k·max_len
//   kv         one E for all heads, used for keys AND values   E = F: (1, k, max_len)  k·max_len
//   layerwise  kv, and the same E in every layer of a model    one (1, k, max_len) for the whole stack
// A kernel call is one layer, so for `attnzoo run` layerwise is the same as kv. A layer with share=layerwise needs
// the E of the first layer: build the others with LinformerLayer(cfg, rng, first.E) (they do not register it
// as their own parameter, so an optimiser sees it once). make_layer builds one layer at a time and cannot share,
// so it refuses share=layerwise with a message saying this.
//
// Initialisation: E, F ~ N(0, 1/max_len), each row a random mix of the positions with squared norm ~1, so K̄ and
// V̄ keep the scale of K and V at every n. (The paper's Johnson–Lindenstrauss argument uses N(0, 1/k); that
// scales K̄ and V̄ up by √(n/k), which makes the softmax sharper and the output larger as n grows.)
// For the registry's kernel (`attnzoo run`, `show`): E then F drawn in row-major order from core::Rng(cfg.seed),
// each (Hs, k, n) with n = q's length; with shared keys and values only E is drawn and F = E. (The scheme keeps
// its last draw and reuses it while the seed and shapes stay the same, so repeated calls do not pay for it.)
#pragma once

#include <string>

#include "attention/scheme.h"
#include "core/nn.h"
#include "core/random.h"

namespace attention {

// ---- settings -------------------------------------------------------------------------------------------------

enum class LinformerShare { none, headwise, kv, layerwise };

// "none" | "headwise" | "kv" | "layerwise"; anything else is an error naming the key share.
LinformerShare parse_linformer_share(const std::string& value);
const char* linformer_share_name(LinformerShare share);
// Hs: H for none, 1 for the others.
int64_t linformer_projection_heads(LinformerShare share, int64_t n_heads);
// kv and layerwise use one matrix for keys and values.
bool linformer_shares_kv(LinformerShare share);

// The scheme's settings, validated: 1 <= k <= max_len and share one of the four; errors name the key.
// length_name says what max_len is in the message ("max_len" for a layer, "the sequence length n" for a kernel).
struct LinformerSettings {
  int64_t k = 32;
  LinformerShare share = LinformerShare::none;
};
LinformerSettings linformer_settings(const Settings& settings, int64_t max_len,
                                     const std::string& length_name = "max_len");
const ParamTable<LinformerSettings>& linformer_params();  // k, share (attention/params.h)

// Why causal is refused (SchemeInfo::causal_refusal: the error says "linformer: causal attention is not supported: "
// and this).
extern const char* const kLinformerCausalRefusal;

// ---- the projections ------------------------------------------------------------------------------------------

struct LinformerProjections {
  Tensor E, F;  // (Hs, k, max_len); F is the same tensor as E when keys and values share
};

// E then F ~ N(0, 1/max_len), drawn in row-major order from rng; F = E (not drawn) when share is kv/layerwise.
LinformerProjections linformer_projections(int64_t n_heads, int64_t k, int64_t max_len, LinformerShare share,
                                           core::Rng& rng);

// ---- the kernel, step by step ---------------------------------------------------------------------------------

// E's first n columns: (Hs, k, max_len) -> (Hs, k, n) (differentiable; E itself when n == max_len).
Tensor linformer_first_columns(const Tensor& E, int64_t n);
// x̄ = E x along the sequence: E (Hs, k, >= n) @ x (B, H, n, d) -> (B, H, k, d).
Tensor linformer_project(const Tensor& x, const Tensor& E);
// The context mapping P̄ = softmax(q (E k)ᵀ / √d): (B, H, n, k). key_padding_mask (B, n) zeroes padded keys.
Tensor linformer_context(const Tensor& q, const Tensor& k, const Tensor& E, const Tensor& key_padding_mask = Tensor());

// The kernel: softmax(q (E k)ᵀ/√d) (F v) -> (B, H, n, d), one fused op with a hand-written backward that keeps
// only P̄ (B, H, n, k), K̄ and V̄ (B, H, k, d) for the backward pass. E, F: (Hs, k, m_max) or (k, m_max) with
// Hs in {1, H} and m_max >= m = k's length (the first m columns are used). Gradients flow to q, k, v, E and F.
Tensor linformer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& E, const Tensor& F,
                           const Tensor& key_padding_mask = Tensor());

// A = P̄ F: (B, H, n, m), the matrix the kernel applies to v (out == A @ v); rank <= k. Columns of padded keys are 0.
Tensor linformer_effective_attention(const Tensor& q, const Tensor& k, const Tensor& E, const Tensor& F,
                                     const Tensor& key_padding_mask = Tensor());

// ---- the layer ------------------------------------------------------------------------------------------------

// The standard projections (ProjectedAttention) around linformer_attention with the layer's learned E, F.
// Parameters: E and F (F only when keys and values have their own), then w_q, w_k, w_v, w_o (weight, bias each).
// With shared_E given (share=layerwise), E is that tensor and not a parameter of this layer: the layer that made
// it owns it.
class LinformerLayer : public ProjectedAttention {
 public:
  LinformerLayer(const LayerConfig& cfg, core::Rng& rng, const Tensor& shared_E = Tensor());
  // linformer_attention(q, k, v, E, F): (B, H, n, d), for n <= max_len
  Tensor attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                const Tensor& key_padding_mask) override;
  // The matrix attend applies (P̄·F: what the k projected values imply on the n original ones; rows need not sum to 1), read off attend: (B, H, n, n). Eval mode.
  Tensor attention_weights(const Tensor& x) override { return attend_matrix(x); }

  int64_t max_len;
  LinformerSettings settings;
  Tensor E, F;  // (Hs, k, max_len); F is E when keys and values share
};

}  // namespace attention
