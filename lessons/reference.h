// lessons/reference.h — what a lesson checks its kernel against: masked dense attention, the O(n²) reference for
// every sparse pattern, and one comparison of a kernel with a reference, outputs and gradients together.
//
//   const Tensor pattern = attention::longformer_pattern(o, B, H, n);          // (B, H, n, n), 1 = attended
//   const float worst = lesson::kernel_vs_reference(
//       [&](const std::vector<Tensor>& x) { return attention::longformer_attention(x[0], x[1], x[2], o); },
//       [&](const std::vector<Tensor>& x) { return lesson::masked_dense_attention(x[0], x[1], x[2], pattern); },
//       {q, k, v}, g).max_abs_diff();                                          // out, dq, dk, dv at once
//   L.check("output, dq, dk, dv equal masked dense attention", worst < 1e-4f, lesson::sig(worst, 2));
//
// Header-only, like lesson.h.
#pragma once

#include <algorithm>
#include <functional>
#include <limits>
#include <vector>

#include "attention/dense.h"
#include "lessons/lesson.h"

namespace lesson {

// The masked dense reference lives in the library (attention/dense.h), shared with the tests.
using attention::masked_dense_attention;

// A function of a list of tensors, such as (q, k, v) -> out: the form core::gradcheck takes too.
using TensorFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// A kernel and its reference, run on the same inputs and backpropagated with the same upstream gradient g.
struct KernelVsReference {
  Tensor out, ref_out;                   // the two outputs (detached)
  std::vector<Tensor> grads, ref_grads;  // d sum(out ∘ g) / d input, one per input in the inputs' order
                                         // (zeros for an input the output does not depend on)

  // The largest |kernel − reference| over the output and every gradient.
  float max_abs_diff() const {
    float worst = lesson::max_abs_diff(out, ref_out);
    for (size_t i = 0; i < grads.size(); ++i) worst = std::max(worst, lesson::max_abs_diff(grads[i], ref_grads[i]));
    return worst;
  }
};

// Run kernel and reference on their own leaves (fresh copies of inputs that record gradients, see leaf()), so
// that neither side's gradients mix into the other's, then backpropagate g through both.
inline KernelVsReference kernel_vs_reference(const TensorFunction& kernel, const TensorFunction& reference,
                                             const std::vector<Tensor>& inputs, const Tensor& g) {
  std::vector<Tensor> a, b;
  for (const Tensor& x : inputs) a.push_back(leaf(x)), b.push_back(leaf(x));
  const Tensor out = kernel(a), ref = reference(b);
  out.backward(g);
  ref.backward(g);
  auto grad_or_zeros = [](const Tensor& x) { return x.grad().defined() ? x.grad() : Tensor::zeros(x.shape()); };
  KernelVsReference r{out.detach(), ref.detach(), {}, {}};
  for (size_t i = 0; i < inputs.size(); ++i) {
    r.grads.push_back(grad_or_zeros(a[i]));
    r.ref_grads.push_back(grad_or_zeros(b[i]));
  }
  return r;
}

}  // namespace lesson
