// attention/flash.h — exact softmax attention without the n×n matrix: tiling + the online softmax
// (Dao et al. 2022, FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness).
//
// The quadratic *memory* of attention was never needed for exactness. Walk over the keys in tiles; for each
// query row keep a running max m, a running normaliser l and an unnormalised output o:
//   S = q kⱼᵀ/√d for the tile j           m' = max(m, max S)
//   o ← o·e^(m−m') + e^(S−m') vⱼ           l ← l·e^(m−m') + Σ e^(S−m')
// and at the end out = o / l. The forward keeps only out (B, H, n, d) and m and l per row (2 · (B, H, n); the
// paper keeps L = m + log l, but one float32 L loses log l at large m). The backward recomputes each tile's
// probabilities — P = e^(S − m) / l, from the very same score products as the forward — instead of storing
// them:   dV += Pᵀ dO,  dP = dO Vᵀ,  dS = P ∘ (dP − rowsum(dO ∘ O)),  dQ += dS K/√d,  dK += dSᵀ Q/√d.
// Memory O(n·d); time still O(n²·d), now spent in cache-sized tiles through sgemm.
// Registered as the scheme "flash": same outputs and gradients as "full" (to float rounding).
#pragma once

#include "attention/scheme.h"

namespace attention {

struct FlashOptions {
  bool causal = false;
  Tensor key_padding_mask;  // (B, m): 1 = real token, 0 = padding; undefined = none
  int64_t block_q = 64;     // query rows per tile
  int64_t block_k = 64;     // key rows per tile
};

// softmax(q kᵀ/√d + mask) v for q (B, H, n, d), k, v (B, H, m, d) -> (B, H, n, d); differentiable.
// A row whose keys are all masked gives zeros (and zero gradients), as in the dense reference. A row whose
// scores, normaliser or output overflow float32 (or an input is inf/NaN) is refused: core::Error, never zeros.
// block_q, block_k larger than n, m are clamped to n, m (one tile); they must be >= 1.
Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, const FlashOptions& options = {});

}  // namespace attention
