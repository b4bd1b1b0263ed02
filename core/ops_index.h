// core/ops_index.h — indexing ops (gather, index_select, scatter_add, masked_fill, where) and the
// non-differentiable helpers that produce or consume integer indices (argmax, topk, argsort, arange, one_hot).
//
// Masks and conditions are float tensors: nonzero means true. They broadcast like elementwise operands.
#pragma once

#include "core/tensor.h"

namespace core {

// out[i][j][k] = x[i][index[i][j][k]][k] (axis = 1); index has x's rank, out has index's shape.
Tensor gather(const Tensor& x, int64_t axis, const IntTensor& index);
// out = x with out[..., index[j], ...] rows picked along axis; index is 1-D.
Tensor index_select(const Tensor& x, int64_t axis, const IntTensor& index);
// out = base; out[i][index[i][j][k]][k] += src[i][j][k] (axis = 1). Gradient flows to base and src.
Tensor scatter_add(const Tensor& base, int64_t axis, const IntTensor& index, const Tensor& src);
// out = x where mask == 0, value where mask != 0 (mask broadcasts to x).
Tensor masked_fill(const Tensor& x, const Tensor& mask, float value);
// out = cond != 0 ? a : b (all three broadcast).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- non-differentiable ----
IntTensor argmax(const Tensor& x, int64_t axis);  // first index of the maximum
struct TopK {
  Tensor values;      // (…, k), detached
  IntTensor indices;  // (…, k)
};
TopK topk(const Tensor& x, int64_t k, int64_t axis = -1, bool largest = true);  // ties: lower index first
IntTensor argsort(const Tensor& x, int64_t axis = -1, bool descending = false);  // stable
Tensor arange(int64_t n);            // 0, 1, ..., n-1 as float
IntTensor arange_int(int64_t n);     // 0, 1, ..., n-1 as int64
Tensor one_hot(const IntTensor& index, int64_t num_classes);  // (…, num_classes)

}  // namespace core
