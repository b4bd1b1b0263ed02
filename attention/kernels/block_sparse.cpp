// attention/kernels/block_sparse.cpp — the layout of an index in tiles, and the tiled forward and backward over it.
//
// Legend: B = batch, H = heads, n = queries, m = keys, d = head size, K = slots per query; bq×bk is one tile;
// a "pair" is (query tile, key block) with its c visible-to-someone keys; br ≤ bq rows in the last tile.
// The tile arithmetic follows attention/flash.cpp line by line; the differences are the pair's key list
// (contiguous, or gathered into a buffer) and its mask.
#include "attention/kernels/block_sparse.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "attention/kernels/tiles.h"
#include "core/autograd.h"
#include "core/memory.h"
#include "core/parallel.h"

namespace attention {

using namespace core;
using core::detail::parallel_rows;

namespace {

using tiles::gemm;
using tiles::kNegInf;
using Buffer = std::vector<float, memory::CountingAllocator<float>>;  // counted like every tensor

// What one (slice, query tile) contributes to the layout, built independently and merged in order.
struct TileLayout {
  std::vector<BlockLayout::Pair> pairs;  // keys_begin / mask_begin relative to the vectors below
  std::vector<int32_t> keys;
  std::vector<uint8_t> masks;
};

TileLayout layout_of_tile(const IntTensor& index, int64_t slice, int64_t qt, int64_t n, int64_t m, int64_t bq,
                          int64_t bk, std::vector<int32_t>& pos) {
  const int64_t K = index.shape[3], i0 = qt * bq, br = std::min(bq, n - i0);
  const int64_t* rows = index.data.data() + (slice * n + i0) * K;  // (br, K)
  if (static_cast<int64_t>(pos.size()) < m) pos.assign(static_cast<size_t>(m), -1);
  // U = the keys any row of the tile lists, increasing; pos[j] = j's place in U while the tile is being built.
  std::vector<int32_t> U;
  for (int64_t t = 0; t < br * K; ++t) {
    const int64_t j = rows[t];
    if (j >= 0 && pos[static_cast<size_t>(j)] == -1) {
      pos[static_cast<size_t>(j)] = 0;
      U.push_back(static_cast<int32_t>(j));
    }
  }
  std::sort(U.begin(), U.end());
  for (size_t t = 0; t < U.size(); ++t) pos[static_cast<size_t>(U[t])] = static_cast<int32_t>(t);

  TileLayout out;
  out.keys = U;
  std::vector<int64_t> pair_of(U.size());  // which pair each key of U falls in
  for (size_t t = 0; t < U.size(); ++t) {
    const int64_t kb = U[t] / bk;
    if (out.pairs.empty() || out.pairs.back().key_block != kb) {
      BlockLayout::Pair p;
      p.query_tile = qt;
      p.key_block = kb;
      p.keys_begin = static_cast<int64_t>(t);
      out.pairs.push_back(p);
    }
    ++out.pairs.back().count;
    pair_of[t] = static_cast<int64_t>(out.pairs.size()) - 1;
  }
  // Masks: rows×count bytes per pair, 1 where the row lists the key.
  std::vector<int64_t> offset(out.pairs.size());
  int64_t total = 0;
  for (size_t p = 0; p < out.pairs.size(); ++p) offset[p] = total, total += br * out.pairs[p].count;
  std::vector<uint8_t> full(static_cast<size_t>(total), 0);
  for (int64_t r = 0; r < br; ++r)
    for (int64_t s = 0; s < K; ++s) {
      const int64_t j = rows[r * K + s];
      if (j < 0) continue;
      const int64_t t = pos[static_cast<size_t>(j)], p = pair_of[static_cast<size_t>(t)];
      full[static_cast<size_t>(offset[p] + r * out.pairs[p].count + (t - out.pairs[p].keys_begin))] = 1;
    }
  // Keep a pair's mask only when some row does not see some key of it.
  for (size_t p = 0; p < out.pairs.size(); ++p) {
    BlockLayout::Pair& pr = out.pairs[p];
    pr.contiguous = U[static_cast<size_t>(pr.keys_begin + pr.count - 1)] - U[static_cast<size_t>(pr.keys_begin)] + 1 ==
                    pr.count;
    const auto first = full.begin() + offset[p], last = first + br * pr.count;
    if (std::find(first, last, uint8_t{0}) != last) {
      pr.mask_begin = static_cast<int64_t>(out.masks.size());
      out.masks.insert(out.masks.end(), first, last);
    }
  }
  for (int32_t j : U) pos[static_cast<size_t>(j)] = -1;
  return out;
}

}  // namespace

double BlockLayout::computed_entries() const {
  double total = 0;
  for (const Pair& p : pairs) total += static_cast<double>(std::min(bq, n - p.query_tile * bq)) * p.count;
  return total;
}

BlockLayout make_block_layout(const IntTensor& index, int64_t m, const BlockSparseOptions& o) {
  AZ_CHECK(o.block_q >= 1 && o.block_k >= 1, "block_sparse: block sizes must be >= 1, got block_q=", o.block_q,
           " block_k=", o.block_k);
  AZ_CHECK(index.dim() == 4, "block_sparse: the key index must be (B or 1, H or 1, n, K), got ", index.shape);
  BlockLayout L;
  L.n = index.shape[2];
  L.m = m;
  L.bq = o.block_q;
  L.bk = o.block_k;
  L.slices = index.shape[0] * index.shape[1];
  L.q_tiles = (L.n + L.bq - 1) / L.bq;
  L.k_blocks = (m + L.bk - 1) / L.bk;
  const int64_t tasks = L.slices * L.q_tiles;
  std::vector<TileLayout> tiles(static_cast<size_t>(tasks));
  parallel_rows(tasks, L.bq * index.shape[3] * 8, [&](int64_t t) {
    thread_local std::vector<int32_t> pos;  // -1 everywhere between tiles
    tiles[static_cast<size_t>(t)] = layout_of_tile(index, t / L.q_tiles, t % L.q_tiles, L.n, m, L.bq, L.bk, pos);
  });
  // Merge in (slice, tile) order, then bucket the pairs by (slice, key block) for the backward's pass over keys.
  L.by_query.assign(static_cast<size_t>(tasks + 1), 0);
  std::vector<int64_t> slice_of;
  for (int64_t t = 0; t < tasks; ++t) {
    TileLayout& tl = tiles[static_cast<size_t>(t)];
    const int64_t key_base = static_cast<int64_t>(L.keys.size()), mask_base = static_cast<int64_t>(L.masks.size());
    for (BlockLayout::Pair p : tl.pairs) {
      p.keys_begin += key_base;
      if (p.mask_begin >= 0) p.mask_begin += mask_base;
      L.pairs.push_back(p);
      slice_of.push_back(t / L.q_tiles);
    }
    L.keys.insert(L.keys.end(), tl.keys.begin(), tl.keys.end());
    L.masks.insert(L.masks.end(), tl.masks.begin(), tl.masks.end());
    L.by_query[static_cast<size_t>(t + 1)] = static_cast<int64_t>(L.pairs.size());
    tl = TileLayout();
  }
  L.by_key.assign(static_cast<size_t>(L.slices * L.k_blocks + 1), 0);
  for (size_t p = 0; p < L.pairs.size(); ++p) ++L.by_key[static_cast<size_t>(slice_of[p] * L.k_blocks + L.pairs[p].key_block + 1)];
  for (size_t b = 1; b < L.by_key.size(); ++b) L.by_key[b] += L.by_key[b - 1];
  L.key_pairs.resize(L.pairs.size());
  std::vector<int64_t> fill(L.by_key.begin(), L.by_key.end() - 1);
  for (size_t p = 0; p < L.pairs.size(); ++p)
    L.key_pairs[static_cast<size_t>(fill[static_cast<size_t>(slice_of[p] * L.k_blocks + L.pairs[p].key_block)]++)] =
        static_cast<int64_t>(p);
  return L;
}

namespace {

struct Dims {
  int64_t B, H, n, m, d, Bi, Hi;
  int64_t slice(int64_t b, int64_t h) const { return (Bi == 1 ? 0 : b) * Hi + (Hi == 1 ? 0 : h); }
};

// Scratch of one task: a score tile, a probability-gradient tile, gathered keys/values, gradient accumulators.
struct Scratch {
  Scratch(int64_t bq, int64_t bk, int64_t d)
      : S(static_cast<size_t>(bq * bk)), dS(static_cast<size_t>(bq * bk)), K(static_cast<size_t>(bk * d)),
        V(static_cast<size_t>(bk * d)), dK(static_cast<size_t>(bk * d)), dV(static_cast<size_t>(bk * d)),
        tmp(static_cast<size_t>(bk * d)) {}
  Buffer S, dS, K, V, dK, dV, tmp;
};

// Everything a tile step reads: the inputs, the layout, and (backward) the saved and upstream tensors.
struct Tiles {
  Dims D;
  float scale;
  const BlockLayout* L;
  const float *q, *k, *v, *pad;
  const float *O = nullptr, *dO = nullptr, *lse = nullptr, *Drow = nullptr;

