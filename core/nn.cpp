// core/nn.cpp — Module bookkeeping and the basic layers.
#include "core/nn.h"

#include <cmath>

#include "core/ops_elementwise.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_shape.h"
#include "core/random.h"

namespace core::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

void Module::register_module(const std::string& name, Module& child) { children_.emplace_back(name, &child); }

void Module::register_buffer(const std::string& name, Tensor& t) {
  AZ_CHECK(t.defined(), "register_buffer: buffer '", name, "' is undefined (create the tensor first)");
  AZ_CHECK(!t.requires_grad(), "register_buffer: '", name, "' requires grad; a trained tensor is a parameter");
  buffers_.emplace_back(name, &t);
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, t] : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> all, out;
  collect("", all);
  // A tensor shared by several modules (tied weights, a projection shared across layers) is listed once,
  // under its first name, so that an optimiser updates it once per step.
  for (auto& entry : all) {
    bool seen = false;
    for (const auto& kept : out) seen = seen || kept.second.impl() == entry.second.impl();
    if (!seen) out.push_back(std::move(entry));
  }
  return out;
}

void Module::collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, t] : buffers_) out.emplace_back(prefix + name, *t);  // the member as it is now
  for (const auto& [name, child] : children_) child->collect_buffers(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect_buffers("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

void Module::zero_grad() {
  for (Tensor t : parameters()) t.zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

// ---- Linear ---------------------------------------------------------------------------------------------
Linear::Linear(int64_t in, int64_t out, Rng& rng, bool with_bias) : in_features(in), out_features(out) {
  AZ_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got in=", in, " out=", out);
  const float bound = 1.0f / std::sqrt(static_cast<float>(in));
  weight = register_parameter("weight", rand_uniform({out, in}, rng, -bound, bound));
  if (with_bias) bias = register_parameter("bias", rand_uniform({out}, rng, -bound, bound));
}

Tensor Linear::forward(const Tensor& x) const {
  AZ_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear(", in_features, "->", out_features,
           "): input of shape ", x.shape(), " does not end in ", in_features);
  Tensor y = x.dim() >= 2 ? matmul(x, weight, false, true)  // (..., in) @ (out, in)ᵀ -> (..., out)
                          : reshape(matmul(reshape(x, {1, in_features}), weight, false, true), {out_features});
  return bias.defined() ? y + bias : y;
}

// ---- LayerNorm ------------------------------------------------------------------------------------------
LayerNorm::LayerNorm(int64_t dim, float eps_) : eps(eps_) {
  gamma = register_parameter("gamma", Tensor::ones({dim}));
  beta = register_parameter("beta", Tensor::zeros({dim}));
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, gamma, beta, eps); }

// ---- Embedding ------------------------------------------------------------------------------------------
Embedding::Embedding(int64_t num, int64_t dim, Rng& rng) {
  weight = register_parameter("weight", randn({num, dim}, rng));
}

Tensor Embedding::forward(const IntTensor& ids) const { return embedding(weight, ids); }

// ---- MLP ------------------------------------------------------------------------------------------------
MLP::MLP(int64_t in, int64_t hidden, int64_t out, Rng& rng) : fc1(in, hidden, rng), fc2(hidden, out, rng) {
  register_module("fc1", fc1);
  register_module("fc2", fc2);
}

Tensor MLP::forward(const Tensor& x) const { return fc2.forward(gelu(fc1.forward(x))); }

}  // namespace core::nn
