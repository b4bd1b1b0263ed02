// core/ops_elementwise.cpp — elementwise ops with broadcasting, and their gradients.
#include "core/ops_elementwise.h"

#include <cmath>
#include <cstring>

#include "core/autograd.h"
#include "core/fast_erf.h"
#include "core/parallel.h"

namespace core {

using detail::broadcast_strides;
using detail::parallel_chunks;
using detail::parallel_rows;
using detail::row_offset;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t k = 0; k < rank; ++k) {
    const int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1;
    const int64_t db = k < b.size() ? b[b.size() - 1 - k] : 1;
    AZ_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b, " cannot broadcast (axis -", k + 1,
             ": ", da, " vs ", db, ")");
    out[rank - 1 - k] = da == 1 ? db : da;
  }
  return out;
}

// ---- loop templates -------------------------------------------------------------------------------------
namespace {

// out[i] = f(a[i]) for same-shape data.
template <class F>
Tensor map1(const Tensor& a, F f) {
  Tensor out = Tensor::empty(a.shape());
  const float* pa = a.data();
  float* po = out.data();
  parallel_chunks(a.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i]);
  });
  return out;
}

// out[i] = f(a[i], b[i]) for same-shape data (used by the backward passes).
template <class F>
Tensor map2(const Tensor& a, const Tensor& b, F f) {
  Tensor out = Tensor::empty(a.shape());
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  parallel_chunks(a.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i], pb[i]);
  });
  return out;
}

template <class F>
Tensor map3(const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  Tensor out = Tensor::empty(a.shape());
  const float* pa = a.data();
  const float* pb = b.data();
  const float* pc = c.data();
  float* po = out.data();
  parallel_chunks(a.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i], pb[i], pc[i]);
  });
  return out;
}

// out = f(a, b) with broadcasting. Fast paths for equal shapes and for a one-element operand; otherwise rows
// of the last axis, each operand advancing with stride 0 (stretched) or 1 along it.
template <class F>
Tensor broadcast2(const Tensor& a, const Tensor& b, const char* op, F f) {
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(out_shape);
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  const int64_t n = out.numel();
  if (a.shape() == b.shape()) {
    parallel_chunks(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i], pb[i]);
    });
    return out;
  }
  if (b.numel() == 1 && a.numel() == n) {
    const float sb = pb[0];
    parallel_chunks(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) po[i] = f(pa[i], sb);
    });
    return out;
  }
  if (a.numel() == 1 && b.numel() == n) {
    const float sa = pa[0];
    parallel_chunks(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) po[i] = f(sa, pb[i]);
    });
    return out;
  }
  if (n == 0) return out;
  const auto sa = broadcast_strides(a.shape(), out_shape);
  const auto sb = broadcast_strides(b.shape(), out_shape);
  const int64_t inner = out_shape.back();
  const int64_t rows = n / inner;
  const int64_t ia = sa.back(), ib = sb.back();  // 0 or 1
  parallel_rows(rows, inner, [&](int64_t r) {
    const float* ra = pa + row_offset(r, out_shape, sa);
    const float* rb = pb + row_offset(r, out_shape, sb);
    float* ro = po + r * inner;
    if (ia && ib) {
      for (int64_t j = 0; j < inner; ++j) ro[j] = f(ra[j], rb[j]);
    } else if (ia) {
      for (int64_t j = 0; j < inner; ++j) ro[j] = f(ra[j], rb[0]);
    } else if (ib) {
      for (int64_t j = 0; j < inner; ++j) ro[j] = f(ra[0], rb[j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) ro[j] = f(ra[0], rb[0]);
    }
  });
  return out;
}

}  // namespace

// ---- undoing broadcasting -------------------------------------------------------------------------------
Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  AZ_CHECK(broadcast_shapes(shape, g.shape(), "sum_to_shape") == g.shape(), "sum_to_shape: ", g.shape(),
           " is not a broadcast of ", shape);
  Tensor out = Tensor::zeros(shape);
  const Shape& gs = g.shape();
  const int64_t n = g.numel();
  if (n == 0) return out;
  const auto so = broadcast_strides(shape, gs);
  const int64_t inner = gs.back();
  const int64_t rows = n / inner;
  const int64_t io = so.back();
  const float* pg = g.data();
  float* po = out.data();
  // Serial on purpose: many rows add into the same output cells; one fixed order keeps results reproducible.
  for (int64_t r = 0; r < rows; ++r) {
    float* ro = po + row_offset(r, gs, so);
    const float* rg = pg + r * inner;
    if (io) {
      for (int64_t j = 0; j < inner; ++j) ro[j] += rg[j];
    } else {
      float acc = 0.0f;
      for (int64_t j = 0; j < inner; ++j) acc += rg[j];
      ro[0] += acc;
    }
  }
  return out;
}

