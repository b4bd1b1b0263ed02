// core/ops_shape.cpp — reshape (a view), and the movement ops that copy: permute, slice, concat, pad, expand.
#include "core/ops_shape.h"

#include <algorithm>
#include <cstring>

#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/parallel.h"

namespace core {

using detail::parallel_rows;
using detail::split_at;

// ---- reshape --------------------------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape target = shape;
  int64_t known = 1, infer = -1;
  for (size_t d = 0; d < target.size(); ++d) {
    if (target[d] == -1) {
      AZ_CHECK(infer < 0, "reshape: ", x.shape(), " -> ", shape, ": more than one -1");
      infer = static_cast<int64_t>(d);
    } else {
      AZ_CHECK(target[d] >= 0, "reshape: ", x.shape(), " -> ", shape, ": negative size");
      known *= target[d];
    }
  }
  if (infer >= 0) {
    AZ_CHECK(known > 0 && x.numel() % known == 0, "reshape: ", x.shape(), " -> ", shape, ": cannot infer -1 (",
             x.numel(), " elements)");
    target[static_cast<size_t>(infer)] = x.numel() / known;
  }
  AZ_CHECK(numel_of(target) == x.numel(), "reshape: ", x.shape(), " -> ", shape, ": ", x.numel(),
           " elements cannot take shape ", target);
  // A view: new shape, same storage (all tensors are contiguous, so any reshape can share).
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->shape = target;
  Tensor out(std::move(impl));
  return record(out, "reshape", {x}, [](BackwardContext& c) {
    c.add_grad(0, reshape(c.grad_out, c.inputs[0].shape()));
  });
}

Tensor flatten(const Tensor& x) { return reshape(x, {x.numel()}); }

Tensor unsqueeze(const Tensor& x, int64_t axis) {
  axis = normalize_axis(axis, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + axis, 1);
  return reshape(x, s);
}

Tensor squeeze(const Tensor& x, int64_t axis) {
  axis = normalize_axis(axis, x.dim(), "squeeze");
  AZ_CHECK(x.size(axis) == 1, "squeeze: axis ", axis, " of shape ", x.shape(), " has size ", x.size(axis),
           ", not 1");
  Shape s = x.shape();
  s.erase(s.begin() + axis);
  return reshape(x, s);
}

// ---- permute --------------------------------------------------------------------------------------------
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm_in) {
  const int64_t rank = x.dim();
  AZ_CHECK(static_cast<int64_t>(perm_in.size()) == rank, "permute: ", perm_in.size(), " axes given for shape ",
           x.shape());
  std::vector<int64_t> perm(perm_in.size());
  std::vector<bool> seen(perm.size(), false);
  for (size_t i = 0; i < perm.size(); ++i) {
    perm[i] = normalize_axis(perm_in[i], rank, "permute");
    AZ_CHECK(!seen[static_cast<size_t>(perm[i])], "permute: axis ", perm[i], " appears twice for shape ", x.shape());
    seen[static_cast<size_t>(perm[i])] = true;
  }
  Shape out_shape(perm.size());
  std::vector<int64_t> in_strides(perm.size());
  {
    std::vector<int64_t> strides(perm.size(), 1);
    for (int64_t d = rank - 2; d >= 0; --d) strides[d] = strides[d + 1] * x.shape()[d + 1];
    for (size_t i = 0; i < perm.size(); ++i) {
      out_shape[i] = x.shape()[static_cast<size_t>(perm[i])];
      in_strides[i] = strides[static_cast<size_t>(perm[i])];  // step in x when out index i advances
    }
  }
  Tensor out = Tensor::empty(out_shape);
  const int64_t n = out.numel();
  if (n > 0 && rank > 0) {
    const float* px = x.data();
    float* po = out.data();
    const int64_t inner = out_shape.back();
    const int64_t step = in_strides.back();
    parallel_rows(n / inner, inner, [&](int64_t r) {
      const float* src = px + detail::row_offset(r, out_shape, in_strides);
      float* dst = po + r * inner;
      if (step == 1) std::memcpy(dst, src, static_cast<size_t>(inner) * sizeof(float));
      else
        for (int64_t j = 0; j < inner; ++j) dst[j] = src[j * step];
    });
  } else if (n > 0) {
    out.data()[0] = x.data()[0];
  }
  return record(out, "permute", {x}, [perm](BackwardContext& c) {
    std::vector<int64_t> inverse(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
    c.add_grad(0, permute(c.grad_out, inverse));
  });
}

Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1) {
  axis0 = normalize_axis(axis0, x.dim(), "transpose");
  axis1 = normalize_axis(axis1, x.dim(), "transpose");
  std::vector<int64_t> perm(static_cast<size_t>(x.dim()));
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
  std::swap(perm[static_cast<size_t>(axis0)], perm[static_cast<size_t>(axis1)]);
  return permute(x, perm);
}

