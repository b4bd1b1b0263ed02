// attention/flash.cpp — tiled exact attention with the online softmax, and its recomputing backward.
//
// Legend: B = batch, H = heads, n = queries, m = keys, d = head size; br×bc is one tile (query rows × key rows).
// Every tile product goes through cblas_sgemm on row-major slices of q, k, v and of copies transposed once per
// call (O(n·d) each): the products are then all plain or left-transposed, which OpenBLAS runs through its
// small-matrix kernel; with a transposed right factor it packed both operands and ran ~1.3× slower on 64×64 tiles.
// The forward keeps its score tile by key, Sᵀ = K Qᵀ (bc, br), so that the online softmax runs along the
// queries (contiguous) without a horizontal reduction per row. The backward recomputes the tiles in the same
// layout with the same sgemm calls (score_tile), so that its scores are the forward's bit for bit, and keeps the
// forward's running max m and normaliser l per row apart: P = e^(S − m) / l is then exactly the forward's P at
// any scale (see key_tile_cols and tiles::probabilities_and_dS_by_key for what went wrong otherwise).
#include "attention/flash.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "attention/decode.h"
#include "attention/dense.h"
#include "attention/kernels/tiles.h"
#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_shape.h"
#include "core/memory.h"
#include "core/parallel.h"

namespace attention {

using namespace core;

namespace {

using tiles::gemm;
using tiles::kNegInf;

struct Dims {
  int64_t B, H, n, m, d;
};

// Sets St[c][r] = -inf where query i0+r may not see key j0+c (the future, when causal; padding keys), on a
// tile stored by key: St (bc, br). Most tiles need nothing: no padding, and (causal) entirely on or below the
// diagonal.
void mask_tile_by_key(float* St, int64_t bc, int64_t br, int64_t i0, int64_t j0, bool causal, const float* pad_row) {
  const bool crosses_diagonal = causal && j0 + bc - 1 > i0;
  if (!pad_row && !crosses_diagonal) return;
  for (int64_t c = 0; c < bc; ++c) {
    float* row = St + c * br;
    if (pad_row && pad_row[j0 + c] == 0.0f) {
      std::fill(row, row + br, kNegInf);
      continue;
    }
    if (crosses_diagonal)  // key j0+c is in the future of queries i < j0+c, i.e. r < j0 + c − i0
      std::fill(row, row + std::clamp<int64_t>(j0 + c - i0, 0, br), kNegInf);
  }
}

// The last key (exclusive) that query rows [i0, i0+br) may look at.
int64_t key_end(int64_t i0, int64_t br, int64_t m, bool causal) { return causal ? std::min(m, i0 + br) : m; }

// Key tiles are always [j0, j0 + bc) with j0 a multiple of bk and bc = min(bk, m − j0) — in the forward, in both
// passes of the backward, causal or not (a causal tile that crosses the diagonal is masked, not cut short). So
// every score tile the backward recomputes is the very same sgemm call (same operands, same sizes, same strides)
// as in the forward, and gives the same bits: at large scores a different product order (Q Kᵀ against K Qᵀ) or
// tile width rounds S differently by a few ulps of |S| — at |S| = 1e6 that is ~0.1 — and e^(S − m) then exceeds 1.
int64_t key_tile_cols(int64_t j0, int64_t bk, int64_t m) { return std::min(bk, m - j0); }

// Sᵀ = K Qᵀ/√d for query rows [i0, i0+br) and keys [j0, j0+bc) of head bh, by key: (bc, br), masked. The one
// place that computes a score tile, for the forward and the backward alike.
void score_tile(const Dims& D, float scale, bool causal, const float* k, const float* qt, const float* pad,
                int64_t bh, int64_t i0, int64_t br, int64_t j0, int64_t bc, float* St) {
  const float* K = k + (bh * D.m + j0) * D.d;  // (bc, d)
  const float* Qt = qt + bh * D.d * D.n + i0;  // Qᵀ (d, br), row stride n
  gemm(false, false, bc, br, D.d, scale, K, D.d, Qt, D.n, 0.0f, St, br);
  mask_tile_by_key(St, bc, br, i0, j0, causal, pad ? pad + (bh / D.H) * D.m : nullptr);
}

// Per-task buffers of the backward: one tile of probabilities and of their gradients (by key), one tile of dK and
// dV, 2·br floats of work. Counted by core/memory like every tensor, so the lesson's memory table includes them.
struct TileScratch {
  TileScratch(int64_t bq, int64_t bk, int64_t d)
      : P(static_cast<size_t>(bq * bk)), dP(static_cast<size_t>(bq * bk)), dK(static_cast<size_t>(bk * d)),
        dV(static_cast<size_t>(bk * d)), work(static_cast<size_t>(2 * bq)) {}
  std::vector<float, memory::CountingAllocator<float>> P, dP, dK, dV, work;
};

// The backward's tile step: recompute Pᵀ = e^(Sᵀ − m) / l for (query tile, key tile), then the gradient products.
// Everything by key (bc, br), like the forward: the products are then plain or left-transposed sgemms.
struct BackwardTiles {
  Dims D;
  float scale;
  int64_t bq, bk;
  bool causal;
  const float *q, *k, *v, *O, *dO, *row_max, *row_sum, *pad;
  const float *qt, *dOt;  // qᵀ, dOᵀ per head: (B·H, d, n)

