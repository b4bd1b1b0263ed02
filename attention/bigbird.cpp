// attention/bigbird.cpp — BigBird's block graph (window, global and fixed random blocks per head), the key
// lists it induces, the kernel (sparse_pattern_attention for ordinary rows, a small dense block for global rows), its
// effective attention and pattern, the layer with its own random-block seed, and the registered scheme
// "bigbird".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, b = block size, nb = number of blocks,
//         w = window blocks, g = global blocks per end, r = random blocks, K = slots per query, R = dense rows.
#include "attention/bigbird.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/decode.h"
#include "attention/kernels/block_sparse.h"
#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_shape.h"

namespace attention {

using namespace core;

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Is key block kb global? Non-causal: the first g and the last g blocks; causal: the first g only.
bool is_global_block(const BigBirdOptions& o, int64_t nb, int64_t kb) {
  return kb < o.global_blocks || (!o.causal && kb >= nb - o.global_blocks);
}

void check_pad(const Tensor& pad, int64_t B, int64_t n) {
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({B, n}), "bigbird: key_padding_mask must be (B, n) = ", Shape({B, n}), ", got ",
             pad.shape());
}

void check_self_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  Scheme::check_qkv(q, k, v, "bigbird");
  AZ_CHECK(k.size(2) == q.size(2), "bigbird: blocks are cut from one sequence, so k and v need as many positions as q: q ",
           q.shape(), ", k ", k.shape());
}

// 1 where a key is padding: (B, 1, 1, n), broadcastable to (B, H, R, n).
Tensor padding_blocked(const Tensor& pad) {
  return reshape(1.0f - pad, {pad.size(0), 1, 1, pad.size(1)});
}

IntTensor positions_tensor(const std::vector<int64_t>& rows) {
  return IntTensor::from_vector({static_cast<int64_t>(rows.size())}, rows);
}

// The dense global rows: softmax(q_g kᵀ / √d, padding -> -inf) for the R positions in `rows`: (B, H, R, n).
Tensor global_row_probabilities(const Tensor& q, const Tensor& k, const std::vector<int64_t>& rows, const Tensor& pad) {
  const Tensor qg = index_select(q, 2, positions_tensor(rows));                            // (B, H, R, d)
  Tensor scores = matmul(qg, k, false, true) / std::sqrt(static_cast<float>(q.size(3)));  // (B, H, R, n)
  if (pad.defined()) scores = masked_fill(scores, padding_blocked(pad), kNegInf);
  return softmax(scores, -1);  // a row whose keys are all padding gives zeros
}
}  // namespace

// ---- options ----------------------------------------------------------------------------------------------
const ParamTable<BigBirdOptions>& bigbird_params() {
  using O = BigBirdOptions;
  static const auto table =
      ParamTable<O>("bigbird")
          .integer("block", &O::block, 1, kNoLimit,
                   "b: tokens per block (the last block may be shorter; b > n is one block of n)")
          .integer("window_blocks", &O::window_blocks, 1, kNoLimit,
                   "w (odd): the query's block and (w-1)/2 blocks on each side (causal: before it)")
          .integer("global_blocks", &O::global_blocks, 0, kNoLimit,
                   "g: global blocks at each end (causal: at the start only); they see and are seen by all")
          .integer("random_blocks", &O::random_blocks, 0, kNoLimit,
                   "r: random key blocks per query block, per head, drawn once from the seed (fixed)")
          .rule([](const std::string& scheme, const O& o) {
            AZ_CHECK(o.window_blocks % 2 == 1, scheme,
                     ": window_blocks must be odd (the own block and as many on each side; 3 = i-1, i, i+1), got ",
                     o.window_blocks);
          });
  return table;
}

BigBirdOptions bigbird_options(const Config& cfg) {
  BigBirdOptions o = bigbird_params().read(cfg.settings);
  o.causal = cfg.causal;
  o.seed = cfg.seed;
  return o;
}

int64_t bigbird_num_blocks(const BigBirdOptions& o, int64_t n) {
  AZ_CHECK(o.block >= 1, "bigbird: block must be >= 1, got ", o.block);
  AZ_CHECK(n >= 1, "bigbird: n must be >= 1, got ", n);
  return (std::min(n, o.block) + n - 1) / std::min(n, o.block);  // ceil(n / b); a block wider than n is one block of n
}

BigBirdOptions bigbird_fit(const BigBirdOptions& o, int64_t n) {
  BigBirdOptions fitted = o;
  fitted.block = std::max<int64_t>(1, std::min(o.block, n));  // b > n: the whole sequence is one block
  return fitted;
}

