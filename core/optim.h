// core/optim.h — optimisers (SGD, AdamW), gradient clipping, and the warmup + cosine learning-rate schedule.
//
// An optimiser holds handles to the parameters (shallow copies: the same tensors the model uses) and updates
// their data in place from their grad() — outside any graph.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace core::optim {

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, float lr);
  virtual ~Optimizer() = default;
  virtual void step() = 0;  // parameters without a gradient are skipped
  void zero_grad();
  void set_lr(float lr) { lr_ = lr; }
  float lr() const { return lr_; }

 protected:
  std::vector<Tensor> params_;
  float lr_;
};

// p -= lr * (g + weight_decay * p), with optional momentum: v = momentum * v + g; p -= lr * v.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, float lr, float momentum = 0.0f, float weight_decay = 0.0f);
  void step() override;

 private:
  float momentum_, weight_decay_;
  std::vector<Tensor> velocity_;
};

// Adam with decoupled weight decay (Loshchilov & Hutter 2019):
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  m̂ = m/(1-b1^t);  v̂ = v/(1-b2^t)
//   p -= lr * (m̂ / (sqrt(v̂) + eps) + weight_decay * p)
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
        float weight_decay = 0.01f);
  void step() override;
  int64_t steps() const { return t_; }

 private:
  float beta1_, beta2_, eps_, weight_decay_;
  int64_t t_ = 0;
  std::vector<Tensor> m_, v_;
};

// Scales all gradients so that their joint L2 norm is at most max_norm. Returns the norm before clipping.
float clip_grad_norm(const std::vector<Tensor>& params, float max_norm);

// Linear warmup from 0 to base_lr over `warmup` steps, then cosine decay to min_lr at `total` steps.
class WarmupCosine {
 public:
  WarmupCosine(float base_lr, int64_t warmup, int64_t total, float min_lr = 0.0f);
  float lr(int64_t step) const;  // step counts from 0

 private:
  float base_lr_, min_lr_;
  int64_t warmup_, total_;
};

}  // namespace core::optim
