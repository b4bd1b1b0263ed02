// attention/bigbird.h — block-sparse attention with window, global and random blocks (Zaheer et al. 2020,
// Big Bird: Transformers for Longer Sequences, NeurIPS), registered as the scheme "bigbird".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, b = block size, nb = ceil(n / b) blocks,
//         w = window blocks (odd), g = global blocks at each end, r = random blocks, K = slots per query.
//
// The sequence is cut into blocks of b tokens (the last block may be shorter: n = 37, b = 16 gives blocks of
// 16, 16 and 5 tokens — nothing is padded, the missing keys simply are not listed). Query block i attends to
//   window(i) = {i - (w-1)/2, ..., i + (w-1)/2} ∩ [0, nb)                      (w = 3: i-1, i, i+1)
//   global    = the first g and the last g blocks (the paper's BigBird-ITC)   (a block inside the window is
//               listed once, as a window block)
//   random(i) = r blocks drawn without replacement from the blocks that are neither in window(i) nor global
//               (all of them if fewer than r are left)
// all under ONE softmax. The tokens of a global block are global queries: they attend to every token (one
// dense row each — g·b·2 rows, O(g·b·n) in total).
//
// Random blocks: drawn per head (every head has its own random graph) from a generator derived from a seed:
// head h uses the h-th generator split off core::Rng(seed) (so head h's blocks do not depend on H). The draw is
// a pure function of (seed, n, b, w, g, r, causal): the same in every call, in training and in evaluation —
// they are FIXED, not redrawn per step (a public version draws all-zero random blocks in eval mode, which
// silently changes the model it evaluates). The kernel (`attnzoo run`) uses cfg.seed; a layer draws its own
// seed once, when it is built, from the construction generator, so every layer of a model has its own fixed
// random graph.
//
// Causal variant: only blocks <= i. window(i) = {i - (w-1)/2, ..., i}, the global blocks are the first g only
// (the last blocks would see the future), random(i) is drawn from the earlier blocks < i - (w-1)/2 that are not
// global, and inside every listed block (the diagonal block, and a global block of a query in the first g
// blocks) keys j > i are masked. There are no dense global rows: a query of a global block simply attends to
// every key j <= i, which its window and the global blocks already cover.
//
// Storage: every non-global query lists its keys block by block, (1, H or 1, n, K) with K = b · (most key
// blocks of any row) <= b·(w + 2g + r); the shared kernel sparse_pattern_attention computes them in tiles
// (block_sparse.h) when they fill the tiles, else through index_attention. Time O(n·K·d + g·b·n·d), memory O(n·K + g·b·n): linear in n, never an n×n matrix.
// The index is per head when r > 0 (heads draw different blocks), shared by all heads otherwise.
#pragma once

#include <vector>

#include "attention/kernels/index_attention.h"
#include "attention/scheme.h"

