// attention/kernels/tiles.h — the pieces the tiled kernels (flash.cpp, block_sparse.cpp) share: an sgemm wrapper that
// reads like the equations, and the online-softmax step of one score tile (Dao et al. 2022; Milakov & Gimelshein
// 2018). Internal to attention/; not a public API.
//
// For each query row r, over the tiles of its keys, keep a running max m_r, a running normaliser l_r and an
// unnormalised output o_r (d floats):
//   m' = max(m, max_c S[r][c])     S[r][c] ← e^(S[r][c] − m')     l ← l·e^(m − m') + Σ_c S[r][c]     o ← o·e^(m − m')
// then the caller adds P V to o (one sgemm over the tile), and at the end out = o / l (block_sparse.cpp keeps
// L = m + log l for its backward; flash.cpp keeps m and l apart: see there).
// Two layouts of the tile: by query row (S, br×bc: block_sparse.cpp) and by key (Sᵀ, bc×br: flash.cpp).
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/fast_exp.h"

namespace attention::tiles {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// C (rows×cols, row-major) = alpha · op(A) op(B) + beta · C.
inline void gemm(bool ta, bool tb, int64_t rows, int64_t cols, int64_t inner, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(rows),
              static_cast<int>(cols), static_cast<int>(inner), alpha, A, static_cast<int>(lda), B,
              static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

// max and sum over n floats in 16 independent lanes (GCC vector extensions, one AVX-512 register or two AVX
// ones): a single running max or sum does not vectorise without -ffast-math. max is exact, so the result does not
// depend on the order; the sum has a fixed order (lanes, then a fixed tree), so it is deterministic too.
typedef float Lanes __attribute__((vector_size(64)));  // 16 floats

inline float max_of(const float* x, int64_t n) {
  Lanes m;
  for (int u = 0; u < 16; ++u) m[u] = kNegInf;
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    Lanes v;
    std::memcpy(&v, x + c, sizeof v);
    m = v > m ? v : m;
  }
  float r = kNegInf;
  for (int u = 0; u < 16; ++u) r = m[u] > r ? m[u] : r;
  for (; c < n; ++c) r = x[c] > r ? x[c] : r;
  return r;
}

inline float sum_of(const float* x, int64_t n) {
  Lanes acc = {};
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    Lanes v;
    std::memcpy(&v, x + c, sizeof v);
    acc += v;
  }
  float r = 0.0f;
  for (int u = 0; u < 16; ++u) r += acc[u];
  for (; c < n; ++c) r += x[c];
  return r;
}

// The online-softmax step: S (br, bc) scores (-inf = masked) become e^(S − m') in place; row_max, row_sum (br)
// and acc (br, d) are updated as above. A row with nothing visible yet gets zeros and stays at m = -inf.
inline void online_softmax_step(float* S, int64_t br, int64_t bc, float* row_max, float* row_sum, float* acc,
                                int64_t d) {
  for (int64_t r = 0; r < br; ++r) {
    float* s = S + r * bc;
    const float new_max = std::max(row_max[r], max_of(s, bc));
    if (new_max == kNegInf) {  // nothing visible in this row yet
      std::fill(s, s + bc, 0.0f);
      continue;
    }
    const float alpha = core::fast_exp(row_max[r] - new_max);  // rescales what was accumulated (0 the first time)
    for (int64_t c = 0; c < bc; ++c) s[c] = core::fast_exp(s[c] - new_max);  // e^(S − m')
    row_sum[r] = row_sum[r] * alpha + sum_of(s, bc);
    float* a = acc + r * d;
    for (int64_t c = 0; c < d; ++c) a[c] *= alpha;
    row_max[r] = new_max;
  }
}

// The same step on a tile stored by key: St (bc, br), St[c][r] = the score of query row r against key c. Every
// loop then runs along the br queries, which are contiguous: the max and the sum of a query row become
// elementwise maxes and adds over the bc rows of St (no horizontal reduction), and the rescale factors of all rows
// are one vectorised exp. flash.cpp's forward uses it; work holds 3·br floats.
inline void online_softmax_step_by_key(float* St, int64_t bc, int64_t br, float* row_max, float* row_sum,
                                       float* acc, int64_t d, float* work) {
  float* shift = work;             // the new max m', then m' or 0 for a row with nothing visible yet (−inf − 0 = −inf)
  float* tile_sum = work + br;     // Σ_c e^(St[c][r] − m')
  float* alpha = work + 2 * br;    // e^(m − m'): rescales what was accumulated (0 the first time)
  for (int64_t r = 0; r < br; ++r) shift[r] = row_max[r];
  for (int64_t c = 0; c < bc; ++c) {
    const float* s = St + c * br;
    for (int64_t r = 0; r < br; ++r) shift[r] = s[r] > shift[r] ? s[r] : shift[r];
  }
  for (int64_t r = 0; r < br; ++r) {
    const float m_new = shift[r];
    alpha[r] = m_new == kNegInf ? 1.0f : core::fast_exp(row_max[r] - m_new);
    row_max[r] = m_new;
    shift[r] = m_new == kNegInf ? 0.0f : m_new;
    row_sum[r] *= alpha[r];
    tile_sum[r] = 0.0f;
  }
  for (int64_t r = 0; r < br; ++r) {
    const float a_r = alpha[r];
    float* a = acc + r * d;
    for (int64_t e = 0; e < d; ++e) a[e] *= a_r;
  }
  for (int64_t c = 0; c < bc; ++c) {
    float* s = St + c * br;
    for (int64_t r = 0; r < br; ++r) {
      const float p = core::fast_exp(s[r] - shift[r]);  // e^(S − m'); masked (−inf) entries give 0
      s[r] = p;
      tile_sum[r] += p;
    }
  }
  for (int64_t r = 0; r < br; ++r) row_sum[r] += tile_sum[r];
}

