// attention/sinkhorn.h — Sparse Sinkhorn Attention (Tay, Bahri, Yang, Metzler, Juan 2020, Sparse Sinkhorn
// Attention, ICML), registered as the scheme "sinkhorn".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, b = block size, nb = ceil(n / b) blocks,
// N = nb * b (n padded up to whole blocks).
//
// The idea: cut the sequence into nb blocks of b tokens. A small "sorting" matrix P (nb × nb, doubly stochastic)
// is learned from the content of the blocks; block i then attends to its own b tokens AND to the b tokens of its
// "sorted block" Σⱼ Pᵢⱼ · block j — a soft choice of one other block, anywhere in the sequence. Each query sees
// 2b keys, so the attention is O(n·b·d); making the sorted blocks costs O(nb²·b·d) = O(n²·d / b), small next to
// n²·d when b is large, and P itself is nb × nb.
//
//   1. summaries   Sq_i = mean of q over block i, Sk_j = mean of k over block j         (B, H, nb, d)
//   2. logits      R = Sq Skᵀ / √d ;  X = (R + Gumbel noise) / τ                         (B, H, nb, nb)
//   3. Sinkhorn    in the log domain, `iters` times: X ← X − logsumexp over each row, then over each column;
//                  P = exp(X): rows and columns sum to ~1, a soft permutation of the blocks
//   4. sorting     K̃_i = Σⱼ Pᵢⱼ K_j,  Ṽ_i = Σⱼ Pᵢⱼ V_j  (K_j, V_j: the b keys/values of block j; the SORTED
//                  VALUES are mixed with the same P as the keys — a public version mixes the keys into the values)
//   5. attention   block i: softmax(q [K_i; K̃_i]ᵀ / √d) [V_i; Ṽ_i], one softmax over 2b keys   (B, H, n, 2b)
// Slot t of the sorted block is Σⱼ Pᵢⱼ · (token t of block j): the effective n × n matrix spreads the weight of
// slot t over the tokens t of every block j in proportion to Pᵢⱼ (so out == A @ v exactly; see padding below).
//
// Our choices (the paper leaves them open or uses a learned sorting network):
//   - summaries are plain means over the block's real tokens (the paper's SortNet is a small network on
//     block sums; means of q and k keep the kernel parameter-free and let `attnzoo run` apply it to any q, k, v).
//   - padding: n is padded to N with zero tokens; padding (and key_padding_mask) tokens are left out of the
//     summaries, masked as keys of the own block, and left out of the sorted blocks: sorted slot t mixes only the
//     REAL tokens t of the blocks j, its weights Pᵢⱼ renormalised over them (to the slot's total Σⱼ Pᵢⱼ), so no
//     attention weight lands on a padding position (a zero token mixed into a slot would be a phantom key: rows
//     of A summed to 0.77 at n = 65, b = 16); a sorted slot with no real token is masked.
//   - block > n is clamped to n (one block; memory bounded by the input, not by the setting).
//   - noise: Gumbel noise is added only when noise=true (kernel: drawn from the seed; layer: in training mode
//     only, a fresh draw per forward). Default off, so `run` and eval are deterministic functions of q, k, v.
//   - causal ("Causal Sinkhorn Balancing"): block i may only be sorted to strictly EARLIER blocks j < i (the
//     upper triangle and the diagonal of R are masked: a mixture slot that includes block i itself would carry
//     its future tokens, and one slot cannot be masked per query); the query summary of block i is the
//     cumulative mean of q over blocks 0..i-1 (it must not see block i's own later tokens); the row
//     normalisation is row-local, and the column normalisation of row i uses only rows <= i (a cumulative
//     logsumexp down each column), so no row of P depends on a later block. Inside the own block the usual
//     causal mask applies. Block 0 has no earlier block: its queries attend to their own past only.
//     The causal column step is X_ij ← X_ij − max(0, logsumexp_{k<=i} X_kj): an entry is scaled down only when
//     its column's mass over the rows so far (k <= i) exceeds 1, i.e. when earlier blocks already took that key
//     block. Why not the plain prefix normalisation X_ij − logsumexp_{k<=i} X_kj: it pins every column's first
//     entry (row j+1) to exactly 1 whatever the content, and every block drifts to "the previous block". Any
//     causal balancing is pulled that way in the limit (the only strictly-lower-triangular doubly stochastic
//     matrix is the shift i -> i-1), so a few iterations (iters) leave room for content. (A public causal
//     version drops the balancing for a masked softmax over earlier blocks.)
//   - SortCut (sortcut=k > 0, paper §3.4): the sequence is sorted (sorted block s = Σⱼ Pₛⱼ block j) and
//     truncated to its first k sorted blocks; EVERY query attends to these k·b keys only (no own block):
//     O(n·k·b·d). Encoder only (it mixes all blocks into the first k): refused with causal.
//
// There is no fixed sparsity pattern (the sorted block can be any mixture of blocks, and which blocks get weight
// depends on q and k), so has_pattern() is false; sinkhorn_support() gives the data-dependent token-level support.
#pragma once

#include <vector>

#include "attention/scheme.h"