// ---- binary ---------------------------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast2(a, b, "add", [](float x, float y) { return x + y; });
  return record(out, "add", {a, b}, [](BackwardContext& c) {
    // forward: out = a + b  =>  da += g, db += g (summed over broadcast axes)
    if (c.needs_grad(0)) c.add_grad(0, sum_to_shape(c.grad_out, c.inputs[0].shape()));
    if (c.needs_grad(1)) c.add_grad(1, sum_to_shape(c.grad_out, c.inputs[1].shape()));
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast2(a, b, "sub", [](float x, float y) { return x - y; });
  return record(out, "sub", {a, b}, [](BackwardContext& c) {
    // forward: out = a - b  =>  da += g, db -= g
    if (c.needs_grad(0)) c.add_grad(0, sum_to_shape(c.grad_out, c.inputs[0].shape()));
    if (c.needs_grad(1)) c.add_grad(1, sum_to_shape(neg(c.grad_out), c.inputs[1].shape()));
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast2(a, b, "mul", [](float x, float y) { return x * y; });
  return record(out, "mul", {a, b}, [](BackwardContext& c) {
    // forward: out = a * b  =>  da += g * b, db += g * a
    const Tensor& a = c.inputs[0];
    const Tensor& b = c.inputs[1];
    if (c.needs_grad(0)) c.add_grad(0, sum_to_shape(mul(c.grad_out, b), a.shape()));
    if (c.needs_grad(1)) c.add_grad(1, sum_to_shape(mul(c.grad_out, a), b.shape()));
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = broadcast2(a, b, "div", [](float x, float y) { return x / y; });
  return record(out, "div", {a, b}, [](BackwardContext& c) {
    // forward: out = a / b  =>  da += g / b, db += -g * a / b^2 = -g * out / b
    const Tensor& a = c.inputs[0];
    const Tensor& b = c.inputs[1];
    if (c.needs_grad(0)) c.add_grad(0, sum_to_shape(div(c.grad_out, b), a.shape()));
    if (c.needs_grad(1)) {
      Tensor gb = broadcast2(mul(c.grad_out, c.out), b, "div", [](float x, float y) { return -x / y; });
      c.add_grad(1, sum_to_shape(gb, b.shape()));
    }
  });
}

// ---- with a scalar --------------------------------------------------------------------------------------
Tensor add(const Tensor& a, float s) {
  Tensor out = map1(a, [s](float x) { return x + s; });
  return record(out, "add_scalar", {a}, [](BackwardContext& c) { c.add_grad(0, c.grad_out); });
}

Tensor mul(const Tensor& a, float s) {
  Tensor out = map1(a, [s](float x) { return x * s; });
  return record(out, "mul_scalar", {a}, [s](BackwardContext& c) {
    c.add_grad(0, map1(c.grad_out, [s](float g) { return g * s; }));
  });
}

static Tensor div_scalar(const Tensor& a, float s) {
  Tensor out = map1(a, [s](float x) { return x / s; });
  return record(out, "div_scalar", {a}, [s](BackwardContext& c) {
    c.add_grad(0, map1(c.grad_out, [s](float g) { return g / s; }));
  });
}

static Tensor scalar_div(float s, const Tensor& a) {
  Tensor out = map1(a, [s](float x) { return s / x; });
  return record(out, "scalar_div", {a}, [](BackwardContext& c) {
    // forward: out = s / a  =>  da += -g * s / a^2 = -g * out / a
    c.add_grad(0, map3(c.grad_out, c.out, c.inputs[0], [](float g, float o, float x) { return -g * o / x; }));
  });
}

static Tensor scalar_sub(float s, const Tensor& a) {
  Tensor out = map1(a, [s](float x) { return s - x; });
  return record(out, "scalar_sub", {a}, [](BackwardContext& c) { c.add_grad(0, neg(c.grad_out)); });
}

Tensor pow(const Tensor& a, float p) {
  Tensor out = map1(a, [p](float x) { return std::pow(x, p); });
  return record(out, "pow", {a}, [p](BackwardContext& c) {
    // forward: out = a^p  =>  da += g * p * a^(p-1)
    c.add_grad(0, map2(c.grad_out, c.inputs[0], [p](float g, float x) { return g * p * std::pow(x, p - 1.0f); }));
  });
}

// ---- unary ----------------------------------------------------------------------------------------------
Tensor neg(const Tensor& a) {
  Tensor out = map1(a, [](float x) { return -x; });
  return record(out, "neg", {a}, [](BackwardContext& c) { c.add_grad(0, neg(c.grad_out)); });
}

Tensor square(const Tensor& a) {
  Tensor out = map1(a, [](float x) { return x * x; });
  return record(out, "square", {a}, [](BackwardContext& c) {
    c.add_grad(0, map2(c.grad_out, c.inputs[0], [](float g, float x) { return 2.0f * x * g; }));
  });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = map1(a, [](float x) { return std::sqrt(x); });
  return record(out, "sqrt", {a}, [](BackwardContext& c) {
    // forward: out = sqrt(a)  =>  da += g / (2 out)
    c.add_grad(0, map2(c.grad_out, c.out, [](float g, float o) { return g / (2.0f * o); }));
  });
}

Tensor exp(const Tensor& a) {
  Tensor out = map1(a, [](float x) { return std::exp(x); });
  return record(out, "exp", {a}, [](BackwardContext& c) { c.add_grad(0, mul(c.grad_out, c.out)); });
}

Tensor log(const Tensor& a) {
  Tensor out = map1(a, [](float x) { return std::log(x); });
  return record(out, "log", {a}, [](BackwardContext& c) { c.add_grad(0, div(c.grad_out, c.inputs[0])); });
}

Tensor abs(const Tensor& a) {
  Tensor out = map1(a, [](float x) { return std::fabs(x); });
  return record(out, "abs", {a}, [](BackwardContext& c) {
    c.add_grad(0, map2(c.grad_out, c.inputs[0], [](float g, float x) {
      return x > 0.0f ? g : (x < 0.0f ? -g : 0.0f);
    }));
  });
}

Tensor relu(const Tensor& a) {
  Tensor out = map1(a, [](float x) { return x > 0.0f ? x : 0.0f; });
  return record(out, "relu", {a}, [](BackwardContext& c) {
    c.add_grad(0, map2(c.grad_out, c.inputs[0], [](float g, float x) { return x > 0.0f ? g : 0.0f; }));
  });
}

Tensor gelu(const Tensor& a) {
  // gelu(x) = x·Φ(x), Φ the standard normal CDF (core/fast_erf.h: vectorised, accurate in the left tail)
  Tensor out = map1(a, [](float x) { return x * fast_normal_cdf(x); });
  return record(out, "gelu", {a}, [](BackwardContext& c) {
    // d/dx [x Φ(x)] = Φ(x) + x φ(x), φ the standard normal density
    c.add_grad(0, map2(c.grad_out, c.inputs[0],
                       [](float g, float x) { return g * (fast_normal_cdf(x) + x * fast_normal_pdf(x)); }));
  });
}

Tensor elu(const Tensor& a, float alpha) {
  Tensor out = map1(a, [alpha](float x) { return x > 0.0f ? x : alpha * std::expm1(x); });
  return record(out, "elu", {a}, [alpha](BackwardContext& c) {
    // x > 0: 1;  x <= 0: alpha e^x = out + alpha
    c.add_grad(0, map3(c.grad_out, c.inputs[0], c.out,
                       [alpha](float g, float x, float o) { return x > 0.0f ? g : g * (o + alpha); }));
  });
}

Tensor sigmoid(const Tensor& a) {
  Tensor out = map1(a, [](float x) {
    // two forms so that exp never overflows
    if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
    const float e = std::exp(x);
    return e / (1.0f + e);
  });
  return record(out, "sigmoid", {a}, [](BackwardContext& c) {
    c.add_grad(0, map2(c.grad_out, c.out, [](float g, float o) { return g * o * (1.0f - o); }));
  });
}

Tensor tanh(const Tensor& a) {
  Tensor out = map1(a, [](float x) { return std::tanh(x); });
  return record(out, "tanh", {a}, [](BackwardContext& c) {
    c.add_grad(0, map2(c.grad_out, c.out, [](float g, float o) { return g * (1.0f - o * o); }));
  });
}

// ---- operators ------------------------------------------------------------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, float s) { return add(a, s); }
Tensor operator+(float s, const Tensor& a) { return add(a, s); }
Tensor operator-(const Tensor& a, float s) { return add(a, -s); }
Tensor operator-(float s, const Tensor& a) { return scalar_sub(s, a); }
Tensor operator*(const Tensor& a, float s) { return mul(a, s); }
Tensor operator*(float s, const Tensor& a) { return mul(a, s); }
Tensor operator/(const Tensor& a, float s) { return div_scalar(a, s); }
Tensor operator/(float s, const Tensor& a) { return scalar_div(s, a); }

}  // namespace core