// The end of the forward: out (br rows, d, row-major) = o / l and, if lse is given, lse = m + log l; a row that
// saw no key (m = -inf, l = 0) gets zeros and lse = -inf (the backward then gives it zero gradients).
// A row that saw keys but whose m, l or output is not finite (a score or a sum overflowed float32, or an input is
// inf/NaN: then l is NaN or inf, and "l > 0" alone would have read NaN as "saw no key" and written zeros) is NOT
// written as zeros: the function returns false, and the caller refuses the input (throws core::Error after its
// parallel loop — an exception may not leave an OpenMP region).
inline bool finish_rows(const float* acc, const float* row_max, const float* row_sum, int64_t br, int64_t d,
                        float* out, float* lse) {
  bool ok = true;
  for (int64_t r = 0; r < br; ++r) {
    float* o = out + r * d;
    const float* a = acc + r * d;
    if (row_max[r] == kNegInf && row_sum[r] == 0.0f) {  // nothing visible
      std::fill(o, o + d, 0.0f);
      if (lse) lse[r] = kNegInf;
      continue;
    }
    bool row_ok = std::isfinite(row_max[r]) && row_sum[r] > 0.0f && std::isfinite(row_sum[r]);
    const float inv = 1.0f / row_sum[r];
    for (int64_t c = 0; c < d; ++c) {
      o[c] = a[c] * inv;
      row_ok = row_ok && std::isfinite(o[c]);
    }
    if (lse) lse[r] = row_max[r] + std::log(row_sum[r]);
    ok = ok && row_ok;
  }
  return ok;
}

// The backward's recomputation: P = e^(S − L) in place over (br, bc), and dS = P ∘ (dP − D) in place of dP,
// with L (lse) and D = rowsum(dO ∘ O) given per row.
inline void probabilities_and_dS(float* S, float* dP, int64_t br, int64_t bc, const float* lse, const float* D) {
  for (int64_t r = 0; r < br; ++r) {
    float* p = S + r * bc;
    float* ds = dP + r * bc;
    const float L = lse[r], Dr = D[r];  // locals: the loops below then vectorise (no reload through p's alias)
    if (L == kNegInf) std::fill(p, p + bc, 0.0f);
    else
      for (int64_t c = 0; c < bc; ++c) p[c] = core::fast_exp(p[c] - L);
    for (int64_t c = 0; c < bc; ++c) ds[c] = p[c] * (ds[c] - Dr);
  }
}

// The same recomputation on a tile stored by key (flash.cpp's backward): St, dPt (bc, br), St[c][r] the score
// of query row r against key c. P = e^(S − m) / l with m, l the forward's running max and normaliser per row,
// kept apart (not as one float L = m + log l: at |m| ~ 1e4 float's spacing of L is ~1e-3, at 1e8 it is 8, and
// log l drowns in it). dS = P ∘ (dP − D) in place of dPt. Runs along the br contiguous queries.
inline void probabilities_and_dS_by_key(float* St, float* dPt, int64_t bc, int64_t br, const float* row_max,
                                        const float* row_sum, const float* D, float* work) {
  float* shift = work;        // m, or 0 for a row that saw no key (its scores are all -inf: P = 0)
  float* inv_l = work + br;   // 1 / l, or 0 for a row that saw no key
  for (int64_t r = 0; r < br; ++r) {
    const bool none = row_max[r] == kNegInf;
    shift[r] = none ? 0.0f : row_max[r];
    inv_l[r] = none ? 0.0f : 1.0f / row_sum[r];
  }
  for (int64_t c = 0; c < bc; ++c) {
    float* p = St + c * br;
    float* ds = dPt + c * br;
    for (int64_t r = 0; r < br; ++r) {
      const float pr = core::fast_exp(p[r] - shift[r]) * inv_l[r];
      p[r] = pr;
      ds[r] = pr * (ds[r] - D[r]);
    }
  }
}

}  // namespace attention::tiles
