// core/ops_shape.h — shape and movement ops: reshape, transpose/permute, slice, concat, stack, pad, expand.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace core {

Tensor reshape(const Tensor& x, const Shape& shape);  // one entry may be -1; shares storage (a view)
Tensor flatten(const Tensor& x);                      // -> (numel)
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor squeeze(const Tensor& x, int64_t axis);        // the axis must have size 1
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);  // out.shape[i] = x.shape[perm[i]]
Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1);
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end, int64_t step = 1);  // [start, end)
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
Tensor stack(const std::vector<Tensor>& xs, int64_t axis);
Tensor pad(const Tensor& x, int64_t axis, int64_t before, int64_t after, float value = 0.0f);
Tensor expand(const Tensor& x, const Shape& shape);  // broadcast to shape (copies)

}  // namespace core
