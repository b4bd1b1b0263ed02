// attention/kernels/block_sparse.h — the sparse-pattern kernel in tiles: FlashAttention's tiling and online softmax,
// visiting only the tiles the pattern touches.
//
// The schemes of Sparse Transformer, Longformer, BigBird and ETC write their pattern down as per-query key lists
// (an index, see index_attention.h). index_attention walks those lists one (query, key) pair at a time: simple,
// exact, O(n·K) — but every pair is a dot product of d floats loaded from a scattered row, which a CPU runs at a
// small fraction of its speed. This kernel computes the same thing the way flash does: in tiles, through sgemm.
//
//   1. Layout (make_block_layout): cut the queries into tiles of bq rows. For a query tile, the union U of the
//      keys its rows list is cut by key blocks of bk positions; each (query tile, key block) with a key in U is a
//      "pair", holding the keys of U in that block (a contiguous range for bands and blocks, scattered keys for
//      strided columns) and, unless every row sees every one of them, a bq×count 0/1 mask.
//   2. Forward: for each query tile, over its pairs, S = Q Kᵀ/√d on the pair's keys (gathered into a small
//      buffer when they are not contiguous), masked entries -inf, then flash's online softmax. Saves out and the
//      log-sum-exp L per row, nothing of size n×K.
//   3. Backward: recompute P = e^(S − L) per pair. Pass 1, one task per key block, walks the pairs that hold its
//      keys and accumulates dK, dV; pass 2, one task per query tile, accumulates dQ. Every gradient row has one
//      owner and a fixed summation order: results are bit-identical for any number of threads.
//
// Cost: time ∝ the pairs' bq·count entries (the pattern's non-zeros plus the masked waste of partial tiles),
// memory O(n·d) for the outputs and O(pairs·bq·bk) bytes of masks — O(n·K) at worst, like the index itself.
// The result is exactly index_attention's (same rows with no usable key: zeros, zero gradients).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attention/kernels/index_attention.h"

namespace attention {

struct BlockSparseOptions {
  int64_t block_q = 64;  // query rows per tile
  int64_t block_k = 64;  // key positions per key block
};

// The tiles an index touches. One "slice" per (batch, head) slice of the index ((Bi·Hi) of them).
struct BlockLayout {
  struct Pair {
    int64_t query_tile = 0, key_block = 0;
    int64_t keys_begin = 0, count = 0;  // its keys: keys[keys_begin, keys_begin + count), increasing
    bool contiguous = false;            // keys form one range: read k, v in place, no gather
    int64_t mask_begin = -1;            // rows×count bytes in masks (1 = visible); -1: every row sees every key
  };
  int64_t n = 0, m = 0, bq = 0, bk = 0, slices = 0, q_tiles = 0, k_blocks = 0;
  std::vector<Pair> pairs;             // slice-major, then query tile, then key block
  std::vector<int64_t> by_query;       // (slices·q_tiles + 1): pairs of (slice, tile) are [by_query[t], by_query[t+1])
  std::vector<int64_t> by_key;         // (slices·k_blocks + 1): offsets into key_pairs
  std::vector<int64_t> key_pairs;      // pair ids of each (slice, key block), in query-tile order
  std::vector<int32_t> keys;
  std::vector<uint8_t> masks;
  double computed_entries() const;     // Σ rows·count over the pairs: the score entries the kernel computes
};

// Builds the layout of an index (Bi, Hi, n, K) over m keys (entries checked by check_index first). O(n·K).
BlockLayout make_block_layout(const IntTensor& index, int64_t m, const BlockSparseOptions& options = {});

// The tiled kernel over a layout built beforehand (by make_block_layout of this very index).
Tensor block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SharedIndex& index,
                              std::shared_ptr<const BlockLayout> layout, const IndexAttentionOptions& options = {});

// Which kernel a pattern should run on. Tiles pay off when the pattern fills them: a band, blocks, a few global
// columns. They do not for patterns whose rows within a tile list different keys — Sparse Transformer's strided
// stripes (i − j ≡ 0 mod l) touch every key of a tile's neighbourhood — nor for a band much narrower than a tile.
// Measured on 2 cores (n = 4096, H = 4, d = 64, forward + backward, tiled vs index_attention): BigBird b = 64
// 2.9× faster, Longformer w = 256 4.2×, a w = 8 band 0.6× (tiles 4.7× larger than the band), strided 0.25×.
// (The strided pattern now has a kernel of its own in the paper's layout: sparse_strided_attention, sparse.h.)
// Rule: 64×64 tiles if they compute at most 1.25× the pattern's entries, else 32×32 tiles if at most 2×, else
// index_attention.
struct SparseKernelChoice {
  bool tiled = false;
  int64_t block = 0;    // tile size when tiled
  double waste = 0;     // computed entries / listed entries of the last layout tried
  std::shared_ptr<const BlockLayout> layout;  // when tiled
};
SparseKernelChoice choose_sparse_kernel(const IntTensor& index, int64_t m);

// The kernel the sparse-pattern schemes call: the function of index_attention, on the kernel chosen above.
Tensor sparse_pattern_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SharedIndex& index,
                                const IndexAttentionOptions& options = {});

// The same function as index_attention (softmax over each query's listed keys, padding keys never attended),
// computed in tiles. q (B, H, n, d), k, v (B, H, m, d) -> (B, H, n, d); differentiable in q, k and v.
Tensor block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SharedIndex& index,
                              const IndexAttentionOptions& options = {}, const BlockSparseOptions& blocks = {});

}  // namespace attention