// ---- the block graph --------------------------------------------------------------------------------------
BigBirdBlocks bigbird_blocks(const BigBirdOptions& given, int64_t n, int64_t H) {
  const BigBirdOptions o = bigbird_fit(given, n);
  const int64_t nb = bigbird_num_blocks(o, n), half = (o.window_blocks - 1) / 2;
  AZ_CHECK(H >= 1, "bigbird: need at least one head, got H = ", H);
  BigBirdBlocks bb;
  bb.nb = nb;
  bb.H = H;
  bb.rows.resize(static_cast<size_t>(H * nb));
  bb.global_row.assign(static_cast<size_t>(nb), 0);
  for (int64_t i = 0; i < nb; ++i) bb.global_row[static_cast<size_t>(i)] = is_global_block(o, nb, i);

  Rng base(o.seed);
  std::vector<char> taken(static_cast<size_t>(nb));
  std::vector<int64_t> candidates;
  for (int64_t h = 0; h < H; ++h) {
    Rng rng = base.split();  // head h's generator: the h-th split, whatever H is
    for (int64_t i = 0; i < nb; ++i) {
      std::vector<BigBirdBlocks::Key>& row = bb.rows[static_cast<size_t>(h * nb + i)];
      if (bb.global_row[static_cast<size_t>(i)]) {  // a global query block attends to every (causal: earlier) block
        for (int64_t kb = 0; kb <= (o.causal ? i : nb - 1); ++kb) row.push_back({kb, kBlockGlobal});
        continue;
      }
      std::fill(taken.begin(), taken.end(), 0);
      // window: i-half .. i+half (causal: i-half .. i)
      const int64_t lo = std::max<int64_t>(0, i - half), hi = std::min(nb - 1, o.causal ? i : i + half);
      for (int64_t kb = lo; kb <= hi; ++kb) taken[static_cast<size_t>(kb)] = kBlockWindow;
      // global columns not already in the window
      for (int64_t kb = 0; kb < nb; ++kb)
        if (is_global_block(o, nb, kb) && !taken[static_cast<size_t>(kb)] && (!o.causal || kb <= i))
          taken[static_cast<size_t>(kb)] = kBlockGlobal;
      // random: r of the remaining blocks (causal: only blocks before the window), a partial Fisher-Yates shuffle
      candidates.clear();
      for (int64_t kb = 0; kb < (o.causal ? lo : nb); ++kb)
        if (!taken[static_cast<size_t>(kb)]) candidates.push_back(kb);
      const int64_t draw = std::min<int64_t>(o.random_blocks, static_cast<int64_t>(candidates.size()));
      for (int64_t t = 0; t < draw; ++t) {
        const int64_t s = rng.randint(t, static_cast<int64_t>(candidates.size()));
        std::swap(candidates[static_cast<size_t>(t)], candidates[static_cast<size_t>(s)]);
        taken[static_cast<size_t>(candidates[static_cast<size_t>(t)])] = kBlockRandom;
      }
      for (int64_t kb = 0; kb < nb; ++kb)
        if (taken[static_cast<size_t>(kb)]) row.push_back({kb, static_cast<BigBirdKind>(taken[static_cast<size_t>(kb)])});
    }
  }
  return bb;
}

IntTensor bigbird_block_layout(const BigBirdOptions& o, int64_t n, int64_t H) {
  const BigBirdBlocks bb = bigbird_blocks(o, n, H);
  IntTensor layout({H, bb.nb, bb.nb}, kBlockNone);  // (H, nb, nb)
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < bb.nb; ++i)
      for (const auto& key : bb.row(h, i)) layout.data[static_cast<size_t>((h * bb.nb + i) * bb.nb + key.block)] = key.kind;
  return layout;
}

std::vector<int64_t> bigbird_dense_rows(const BigBirdOptions& given, int64_t n) {
  const BigBirdOptions o = bigbird_fit(given, n);
  std::vector<int64_t> rows;
  if (o.causal) return rows;
  const int64_t nb = bigbird_num_blocks(o, n);
  for (int64_t kb = 0; kb < nb; ++kb)
    if (is_global_block(o, nb, kb))
      for (int64_t j = kb * o.block; j < std::min(n, (kb + 1) * o.block); ++j) rows.push_back(j);
  return rows;
}

IntTensor bigbird_index(const BigBirdOptions& given, int64_t n, int64_t H) {
  const BigBirdOptions o = bigbird_fit(given, n);
  const int64_t Hi = o.random_blocks > 0 ? H : 1;  // without random blocks every head has the same lists
  const BigBirdBlocks bb = bigbird_blocks(o, n, Hi);
  const int64_t b = o.block;
  auto dense_row = [&](int64_t qb) { return !o.causal && bb.global_row[static_cast<size_t>(qb)]; };
  size_t most = 1;
  for (int64_t h = 0; h < Hi; ++h)
    for (int64_t i = 0; i < bb.nb; ++i)
      if (!dense_row(i)) most = std::max(most, bb.row(h, i).size());
  const int64_t K = static_cast<int64_t>(most) * b;
  IntTensor index({1, Hi, n, K}, -1);  // (1, Hi, n, K)
  for (int64_t h = 0; h < Hi; ++h)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t qb = i / b;
      if (dense_row(qb)) continue;
      int64_t* slots = index.data.data() + (h * n + i) * K;
      const auto& keys = bb.row(h, qb);
      for (size_t t = 0; t < keys.size(); ++t)
        for (int64_t u = 0; u < b; ++u) {
          const int64_t j = keys[t].block * b + u;
          if (j < n && (!o.causal || j <= i)) slots[static_cast<int64_t>(t) * b + u] = j;
        }
    }
  return index;
}

