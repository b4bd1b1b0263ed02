// core/gradcheck.cpp — finite differences vs autograd (see gradcheck.h).
#include "core/gradcheck.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_reduce.h"
#include "core/random.h"

namespace core {

namespace {
// L = sum(w * out), accumulated in double to keep the finite differences as clean as float32 allows.
double weighted_sum(const Tensor& out, const Tensor& w) {
  double acc = 0.0;
  for (int64_t i = 0; i < out.numel(); ++i) acc += static_cast<double>(out.data()[i]) * w.data()[i];
  return acc;
}

std::string index_str(const Shape& shape, int64_t flat) {
  Shape idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}
}  // namespace

GradcheckResult gradcheck_leaves(const std::function<Tensor()>& f, const std::vector<Tensor>& leaves,
                                 const GradcheckOptions& opt) {
  GradcheckResult result;
  for (const Tensor& t : leaves)
    AZ_CHECK(t.defined() && t.requires_grad() && t.is_leaf(), "gradcheck ", opt.name,
             ": every tensor to check must be a leaf with requires_grad set");
  std::vector<Tensor> xs = leaves;
  for (Tensor& x : xs) x.zero_grad();
  // Analytic: one backward pass of L = sum(w * f()).
  Tensor out = f();
  Rng rng(opt.seed);
  const Tensor w = rand_uniform(out.shape(), rng, 0.5f, 1.5f);
  sum(mul(out, w)).backward();

  NoGradGuard no_grad;
  for (size_t a = 0; a < xs.size(); ++a) {
    const Tensor analytic = xs[a].grad();
    float* x = xs[a].data();
    for (int64_t j = 0; j < xs[a].numel(); ++j) {
      const float saved = x[j];
      x[j] = saved + opt.eps;
      const double plus = weighted_sum(f(), w);
      x[j] = saved - opt.eps;
      const double minus = weighted_sum(f(), w);
      x[j] = saved;
      const double numeric = (plus - minus) / (2.0 * static_cast<double>(opt.eps));
      const double got = analytic.defined() ? analytic.data()[j] : 0.0;
      const double diff = std::fabs(got - numeric);
      const double tol = opt.atol + opt.rtol * std::max(std::fabs(got), std::fabs(numeric));
      result.max_abs_diff = std::max(result.max_abs_diff, diff);
      ++result.checked;
      if ((diff > tol || std::isnan(got) || std::isnan(numeric)) && result.ok) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "argument %zu at index %s: analytic %.6g, numeric %.6g (|diff| %.3g > tol %.3g)",
                      a, index_str(xs[a].shape(), j).c_str(), got, numeric, diff, tol);
        result.ok = false;
        result.message = "gradcheck " + opt.name + ": " + buf;
      }
    }
  }
  return result;
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  std::vector<Tensor> xs;
  for (const Tensor& t : inputs) {
    Tensor c = t.detach().clone();
    c.set_requires_grad(true);
    xs.push_back(c);
  }
  return gradcheck_leaves([&] { return f(xs); }, xs, opt);
}

}  // namespace core
