// core/ops_reduce.h — reductions: sum, mean, max, along one axis or over everything.
#pragma once

#include "core/tensor.h"

namespace core {

Tensor sum(const Tensor& x);  // all elements -> shape ()
Tensor sum(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int64_t axis, bool keepdim = false);
// max: the gradient is shared equally among tied maxima (PyTorch's amax convention).
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int64_t axis, bool keepdim = false);

}  // namespace core