Tensor bigbird_pattern(const BigBirdOptions& o, int64_t B, int64_t H, int64_t n, const Tensor& pad) {
  check_pad(pad, B, n);
  Tensor P = index_pattern(bigbird_index(o, n, H), B, H, n, pad);  // (B, H, n, n): ordinary rows
  float* p = P.data();
  for (int64_t row : bigbird_dense_rows(o, n))  // global rows see every key that is not padding
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t j = 0; j < n; ++j)
        p[(bh * n + row) * n + j] = pad.defined() && pad.data()[(bh / H) * n + j] == 0.0f ? 0.0f : 1.0f;
  return P;
}

// ---- kernel -----------------------------------------------------------------------------------------------
Tensor bigbird_attention(const Tensor& q, const Tensor& k, const Tensor& v, const BigBirdOptions& o, const Tensor& pad) {
  check_self_attention(q, k, v);
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3);
  check_pad(pad, B, n);

  // Ordinary rows: window + global + random blocks under one softmax, through the shared kernel.
  auto index = std::make_shared<const IntTensor>(bigbird_index(o, n, H));  // (1, Hi, n, K)
  IndexAttentionOptions io;
  io.who = "bigbird";  // a refusal names the scheme
  io.key_padding_mask = pad;
  Tensor out = sparse_pattern_attention(q, k, v, index, io);  // (B, H, n, d); rows of global blocks are 0
  const std::vector<int64_t> rows = bigbird_dense_rows(o, n);
  if (rows.empty()) return out;

  // Global rows: softmax(q_g kᵀ / √d) v over every key, a (B, H, R, n) block with R = tokens of global blocks.
  const int64_t R = static_cast<int64_t>(rows.size());
  const Tensor out_global = matmul(global_row_probabilities(q, k, rows, pad), v);  // (B, H, R, d)
  IntTensor where({B, H, R, d});
  for (int64_t e = 0; e < where.numel(); ++e) where.data[static_cast<size_t>(e)] = rows[static_cast<size_t>((e / d) % R)];
  return scatter_add(out, 2, where, out_global);  // those rows of `out` are exactly 0
}

BigBirdProbabilities bigbird_probabilities(const Tensor& q, const Tensor& k, const Tensor& v, const BigBirdOptions& o,
                                           const Tensor& pad) {
  NoGradGuard no_grad;
  check_self_attention(q, k, v);
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2);
  check_pad(pad, B, n);
  const IntTensor index = bigbird_index(o, n, H);
  IndexAttentionOptions io;
  io.who = "bigbird";  // a refusal names the scheme
  io.key_padding_mask = pad;
  BigBirdProbabilities r;
  r.slots = index_attention_forward(q, k, v, index, io).probs;  // (B, H, n, K)
  r.dense = index_to_dense(r.slots, index, n);                  // (B, H, n, n)
  const std::vector<int64_t> rows = bigbird_dense_rows(o, n);
  if (!rows.empty()) {
    const int64_t R = static_cast<int64_t>(rows.size());
    const Tensor g = global_row_probabilities(q, k, rows, pad);  // (B, H, R, n)
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t t = 0; t < R; ++t)
        std::copy(g.data() + (bh * R + t) * n, g.data() + (bh * R + t + 1) * n,
                  r.dense.data() + (bh * n + rows[static_cast<size_t>(t)]) * n);
  }
  return r;
}

// ---- the layer --------------------------------------------------------------------------------------------
BigBirdLayer::BigBirdLayer(const LayerConfig& cfg, core::Rng& rng)
    : ProjectedAttention(find_scheme("bigbird"), cfg, rng), options(bigbird_options(config)) {
  options.seed = rng.next_u64();  // this layer's own random graph, drawn once: fixed in training and evaluation
}

Tensor BigBirdLayer::attend(const Tensor&, const Tensor& q, const Tensor& k, const Tensor& v,
                            const Tensor& key_padding_mask) {
  return bigbird_attention(q, k, v, options, key_padding_mask);  // (B, H, n, d)
}

Tensor BigBirdLayer::pattern(int64_t n) const { return bigbird_pattern(options, 1, n_heads, n); }