  int64_t rows_of(const BlockLayout::Pair& p) const { return std::min(L->bq, D.n - p.query_tile * L->bq); }

  // The pair's keys and values, (c, d) row-major: in place when contiguous, else gathered into w.K, w.V.
  void keys_values(int64_t bh, const BlockLayout::Pair& p, Scratch& w, const float*& K, const float*& V) const {
    const int32_t* keys = L->keys.data() + p.keys_begin;
    if (p.contiguous) {
      K = k + (bh * D.m + keys[0]) * D.d;
      V = v + (bh * D.m + keys[0]) * D.d;
      return;
    }
    for (int64_t c = 0; c < p.count; ++c) {
      std::memcpy(w.K.data() + c * D.d, k + (bh * D.m + keys[c]) * D.d, static_cast<size_t>(D.d) * sizeof(float));
      std::memcpy(w.V.data() + c * D.d, v + (bh * D.m + keys[c]) * D.d, static_cast<size_t>(D.d) * sizeof(float));
    }
    K = w.K.data();
    V = w.V.data();
  }

  // S (br, c) = Q Kᵀ·scale with -inf where the row does not list the key or the key is padding.
  void scores(int64_t bh, const BlockLayout::Pair& p, const float* K, float* S) const {
    const int64_t br = rows_of(p), c = p.count, b = bh / D.H;
    gemm(false, true, br, c, D.d, scale, q + (bh * D.n + p.query_tile * L->bq) * D.d, D.d, K, D.d, 0.0f, S, c);
    if (p.mask_begin >= 0) {
      const uint8_t* mask = L->masks.data() + p.mask_begin;
      for (int64_t e = 0; e < br * c; ++e)
        if (!mask[e]) S[e] = kNegInf;
    }
    if (pad) {
      const int32_t* keys = L->keys.data() + p.keys_begin;
      for (int64_t col = 0; col < c; ++col)
        if (pad[b * D.m + keys[col]] == 0.0f)
          for (int64_t r = 0; r < br; ++r) S[r * c + col] = kNegInf;
    }
  }

