// core/tensor.cpp — the Tensor handle: factories, element access, printing, and the autograd entry points.
#include "core/tensor.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <sstream>

#include "core/autograd.h"
#include "core/parallel.h"

namespace core {

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + ")";
}

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    AZ_CHECK(d >= 0, "tensor: negative dimension in shape ", shape);
    AZ_CHECK(d == 0 || n <= (int64_t(1) << 50) / d, "tensor: shape ", shape, " is too large");
    n *= d;
  }
  return n;
}

bool all_finite(const float* p, int64_t n) {
  // One pass over the data, split across threads when it is large (the kernels check q, k, v with it on every
  // call: O(n·d), but at the speed of memory only if every core reads).
  uint32_t bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n >= detail::kParallelWork * 8 && !omp_in_parallel())
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, sizeof bits);
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);  // exponent all ones: inf or NaN
  }
  return bad == 0;
}

int64_t first_non_finite(const float* p, int64_t n) {
  if (all_finite(p, n)) return -1;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return i;
  return -1;  // not reached: all_finite saw one
}

int64_t normalize_axis(int64_t axis, int64_t rank, const char* op) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  AZ_CHECK(a >= 0 && a < rank, op, ": axis ", axis, " is out of range for a tensor of rank ", rank);
  return a;
}

// ---- Storage --------------------------------------------------------------------------------------------
Storage::Storage(int64_t n) : numel(n) {
  data = static_cast<float*>(memory::allocate(static_cast<size_t>(n) * sizeof(float)));
}
Storage::~Storage() { memory::release(data, static_cast<size_t>(numel) * sizeof(float)); }

// ---- factories ------------------------------------------------------------------------------------------
Tensor Tensor::empty(const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape));
  impl->shape = shape;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  float* p = t.data();
  const int64_t n = t.numel();
  if (value == 0.0f) {
    std::memset(p, 0, static_cast<size_t>(n) * sizeof(float));
  } else {
    for (int64_t i = 0; i < n; ++i) p[i] = value;
  }
  return t;
}

Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  const int64_t n = numel_of(shape);
  AZ_CHECK(static_cast<int64_t>(values.size()) == n, "from_vector: shape ", shape, " needs ", n,
           " values, got ", values.size());
  Tensor t = empty(shape);
  if (n) std::memcpy(t.data(), values.data(), static_cast<size_t>(n) * sizeof(float));
  return t;
}

// ---- shape and data -------------------------------------------------------------------------------------
static const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl, const char* what) {
  AZ_CHECK(impl != nullptr, what, ": the tensor is undefined (default-constructed Tensor)");
  return *impl;
}

const Shape& Tensor::shape() const { return checked(impl_, "shape").shape; }
int64_t Tensor::numel() const {
  const TensorImpl& t = checked(impl_, "numel");
  if (!t.storage) return 0;
  int64_t n = 1;  // the shape was checked by numel_of when its storage was made: no overflow test here
  for (int64_t d : t.shape) n *= d;
  return n;
}
float* Tensor::data() const { return checked(impl_, "data").storage->data; }

int64_t Tensor::size(int64_t axis) const {
  return shape()[static_cast<size_t>(normalize_axis(axis, dim(), "size"))];
}

float Tensor::item() const {
  AZ_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape());
  return data()[0];
}

// Row-major offset of a multi-index, bounds-checked; `what` names the caller in errors.
static int64_t flat_offset(const Shape& s, std::initializer_list<int64_t> idx, const char* what) {
  AZ_CHECK(idx.size() == s.size(), what, ": ", idx.size(), " indices for a tensor of shape ", s);
  int64_t offset = 0;
  size_t d = 0;
  for (int64_t i : idx) {
    AZ_CHECK(i >= 0 && i < s[d], what, ": index ", i, " out of range for axis ", d, " of shape ", s);
    offset = offset * s[d] + i;
    ++d;
  }
  return offset;
}