namespace {
// BigBird one token at a time: a KV cache read through the causal block pattern (window, global and random
// blocks of these options, with their seed).
std::unique_ptr<Decoder> bigbird_decoder(const BigBirdOptions& o, int64_t n) {
  AZ_CHECK(o.causal, "bigbird decode: the options are not causal (decoding is causal attention)");
  return std::make_unique<IndexKvDecoder>("bigbird", n, [o, n](int64_t H) { return bigbird_index(o, n, H); },
                                          "window, global and random blocks");
}
}  // namespace

std::unique_ptr<LayerDecoder> BigBirdLayer::make_decoder(int64_t n) {
  AZ_CHECK(config.causal, "bigbird layer decode: the layer is not causal (decoding is causal attention)");
  return std::make_unique<ProjectedLayerDecoder>(*this, bigbird_decoder(options, n));  // the layer's own graph
}

// ---- the registered scheme --------------------------------------------------------------------------------
namespace {

SchemeInfo bigbird_info() {
  SchemeInfo i;
  i.name = "bigbird";
  i.summary =
      "BigBird: blocks of b tokens; each query block sees its window blocks, the global first/last blocks and r fixed "
      "random blocks per head under one softmax; global blocks see everything; O(n·b·(w+2g+r)·d)";
  i.paper = "Zaheer et al. 2020, Big Bird: Transformers for Longer Sequences (NeurIPS)";
  i.lecture = 9;
  i.use(bigbird_params());
  i.causal = true;
  i.has_pattern = true;
  i.families = {Family::FP, Family::M};
  i.exactness = Exactness::on_pattern;
  i.masked_softmax = true;
  i.time_growth = "n";
  i.memory_exponent = 1;
  i.idea = "window blocks + global blocks + random blocks";
  i.claim = {"Zaheer et al. 2020 (its NLP experiments): pretrained from a RoBERTa checkpoint with masked LM, "
              "BigBird improves long-document QA (HotpotQA, Natural Questions, TriviaQA, WikiHop) and summarisation",
             attention::ClaimTest::pretraining_helps};
  i.lra_paper = {"BigBird", 36.05, 74.87, 55.01, 64.02, 59.29, 40.83};
  // The default block=16 would make a query block see 7 blocks = 112 tokens: all of a mini-LRA ListOps sequence.
  i.lra_settings = {"block=8"};
  i.gallery_settings = {"block=8"};
  // block=4: at the tests' n = 37 and 64, 10 and 16 blocks, so a query block has several random blocks to draw
  i.test_settings = {{"block=4", "random_blocks=2"}, {"block=5", "window_blocks=1", "global_blocks=0"}};
  return i;
}

class BigBirdScheme : public Scheme {
 public:
  BigBirdScheme() : Scheme(bigbird_info()) {}
  std::unique_ptr<Decoder> make_decoder(const Config& cfg, int64_t n) const override {
    return bigbird_decoder(bigbird_options(cfg), n);
  }

  double flops(const Shape& q, const Config& cfg) const override {
    const BigBirdOptions o = bigbird_options(cfg);
    // the listed keys of the ordinary rows, plus the dense rows of the global blocks (n keys each)
    const double dense_rows = static_cast<double>(bigbird_dense_rows(o, q[2]).size()) * static_cast<double>(q[2]);
    return attention_flops(q, index_pairs_per_head(bigbird_index(o, q[2], q[1])) + dense_rows);
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return bigbird_attention(q, k, v, bigbird_options(cfg), cfg.key_padding_mask);
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return bigbird_probabilities(q, k, v, bigbird_options(cfg), cfg.key_padding_mask).dense;
  }
  Tensor pattern(const Shape& q_shape, const Config& cfg) const override {
    AZ_CHECK(q_shape.size() == 4, "bigbird: pattern needs a (B, H, n, d) shape, got ", q_shape);
    return bigbird_pattern(bigbird_options(cfg), q_shape[0], q_shape[1], q_shape[2], cfg.key_padding_mask);
  }
  Figure extra_figure(int64_t n, const Config& cfg) const override {
    const BigBirdOptions o = bigbird_options(cfg);
    const IntTensor layout = bigbird_block_layout(o, n, 1);  // (1, nb, nb): head 0
    const int64_t nb = layout.shape[1];
    Tensor m = Tensor::empty({nb, nb});
    for (int64_t e = 0; e < nb * nb; ++e) m.data()[e] = static_cast<float>(layout.data[static_cast<size_t>(e)]);
    return {m, "bigbird - block layout, head 0", "key block", "query block",
            "0 none, 1 window, 2 global, 3 random"};
  }
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& lc, core::Rng& rng) const override {
    return std::make_unique<BigBirdLayer>(lc, rng);
  }
};

Registrar registrar(std::make_unique<BigBirdScheme>());

}  // namespace

}  // namespace attention