namespace attention {

struct BigBirdOptions {
  BigBirdOptions() = default;  // the defaults below; or all six in one expression (lessons, tests):
  BigBirdOptions(int64_t b, int64_t window, int64_t global, int64_t random, bool is_causal, uint64_t random_seed)
      : block(b), window_blocks(window), global_blocks(global), random_blocks(random), causal(is_causal), seed(random_seed) {}
  int64_t block = 16;         // b: tokens per block
  int64_t window_blocks = 3;  // w: odd; the query's own block and (w-1)/2 on each side (causal: before it)
  int64_t global_blocks = 1;  // g: global blocks at each end (causal: at the start only)
  int64_t random_blocks = 2;  // r: random key blocks per query block and head
  bool causal = false;
  uint64_t seed = 0;          // the random blocks' seed
};

// Reads block, window_blocks, global_blocks, random_blocks from the settings, cfg.causal and cfg.seed;
// one-line errors name the key.
BigBirdOptions bigbird_options(const Config& cfg);
const ParamTable<BigBirdOptions>& bigbird_params();  // block, window_blocks, global_blocks, random_blocks
int64_t bigbird_num_blocks(const BigBirdOptions& o, int64_t n);  // nb = ceil(n / b)
// The options as applied to a sequence of n tokens: a block wider than n is one block of n (b = min(b, n)), so that
// memory follows the input, not the setting. Every function below that takes n applies it first.
BigBirdOptions bigbird_fit(const BigBirdOptions& o, int64_t n);

// What a (query block, key block) cell is.
enum BigBirdKind : int { kBlockNone = 0, kBlockWindow = 1, kBlockGlobal = 2, kBlockRandom = 3 };

// The block graph: for every head and query block, the key blocks it attends to and why.
struct BigBirdBlocks {
  int64_t nb = 0, H = 0;
  struct Key {
    int64_t block;
    BigBirdKind kind;
  };
  std::vector<std::vector<Key>> rows;  // rows[h * nb + i]: key blocks of query block i, ascending by block
  std::vector<char> global_row;        // (nb): 1 = query block i is global (non-causal: a dense row over all keys)
  const std::vector<Key>& row(int64_t h, int64_t i) const { return rows[static_cast<size_t>(h * nb + i)]; }
};
BigBirdBlocks bigbird_blocks(const BigBirdOptions& o, int64_t n, int64_t H);

// The same as an int tensor (H, nb, nb) of BigBirdKind values (the rows of global blocks are all kBlockGlobal
// where they attend): for pictures and tests.
IntTensor bigbird_block_layout(const BigBirdOptions& o, int64_t n, int64_t H);

// The token positions whose rows are computed densely (non-causal global blocks; empty when causal).
std::vector<int64_t> bigbird_dense_rows(const BigBirdOptions& o, int64_t n);

// Key lists (1, H or 1, n, K): slot t·b + u holds token u of the row's t-th key block (ascending), -1 where the
// block is short (the last block), where the key is in the future (causal), or after the row's last block.
// Rows computed densely are all -1.
IntTensor bigbird_index(const BigBirdOptions& o, int64_t n, int64_t H);

// The 0/1 token-level pattern (B, H, n, n).
Tensor bigbird_pattern(const BigBirdOptions& o, int64_t B, int64_t H, int64_t n, const Tensor& key_padding_mask = Tensor());

// The kernel: q, k, v (B, H, n, d) -> (B, H, n, d). Non-global rows through sparse_pattern_attention, global rows as a
// small dense block.
Tensor bigbird_attention(const Tensor& q, const Tensor& k, const Tensor& v, const BigBirdOptions& o,
                         const Tensor& key_padding_mask = Tensor());

// What the kernel applied, for drawing and tests at small n.
struct BigBirdProbabilities {
  Tensor slots;  // (B, H, n, K): non-global rows in slot form (dense rows are 0 here)
  Tensor dense;  // (B, H, n, n): every row scattered into one matrix: out == dense @ v
};
BigBirdProbabilities bigbird_probabilities(const Tensor& q, const Tensor& k, const Tensor& v, const BigBirdOptions& o,
                                           const Tensor& key_padding_mask = Tensor());

// The layer: the standard projections (ProjectedAttention) around bigbird_attention, with its own random graph:
// a seed drawn from the layer's rng after w_q, w_k, w_v, w_o, fixed in training and evaluation. (Not a buffer:
// like the layer's sizes it is fixed when the model is built, and never changes.)
class BigBirdLayer : public ProjectedAttention {
 public:
  BigBirdLayer(const LayerConfig& cfg, core::Rng& rng);
  // bigbird_attention with this layer's options (its own random-block seed): (B, H, n, d)
  Tensor attend(const Tensor& x, const Tensor& q, const Tensor& k, const Tensor& v,
                const Tensor& key_padding_mask) override;
  // The matrix attend applies (its own random graph), read off attend: (B, H, n, n). Eval mode.
  Tensor attention_weights(const Tensor& x) override { return attend_matrix(x); }
  // One token at a time: a KV cache read through this layer's causal block pattern (attention/decode.h).
  std::unique_ptr<LayerDecoder> make_decoder(int64_t n) override;
  uint64_t random_seed() const { return options.seed; }
  // The pattern (1, H, n, n) this layer uses at length n: the same in training and evaluation.
  Tensor pattern(int64_t n) const;

  BigBirdOptions options;
};

}  // namespace attention
