// core/ops_index.cpp — gather / index_select / scatter_add / masked_fill / where, and integer helpers.
#include "core/ops_index.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/parallel.h"

namespace core {

using detail::broadcast_strides;
using detail::parallel_rows;
using detail::row_offset;
using detail::split_at;

namespace {

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int64_t d = static_cast<int64_t>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
  return st;
}

// For every element of `index` (gather/scatter layout), the flat offset in a tensor of shape `x_shape` that it
// points at: the element's own coordinates on every axis except `axis`, where it takes the index value.
std::vector<int64_t> scatter_offsets(const Shape& x_shape, const IntTensor& index, int64_t axis, const char* op) {
  AZ_CHECK(index.dim() == static_cast<int64_t>(x_shape.size()), op, ": index of shape ", index.shape,
           " must have the rank of the tensor ", x_shape);
  for (int64_t d = 0; d < index.dim(); ++d)
    AZ_CHECK(d == axis || index.shape[d] <= x_shape[d], op, ": index shape ", index.shape, " exceeds tensor shape ",
             x_shape, " on axis ", d);
  const int64_t len = x_shape[static_cast<size_t>(axis)];
  const auto xs = contiguous_strides(x_shape);
  std::vector<int64_t> offsets(static_cast<size_t>(index.numel()));
  for (int64_t i = 0; i < index.numel(); ++i) {
    const int64_t v = index.data[static_cast<size_t>(i)];
    AZ_CHECK(v >= 0 && v < len, op, ": index value ", v, " is out of range [0, ", len, ") for axis ", axis,
             " of shape ", x_shape);
    int64_t rem = i, offset = 0;
    for (int64_t d = index.dim() - 1; d >= 0; --d) {
      const int64_t coord = rem % index.shape[d];
      rem /= index.shape[d];
      offset += (d == axis ? v : coord) * xs[d];
    }
    offsets[static_cast<size_t>(i)] = offset;
  }
  return offsets;
}

// out[k] += src[k] at offsets (serial: offsets may repeat).
void add_at(float* dst, const std::vector<int64_t>& offsets, const float* src) {
  for (size_t k = 0; k < offsets.size(); ++k) dst[offsets[k]] += src[k];
}

}  // namespace

Tensor gather(const Tensor& x, int64_t axis, const IntTensor& index) {
  axis = normalize_axis(axis, x.dim(), "gather");
  const auto offsets = scatter_offsets(x.shape(), index, axis, "gather");
  Tensor out = Tensor::empty(index.shape);
  const float* px = x.data();
  float* po = out.data();
  for (size_t k = 0; k < offsets.size(); ++k) po[k] = px[offsets[k]];
  // The backward needs the index; it is kept (as a copy) inside the lambda — it is not a Tensor, so no cycle.
  return record(out, "gather", {x}, [axis, index](BackwardContext& c) {
    // forward: out[k] = x[offset(k)]  =>  gx[offset(k)] += g[k]
    Tensor gx = Tensor::zeros(c.inputs[0].shape());
    add_at(gx.data(), scatter_offsets(gx.shape(), index, axis, "gather"), c.grad_out.data());
    c.add_grad(0, gx);
  });
}

Tensor scatter_add(const Tensor& base, int64_t axis, const IntTensor& index, const Tensor& src) {
  axis = normalize_axis(axis, base.dim(), "scatter_add");
  AZ_CHECK(src.shape() == index.shape, "scatter_add: src shape ", src.shape(), " must equal index shape ",
           index.shape);
  const auto offsets = scatter_offsets(base.shape(), index, axis, "scatter_add");
  Tensor out = base.detach().clone();
  add_at(out.data(), offsets, src.data());
  return record(out, "scatter_add", {base, src}, [axis, index](BackwardContext& c) {
    // forward: out = base; out[offset(k)] += src[k]  =>  gbase += g, gsrc[k] += g[offset(k)]
    if (c.needs_grad(0)) c.add_grad(0, c.grad_out);
    if (c.needs_grad(1)) c.add_grad(1, gather(c.grad_out, axis, index));
  });
}

