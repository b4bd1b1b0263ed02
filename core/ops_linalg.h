// core/ops_linalg.h — matrix multiplication on OpenBLAS.
#pragma once

#include "core/tensor.h"

namespace core {

// C = op(A) @ op(B) where op transposes the last two dims when its flag is set.
// A: (..., m, k) [or (..., k, m) with trans_a], B: (..., k, n) [or (..., n, k) with trans_b], C: (..., m, n).
// Leading (batch) dims broadcast. Transposed operands go straight to cblas_sgemm: no copy is made.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

}  // namespace core
