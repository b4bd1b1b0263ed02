// core/svd.h — the singular value decomposition of a small matrix, in double precision (one-sided Jacobi).
//
//   A = U diag(S) Vᵀ      A: (m, n),  U: (m, r),  S: (r),  V: (n, r),  r = min(m, n)
//
// The columns of V are orthonormal, and so are those of U where S > 0 (a column of U whose singular value is
// exactly 0 is left 0: nothing determines it). S is sorted from largest to smallest (all >= 0). By the
// Eckart–Young theorem, keeping the first t terms gives the best rank-t approximation of A in the Frobenius
// norm, and its error is exactly sqrt(S[t]² + S[t+1]² + ...): lessons use this to ask "how low-rank is this
// attention matrix?" (Linformer, lesson 06).
//
// The method (Hestenes' one-sided Jacobi): rotate pairs of columns of W = A (and the same rotations applied to
// V = I) until every pair of columns of W is orthogonal; then S = the column norms of W, U = W / S. Each
// rotation is exact in double, so the result is accurate to ~1e-14 relative to the largest singular value.
// Cost O(m·n²) per sweep, a few to ~10 sweeps: meant for matrices up to a few hundred rows, not for big ones.
//
// Not differentiable: the results are plain values (no autograd graph).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace core {

struct SVD {
  int64_t m = 0, n = 0, r = 0;  // A is (m, n), r = min(m, n)
  std::vector<double> U;        // (m, r) row-major
  std::vector<double> S;        // (r), descending, >= 0
  std::vector<double> V;        // (n, r) row-major
  int sweeps = 0;               // Jacobi sweeps it took

  // The best rank-t approximation U[:, :t] diag(S[:t]) V[:, :t]ᵀ as an (m, n) float tensor (0 <= t <= r).
  Tensor reconstruct(int64_t t) const;
  Tensor reconstruct() const { return reconstruct(r); }
};

// a: a 2-D tensor (m, n) with finite values. Throws core::Error naming the shape otherwise.
SVD svd(const Tensor& a);
// The same on a row-major (m, n) array of doubles.
SVD svd(const std::vector<double>& a, int64_t m, int64_t n);

// Just the singular values, descending (skips accumulating V).
std::vector<double> singular_values(const Tensor& a);

// Share of the squared Frobenius norm ("energy") held by the first t singular values, for t = 1..r:
// out[t-1] = (S[0]² + ... + S[t-1]²) / (S[0]² + ... + S[r-1]²). All ones for a zero matrix.
std::vector<double> cumulative_energy(const std::vector<double>& s);

// The numerical rank: how many singular values exceed tol · the largest (0 for a zero matrix). tol = 1e-4 suits
// float32 data: a float32 matrix of exact rank k shows S[k] / S[0] around 1e-7, far below it.
int64_t numerical_rank(const std::vector<double>& s, double tol = 1e-4);
int64_t numerical_rank(const Tensor& a, double tol = 1e-4);  // of a 2-D tensor, by singular_values()

// ||A - A_t||_F / ||A||_F for the best rank-t approximation A_t, for t = 0..r (t = 0 gives 1; t = r gives 0).
// All zeros for a zero matrix.
std::vector<double> truncation_error(const std::vector<double>& s);

}  // namespace core
