// core/tensor.h — the Tensor handle: contiguous row-major float32 storage, a shape, autograd metadata.
//
// A Tensor is a cheap handle (a shared_ptr to a TensorImpl). COPIES ARE SHALLOW: `Tensor b = a;` makes b
// another name for the same data and the same gradient. Use clone() for a deep copy.
//
// Storage is always contiguous and row-major. reshape() of a tensor shares its storage (a view); every other
// op returns a new tensor. Storage goes through the counting allocator in core/memory.h.
//
// Integer data (indices, labels, token ids) lives in IntTensor: a plain shape + int64 buffer with no autograd.
//
// Autograd (see core/autograd.h): a tensor made by an op from inputs that require grad records a Node (its
// grad_fn). t.backward() walks that graph once, accumulates gradients into the leaves' grad() with +=, and then
// frees the graph.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/memory.h"

namespace core {

struct Node;  // core/autograd.h

// Float storage from the counting allocator. Shared by a tensor and its reshape() views.
struct Storage {
  explicit Storage(int64_t numel);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  float* data = nullptr;
  int64_t numel = 0;
};

struct TensorImpl : std::enable_shared_from_this<TensorImpl> {
  std::shared_ptr<Storage> storage;
  Shape shape;
  bool requires_grad = false;
  bool graph_freed = false;          // set when backward() released the graph that made this tensor
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves only), same shape
  std::shared_ptr<Node> grad_fn;     // the op that made this tensor (null for leaves)
};

int64_t numel_of(const Shape& shape);
// True when none of p[0..n) is NaN or ±inf. One branch-free pass over the exponent bits (it vectorises), so
// the kernels can refuse non-finite input at the cost of a copy.
bool all_finite(const float* p, int64_t n);
// The index of the first NaN or ±inf in p[0..n), or -1 when there is none (all_finite first, so the common
// all-finite case costs that one pass): for error messages that name where the bad value is.
int64_t first_non_finite(const float* p, int64_t n);
// Normalise a possibly negative axis (-1 = last) for a tensor of rank `rank`; the error names `op`.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* op);

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() == false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories -----------------------------------------------------------------------------------------
  static Tensor empty(const Shape& shape);  // uninitialised
  static Tensor zeros(const Shape& shape);
  static Tensor ones(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor scalar(float value);  // shape ()
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);

  // ---- shape and data ------------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t axis) const;  // negative axis counts from the end
  int64_t numel() const;
  // The handle is const, the data is not: data() of a const Tensor is still writable (handle semantics).
  float* data() const;
  float item() const;                                  // the value of a one-element tensor
  float& at(std::initializer_list<int64_t> idx) const;  // bounds-checked element access
  std::vector<float> to_vector() const;
  std::string str(int max_per_dim = 6) const;  // printable, numpy-like, elided past max_per_dim

  // ---- autograd ------------------------------------------------------------------------------------------
  bool requires_grad() const;
  // Marks a leaf as a parameter/input whose gradient backward() should accumulate. Returns *this.
  Tensor& set_requires_grad(bool on = true);
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward pass reached this leaf
  void zero_grad();     // drops the accumulated gradient (frees its memory)
  // backward() on a one-element tensor seeds it with 1; otherwise pass the upstream gradient (same shape).
  // The graph is freed afterwards unless retain_graph; calling backward again on a freed graph throws.
  void backward(bool retain_graph = false) const;
  void backward(const Tensor& grad_output, bool retain_graph = false) const;
  const char* op_name() const;  // op that made it ("leaf" otherwise)

  Tensor detach() const;  // same storage, no graph, requires_grad false
  Tensor clone() const;   // deep copy of the data; differentiable (gradient flows to *this)

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// IntTensor: int64 data with a shape, for indices and labels. No autograd. Counted by core/memory.
struct IntTensor {
  using Buffer = std::vector<int64_t, memory::CountingAllocator<int64_t>>;
  Shape shape;
  Buffer data;

  IntTensor() = default;
  explicit IntTensor(const Shape& s, int64_t fill = 0);
  static IntTensor from_vector(const Shape& s, const std::vector<int64_t>& values);
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
  int64_t dim() const { return static_cast<int64_t>(shape.size()); }
  int64_t& at(std::initializer_list<int64_t> idx);
  int64_t at(std::initializer_list<int64_t> idx) const;
};

// Thread-local switch for graph recording (see core/autograd.h for NoGradGuard).
bool grad_enabled();

}  // namespace core