Tensor index_select(const Tensor& x, int64_t axis, const IntTensor& index) {
  axis = normalize_axis(axis, x.dim(), "index_select");
  AZ_CHECK(index.dim() == 1, "index_select: index must be 1-D, got shape ", index.shape);
  const auto sp = split_at(x.shape(), axis);
  for (int64_t v : index.data)
    AZ_CHECK(v >= 0 && v < sp.len, "index_select: index value ", v, " is out of range [0, ", sp.len,
             ") for axis ", axis, " of shape ", x.shape());
  Shape out_shape = x.shape();
  const int64_t count = index.numel();
  out_shape[static_cast<size_t>(axis)] = count;
  Tensor out = Tensor::empty(out_shape);
  const float* px = x.data();
  float* po = out.data();
  parallel_rows(sp.outer, count * sp.inner, [&](int64_t o) {
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(po + (o * count + i) * sp.inner, px + (o * sp.len + index.data[static_cast<size_t>(i)]) * sp.inner,
                  static_cast<size_t>(sp.inner) * sizeof(float));
  });
  return record(out, "index_select", {x}, [axis, index](BackwardContext& c) {
    const Tensor& x = c.inputs[0];
    const auto sp = split_at(x.shape(), axis);
    const int64_t count = index.numel();
    Tensor gx = Tensor::zeros(x.shape());
    // forward: out[i] = x[index[i]]  =>  gx[index[i]] += g[i]  (indices may repeat: accumulate)
    parallel_rows(sp.outer, count * sp.inner, [&](int64_t o) {
      for (int64_t i = 0; i < count; ++i) {
        const float* g = c.grad_out.data() + (o * count + i) * sp.inner;
        float* d = gx.data() + (o * sp.len + index.data[static_cast<size_t>(i)]) * sp.inner;
        for (int64_t j = 0; j < sp.inner; ++j) d[j] += g[j];
      }
    });
    c.add_grad(0, gx);
  });
}

// ---- masks ----------------------------------------------------------------------------------------------
namespace {
// out = mask != 0 ? value : x, with mask broadcast to x's shape.
Tensor fill_where(const Tensor& x, const Tensor& mask, float value, const char* op) {
  AZ_CHECK(broadcast_shapes(x.shape(), mask.shape(), op) == x.shape(), op, ": mask of shape ", mask.shape(),
           " does not broadcast to the tensor's shape ", x.shape());
  Tensor out = Tensor::empty(x.shape());
  const int64_t n = x.numel();
  if (n == 0) return out;
  const float* px = x.data();
  const float* pm = mask.data();
  float* po = out.data();
  if (x.dim() == 0) {
    po[0] = pm[0] != 0.0f ? value : px[0];
    return out;
  }
  const auto sm = broadcast_strides(mask.shape(), x.shape());
  const int64_t inner = x.shape().back();
  const int64_t im = sm.back();
  parallel_rows(n / inner, inner, [&](int64_t r) {
    const float* m = pm + row_offset(r, x.shape(), sm);
    const float* xr = px + r * inner;
    float* o = po + r * inner;
    for (int64_t j = 0; j < inner; ++j) o[j] = m[j * im] != 0.0f ? value : xr[j];
  });
  return out;
}
}  // namespace

Tensor masked_fill(const Tensor& x, const Tensor& mask, float value) {
  Tensor out = fill_where(x, mask, value, "masked_fill");
  return record(out, "masked_fill", {x, mask}, [](BackwardContext& c) {
    // forward: out = mask ? value : x  =>  gx = mask ? 0 : g   (no gradient to the mask)
    if (c.needs_grad(0)) c.add_grad(0, fill_where(c.grad_out, c.inputs[1], 0.0f, "masked_fill"));
  });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const Shape out_shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(out_shape);
  const int64_t n = out.numel();
  if (n > 0 && out_shape.empty()) {
    out.data()[0] = cond.data()[0] != 0.0f ? a.data()[0] : b.data()[0];
  } else if (n > 0) {
    const auto sc = broadcast_strides(cond.shape(), out_shape);
    const auto sa = broadcast_strides(a.shape(), out_shape);
    const auto sb = broadcast_strides(b.shape(), out_shape);
    const int64_t inner = out_shape.back();
    const int64_t ic = sc.back(), ia = sa.back(), ib = sb.back();
    const float *pc = cond.data(), *pa = a.data(), *pb = b.data();
    float* po = out.data();
    parallel_rows(n / inner, inner, [&](int64_t r) {
      const float* rc = pc + row_offset(r, out_shape, sc);
      const float* ra = pa + row_offset(r, out_shape, sa);
      const float* rb = pb + row_offset(r, out_shape, sb);
      float* o = po + r * inner;
      for (int64_t j = 0; j < inner; ++j) o[j] = rc[j * ic] != 0.0f ? ra[j * ia] : rb[j * ib];
    });
  }
  return record(out, "where", {cond, a, b}, [](BackwardContext& c) {
    // forward: out = cond ? a : b  =>  ga += cond ? g : 0,  gb += cond ? 0 : g
    const Tensor zero = Tensor::zeros({});
    if (c.needs_grad(1)) c.add_grad(1, sum_to_shape(where(c.inputs[0], c.grad_out, zero), c.inputs[1].shape()));
    if (c.needs_grad(2)) c.add_grad(2, sum_to_shape(where(c.inputs[0], zero, c.grad_out), c.inputs[2].shape()));
  });
}

