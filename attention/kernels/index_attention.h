// attention/kernels/index_attention.h — exact softmax attention where each query attends to its own list of keys.
//
// The shared kernel of the sparse-pattern schemes (Sparse Transformer, Longformer, and later BigBird and ETC):
// a scheme writes down, for every query i, the K key positions it may look at, and this kernel does the rest.
//
// Legend: B = batch, H = heads, n = queries, m = keys, d = head size, K = slots per query.
//
//   index[b, h, i, s] = j   the s-th key of query i (a position in [0, m)), or -1 for an unused slot
//   score[s] = q[i] · k[j] / √d            for every used slot s of row i     (masked: padding keys)
//   p[s]     = softmax over the row's used slots
//   out[i]   = Σ_s p[s] v[j]
//
// The result is exactly dense softmax attention with the mask "query i may see key j iff j is in i's list",
// but it costs O(n·K·d) time and O(n·K) memory instead of O(n·m·d) and O(n·m): the forward keeps only the
// probabilities in slot form, p (B, H, n, K), for the backward. A row with no usable key (every slot -1 or
// every listed key padded) attends to nothing: its output and its gradients are 0, never NaN.
//
// Index shape: (B or 1, H or 1, n, K). A size-1 batch or head axis is shared by all batches or heads, so a
// pattern that is the same for every input (all the fixed patterns of the course) is stored once.
//
// Repeated keys in one row are REJECTED (core::Error naming the row and the key): a repeated key would count
// twice in the softmax — the bug "do not count global keys twice" that ATTENTION.md warns about for Longformer —
// so the kernel refuses it instead of silently computing something no dense mask can express.
//
// Determinism: the forward and dq are computed one query row per thread; dk and dv one key row per thread,
// walking a transposed index (for each key, the (query, slot) pairs that list it, in increasing order). Every
// sum has a fixed order, so results are bit-identical for any number of threads.
#pragma once

#include <memory>
#include <string>

#include "attention/scheme.h"

namespace attention {

struct IndexAttentionOptions {
  float scale = 0.0f;        // multiplies q·k; 0 means 1/√d
  Tensor key_padding_mask;   // (B, m): 1 = real key, 0 = padding (never attended); undefined = none
  const char* who = nullptr; // the scheme to name when an input is refused (overflow); nullptr = the kernel's name
};

// An index shared between the forward call and the backward pass (no copy of a large integer tensor).
using SharedIndex = std::shared_ptr<const IntTensor>;

// Throws unless index is (B or 1, H or 1, n, K) with entries in [-1, m) and no repeated key in a row. `op`
// names the caller in the message.
void check_index(const IntTensor& index, int64_t B, int64_t H, int64_t n, int64_t m, const std::string& op);

// The kernel: q (B, H, n, d), k and v (B, H, m, d) -> out (B, H, n, d). Differentiable in q, k and v with a
// hand-written backward (records one graph node; saves p (B, H, n, K) and the shared index).
Tensor index_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SharedIndex& index,
                       const IndexAttentionOptions& options = {});
Tensor index_attention(const Tensor& q, const Tensor& k, const Tensor& v, const IntTensor& index,
                       const IndexAttentionOptions& options = {});  // copies the index once

// Forward only, no graph: the output and the probabilities in slot form.
struct IndexAttentionResult {
  Tensor out;    // (B, H, n, d)
  Tensor probs;  // (B, H, n, K): p[b, h, i, s] is the weight of key index[.., i, s]; 0 in unused slots
};
IndexAttentionResult index_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const IntTensor& index,
                                             const IndexAttentionOptions& options = {});

// Slot form -> dense: dense[b, h, i, index[.., i, s]] = slot_values[b, h, i, s]; 0 where no slot points.
// slot_values (B, H, n, K) -> (B, H, n, m). For effective attention and pictures at small n only.
// (query, key) pairs per head the index holds: its non-negative slots divided by its heads dimension.
double index_pairs_per_head(const IntTensor& index);

Tensor index_to_dense(const Tensor& slot_values, const IntTensor& index, int64_t m);

// The 0/1 pattern (B, H, n, m) of an index: 1 where query i lists key j (and j is not padding).
Tensor index_pattern(const IntTensor& index, int64_t B, int64_t H, int64_t m, const Tensor& key_padding_mask = Tensor());

// The same computation on a dense mask, for tests and lessons: softmax(q kᵀ·scale, blocked -> -inf) v, where
// blocked = 1 - index_pattern(...). O(n·m) memory: the thing the kernel avoids.
Tensor index_attention_dense_reference(const Tensor& q, const Tensor& k, const Tensor& v, const IntTensor& index,
                                       const IndexAttentionOptions& options = {});

}  // namespace attention
