// attention/sparse.h — the Sparse Transformer's factorised attention patterns (Child, Gray, Radford, Sutskever
// 2019, Generating Long Sequences with Sparse Transformers), registered as the scheme "sparse".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, l = stride, c = summary width,
//         K = keys per query (the longest list).
//
// Full attention lets query i see all n keys. The paper factorises that into two sparse sets, each of about √n
// keys, such that every key j ≤ i can still be reached in two hops (i -> a key in A1 or A2 -> j):
//
//   strided (causal):  A1(i) = {j : i-l < j <= i}                       the previous l positions
//                      A2(i) = {j <= i : (i-j) mod l = 0}               every l-th position back
//   fixed   (causal):  A1(i) = {j <= i : floor(j/l) = floor(i/l)}       i's own block of l
//                      A2(i) = {j <= i : j mod l in {l-c, ..., l-1}}    the last c "summary" cells of every block
//
// Non-causal versions (this course's choice; the paper only uses causal models): drop "j <= i" and make the
// local part symmetric, everything else unchanged:
//   strided:  A1(i) = {j : |i-j| < l}                 A2(i) = {j : (i-j) mod l = 0}        (both directions)
//   fixed:    A1(i) = {j : floor(j/l) = floor(i/l)}   A2(i) = {j : j mod l in {l-c, ..., l-1}}
//
// Heads: heads=merged (default) gives every head A1 ∪ A2 (the paper's "merged" heads); heads=split gives even
// heads A1 and odd heads A2 (the paper's "multi-head" variant; with H = 1 the only head takes A1).
// Stride: stride=auto (default) means l = max(ceil(√n), c), so that K ≈ 2√n and the kernel costs O(n·√n·d).
// A fixed stride keeps the pattern independent of n, but then K ~ n/l grows linearly and the cost is O(n²/l).
// With fixed mode and heads=split, an odd head's query before the first summary cell has no key: its output is
// 0 (a fully masked row).
//
// The kernel (sparse_attention), two ways, both O(n·K·d) time and no n×n matrix:
//   strided, merged heads (the default): sparse_strided_attention, the paper's own layout — the band A1 in tiles
//       and A2 as one dense block per residue class mod l, merged by log-sum-exp; O(n) memory (sparse.cpp);
//   fixed, or split heads: each query's keys listed — (1, 1 or H, n, K) int64 — and the shared kernel
//       sparse_pattern_attention (block_sparse.h: flash-style tiles where the pattern fills them, else
//       index_attention); O(n·K) memory.
// sparse_dense_mask_attention computes the same thing the O(n²) way (dense scores, blocked entries set to -inf)
// for comparison.
#pragma once

#include <vector>

#include "attention/kernels/index_attention.h"
#include "attention/scheme.h"

namespace attention {

enum class SparseMode { strided, fixed };
enum class SparseHeads { merged, split };  // settings: heads=merged | heads=split

struct SparseOptions {
  SparseOptions() = default;  // the defaults below; or the pattern in one expression (lessons, tests):
  SparseOptions(SparseMode m, int64_t l, int64_t c, bool is_causal) : mode(m), stride(l), summary(c), causal(is_causal) {}
  SparseMode mode = SparseMode::strided;
  int64_t stride = 0;   // l; 0 = auto (setting stride=auto): max(ceil(sqrt(n)), summary)
  int64_t summary = 2;  // c, the summary width of fixed mode (1 <= c <= l)
  SparseHeads heads = SparseHeads::merged;
  bool causal = false;
};

// The table of mode, stride, summary, heads (attention/params.h).
const ParamTable<SparseOptions>& sparse_params();
// Reads mode, stride, summary, heads from the settings (and cfg.causal); one-line errors name the key.
SparseOptions sparse_options(const Config& cfg);
// The stride l used at length n (resolves stride=auto; checks summary <= l).
int64_t sparse_stride(const SparseOptions& o, int64_t n);

// Which of the two sets a head uses: bit 1 = A1, bit 2 = A2.
constexpr int kSparseA1 = 1, kSparseA2 = 2, kSparseBoth = 3;
int sparse_head_parts(const SparseOptions& o, int64_t h);

// Membership, straight from the equations above (l resolved).
bool sparse_in_a1(const SparseOptions& o, int64_t l, int64_t i, int64_t j);
bool sparse_in_a2(const SparseOptions& o, int64_t l, int64_t i, int64_t j);

// The keys of query i in increasing order (the set `parts` of A1/A2 at length n): out is overwritten.
void sparse_row_keys(const SparseOptions& o, int64_t l, int64_t n, int parts, int64_t i, std::vector<int64_t>& out);

// Key lists of every query: (1, 1, n, K) for heads=merged, (1, H, n, K) for heads=split; -1 pads short rows.
// parts = 0 uses each head's own parts; kSparseA1 / kSparseA2 / kSparseBoth force one set for all heads.
IntTensor sparse_index(const SparseOptions& o, int64_t n, int64_t H, int parts = 0);

// The 0/1 pattern (1, H, n, n) from the membership rules (independent of sparse_index, for tests).
Tensor sparse_pattern(const SparseOptions& o, int64_t n, int64_t H, int parts = 0);

// The kernel: q, k, v (B, H, n, d) -> (B, H, n, d) through sparse_pattern_attention. O(n·K·d), no n×n matrix.
Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseOptions& o,
                        const Tensor& key_padding_mask = Tensor());
// The strided pattern with merged heads (what sparse_attention runs for it) in dense blocks: the band A1 in query
// tiles, A2 as one dense block per residue class mod l, merged by log-sum-exp (sparse.cpp explains). The same
// function as sparse_pattern_attention on sparse_index; O(n·(l + n/l)·d) time, O(n·d) memory.
Tensor sparse_strided_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseOptions& o,
                                const Tensor& key_padding_mask = Tensor());
// The same attention with a dense (1, H', n, n) mask over materialised n×n scores: O(n²) time and memory.
Tensor sparse_dense_mask_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseOptions& o,
                                   const Tensor& key_padding_mask = Tensor());
// The probabilities the kernel applied, as a (B, H, n, n) matrix (small n): out == A @ v.
Tensor sparse_effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseOptions& o,
                                  const Tensor& key_padding_mask = Tensor());

}  // namespace attention