  // Pᵀ and dSᵀ (bc, br) for query rows [i0, i0+br) and keys [j0, j0+bc) of head bh.
  void probabilities_and_dS(int64_t bh, int64_t i0, int64_t br, int64_t j0, int64_t bc, const float* Drow,
                            TileScratch& w) const {
    score_tile(D, scale, causal, k, qt, pad, bh, i0, br, j0, bc, w.P.data());  // Sᵀ, bit for bit the forward's
    const float* V = v + (bh * D.m + j0) * D.d;      // (bc, d)
    const float* Gt = dOt + bh * D.d * D.n + i0;     // dOᵀ (d, br), row stride n
    // dPᵀ = V dOᵀ (bc, br);  P = e^(S − m) / l;  forward: P = softmax(S)  =>  dS = P ∘ (dP − D)
    gemm(false, false, bc, br, D.d, 1.0f, V, D.d, Gt, D.n, 0.0f, w.dP.data(), br);
    tiles::probabilities_and_dS_by_key(w.P.data(), w.dP.data(), bc, br, row_max + bh * D.n + i0,
                                       row_sum + bh * D.n + i0, Drow + bh * D.n + i0, w.work.data());
  }

  // Key tile kb of head bh: dK, dV of its rows (written), and dQ += dS K/√d for every query tile if dq != null.
  void key_tile(int64_t bh, int64_t kb, const float* Drow, TileScratch& w, float* dq, float* dk, float* dv) const {
    const int64_t j0 = kb * bk, bc = key_tile_cols(j0, bk, D.m);
    const float* K = k + (bh * D.m + j0) * D.d;
    std::fill(w.dK.begin(), w.dK.end(), 0.0f);
    std::fill(w.dV.begin(), w.dV.end(), 0.0f);
    // causal: only the query tiles whose forward looked at this key tile (j0 < i0 + br)
    for (int64_t i0 = causal ? (j0 / bq) * bq : 0; i0 < D.n; i0 += bq) {
      const int64_t br = std::min(bq, D.n - i0);
      if (causal && j0 >= key_end(i0, br, D.m, true)) continue;
      probabilities_and_dS(bh, i0, br, j0, bc, Drow, w);
      const float* Q = q + (bh * D.n + i0) * D.d;
      const float* G = dO + (bh * D.n + i0) * D.d;
      // forward: out = P V  =>  dV += Pᵀ dO  (bc, br) @ (br, d)
      gemm(false, false, bc, D.d, br, 1.0f, w.P.data(), br, G, D.d, 1.0f, w.dV.data(), D.d);
      // forward: S = Q Kᵀ/√d  =>  dK += dSᵀ Q/√d  (bc, br) @ (br, d),  dQ += dS K/√d  (br, bc) @ (bc, d)
      gemm(false, false, bc, D.d, br, scale, w.dP.data(), br, Q, D.d, 1.0f, w.dK.data(), D.d);
      if (dq) gemm(true, false, br, D.d, bc, scale, w.dP.data(), br, K, D.d, 1.0f, dq + (bh * D.n + i0) * D.d, D.d);
    }
    std::memcpy(dk + (bh * D.m + j0) * D.d, w.dK.data(), static_cast<size_t>(bc * D.d) * sizeof(float));
    std::memcpy(dv + (bh * D.m + j0) * D.d, w.dV.data(), static_cast<size_t>(bc * D.d) * sizeof(float));
  }

