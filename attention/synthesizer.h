// attention/synthesizer.h — Synthesizer (Tay et al. 2020, Synthesizer: Rethinking Self-Attention in Transformer
// Models), registered as "synthesizer".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, D = d_model = H * d, L = max_len,
//         e = hidden size per head of the dense synthesizer (= d in the layer).
//
// Vanilla attention computes its logits from token-token dot products, q_i · k_j. The Synthesizer asks whether
// that is needed, and SYNTHESIZES the (n × n) logits B instead, then applies Y = softmax(B) G(X) with G the value
// projection. The modes (hyperparameter mode=):
//   dense              Bᵢ = W₂ relu(W₁ xᵢ + b₁) + b₂ ∈ ℝⁿ: row i of the logits from token i alone
//   random             B = R, an (n × n) matrix per head that does not look at the input at all; learned, or
//                      fixed at its random initialisation (trainable=false, the paper's "fixed random")
//   factorized_random  R = R₁ R₂ᵀ with R₁, R₂ ∈ ℝ^{n×k}: rank k, 2nk parameters instead of n²
//   factorized_dense   Aᵢ = F_A(xᵢ) ∈ ℝ^a, Bᵢ = F_B(xᵢ) ∈ ℝ^b, a·b ≥ n, and Bᵢⱼ = Aᵢ[j mod a] · Bᵢ[j div a]:
//                      the paper's tiling H_A(A) ⊙ H_B(B). We read "H_A repeats A b times" as tiling [A A … A]
//                      and H_B as repeating each entry of B a times, so that row i, laid out as a (b × a) grid,
//                      is the rank-1 outer product Bᵢ Aᵢᵀ (every pair of entries meets exactly once). a = k.
//   mixture            B = (the synthesizer named by mix=) + Q Kᵀ/√d: synthetic plus dot-product logits (the
//                      paper's "R+V" / "D+V"; it weights the parts by learned α summing to 1, we add them, α = 1).
// Causal: the triangular mask is added to B (-inf above the diagonal), and padding keys are masked the same way.
//
// The parameters have a FIXED size L = max_len (LayerConfig.max_len). A sequence of n ≤ L tokens uses the
// top-left (n × n) block of R (the first n rows of R₁, R₂; the first n outputs of W₂). That is what padding to
// L and masking the padded keys would give for the real tokens, without computing the padded part. n > L is an
// error.
//
// Cost: the logits are still an n × n matrix per head, and softmax(B)·V still costs O(n²·d): the Synthesizer
// changes the parameters, not the complexity (random mode even saves the Q, K projections; factorized modes
// save parameters, not time).
//
// Pitfall (a public implementation has it): going from per-token outputs (B, n, H, ·) to per-head matrices
// (B, H, n, ·) needs a TRANSPOSE of the head and position axes. A reshape keeps the memory order and silently
// hands head h the rows of other tokens and heads. Here split_heads() permutes, and the tests check that every
// head's logits are exactly its own.
//
// The kernel (`attnzoo run`, `show`): the synthesizer of the chosen mode on q, k, v with its parameters drawn
// from Rng(seed) at L = n (the length of q): first, for dense modes, a per-head first layer W₁ (H, d, d), b₁
// (H, 1, d) that reads qᵢ as the token xᵢ; then the mode's own parameters (init_synthesizer_params). k is used
// only by mixture. So `run` with mode=random applies softmax(R)·v with a seeded R, and `show` draws softmax(R).
#pragma once

#include <memory>
#include <string>

#include "attention/scheme.h"
#include "core/nn.h"