// ---- integer helpers (no gradient) ----------------------------------------------------------------------
IntTensor argmax(const Tensor& x, int64_t axis) {
  axis = normalize_axis(axis, x.dim(), "argmax");
  const auto sp = split_at(x.shape(), axis);
  AZ_CHECK(sp.len > 0, "argmax: axis ", axis, " of shape ", x.shape(), " is empty");
  Shape out_shape = x.shape();
  out_shape.erase(out_shape.begin() + axis);
  IntTensor out(out_shape);
  const float* px = x.data();
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t i = 0; i < sp.inner; ++i) {
      const float* col = px + o * sp.len * sp.inner + i;
      int64_t best = 0;
      for (int64_t l = 1; l < sp.len; ++l)
        if (col[l * sp.inner] > col[best * sp.inner]) best = l;
      out.data[static_cast<size_t>(o * sp.inner + i)] = best;
    }
  return out;
}

IntTensor argsort(const Tensor& x, int64_t axis, bool descending) {
  axis = normalize_axis(axis, x.dim(), "argsort");
  const auto sp = split_at(x.shape(), axis);
  IntTensor out(x.shape());
  const float* px = x.data();
  std::vector<int64_t> order(static_cast<size_t>(sp.len));
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t i = 0; i < sp.inner; ++i) {
      const float* col = px + o * sp.len * sp.inner + i;
      std::iota(order.begin(), order.end(), int64_t(0));
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return descending ? col[a * sp.inner] > col[b * sp.inner] : col[a * sp.inner] < col[b * sp.inner];
      });
      for (int64_t l = 0; l < sp.len; ++l)
        out.data[static_cast<size_t>((o * sp.len + l) * sp.inner + i)] = order[static_cast<size_t>(l)];
    }
  return out;
}

TopK topk(const Tensor& x, int64_t k, int64_t axis, bool largest) {
  axis = normalize_axis(axis, x.dim(), "topk");
  const auto sp = split_at(x.shape(), axis);
  AZ_CHECK(k >= 0 && k <= sp.len, "topk: k = ", k, " but axis ", axis, " of shape ", x.shape(), " has ", sp.len,
           " entries");
  Shape out_shape = x.shape();
  out_shape[static_cast<size_t>(axis)] = k;
  TopK result{Tensor::empty(out_shape), IntTensor(out_shape)};
  const float* px = x.data();
  std::vector<int64_t> order(static_cast<size_t>(sp.len));
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t i = 0; i < sp.inner; ++i) {
      const float* col = px + o * sp.len * sp.inner + i;
      std::iota(order.begin(), order.end(), int64_t(0));
      // ties keep the lower index first
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
        const float va = col[a * sp.inner], vb = col[b * sp.inner];
        if (va != vb) return largest ? va > vb : va < vb;
        return a < b;
      });
      for (int64_t l = 0; l < k; ++l) {
        const size_t dst = static_cast<size_t>((o * k + l) * sp.inner + i);
        result.indices.data[dst] = order[static_cast<size_t>(l)];
        result.values.data()[dst] = col[order[static_cast<size_t>(l)] * sp.inner];
      }
    }
  return result;
}

Tensor arange(int64_t n) {
  AZ_CHECK(n >= 0, "arange: n must be >= 0, got ", n);
  Tensor t = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<float>(i);
  return t;
}

IntTensor arange_int(int64_t n) {
  AZ_CHECK(n >= 0, "arange_int: n must be >= 0, got ", n);
  IntTensor t({n});
  std::iota(t.data.begin(), t.data.end(), int64_t(0));
  return t;
}

Tensor one_hot(const IntTensor& index, int64_t num_classes) {
  AZ_CHECK(num_classes > 0, "one_hot: num_classes must be > 0, got ", num_classes);
  Shape out_shape = index.shape;
  out_shape.push_back(num_classes);
  Tensor out = Tensor::zeros(out_shape);
  for (int64_t i = 0; i < index.numel(); ++i) {
    const int64_t v = index.data[static_cast<size_t>(i)];
    AZ_CHECK(v >= 0 && v < num_classes, "one_hot: value ", v, " at position ", i, " is out of range [0, ",
             num_classes, ")");
    out.data()[i * num_classes + v] = 1.0f;
  }
  return out;
}

}  // namespace core