  // Query tile qb of head bh: dQ of its rows, over every key tile it can see (the forward's tiles).
  void query_tile_dq(int64_t bh, int64_t qb, const float* Drow, TileScratch& w, float* dq) const {
    const int64_t i0 = qb * bq, br = std::min(bq, D.n - i0);
    const int64_t j_end = key_end(i0, br, D.m, causal);
    for (int64_t j0 = 0; j0 < j_end; j0 += bk) {
      const int64_t bc = key_tile_cols(j0, bk, D.m);
      probabilities_and_dS(bh, i0, br, j0, bc, Drow, w);
      const float* K = k + (bh * D.m + j0) * D.d;
      gemm(true, false, br, D.d, bc, scale, w.dP.data(), br, K, D.d, 1.0f, dq + (bh * D.n + i0) * D.d, D.d);
    }
  }
};

}  // namespace

Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, const FlashOptions& opt) {
  Scheme::check_qkv(q, k, v, "flash");
  AZ_CHECK(opt.block_q >= 1 && opt.block_k >= 1, "flash: block sizes must be >= 1, got block_q=", opt.block_q,
           " block_k=", opt.block_k);
  const Dims D{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3)};
  const Tensor& pad = opt.key_padding_mask;
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({D.B, D.m}), "flash: key_padding_mask must be (B, m) = ", Shape({D.B, D.m}),
             ", got ", pad.shape());
  const float scale = 1.0f / std::sqrt(static_cast<float>(D.d));
  // A tile larger than the sequence is the whole sequence: clamp (memory stays O(n·d), whatever the setting).
  const int64_t bq = std::min(opt.block_q, std::max<int64_t>(D.n, 1)), bk = std::min(opt.block_k, std::max<int64_t>(D.m, 1));
  const int64_t q_blocks = (D.n + bq - 1) / bq;
  const bool causal = opt.causal;

  Tensor out = Tensor::empty(q.shape());            // (B, H, n, d)
  Tensor row_max = Tensor::empty({D.B, D.H, D.n});  // m per query row; -inf for a fully masked row
  Tensor row_sum = Tensor::empty({D.B, D.H, D.n});  // l per query row (kept apart from m: see tiles.h)
  const float *pk = k.data(), *pv = v.data();
  const float* ppad = pad.defined() ? pad.data() : nullptr;
  float *po = out.data(), *pm = row_max.data(), *pl = row_sum.data();
  const Tensor qt = transpose(q.detach(), 2, 3);  // qᵀ (B, H, d, n), freed at the end of the forward
  const float* pqt = qt.data();
  std::vector<char> bad(static_cast<size_t>(D.B * D.H * q_blocks), 0);  // tasks with a non-finite row

  // One task = one (b, h, query block): tasks never share output rows.
  detail::parallel_rows(D.B * D.H * q_blocks, bq * D.m * D.d, [&](int64_t task) {
    const int64_t bh = task / q_blocks, i0 = (task % q_blocks) * bq;
    const int64_t br = std::min(bq, D.n - i0);
    using Buffer = std::vector<float, memory::CountingAllocator<float>>;  // counted like every tensor
    Buffer St(static_cast<size_t>(bk * br));         // scores, then probabilities of one tile, by key (bc, br)
    Buffer work(static_cast<size_t>(3 * br));
    Buffer acc(static_cast<size_t>(br * D.d), 0.0f);  // unnormalised output o
    float* m_r = pm + bh * D.n + i0;                   // (br): m, l written in place, saved for the backward
    float* l_r = pl + bh * D.n + i0;
    std::fill(m_r, m_r + br, kNegInf);
    std::fill(l_r, l_r + br, 0.0f);
    const int64_t j_end = key_end(i0, br, D.m, causal);
    for (int64_t j0 = 0; j0 < j_end; j0 += bk) {
      const int64_t bc = key_tile_cols(j0, bk, D.m);
      const float* V = pv + (bh * D.m + j0) * D.d;  // (bc, d)
      score_tile(D, scale, causal, pk, pqt, ppad, bh, i0, br, j0, bc, St.data());  // Sᵀ = K Qᵀ/√d  (bc, br)
      tiles::online_softmax_step_by_key(St.data(), bc, br, m_r, l_r, acc.data(), D.d, work.data());
      gemm(true, false, br, D.d, bc, 1.0f, St.data(), br, V, D.d, 1.0f, acc.data(), D.d);  // o += P V  (br, d)
    }
    if (!tiles::finish_rows(acc.data(), m_r, l_r, br, D.d, po + (bh * D.n + i0) * D.d, nullptr)) bad[task] = 1;
  });
  for (int64_t task = 0; task < static_cast<int64_t>(bad.size()); ++task)
    AZ_CHECK(!bad[task], "flash: a score, the softmax normaliser or the output overflowed float32 or is not finite (head ",
             task / q_blocks, ", query rows from ", (task % q_blocks) * bq, "): refusing rather than writing zeros");

  std::vector<Tensor> saved = {row_max, row_sum};
  if (pad.defined()) saved.push_back(pad);
  return record(
      out, "flash_attention", {q, k, v},
      [D, scale, bq, bk, causal](BackwardContext& c) {
        const Tensor qt = transpose(c.inputs[0].detach(), 2, 3);  // qᵀ (B, H, d, n): the forward's score operand
        const Tensor dOt = transpose(c.grad_out.detach(), 2, 3);  // dOᵀ (B, H, d, n)
        const BackwardTiles t{D,
                              scale,
                              bq,
                              bk,
                              causal,
                              c.inputs[0].data(),
                              c.inputs[1].data(),
                              c.inputs[2].data(),
                              c.out.data(),
                              c.grad_out.data(),
                              c.saved[0].data(),
                              c.saved[1].data(),
                              c.saved.size() > 2 ? c.saved[2].data() : nullptr,
                              qt.data(),
                              dOt.data()};
        Tensor dq = Tensor::zeros(c.inputs[0].shape()), dk = Tensor::zeros(c.inputs[1].shape()),
               dv = Tensor::zeros(c.inputs[2].shape());
        Tensor Drow = Tensor::empty({D.B, D.H, D.n});  // Dᵢ = Σ_c dOᵢc Oᵢc  (= Σⱼ Pᵢⱼ dPᵢⱼ)
        detail::parallel_rows(D.B * D.H * D.n, D.d, [&](int64_t row) {
          const float* o = t.O + row * D.d;
          const float* g = t.dO + row * D.d;
          double acc = 0.0;
          for (int64_t e = 0; e < D.d; ++e) acc += static_cast<double>(o[e]) * g[e];
          Drow.data()[row] = static_cast<float>(acc);
        });
        const int64_t k_blocks = (D.m + bk - 1) / bk, q_blocks = (D.n + bq - 1) / bq;
        if (D.B * D.H >= omp_get_max_threads()) {
          // Enough heads to keep every core busy: one task per (b, h) walks key tile by key tile, finishing dK, dV
          // of each tile before the next and accumulating dQ itself — no work is done twice.
          detail::parallel_rows(D.B * D.H, D.n * D.m * D.d, [&](int64_t bh) {
            TileScratch w(bq, bk, D.d);
            for (int64_t kb = 0; kb < k_blocks; ++kb) t.key_tile(bh, kb, Drow.data(), w, dq.data(), dk.data(), dv.data());
          });
        } else {
          // Few heads (B·H below the thread count): split the sequence instead. Pass 1, one task per key tile,
          // computes dK, dV; pass 2, one task per query tile, recomputes the tiles and accumulates dQ. Each output
          // row has one owner, so the result does not depend on the thread count; the price is computing Q Kᵀ and
          // dO Vᵀ twice.
          detail::parallel_rows(D.B * D.H * k_blocks, bq * D.n * D.d, [&](int64_t task) {
            TileScratch w(bq, bk, D.d);
            t.key_tile(task / k_blocks, task % k_blocks, Drow.data(), w, nullptr, dk.data(), dv.data());
          });
          detail::parallel_rows(D.B * D.H * q_blocks, bk * D.m * D.d, [&](int64_t task) {
            TileScratch w(bq, bk, D.d);
            t.query_tile_dq(task / q_blocks, task % q_blocks, Drow.data(), w, dq.data());
          });
        }
        c.add_grad(0, dq);
        c.add_grad(1, dk);
        c.add_grad(2, dv);
      },
      saved);
}