  // Forward of query tile qt of head (b, h): flash's online softmax over the tile's pairs.
  // Returns false when a row overflowed (tiles::finish_rows): the caller refuses the input.
  bool forward_tile(int64_t b, int64_t h, int64_t qt, float* out, float* lse_out) const {
    const int64_t bh = b * D.H + h, sl = D.slice(b, h), i0 = qt * L->bq, br = std::min(L->bq, D.n - i0);
    Scratch w(L->bq, L->bk, D.d);
    Buffer acc(static_cast<size_t>(br * D.d), 0.0f);  // unnormalised output o (br, d)
    Buffer row_max(static_cast<size_t>(br), kNegInf), row_sum(static_cast<size_t>(br), 0.0f);
    const int64_t t = sl * L->q_tiles + qt;
    for (int64_t pi = L->by_query[static_cast<size_t>(t)]; pi < L->by_query[static_cast<size_t>(t + 1)]; ++pi) {
      const BlockLayout::Pair& p = L->pairs[static_cast<size_t>(pi)];
      const int64_t c = p.count;
      const float *K, *V;
      keys_values(bh, p, w, K, V);
      float* S = w.S.data();
      scores(bh, p, K, S);
      tiles::online_softmax_step(S, br, c, row_max.data(), row_sum.data(), acc.data(), D.d);
      gemm(false, false, br, D.d, c, 1.0f, S, c, V, D.d, 1.0f, acc.data(), D.d);  // o += P V  (br, d)
    }
    return tiles::finish_rows(acc.data(), row_max.data(), row_sum.data(), br, D.d, out + (bh * D.n + i0) * D.d,
                              lse_out + bh * D.n + i0);
  }

