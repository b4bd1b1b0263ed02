// attention/dense.h — the reference every scheme is tested against: materialised scaled dot-product attention
// (Vaswani et al. 2017, Attention Is All You Need), registered as the scheme "full".
//
//   A = softmax(q kᵀ / sqrt(d) + mask)     (B, H, n, m)   m = number of keys
//   out = A v                              (B, H, n, d)
//
// The mask blocks j > i when causal, and padding keys (key_padding_mask == 0). A row with every key blocked
// attends to nothing: its probabilities and output are 0, not NaN. This costs O(n·m) memory: the point of the
// course is the schemes that avoid it.
//
// Scale, mask and softmax are ONE recorded op (attention_probabilities), so that the graph keeps a single
// (B, H, n, m) buffer for the backward: A itself. Built from separate ops (matmul, divide, masked_fill, softmax)
// every intermediate would be held by the node that consumed it until backward ends: S = q kᵀ, S/√d, the masked
// S and A, four n×m buffers instead of one. Forward + backward then peaks at three n×m buffers: A, dA, dS.
#pragma once

#include "attention/scheme.h"

namespace attention {

struct DenseOptions {
  bool causal = false;
  Tensor key_padding_mask;  // (B, m): 1 = real token, 0 = padding; undefined = none
};

// 1 where query i may NOT look at key j: (B or 1, 1, n, m), broadcastable to the scores.
Tensor blocked_mask(int64_t batch, int64_t n, int64_t m, const DenseOptions& options);
// q kᵀ / sqrt(d): (B, H, n, m), unmasked.
Tensor dense_scores(const Tensor& q, const Tensor& k);
// A = softmax(scale · q kᵀ + mask)   q: (B, H, n, d), k: (B, H, m, d) -> A: (B, H, n, m)
// One fused op: the scores are computed straight into A's buffer, masked, scaled and normalised in place, and
// the backward needs only A (plus q and k):
//   dS = scale · A ∘ (dA − rowsum(dA ∘ A)),   dq = dS k,   dk = dSᵀ q.
// Blocked entries (options.causal: j > i; key_padding_mask == 0) get probability 0; a fully blocked row is all
// zeros, with zero gradient.
Tensor attention_probabilities(const Tensor& q, const Tensor& k, float scale, const DenseOptions& options = {});
// softmax of the masked scores, attention_probabilities with scale = 1/√d: (B, H, n, m).
Tensor dense_probabilities(const Tensor& q, const Tensor& k, const DenseOptions& options = {});
// A v: (B, H, n, d).
Tensor dense_attention(const Tensor& q, const Tensor& k, const Tensor& v, const DenseOptions& options = {});

// The reference of every sparse scheme: softmax(q kᵀ/√d, with -∞ wherever the pattern is 0) v, from core ops, so
// that autograd gives its gradients. q: (B, H, n, d); k, v: (B, H, m, d); pattern: 0/1, broadcastable to
// (B, H, n, m). A query with no key in the pattern gets 0, not NaN. It builds the n × m scores: a check (the
// conformance tests, the lessons), not a kernel.
Tensor masked_dense_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& pattern);

}  // namespace attention