// ---- slice ----------------------------------------------------------------------------------------------
namespace {
// Copy, for each outer block, `len` rows of `inner` floats: dst row i <- src row (start + i*step).
void copy_rows(const float* src, int64_t src_len, float* dst, int64_t dst_len, int64_t outer, int64_t inner,
               int64_t count, int64_t src_start, int64_t src_step, int64_t dst_start) {
  parallel_rows(outer, count * inner, [&](int64_t o) {
    for (int64_t i = 0; i < count; ++i) {
      const float* s = src + (o * src_len + src_start + i * src_step) * inner;
      float* d = dst + (o * dst_len + dst_start + i) * inner;
      std::memcpy(d, s, static_cast<size_t>(inner) * sizeof(float));
    }
  });
}
}  // namespace

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end, int64_t step) {
  axis = normalize_axis(axis, x.dim(), "slice");
  const int64_t len = x.size(axis);
  if (start < 0) start += len;
  if (end < 0) end += len;
  AZ_CHECK(step >= 1, "slice: step must be >= 1, got ", step);
  AZ_CHECK(0 <= start && start <= end && end <= len, "slice: [", start, ", ", end, ") is not inside axis ", axis,
           " of shape ", x.shape());
  const int64_t count = (end - start + step - 1) / step;
  Shape out_shape = x.shape();
  out_shape[static_cast<size_t>(axis)] = count;
  Tensor out = Tensor::empty(out_shape);
  const auto sp = split_at(x.shape(), axis);
  if (out.numel()) copy_rows(x.data(), len, out.data(), count, sp.outer, sp.inner, count, start, step, 0);
  return record(out, "slice", {x}, [axis, start, step, count](BackwardContext& c) {
    const Tensor& x = c.inputs[0];
    Tensor gx = Tensor::zeros(x.shape());
    const auto sp = split_at(x.shape(), axis);
    // forward: out[i] = x[start + i*step]  =>  gx[start + i*step] += g[i]  (distinct rows: plain copy)
    parallel_rows(sp.outer, count * sp.inner, [&](int64_t o) {
      for (int64_t i = 0; i < count; ++i) {
        const float* s = c.grad_out.data() + (o * count + i) * sp.inner;
        float* d = gx.data() + (o * sp.len + start + i * step) * sp.inner;
        std::memcpy(d, s, static_cast<size_t>(sp.inner) * sizeof(float));
      }
    });
    c.add_grad(0, gx);
  });
}

// ---- concat / stack -------------------------------------------------------------------------------------
Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  AZ_CHECK(!xs.empty(), "concat: no tensors given");
  axis = normalize_axis(axis, xs[0].dim(), "concat");
  Shape out_shape = xs[0].shape();
  int64_t total = 0;
  for (const Tensor& t : xs) {
    AZ_CHECK(t.dim() == xs[0].dim(), "concat: shapes ", xs[0].shape(), " and ", t.shape(), " differ in rank");
    for (int64_t d = 0; d < t.dim(); ++d)
      AZ_CHECK(d == axis || t.shape()[d] == out_shape[d], "concat: shapes ", xs[0].shape(), " and ", t.shape(),
               " differ outside axis ", axis);
    total += t.size(axis);
  }
  out_shape[static_cast<size_t>(axis)] = total;
  Tensor out = Tensor::empty(out_shape);
  const auto sp = split_at(out_shape, axis);
  int64_t offset = 0;
  for (const Tensor& t : xs) {
    const int64_t len = t.size(axis);
    if (len && sp.outer && sp.inner) copy_rows(t.data(), len, out.data(), total, sp.outer, sp.inner, len, 0, 1, offset);
    offset += len;
  }
  return record(out, "concat", xs, [axis](BackwardContext& c) {
    int64_t offset = 0;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      const int64_t len = c.inputs[i].size(axis);
      if (c.needs_grad(i)) c.add_grad(i, slice(c.grad_out, axis, offset, offset + len));
      offset += len;
    }
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t axis) {
  AZ_CHECK(!xs.empty(), "stack: no tensors given");
  axis = normalize_axis(axis, xs[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(xs.size());
  for (const Tensor& t : xs) {
    AZ_CHECK(t.shape() == xs[0].shape(), "stack: shapes ", xs[0].shape(), " and ", t.shape(), " differ");
    parts.push_back(unsqueeze(t, axis));
  }
  return concat(parts, axis);
}

// ---- pad ------------------------------------------------------------------------------------------------
Tensor pad(const Tensor& x, int64_t axis, int64_t before, int64_t after, float value) {
  axis = normalize_axis(axis, x.dim(), "pad");
  AZ_CHECK(before >= 0 && after >= 0, "pad: before and after must be >= 0, got ", before, " and ", after);
  const int64_t len = x.size(axis);
  Shape out_shape = x.shape();
  out_shape[static_cast<size_t>(axis)] = len + before + after;
  Tensor out = Tensor::full(out_shape, value);
  const auto sp = split_at(x.shape(), axis);
  if (x.numel()) copy_rows(x.data(), len, out.data(), len + before + after, sp.outer, sp.inner, len, 0, 1, before);
  return record(out, "pad", {x}, [axis, before, len](BackwardContext& c) {
    c.add_grad(0, slice(c.grad_out, axis, before, before + len));
  });
}

// ---- expand ---------------------------------------------------------------------------------------------
Tensor expand(const Tensor& x, const Shape& shape) {
  AZ_CHECK(broadcast_shapes(x.shape(), shape, "expand") == shape, "expand: ", x.shape(), " cannot expand to ",
           shape);
  Tensor out = Tensor::empty(shape);
  const int64_t n = out.numel();
  if (n && shape.empty()) {
    out.data()[0] = x.data()[0];
  } else if (n) {
    const auto sx = detail::broadcast_strides(x.shape(), shape);
    const int64_t inner = shape.back();
    const int64_t ix = sx.back();
    const float* px = x.data();
    float* po = out.data();
    parallel_rows(n / inner, inner, [&](int64_t r) {
      const float* src = px + detail::row_offset(r, shape, sx);
      float* dst = po + r * inner;
      if (ix) std::memcpy(dst, src, static_cast<size_t>(inner) * sizeof(float));
      else
        for (int64_t j = 0; j < inner; ++j) dst[j] = src[0];
    });
  }
  return record(out, "expand", {x}, [](BackwardContext& c) {
    c.add_grad(0, sum_to_shape(c.grad_out, c.inputs[0].shape()));
  });
}

}  // namespace core