  // Backward of one pair: P = e^(S − L) into w.S and dS = P ∘ (dO Vᵀ − D) into w.dS, both (br, c).
  void probabilities_and_dS(int64_t bh, const BlockLayout::Pair& p, const float* K, const float* V, Scratch& w) const {
    const int64_t br = rows_of(p), c = p.count, i0 = p.query_tile * L->bq;
    scores(bh, p, K, w.S.data());
    gemm(false, true, br, c, D.d, 1.0f, dO + (bh * D.n + i0) * D.d, D.d, V, D.d, 0.0f, w.dS.data(), c);  // dP
    tiles::probabilities_and_dS(w.S.data(), w.dS.data(), br, c, lse + bh * D.n + i0, Drow + bh * D.n + i0);
  }

  // Key block kb of head (b, h): dK, dV of its rows over every pair holding its keys; dQ too when dq != null.
  void key_block(int64_t b, int64_t h, int64_t kb, Scratch& w, float* dq, float* dk, float* dv) const {
    const int64_t bh = b * D.H + h, sl = D.slice(b, h), j0 = kb * L->bk, bc = std::min(L->bk, D.m - j0);
    std::fill(w.dK.begin(), w.dK.end(), 0.0f);
    std::fill(w.dV.begin(), w.dV.end(), 0.0f);
    const int64_t t = sl * L->k_blocks + kb;
    for (int64_t x = L->by_key[static_cast<size_t>(t)]; x < L->by_key[static_cast<size_t>(t + 1)]; ++x) {
      const BlockLayout::Pair& p = L->pairs[static_cast<size_t>(L->key_pairs[static_cast<size_t>(x)])];
      const int64_t br = rows_of(p), c = p.count, i0 = p.query_tile * L->bq;
      const int32_t* keys = L->keys.data() + p.keys_begin;
      const float *K, *V;
      keys_values(bh, p, w, K, V);
      probabilities_and_dS(bh, p, K, V, w);
      const float* Q = q + (bh * D.n + i0) * D.d;
      const float* G = dO + (bh * D.n + i0) * D.d;
      // forward: out = P V => dV += Pᵀ dO;  S = Q Kᵀ·scale => dK += dSᵀ Q·scale  (c, d)
      if (p.contiguous) {
        const int64_t at = (keys[0] - j0) * D.d;
        gemm(true, false, c, D.d, br, 1.0f, w.S.data(), c, G, D.d, 1.0f, w.dV.data() + at, D.d);
        gemm(true, false, c, D.d, br, scale, w.dS.data(), c, Q, D.d, 1.0f, w.dK.data() + at, D.d);
      } else {
        gemm(true, false, c, D.d, br, 1.0f, w.S.data(), c, G, D.d, 0.0f, w.tmp.data(), D.d);
        for (int64_t e = 0; e < c; ++e) {
          float* row = w.dV.data() + (keys[e] - j0) * D.d;
          const float* add = w.tmp.data() + e * D.d;
          for (int64_t f = 0; f < D.d; ++f) row[f] += add[f];
        }
        gemm(true, false, c, D.d, br, scale, w.dS.data(), c, Q, D.d, 0.0f, w.tmp.data(), D.d);
        for (int64_t e = 0; e < c; ++e) {
          float* row = w.dK.data() + (keys[e] - j0) * D.d;
          const float* add = w.tmp.data() + e * D.d;
          for (int64_t f = 0; f < D.d; ++f) row[f] += add[f];
        }
      }
      if (dq) gemm(false, false, br, D.d, c, scale, w.dS.data(), c, K, D.d, 1.0f, dq + (bh * D.n + i0) * D.d, D.d);
    }
    std::memcpy(dk + (bh * D.m + j0) * D.d, w.dK.data(), static_cast<size_t>(bc * D.d) * sizeof(float));
    std::memcpy(dv + (bh * D.m + j0) * D.d, w.dV.data(), static_cast<size_t>(bc * D.d) * sizeof(float));
  }