namespace attention {

enum class SynthesizerMode { dense, random, factorized_random, factorized_dense, mixture };

std::string synthesizer_mode_name(SynthesizerMode mode);

struct SynthesizerOptions {
  SynthesizerMode mode = SynthesizerMode::random;
  SynthesizerMode mix = SynthesizerMode::random;  // mixture: the synthetic part
  int64_t k = 8;                                  // factorized modes
  bool trainable = true;                          // random modes: learn R (or R₁, R₂)
  // The synthesizer that makes B: mode itself, or mix for mixture.
  SynthesizerMode base() const { return mode == SynthesizerMode::mixture ? mix : mode; }
  bool reads_tokens() const;  // dense or factorized_dense: needs the per-head hidden input
};

// Parses and validates the scheme's settings; errors read "synthesizer: setting k=0: ...".
SynthesizerOptions synthesizer_options(const Settings& settings);
const ParamTable<SynthesizerOptions>& synthesizer_params();  // mode, k, trainable, mix (attention/params.h)

// The parameters of one synthesizer for H heads, max length L, hidden size e per head (only what `mode` uses is
// defined).
struct SynthesizerParams {
  Tensor R;                // (H, L, L)   random
  Tensor R1, R2;           // (H, L, k)   factorized_random: R = R₁ R₂ᵀ
  Tensor W2, b2;           // (H, e, L), (H, 1, L)   dense: Bᵢ = hᵢ W₂ + b₂
  Tensor Wa, ba, Wb, bb;   // (H, e, a), (H, 1, a), (H, e, b), (H, 1, b)   factorized_dense
};

// Initialisation: R ~ N(0, 1); R₁, R₂ ~ N(0, σ²) with σ = k^(-1/4), so that R₁R₂ᵀ has unit variance too; the
// dense weights and biases ~ U(±1/√e) (like a Linear layer). Drawn from rng in the order R, R₁, R₂, W₂, b₂,
// Wa, ba, Wb, bb (only the mode's own).
SynthesizerParams init_synthesizer_params(SynthesizerMode mode, int64_t H, int64_t L, int64_t e, int64_t k,
                                          core::Rng& rng);

// factorized_dense: a = min(k, L) entries in the first factor, b = ⌈L / a⌉ in the second.
int64_t factorized_dense_a(int64_t L, int64_t k);
int64_t factorized_dense_b(int64_t L, int64_t k);

// ---- the synthetic logits, (1 or B, H, n, n), from the top-left block for n <= L ----
Tensor random_synthesizer_logits(const Tensor& R, int64_t n);                                  // (1, H, n, n)
Tensor factorized_random_logits(const Tensor& R1, const Tensor& R2, int64_t n);               // (1, H, n, n)
// hidden: (B, H, n, e), the per-head relu(W₁ x + b₁) -> (B, H, n, n), row i from hidden[:, :, i] alone
Tensor dense_synthesizer_logits(const Tensor& hidden, const Tensor& W2, const Tensor& b2, int64_t n);
Tensor factorized_dense_logits(const Tensor& hidden, const Tensor& Wa, const Tensor& ba, const Tensor& Wb,
                               const Tensor& bb, int64_t n);
// The logits of `mode` (not mixture): dispatches to the four above.
Tensor synthesizer_logits(SynthesizerMode mode, const SynthesizerParams& p, const Tensor& hidden, int64_t n);

// softmax over the keys of logits + mask: -inf above the diagonal when causal and at padding keys.
// logits (1 or B, H, n, n), key_padding_mask (B, n) or undefined -> (1 or B, H, n, n). A fully masked row is 0.
Tensor synthesizer_probabilities(const Tensor& logits, bool causal, const Tensor& key_padding_mask = Tensor());

// The kernel and its matrix (see the top of this file): (B, H, n, d) and (B, H, n, n), out == A @ v.
Tensor synthesizer_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg);
Tensor synthesizer_effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg);

// The layer: x (B, n, D) -> v = G(x) split into heads; B from the synthesizer (dense modes read
// hidden = split_heads(relu(w_1 x)), one shared first layer whose d-wide slice h feeds head h's own W₂);
// mixture adds split_heads(w_q x) split_heads(w_k x)ᵀ/√d; y = w_o(merge_heads(softmax(B + mask) v)).
//
// Not a ProjectedAttention: most modes have no queries and keys (their weights come from R or from x alone), so
// the layer's projections are w_v and w_o, then w_1 (dense modes) and w_q, w_k (mixture only), drawn in that order.
class SynthesizerLayer : public AttentionLayer {
 public:
  SynthesizerLayer(const LayerConfig& cfg, const SynthesizerOptions& options, core::Rng& rng);
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask = Tensor()) override;
  // The logits B before the mask: (1 or B, H, n, n) — for pictures and tests.
  Tensor logits(const Tensor& x) const;
  // The attention probabilities the forward pass applies: (1 or B, H, n, n).
  Tensor probabilities(const Tensor& x, const Tensor& key_padding_mask = Tensor()) const;
  // probabilities(x) for every sequence of the batch: (B, H, n, n), applied to split_heads(w_v(x)).
  Tensor attention_weights(const Tensor& x) override;

  SynthesizerOptions options;
  int64_t d_model, n_heads, max_len;
  bool causal;
  core::nn::Linear w_v, w_o;
  std::unique_ptr<core::nn::Linear> w_1;       // dense modes: the shared first layer D -> D
  std::unique_ptr<core::nn::Linear> w_q, w_k;  // mixture only
  SynthesizerParams params;                    // parameters; buffers when trainable=false (random modes)
};

}  // namespace attention
