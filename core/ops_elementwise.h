// core/ops_elementwise.h — elementwise ops with numpy broadcasting, and their gradients.
//
// Broadcasting: shapes are aligned from the right; a dimension of size 1 (or a missing one) stretches.
// (4,1,3) + (5,3) -> (4,5,3). In backward the gradient of a broadcast input is summed back to its shape by
// sum_to_shape — the one place that undoes broadcasting.
#pragma once

#include "core/tensor.h"

namespace core {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Sum g over the axes that broadcasting stretched so that the result has `shape`.
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

// ---- binary (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// ---- with a scalar ----
Tensor add(const Tensor& a, float s);
Tensor mul(const Tensor& a, float s);
Tensor pow(const Tensor& a, float exponent);
// ---- unary ----
Tensor neg(const Tensor& a);
Tensor square(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor abs(const Tensor& a);       // d|x|/dx at 0 is 0
Tensor relu(const Tensor& a);      // drelu/dx at 0 is 0 (PyTorch's choice)
Tensor gelu(const Tensor& a);      // exact erf form: x * Phi(x)
Tensor elu(const Tensor& a, float alpha = 1.0f);
Tensor sigmoid(const Tensor& a);
Tensor tanh(const Tensor& a);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, float s);
Tensor operator+(float s, const Tensor& a);
Tensor operator-(const Tensor& a, float s);
Tensor operator-(float s, const Tensor& a);
Tensor operator*(const Tensor& a, float s);
Tensor operator*(float s, const Tensor& a);
Tensor operator/(const Tensor& a, float s);
Tensor operator/(float s, const Tensor& a);

}  // namespace core