// ---- the registered scheme "flash" ------------------------------------------------------------------------
namespace {

const ParamTable<FlashOptions>& flash_params() {
  static const auto table = ParamTable<FlashOptions>("flash")
                                .integer("block_q", &FlashOptions::block_q, 1, kNoLimit, "query rows per tile")
                                .integer("block_k", &FlashOptions::block_k, 1, kNoLimit, "key rows per tile");
  return table;
}

SchemeInfo flash_info() {
  SchemeInfo i;
  i.name = "flash";
  i.summary = "exact softmax attention in tiles with the online softmax: O(n²) time, O(n) memory";
  i.paper = "Dao et al. 2022, FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness";
  i.lecture = 16;
  i.use(flash_params());
  i.causal = true;
  i.has_pattern = true;
  i.families = {Family::EX};
  i.in_survey = false;  // FlashAttention (2022) came after the survey
  i.exactness = Exactness::exact;
  i.masked_softmax = true;
  i.time_growth = "n²";
  i.memory_exponent = 1;
  i.idea = "every pair, in tiles with the online softmax: O(n) memory";
  i.lra_paper.model = "Transformer (exact softmax, tiled: FlashAttention)";
  i.gallery_settings = {"block_q=16"};
  i.test_settings = {{"block_q=16", "block_k=8"}, {"block_q=5", "block_k=64"}};
  return i;
}

class FlashScheme : public Scheme {
 public:
  FlashScheme() : Scheme(flash_info()) {}
  // Decoding: a KV cache, as for full attention — one query row needs no tiling (attention/decode.h).
  std::unique_ptr<Decoder> make_decoder(const Config&, int64_t n) const override {
    return std::make_unique<KvCacheDecoder>("flash", n);
  }
  // The same useful work as full attention (the recomputation in the backward is flash's own extra cost).
  double flops(const Shape& q, const Config& cfg) const override { return find_scheme("full").flops(q, cfg); }

  FlashOptions options(const Config& cfg) const {
    FlashOptions o = flash_params().read(cfg.settings);
    o.causal = cfg.causal;
    o.key_padding_mask = cfg.key_padding_mask;
    return o;
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return flash_attention(q, k, v, options(cfg));
  }
  // The matrix flash applies is exactly the dense softmax; materialised here only for drawing and tests.
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    check_qkv(q, k, v, "flash");
    options(cfg);
    return dense_probabilities(q, k, {cfg.causal, cfg.key_padding_mask});
  }
  Tensor pattern(const Shape& q_shape, const Config& cfg) const override {
    return find_scheme("full").pattern(q_shape, cfg);
  }
};

Registrar registrar(std::make_unique<FlashScheme>());

}  // namespace

}  // namespace attention
