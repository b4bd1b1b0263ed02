// attention/kernels/small_gemm.h — matrix products of the small blocks that content-based schemes gather: a
// Reformer chunk's m queries against its 2m candidate keys, a Routing Transformer cluster's w queries against its
// w keys. Internal to attention/; not a public API.
//
// Such blocks are too small for OpenBLAS (at 32 × 64 × 64 it spends as long packing the operands as multiplying
// them) and too large to walk one (query, key) pair at a time: a dot product of d floats per pair, its rows fetched
// from wherever the tokens sit in the sequence, runs at a small fraction of the machine (Reformer and Routing sat
// at 4 % of their roofline that way). The pattern instead:
//   1. gather the block's rows into small contiguous buffers (gather_rows, or gather_columns for a transposed
//      operand whose columns are padded to a multiple of 16 with zeros);
//   2. multiply them with small_gemm, which keeps 4 rows × 16 columns of the result in registers for the whole sum.
//
// Every entry S[r][c] = Σ_t A[r][t] B[t][c] is summed over t in increasing order, whatever the block sizes, so a
// result does not depend on how a block was cut or on the number of threads. Nothing is reassociated (no
// -ffast-math needed): the 16 columns of a block are 16 independent sums, which is what the vector lanes hold.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace attention::blocks {

typedef float Vec8 __attribute__((vector_size(32)));  // 8 floats: one AVX register (GCC vector extensions)

// Rows × 16 entries of S, held in registers across the whole t loop (a plain r, t, c loop stores and reloads S at
// every t, and GCC will not keep it in registers for us).
template <int Rows>
inline void product_block(const float* __restrict A, int64_t ar, int64_t at, const float* __restrict B, int64_t ldb,
                          int64_t inner, float* __restrict S, int64_t lds) {
  Vec8 acc[Rows][2] = {};
  for (int64_t t = 0; t < inner; ++t) {
    Vec8 b0, b1;
    std::memcpy(&b0, B + t * ldb, sizeof b0);
    std::memcpy(&b1, B + t * ldb + 8, sizeof b1);
    for (int r = 0; r < Rows; ++r) {
      const float x = A[r * ar + t * at];
      acc[r][0] += x * b0;
      acc[r][1] += x * b1;
    }
  }
  for (int r = 0; r < Rows; ++r) std::memcpy(S + r * lds, &acc[r][0], sizeof acc[r]);
}

// S = A B: A[r][t] = A[r·ar + t·at] (ar = row stride, at = 1 for A as stored; ar = 1, at = its row stride for Aᵀ),
// B (inner, cols) with row stride ldb, S (rows, cols) with row stride lds, overwritten. The last cols % 16 columns
// take a plain loop, in the same order, with an explicit fma: GCC vectorises that loop across rows and leaves the
// last rows scalar, and if only one of the two were contracted, a row's bits would depend on its place in the block
// (a causal query's output on how many later queries share its cluster: tests/test_schemes.cpp caught it).
inline void small_gemm(const float* A, int64_t ar, int64_t at, const float* B, int64_t ldb, int64_t rows,
                       int64_t cols, int64_t inner, float* S, int64_t lds) {
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) product_block<4>(A + r * ar, ar, at, B + c, ldb, inner, S + r * lds + c, lds);
    for (; r < rows; ++r) product_block<1>(A + r * ar, ar, at, B + c, ldb, inner, S + r * lds + c, lds);
  }
  for (; c < cols; ++c)
    for (int64_t r = 0; r < rows; ++r) {
      float s = 0.0f;
      for (int64_t t = 0; t < inner; ++t) s = std::fma(A[r * ar + t * at], B[t * ldb + c], s);
      S[r * lds + c] = s;
    }
}

// A key count rounded up to small_gemm's column blocks: the row stride of a transposed key block.
inline int64_t padded(int64_t cols) { return (cols + 15) / 16 * 16; }

// S = Q Kᵀ for a block of queries against keys: Q (rows, d), Kt (d, ld) the keys transposed and padded
// (gather_columns), S (rows, ld).
inline void scores(const float* Q, const float* Kt, int64_t rows, int64_t ld, int64_t d, float* S) {
  small_gemm(Q, d, 1, Kt, ld, rows, ld, d, S, ld);
}

// out[i, :] = Σ_j w[i, j] x[j, :] — w (rows, cols) with row stride ldw, x (cols, d), out (rows, d); j in order.
inline void weighted_rows(const float* w, int64_t ldw, const float* x, int64_t rows, int64_t cols, int64_t d,
                          float* out) {
  small_gemm(w, ldw, 1, x, d, rows, d, cols, out, d);
}

// out[j, :] = Σ_i w[i, j] x[i, :] — through wᵀ: w (rows, cols) with row stride ldw, x (rows, d), out (cols, d).
inline void weighted_rows_t(const float* w, int64_t ldw, const float* x, int64_t rows, int64_t cols, int64_t d,
                            float* out) {
  small_gemm(w, 1, ldw, x, d, cols, d, rows, out, d);
}

// dst[0, d) = src[0, d) (an inline loop: a library memmove per row of 64 floats costs more than the copy).
inline void copy_row(float* __restrict dst, const float* __restrict src, int64_t d) {
  for (int64_t t = 0; t < d; ++t) dst[t] = src[t];
}

// The rows x[pos[i]] of a (positions, d) array, as out (count, d).
inline void gather_rows(const float* x, const int64_t* pos, int64_t count, int64_t d, std::vector<float>& out) {
  out.resize(static_cast<size_t>(count * d));
  for (int64_t i = 0; i < count; ++i) copy_row(out.data() + i * d, x + pos[i] * d, d);
}

// The same rows transposed, as out (d, padded(count)) with zeros in the padding columns (scores' Kt).
inline void gather_columns(const float* x, const int64_t* pos, int64_t count, int64_t d, std::vector<float>& out) {
  const int64_t ld = padded(count);
  out.assign(static_cast<size_t>(d * ld), 0.0f);
  for (int64_t j = 0; j < count; ++j)
    for (int64_t t = 0; t < d; ++t) out[t * ld + j] = x[pos[j] * d + t];
}

}  // namespace attention::blocks