namespace attention {

struct SinkhornOptions {
  int64_t block = 16;      // b: tokens per block
  int64_t iters = 5;       // Sinkhorn iterations (one = a row and a column normalisation)
  double tau = 0.75;       // temperature: smaller is closer to a hard permutation
  int64_t sortcut = 0;     // 0 = off; k > 0 = every query attends to the first k sorted blocks only
  bool noise = false;      // add Gumbel noise to the sorting logits
  bool causal = false;
  uint64_t seed = 0;       // the Gumbel noise's seed
  Tensor key_padding_mask;  // (B, n): 1 = real token, 0 = padding; undefined = none
};

// The hyperparameters of the registered scheme, with defaults and help.
std::vector<HyperParam> sinkhorn_hyperparams();
const ParamTable<SinkhornOptions>& sinkhorn_params();  // the table behind them (attention/params.h)
// Parses and validates cfg's settings (one-line errors naming the key); n = 0 skips the checks that need n.
SinkhornOptions sinkhorn_options(const Config& cfg, int64_t n = 0);

// ---- the pieces, step by step (the lesson builds the scheme from these) ----

// 1 for real tokens, 0 for the zero tokens that pad n up to N and for key_padding_mask == 0: (B, N).
Tensor sinkhorn_valid(int64_t batch, int64_t n, int64_t block, const Tensor& key_padding_mask);

struct BlockSummaries {
  Tensor sq, sk;  // (B, H, nb, d): query and key summary per block (causal: sq is the cumulative mean of blocks < i)
};
BlockSummaries sinkhorn_summaries(const Tensor& q, const Tensor& k, const SinkhornOptions& o);

// (B, H, nb, nb) logits X = (Sq Skᵀ/√d [+ Gumbel]) / τ; causal: -inf on and above the diagonal.
Tensor sinkhorn_logits(const Tensor& q, const Tensor& k, const SinkhornOptions& o);

// Standard Gumbel(0, 1) noise -log(-log u) of the given shape, drawn from core::Rng(seed) in row-major order.
Tensor gumbel_noise(const Shape& shape, uint64_t seed);

// Log-domain Sinkhorn balancing of logits (..., nb, nb) (-inf = masked entry, stays 0 in P): `iters` times
// subtract the row logsumexp, then the column logsumexp (causal: max(0, the cumulative one over rows <= i)). Returns
// P = exp(X). Differentiable (hand-written backward through every iteration; saves the 2·iters+1 iterates).
Tensor sinkhorn_balance(const Tensor& logits, int64_t iters, bool causal = false);
// The same iterations without gradient, returning log P after each full iteration (index 0 = the logits).
std::vector<Tensor> sinkhorn_iterates(const Tensor& logits, int64_t iters, bool causal = false);

// Everything one forward pass computed (for effective attention, drawings and tests).
struct SinkhornParts {
  Tensor out;     // (B, H, n, d)
  Tensor P;       // (B, H, nb, nb) the balanced sorting matrix
  Tensor probs;   // sortcut == 0: (B, H, nb, b, 2b) weights over [own block; sorted slots]
                  // sortcut == k: (B, H, n, k·b) weights over the slots of the first k sorted blocks
  Tensor valid;   // (B, N)
  Tensor slot_scale;  // (B, H, nb, b): sorted slot t of block I mixes the real tokens t of the blocks J with
                      // weights P_IJ · slot_scale_It (renormalised over real tokens; 1 where no block pads t)
};
SinkhornParts sinkhorn_parts(const Tensor& q, const Tensor& k, const Tensor& v, const SinkhornOptions& o);

// The kernel: out (B, H, n, d).
Tensor sinkhorn_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SinkhornOptions& o);
// The (B, H, n, n) matrix the kernel applied: out == A @ v.
Tensor sinkhorn_effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SinkhornOptions& o);
// Data-dependent 0/1 support (B, H, n, n): where A may be non-zero for these q, k (own block, causal-masked,
// plus every token t of every block j with Pᵢⱼ > 0 whose slot is not masked).
Tensor sinkhorn_support(const Tensor& q, const Tensor& k, const SinkhornOptions& o);

// The layer: the standard projections (ProjectedAttention), then the kernel; Gumbel noise only in training mode
// and only when noise=true, a fresh draw per forward (from a generator seeded by the layer's seed); eval is
// deterministic.
class SinkhornLayer : public ProjectedAttention {
 public:
  SinkhornLayer(const LayerConfig& cfg, core::Rng& rng);
  // sinkhorn_attention, with this step's noise seed in training: (B, H, n, d)
  Tensor attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                const Tensor& key_padding_mask) override;
  // The matrix attend applies (the sorted blocks, without training noise), read off attend: (B, H, n, n). Eval mode.
  Tensor attention_weights(const Tensor& x) override { return attend_matrix(x); }
  SinkhornOptions options;
  // The noise generator. Not a buffer: its state is not a tensor, so a restored checkpoint continues the noise
  // stream where the run is, not where the checkpoint was (eval, which draws no noise, is unaffected).
  core::Rng noise_rng;
};

}  // namespace attention
