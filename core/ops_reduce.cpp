// core/ops_reduce.cpp — sum, mean and max, over everything or along one axis.
//
// Sums accumulate in double and in one fixed order (a contiguous row in 8 lanes, core/row_sums.h), so results do
// not depend on the thread count.
#include "core/ops_reduce.h"

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_shape.h"
#include "core/parallel.h"
#include "core/row_sums.h"

namespace core {

using detail::parallel_rows;
using detail::split_at;

namespace {

Shape reduced_shape(const Shape& s, int64_t axis, bool keepdim) {
  Shape out = s;
  if (keepdim) out[static_cast<size_t>(axis)] = 1;
  else out.erase(out.begin() + axis);
  return out;
}

// x (outer, len, inner) -> out (outer, inner), out = sum over len; scaled by `scale`.
Tensor sum_axis_raw(const Tensor& x, int64_t axis, bool keepdim, double scale) {
  const auto sp = split_at(x.shape(), axis);
  Tensor out = Tensor::empty(reduced_shape(x.shape(), axis, keepdim));
  const float* px = x.data();
  float* po = out.data();
  if (sp.inner == 1) {
    parallel_rows(sp.outer, sp.len, [&](int64_t o) {
      const float* row = px + o * sp.len;
      const double acc = detail::lane_sum(sp.len, [&](int64_t l) { return static_cast<double>(row[l]); });
      po[o] = static_cast<float>(acc * scale);
    });
    return out;
  }
  parallel_rows(sp.outer, sp.len * sp.inner, [&](int64_t o) {
    std::vector<double> acc(static_cast<size_t>(sp.inner), 0.0);
    const float* block = px + o * sp.len * sp.inner;
    for (int64_t l = 0; l < sp.len; ++l) {
      const float* row = block + l * sp.inner;
      for (int64_t i = 0; i < sp.inner; ++i) acc[static_cast<size_t>(i)] += row[i];
    }
    for (int64_t i = 0; i < sp.inner; ++i) po[o * sp.inner + i] = static_cast<float>(acc[static_cast<size_t>(i)] * scale);
  });
  return out;
}

// The gradient of a reduction along `axis`: g (reduced shape) stretched back over the axis.
Tensor spread_back(const Tensor& g, const Shape& x_shape, int64_t axis) {
  Shape keep = x_shape;
  keep[static_cast<size_t>(axis)] = 1;
  return expand(reshape(g, keep), x_shape);
}

}  // namespace

Tensor sum(const Tensor& x) {
  Tensor out = Tensor::empty({});
  const float* p = x.data();
  double acc = 0.0;
  for (int64_t i = 0, n = x.numel(); i < n; ++i) acc += p[i];
  out.data()[0] = static_cast<float>(acc);
  return record(out, "sum", {x}, [](BackwardContext& c) {
    c.add_grad(0, Tensor::full(c.inputs[0].shape(), c.grad_out.item()));
  });
}

Tensor mean(const Tensor& x) {
  AZ_CHECK(x.numel() > 0, "mean: empty tensor of shape ", x.shape());
  Tensor out = Tensor::empty({});
  const float* p = x.data();
  double acc = 0.0;
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) acc += p[i];
  out.data()[0] = static_cast<float>(acc / static_cast<double>(n));
  return record(out, "mean", {x}, [](BackwardContext& c) {
    const Tensor& x = c.inputs[0];
    c.add_grad(0, Tensor::full(x.shape(), c.grad_out.item() / static_cast<float>(x.numel())));
  });
}

Tensor sum(const Tensor& x, int64_t axis, bool keepdim) {
  axis = normalize_axis(axis, x.dim(), "sum");
  Tensor out = sum_axis_raw(x, axis, keepdim, 1.0);
  return record(out, "sum_axis", {x}, [axis](BackwardContext& c) {
    c.add_grad(0, spread_back(c.grad_out, c.inputs[0].shape(), axis));
  });
}

Tensor mean(const Tensor& x, int64_t axis, bool keepdim) {
  axis = normalize_axis(axis, x.dim(), "mean");
  const int64_t len = x.size(axis);
  AZ_CHECK(len > 0, "mean: axis ", axis, " of shape ", x.shape(), " is empty");
  Tensor out = sum_axis_raw(x, axis, keepdim, 1.0 / static_cast<double>(len));
  return record(out, "mean_axis", {x}, [axis, len](BackwardContext& c) {
    c.add_grad(0, mul(spread_back(c.grad_out, c.inputs[0].shape(), axis), 1.0f / static_cast<float>(len)));
  });
}

// max: forward keeps the values; backward shares g equally among the entries equal to the max.
Tensor max(const Tensor& x) {
  AZ_CHECK(x.numel() > 0, "max: empty tensor of shape ", x.shape());
  const float* p = x.data();
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) m = p[i] > m ? p[i] : m;
  Tensor out = Tensor::full({}, m);
  return record(out, "max", {x}, [](BackwardContext& c) {
    const Tensor& x = c.inputs[0];
    const float m = c.out.item();
    const float* px = x.data();
    int64_t ties = 0;
    for (int64_t i = 0, n = x.numel(); i < n; ++i) ties += px[i] == m;
    Tensor gx = Tensor::zeros(x.shape());
    const float share = c.grad_out.item() / static_cast<float>(ties);
    for (int64_t i = 0, n = x.numel(); i < n; ++i)
      if (px[i] == m) gx.data()[i] = share;
    c.add_grad(0, gx);
  });
}

Tensor max(const Tensor& x, int64_t axis, bool keepdim) {
  axis = normalize_axis(axis, x.dim(), "max");
  const auto sp = split_at(x.shape(), axis);
  AZ_CHECK(sp.len > 0, "max: axis ", axis, " of shape ", x.shape(), " is empty");
  Tensor out = Tensor::empty(reduced_shape(x.shape(), axis, keepdim));
  const float* px = x.data();
  float* po = out.data();
  parallel_rows(sp.outer, sp.len * sp.inner, [&](int64_t o) {
    for (int64_t i = 0; i < sp.inner; ++i) {
      const float* col = px + o * sp.len * sp.inner + i;
      float m = col[0];
      for (int64_t l = 1; l < sp.len; ++l) m = col[l * sp.inner] > m ? col[l * sp.inner] : m;
      po[o * sp.inner + i] = m;
    }
  });
  return record(out, "max_axis", {x}, [axis](BackwardContext& c) {
    const Tensor& x = c.inputs[0];
    const auto sp = split_at(x.shape(), axis);
    Tensor gx = Tensor::zeros(x.shape());
    const float* px = x.data();
    const float* pm = c.out.data();
    const float* pg = c.grad_out.data();
    float* pgx = gx.data();
    parallel_rows(sp.outer, sp.len * sp.inner, [&](int64_t o) {
      for (int64_t i = 0; i < sp.inner; ++i) {
        const int64_t base = o * sp.len * sp.inner + i;
        const float m = pm[o * sp.inner + i];
        int64_t ties = 0;
        for (int64_t l = 0; l < sp.len; ++l) ties += px[base + l * sp.inner] == m;
        const float share = pg[o * sp.inner + i] / static_cast<float>(ties);
        for (int64_t l = 0; l < sp.len; ++l)
          if (px[base + l * sp.inner] == m) pgx[base + l * sp.inner] = share;
      }
    });
    c.add_grad(0, gx);
  });
}

}  // namespace core
