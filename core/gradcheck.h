// core/gradcheck.h — check autograd against central finite differences.
//
// For a function f of some tensors, gradcheck compares, for every input element x_j,
//   analytic  dL/dx_j  from backward(), with
//   numeric  (L(x_j + eps) - L(x_j - eps)) / (2 eps)
// where L = sum(w * f(x)) for a fixed random w (so that every output element matters, with different weights).
// Everything is float32, so eps cannot be tiny: the default tolerances fit eps = 1e-2 on inputs of order 1.
// A failure message names the argument, the index and both values, e.g.
//   gradcheck softmax: argument 0 at index (1,2): analytic 0.3102, numeric 0.2871 (|diff| 0.0231 > tol 0.0039)
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace core {

struct GradcheckOptions {
  std::string name = "f";  // shown in messages
  float eps = 1e-2f;
  double atol = 1e-3;
  double rtol = 1e-2;
  uint64_t seed = 7;       // for the output weights w
};

struct GradcheckResult {
  bool ok = true;
  std::string message;     // empty when ok
  double max_abs_diff = 0.0;
  int64_t checked = 0;     // number of input elements compared
};

// `inputs` are the tensors to differentiate (they are cloned; the originals are not touched).
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

// For layers: f() reads `leaves` itself (e.g. a module's parameters() plus an input tensor). Each leaf must
// require grad; its data is perturbed in place and restored, and its grad() is reset first and left holding
// the analytic gradient.
GradcheckResult gradcheck_leaves(const std::function<Tensor()>& f, const std::vector<Tensor>& leaves,
                                 const GradcheckOptions& options = {});

}  // namespace core
