// core/nn.h — layers with parameters: Linear, LayerNorm, Embedding, MLP, on a small Module base.
//
// A Module owns named parameters (leaf tensors with requires_grad) and may register child modules; then
// parameters() lists every trainable tensor of the tree, in registration order, for the optimiser.
// Buffers are the other state a module keeps: tensors that the optimiser does not train but that a checkpoint
// must save and restore (routing's k-means centroids, a draw counter, a fixed random matrix). named_buffers()
// lists them like named_parameters(), so that saving a model needs no knowledge of its layers.
// Modules register children by address, so they are neither copyable nor movable: hold them as members or
// through std::unique_ptr.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace core {
class Rng;
}

namespace core::nn {

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;  // "block.0.attn.w_q"
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;     // "block.0.attn.centroids"
  int64_t num_parameters() const;
  void zero_grad();
  void train(bool on = true);  // also sets every child
  void eval() { train(false); }
  bool training() const { return training_; }

 protected:
  Tensor register_parameter(const std::string& name, Tensor t);  // marks it requires_grad
  void register_module(const std::string& name, Module& child);
  // Registers the member `t` (not a copy of it): the module keeps its address, so a member that forward()
  // replaces by a new tensor (centroids = ema_update(centroids, ...)) is still the one listed. A flag or a
  // counter is a 0-dim tensor (Tensor::scalar), so that all state is tensors.
  void register_buffer(const std::string& name, Tensor& t);

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

// y = x Wᵀ + b. W: (out, in), b: (out). x: (..., in) -> (..., out).
// Initialised like PyTorch: uniform in ±1/sqrt(in).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;  // bias undefined when bias == false
  int64_t in_features, out_features;
};

// Normalise the last dim, then scale by gamma (ones) and shift by beta (zeros).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, float eps = 1e-5f);
  Tensor forward(const Tensor& x) const;
  Tensor gamma, beta;
  float eps;
};

// A table of `num` vectors of size `dim`, N(0, 1) initialised. ids (...) -> (..., dim).
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, Rng& rng);
  Tensor forward(const IntTensor& ids) const;
  Tensor weight;
};

// Linear -> GELU -> Linear (the Transformer's feed-forward block).
class MLP : public Module {
 public:
  MLP(int64_t in_features, int64_t hidden, int64_t out_features, Rng& rng);
  Tensor forward(const Tensor& x) const;
  Linear fc1, fc2;
};

}  // namespace core::nn
