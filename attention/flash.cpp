// attention/flash.cpp — tiled exact attention with the online softmax, and its recomputing backward.
//
// Legend: B = batch, H = heads, n = queries, m = keys, d = head size; br×bc is one tile (query rows × key rows).
// Every tile product goes through cblas_sgemm on row-major slices of q, k, v (no copies).
#include "attention/flash.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "attention/dense.h"
#include "core/autograd.h"
#include "core/fast_exp.h"
#include "core/ops_elementwise.h"
#include "core/ops_shape.h"
#include "core/parallel.h"

namespace attention {

using namespace core;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Dims {
  int64_t B, H, n, m, d;
};

// C (rows×cols, ld = cols) = alpha · A B (+ beta C), with the transposes given: a thin wrapper so the tile code
// reads like the equations.
void gemm(bool ta, bool tb, int64_t rows, int64_t cols, int64_t inner, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(rows),
              static_cast<int>(cols), static_cast<int>(inner), alpha, A, static_cast<int>(lda), B,
              static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

// Sets S[r][c] = -inf where query i0+r may not see key j0+c (the future, when causal; padding keys).
void mask_tile(float* S, int64_t br, int64_t bc, int64_t i0, int64_t j0, bool causal, const float* pad_row) {
  for (int64_t r = 0; r < br; ++r) {
    float* row = S + r * bc;
    for (int64_t c = 0; c < bc; ++c) {
      const bool future = causal && j0 + c > i0 + r;
      const bool padding = pad_row && pad_row[j0 + c] == 0.0f;
      if (future || padding) row[c] = kNegInf;
    }
  }
}

// The last key (exclusive) that query rows [i0, i0+br) may look at.
int64_t key_end(int64_t i0, int64_t br, int64_t m, bool causal) { return causal ? std::min(m, i0 + br) : m; }

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
  const int64_t bq = opt.block_q, bk = opt.block_k;
  const int64_t q_blocks = (D.n + bq - 1) / bq;
  const bool causal = opt.causal;

  Tensor out = Tensor::empty(q.shape());    // (B, H, n, d)
  Tensor lse = Tensor::empty({D.B, D.H, D.n});  // log-sum-exp per query row; -inf for a fully masked row
  const float *pq = q.data(), *pk = k.data(), *pv = v.data();
  const float* ppad = pad.defined() ? pad.data() : nullptr;
  float *po = out.data(), *pl = lse.data();

  // One task = one (b, h, query block): tasks never share output rows.
  detail::parallel_rows(D.B * D.H * q_blocks, bq * D.m * D.d, [&](int64_t task) {
    const int64_t bh = task / q_blocks, i0 = (task % q_blocks) * bq, b = bh / D.H;
    const int64_t br = std::min(bq, D.n - i0);
    const float* Q = pq + (bh * D.n + i0) * D.d;  // (br, d)
    std::vector<float> S(static_cast<size_t>(br * bk));          // scores, then probabilities of one tile
    std::vector<float> acc(static_cast<size_t>(br * D.d), 0.0f);  // unnormalised output o
    std::vector<float> row_max(static_cast<size_t>(br), kNegInf), row_sum(static_cast<size_t>(br), 0.0f);
    const int64_t j_end = key_end(i0, br, D.m, causal);
    for (int64_t j0 = 0; j0 < j_end; j0 += bk) {
      const int64_t bc = std::min(bk, j_end - j0);
      const float* K = pk + (bh * D.m + j0) * D.d;  // (bc, d)
      const float* V = pv + (bh * D.m + j0) * D.d;
      gemm(false, true, br, bc, D.d, scale, Q, D.d, K, D.d, 0.0f, S.data(), bc);  // S = Q Kᵀ/√d  (br, bc)
      mask_tile(S.data(), br, bc, i0, j0, causal, ppad ? ppad + b * D.m : nullptr);
      for (int64_t r = 0; r < br; ++r) {
        float* s = S.data() + r * bc;
        float tile_max = kNegInf;
        for (int64_t c = 0; c < bc; ++c) tile_max = s[c] > tile_max ? s[c] : tile_max;
        const float new_max = std::max(row_max[r], tile_max);
        if (new_max == kNegInf) {  // nothing visible yet in this row
          std::fill(s, s + bc, 0.0f);
          continue;
        }
        const float alpha = fast_exp(row_max[r] - new_max);  // rescales what was accumulated (0 the first time)
        float tile_sum = 0.0f;
        for (int64_t c = 0; c < bc; ++c) {
          s[c] = fast_exp(s[c] - new_max);  // e^(S − m')
          tile_sum += s[c];
        }
        row_sum[r] = row_sum[r] * alpha + tile_sum;
        float* a = acc.data() + r * D.d;
        for (int64_t c = 0; c < D.d; ++c) a[c] *= alpha;
        row_max[r] = new_max;
      }
      gemm(false, false, br, D.d, bc, 1.0f, S.data(), bc, V, D.d, 1.0f, acc.data(), D.d);  // o += P V  (br, d)
    }
    for (int64_t r = 0; r < br; ++r) {
      float* o = po + (bh * D.n + i0 + r) * D.d;
      const float* a = acc.data() + r * D.d;
      if (row_sum[r] > 0.0f) {
        const float inv = 1.0f / row_sum[r];
        for (int64_t c = 0; c < D.d; ++c) o[c] = a[c] * inv;
        pl[bh * D.n + i0 + r] = row_max[r] + std::log(row_sum[r]);
      } else {  // every key masked: attends to nothing
        std::fill(o, o + D.d, 0.0f);
        pl[bh * D.n + i0 + r] = kNegInf;
      }
    }
  });

  std::vector<Tensor> saved = {lse};
  if (pad.defined()) saved.push_back(pad);
  return record(
      out, "flash_attention", {q, k, v},
      [D, scale, bq, bk, causal](BackwardContext& c) {
        const float *pq = c.inputs[0].data(), *pk = c.inputs[1].data(), *pv = c.inputs[2].data();
        const float *pO = c.out.data(), *pdO = c.grad_out.data(), *pL = c.saved[0].data();
        const float* ppad = c.saved.size() > 1 ? c.saved[1].data() : nullptr;
        Tensor dq = Tensor::zeros(c.inputs[0].shape()), dk = Tensor::zeros(c.inputs[1].shape()),
               dv = Tensor::zeros(c.inputs[2].shape());
        float *pdq = dq.data(), *pdk = dk.data(), *pdv = dv.data();
        // Each (b, h) is one task, walked key tile by key tile: dK, dV of a tile are finished before the next,
        // and dQ rows are accumulated by this task only — so the result does not depend on the thread count.
        detail::parallel_rows(D.B * D.H, D.n * D.m * D.d, [&](int64_t bh) {
          const int64_t b = bh / D.H;
          // Dᵢ = Σ_c dOᵢc Oᵢc  (= Σⱼ Pᵢⱼ dPᵢⱼ, the softmax backward's row term)
          std::vector<float> Drow(static_cast<size_t>(D.n));
          for (int64_t i = 0; i < D.n; ++i) {
            const float* o = pO + (bh * D.n + i) * D.d;
            const float* g = pdO + (bh * D.n + i) * D.d;
            double s = 0.0;
            for (int64_t t = 0; t < D.d; ++t) s += static_cast<double>(o[t]) * g[t];
            Drow[static_cast<size_t>(i)] = static_cast<float>(s);
          }
          std::vector<float> P(static_cast<size_t>(bq * bk)), dP(static_cast<size_t>(bq * bk));
          std::vector<float> dK(static_cast<size_t>(bk * D.d)), dV(static_cast<size_t>(bk * D.d));
          for (int64_t j0 = 0; j0 < D.m; j0 += bk) {
            const int64_t bc = std::min(bk, D.m - j0);
            const float* K = pk + (bh * D.m + j0) * D.d;  // (bc, d)
            const float* V = pv + (bh * D.m + j0) * D.d;
            std::fill(dK.begin(), dK.end(), 0.0f);
            std::fill(dV.begin(), dV.end(), 0.0f);
            // causal: only query rows i >= j0 can see this tile's keys
            for (int64_t i0 = causal ? (j0 / bq) * bq : 0; i0 < D.n; i0 += bq) {
              const int64_t br = std::min(bq, D.n - i0);
              const float* Q = pq + (bh * D.n + i0) * D.d;    // (br, d)
              const float* dO = pdO + (bh * D.n + i0) * D.d;  // (br, d)
              // recompute P = e^(S − L) for the tile
              gemm(false, true, br, bc, D.d, scale, Q, D.d, K, D.d, 0.0f, P.data(), bc);
              mask_tile(P.data(), br, bc, i0, j0, causal, ppad ? ppad + b * D.m : nullptr);
              for (int64_t r = 0; r < br; ++r) {
                const float L = pL[bh * D.n + i0 + r];
                float* p = P.data() + r * bc;
                if (L == kNegInf) std::fill(p, p + bc, 0.0f);
                else
                  for (int64_t cc = 0; cc < bc; ++cc) p[cc] = fast_exp(p[cc] - L);
              }
              // forward: out = P V  =>  dV += Pᵀ dO  (bc, d)
              gemm(true, false, bc, D.d, br, 1.0f, P.data(), bc, dO, D.d, 1.0f, dV.data(), D.d);
              // dP = dO Vᵀ  (br, bc);  forward: P = softmax(S)  =>  dS = P ∘ (dP − D)
              gemm(false, true, br, bc, D.d, 1.0f, dO, D.d, V, D.d, 0.0f, dP.data(), bc);
              for (int64_t r = 0; r < br; ++r) {
                const float Di = Drow[static_cast<size_t>(i0 + r)];
                float* ds = dP.data() + r * bc;
                const float* p = P.data() + r * bc;
                for (int64_t cc = 0; cc < bc; ++cc) ds[cc] = p[cc] * (ds[cc] - Di);
              }
              // forward: S = Q Kᵀ/√d  =>  dQ += dS K/√d,  dK += dSᵀ Q/√d
              gemm(false, false, br, D.d, bc, scale, dP.data(), bc, K, D.d, 1.0f, pdq + (bh * D.n + i0) * D.d, D.d);
              gemm(true, false, bc, D.d, br, scale, dP.data(), bc, Q, D.d, 1.0f, dK.data(), D.d);
            }
            std::memcpy(pdk + (bh * D.m + j0) * D.d, dK.data(), static_cast<size_t>(bc * D.d) * sizeof(float));
            std::memcpy(pdv + (bh * D.m + j0) * D.d, dV.data(), static_cast<size_t>(bc * D.d) * sizeof(float));
          }
        });
        c.add_grad(0, dq);
        c.add_grad(1, dk);
        c.add_grad(2, dv);
      },
      saved);
}

// ---- the registered scheme "flash" ------------------------------------------------------------------------
namespace {

class FlashScheme : public Scheme {
 public:
  std::string name() const override { return "flash"; }
  std::string summary() const override {
    return "exact softmax attention in tiles with the online softmax: O(n²) time, O(n) memory";
  }
  std::string paper() const override {
    return "Dao et al. 2022, FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness";
  }
  int lecture() const override { return 16; }
  std::vector<HyperParam> hyperparams() const override {
    return {{"block_q", "64", "query rows per tile"}, {"block_k", "64", "key rows per tile"}};
  }
  bool supports_causal() const override { return true; }
  bool has_pattern() const override { return true; }
  // The same useful work as full attention (the recomputation in the backward is flash's own extra cost).
  double flops(const Shape& q, const Config& cfg) const override { return find_scheme("full").flops(q, cfg); }

  FlashOptions options(const Config& cfg) const {
    FlashOptions o;
    o.causal = cfg.causal;
    o.key_padding_mask = cfg.key_padding_mask;
    o.block_q = cfg.settings.get_int("block_q");
    o.block_k = cfg.settings.get_int("block_k");
    AZ_CHECK(o.block_q >= 1, "flash: block_q must be >= 1, got ", o.block_q);
    AZ_CHECK(o.block_k >= 1, "flash: block_k must be >= 1, got ", o.block_k);
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