float& Tensor::at(std::initializer_list<int64_t> idx) const { return data()[flat_offset(shape(), idx, "at")]; }

std::vector<float> Tensor::to_vector() const {
  const float* p = data();
  return std::vector<float>(p, p + numel());
}

namespace {
void print_rec(std::ostringstream& os, const float* p, const Shape& s, size_t axis, int max_per_dim,
               int indent) {
  if (axis == s.size()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", static_cast<double>(*p));
    os << buf;
    return;
  }
  int64_t stride = 1;
  for (size_t d = axis + 1; d < s.size(); ++d) stride *= s[d];
  os << "[";
  const int64_t n = s[axis];
  for (int64_t i = 0; i < n; ++i) {
    if (n > max_per_dim && i == max_per_dim / 2) {
      os << "...";
      i = n - max_per_dim / 2 - 1;
      if (i + 1 < n) os << (axis + 1 == s.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    print_rec(os, p + i * stride, s, axis + 1, max_per_dim, indent + 1);
    if (i + 1 < n) os << (axis + 1 == s.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}
}  // namespace

std::string Tensor::str(int max_per_dim) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor" << shape_str(shape()) << " ";
  print_rec(os, data(), shape(), 0, std::max(2, max_per_dim), 0);
  if (requires_grad()) os << " (requires_grad, op=" << op_name() << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

// ---- autograd -------------------------------------------------------------------------------------------
bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  checked(impl_, "set_requires_grad");
  AZ_CHECK(impl_->grad_fn == nullptr, "set_requires_grad: only leaf tensors can be marked (this one was made by ",
           op_name(), "); use detach() first");
  impl_->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return checked(impl_, "is_leaf").grad_fn == nullptr; }

Tensor Tensor::grad() const { return Tensor(checked(impl_, "grad").grad); }

void Tensor::zero_grad() {
  checked(impl_, "zero_grad");
  impl_->grad.reset();
}

const char* Tensor::op_name() const {
  if (!impl_ || !impl_->grad_fn) return "leaf";
  return impl_->grad_fn->op;
}

void Tensor::backward(bool retain_graph) const {
  checked(impl_, "backward");
  AZ_CHECK(numel() == 1, "backward: called on a tensor of shape ", shape(),
           " without an upstream gradient; pass one (same shape) or reduce to a scalar first");
  run_backward(*this, Tensor::ones(shape()), retain_graph);
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  checked(impl_, "backward");
  AZ_CHECK(grad_output.defined(), "backward: the upstream gradient is undefined");
  AZ_CHECK(grad_output.shape() == shape(), "backward: upstream gradient has shape ", grad_output.shape(),
           " but the tensor has shape ", shape());
  run_backward(*this, grad_output, retain_graph);
}

Tensor Tensor::detach() const {
  checked(impl_, "detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape());
  if (numel()) std::memcpy(out.data(), data(), static_cast<size_t>(numel()) * sizeof(float));
  return record(out, "clone", {*this}, [](BackwardContext& c) { c.add_grad(0, c.grad_out); });
}

// ---- IntTensor ------------------------------------------------------------------------------------------
IntTensor::IntTensor(const Shape& s, int64_t fill) : shape(s), data(static_cast<size_t>(numel_of(s)), fill) {}

IntTensor IntTensor::from_vector(const Shape& s, const std::vector<int64_t>& values) {
  const int64_t n = numel_of(s);
  AZ_CHECK(static_cast<int64_t>(values.size()) == n, "IntTensor::from_vector: shape ", s, " needs ", n,
           " values, got ", values.size());
  IntTensor t;
  t.shape = s;
  t.data.assign(values.begin(), values.end());
  return t;
}

int64_t& IntTensor::at(std::initializer_list<int64_t> idx) { return data[flat_offset(shape, idx, "IntTensor::at")]; }
int64_t IntTensor::at(std::initializer_list<int64_t> idx) const { return data[flat_offset(shape, idx, "IntTensor::at")]; }

}  // namespace core