  // Query tile qt of head (b, h): dQ += dS K·scale over its pairs.
  void query_tile_dq(int64_t b, int64_t h, int64_t qt, Scratch& w, float* dq) const {
    const int64_t bh = b * D.H + h, t = D.slice(b, h) * L->q_tiles + qt;
    for (int64_t pi = L->by_query[static_cast<size_t>(t)]; pi < L->by_query[static_cast<size_t>(t + 1)]; ++pi) {
      const BlockLayout::Pair& p = L->pairs[static_cast<size_t>(pi)];
      const float *K, *V;
      keys_values(bh, p, w, K, V);
      probabilities_and_dS(bh, p, K, V, w);
      gemm(false, false, rows_of(p), D.d, p.count, scale, w.dS.data(), p.count, K, D.d, 1.0f,
           dq + (bh * D.n + qt * L->bq) * D.d, D.d);
    }
  }
};

}  // namespace

namespace {
void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const SharedIndex& index,
                  const IndexAttentionOptions& o, const std::string& op) {
  AZ_CHECK(index != nullptr, op, ": no key index given");
  Scheme::check_qkv(q, k, v, op);
  check_index(*index, q.size(0), q.size(1), q.size(2), k.size(2), op);
  const Tensor& pad = o.key_padding_mask;
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({q.size(0), k.size(2)}), op, ": key_padding_mask must be (B, m) = ",
             Shape({q.size(0), k.size(2)}), ", got ", pad.shape());
}
}  // namespace

Tensor block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SharedIndex& index,
                              const IndexAttentionOptions& o, const BlockSparseOptions& blocks) {
  check_inputs(q, k, v, index, o, "block_sparse_attention");
  auto layout = std::make_shared<const BlockLayout>(make_block_layout(*index, k.size(2), blocks));
  return block_sparse_attention(q, k, v, index, layout, o);
}

namespace {
// Σ over query tiles of rows × |keys the tile's rows list|: BlockLayout::computed_entries() without building
// the layout (no masks), so that trying a tile size costs O(n·K).
double tile_entries(const IntTensor& index, int64_t m, int64_t bq) {
  const int64_t n = index.shape[2], K = index.shape[3], q_tiles = (n + bq - 1) / bq;
  const int64_t tasks = index.shape[0] * index.shape[1] * q_tiles;
  std::vector<double> per_task(static_cast<size_t>(tasks), 0.0);
  parallel_rows(tasks, bq * K * 4, [&](int64_t t) {
    thread_local std::vector<int32_t> seen;  // -1 everywhere between tiles
    if (static_cast<int64_t>(seen.size()) < m) seen.assign(static_cast<size_t>(m), -1);
    const int64_t slice = t / q_tiles, i0 = (t % q_tiles) * bq, br = std::min(bq, n - i0);
    const int64_t* rows = index.data.data() + (slice * n + i0) * K;
    std::vector<int32_t> distinct;
    for (int64_t e = 0; e < br * K; ++e)
      if (rows[e] >= 0 && seen[static_cast<size_t>(rows[e])] == -1) {
        seen[static_cast<size_t>(rows[e])] = 0;
        distinct.push_back(static_cast<int32_t>(rows[e]));
      }
    for (int32_t j : distinct) seen[static_cast<size_t>(j)] = -1;
    per_task[static_cast<size_t>(t)] = static_cast<double>(br) * static_cast<double>(distinct.size());
  });
  double total = 0;
  for (double x : per_task) total += x;
  return total;
}
}  // namespace

SparseKernelChoice choose_sparse_kernel(const IntTensor& index, int64_t m) {
  double listed = 0;
  for (int64_t j : index.data) listed += j >= 0;
  SparseKernelChoice c;
  for (const auto& [block, max_waste] : {std::pair<int64_t, double>{64, 1.25}, {32, 2.0}}) {
    c.waste = listed > 0 ? tile_entries(index, m, block) / listed : 1.0;
    if (c.waste <= max_waste) {
      c.tiled = true;
      c.block = block;
      c.layout = std::make_shared<const BlockLayout>(make_block_layout(index, m, {block, block}));
      return c;
    }
  }
  return c;
}

Tensor sparse_pattern_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SharedIndex& index,
                                const IndexAttentionOptions& o) {
  check_inputs(q, k, v, index, o, "sparse_pattern_attention");
  const SparseKernelChoice c = choose_sparse_kernel(*index, k.size(2));
  return c.tiled ? block_sparse_attention(q, k, v, index, c.layout, o) : index_attention(q, k, v, index, o);
}

Tensor block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SharedIndex& index,
                              std::shared_ptr<const BlockLayout> layout, const IndexAttentionOptions& o) {
  const std::string op = "block_sparse_attention";
  AZ_CHECK(layout != nullptr && index != nullptr, op, ": no layout or no index given");
  AZ_CHECK(layout->n == q.size(2) && layout->m == k.size(2) && layout->slices == index->shape[0] * index->shape[1],
           op, ": the layout (n = ", layout->n, ", m = ", layout->m, ", ", layout->slices,
           " slices) was not built for this index and q ", q.shape(), ", k ", k.shape());
  const Tensor& pad = o.key_padding_mask;
  const Dims D{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), index->shape[0], index->shape[1]};
  const float scale = o.scale != 0.0f ? o.scale : 1.0f / std::sqrt(static_cast<float>(D.d));

  Tensor out = Tensor::empty(q.shape());        // (B, H, n, d)
  Tensor lse = Tensor::empty({D.B, D.H, D.n});  // log-sum-exp per row; -inf for a row with no usable key
  const Tiles fwd{D, scale, layout.get(), q.data(), k.data(), v.data(), pad.defined() ? pad.data() : nullptr};
  const int64_t q_tiles = layout->q_tiles;
  std::vector<char> bad(static_cast<size_t>(D.B * D.H * q_tiles), 0);  // tasks with a non-finite row
  parallel_rows(D.B * D.H * q_tiles, layout->bq * D.d * 64, [&](int64_t task) {
    const int64_t bh = task / q_tiles;
    if (!fwd.forward_tile(bh / D.H, bh % D.H, task % q_tiles, out.data(), lse.data())) bad[task] = 1;
  });
  for (int64_t task = 0; task < static_cast<int64_t>(bad.size()); ++task)  // outside the parallel loop
    AZ_CHECK(!bad[task], o.who ? o.who : op.c_str(),
             ": a score, the softmax normaliser or the output overflowed float32 or is not finite (head ",
             task / q_tiles, ", query tile ", task % q_tiles, "): refusing rather than writing zeros");

  std::vector<Tensor> saved = {lse};
  if (pad.defined()) saved.push_back(pad);
  return record(
      out, "block_sparse_attention", {q, k, v},
      [D, scale, layout](BackwardContext& c) {
        const BlockLayout& L = *layout;
        Tiles t{D, scale, &L, c.inputs[0].data(), c.inputs[1].data(), c.inputs[2].data(),
                c.saved.size() > 1 ? c.saved[1].data() : nullptr};
        Tensor Drow = Tensor::empty({D.B, D.H, D.n});  // Dᵢ = Σ_e dOᵢe Oᵢe
        t.O = c.out.data();
        t.dO = c.grad_out.data();
        t.lse = c.saved[0].data();
        t.Drow = Drow.data();
        parallel_rows(D.B * D.H * D.n, D.d, [&](int64_t row) {
          double acc = 0.0;
          for (int64_t e = 0; e < D.d; ++e) acc += static_cast<double>(t.O[row * D.d + e]) * t.dO[row * D.d + e];
          Drow.data()[row] = static_cast<float>(acc);
        });
        Tensor dq = Tensor::zeros(c.inputs[0].shape()), dk = Tensor::zeros(c.inputs[1].shape()),
               dv = Tensor::zeros(c.inputs[2].shape());
        const int64_t heads = D.B * D.H;
        if (heads >= omp_get_max_threads()) {
          // Enough heads for every core: one task per (b, h) walks its key blocks and accumulates dQ itself.
          parallel_rows(heads, D.n * D.d * 64, [&](int64_t bh) {
            Scratch w(L.bq, L.bk, D.d);
            for (int64_t kb = 0; kb < L.k_blocks; ++kb)
              t.key_block(bh / D.H, bh % D.H, kb, w, dq.data(), dk.data(), dv.data());
          });
        } else {
          // Few heads: pass 1 per key block (dK, dV), pass 2 per query tile (dQ), recomputing the tiles.
          parallel_rows(heads * L.k_blocks, L.bk * D.d * 64, [&](int64_t task) {
            Scratch w(L.bq, L.bk, D.d);
            const int64_t bh = task / L.k_blocks;
            t.key_block(bh / D.H, bh % D.H, task % L.k_blocks, w, nullptr, dk.data(), dv.data());
          });
          parallel_rows(heads * L.q_tiles, L.bq * D.d * 64, [&](int64_t task) {
            Scratch w(L.bq, L.bk, D.d);
            const int64_t bh = task / L.q_tiles;
            t.query_tile_dq(bh / D.H, bh % D.H, task % L.q_tiles, w, dq.data());
          });
        }
        c.add_grad(0, dq);
        c.add_grad(1, dk);
        c.add_grad(2, dv);
      },
      saved);
}

}  // namespace attention
