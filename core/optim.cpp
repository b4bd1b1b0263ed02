// core/optim.cpp — SGD, AdamW, clip_grad_norm, WarmupCosine.
#include "core/optim.h"

#include <cmath>

namespace core::optim {

Optimizer::Optimizer(std::vector<Tensor> params, float lr) : params_(std::move(params)), lr_(lr) {
  for (const Tensor& p : params_)
    AZ_CHECK(p.defined() && p.requires_grad() && p.is_leaf(),
             "optimizer: every parameter must be a leaf tensor with requires_grad set");
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

SGD::SGD(std::vector<Tensor> params, float lr, float momentum, float weight_decay)
    : Optimizer(std::move(params), lr), momentum_(momentum), weight_decay_(weight_decay) {
  for (const Tensor& p : params_) velocity_.push_back(Tensor::zeros(p.shape()));
}

void SGD::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    float* p = params_[i].data();
    float* v = velocity_[i].data();
    const float* pg = g.data();
    for (int64_t j = 0, n = g.numel(); j < n; ++j) {
      const float d = pg[j] + weight_decay_ * p[j];
      v[j] = momentum_ * v[j] + d;
      p[j] -= lr_ * (momentum_ != 0.0f ? v[j] : d);
    }
  }
}

AdamW::AdamW(std::vector<Tensor> params, float lr, float beta1, float beta2, float eps, float weight_decay)
    : Optimizer(std::move(params), lr), beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay) {
  for (const Tensor& p : params_) {
    m_.push_back(Tensor::zeros(p.shape()));
    v_.push_back(Tensor::zeros(p.shape()));
  }
}

void AdamW::step() {
  ++t_;
  const float c1 = 1.0f - std::pow(beta1_, static_cast<float>(t_));
  const float c2 = 1.0f - std::pow(beta2_, static_cast<float>(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    float* p = params_[i].data();
    float* m = m_[i].data();
    float* v = v_[i].data();
    const float* pg = g.data();
    for (int64_t j = 0, n = g.numel(); j < n; ++j) {
      m[j] = beta1_ * m[j] + (1.0f - beta1_) * pg[j];
      v[j] = beta2_ * v[j] + (1.0f - beta2_) * pg[j] * pg[j];
      const float mhat = m[j] / c1, vhat = v[j] / c2;
      p[j] -= lr_ * (mhat / (std::sqrt(vhat) + eps_) + weight_decay_ * p[j]);
    }
  }
}

float clip_grad_norm(const std::vector<Tensor>& params, float max_norm) {
  AZ_CHECK(max_norm > 0.0f, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  double sq = 0.0;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    for (int64_t j = 0, n = g.numel(); j < n; ++j) sq += static_cast<double>(g.data()[j]) * g.data()[j];
  }
  const float norm = static_cast<float>(std::sqrt(sq));
  if (norm > max_norm) {
    const float scale = max_norm / (norm + 1e-6f);
    for (const Tensor& p : params) {
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      for (int64_t j = 0, n = g.numel(); j < n; ++j) g.data()[j] *= scale;
    }
  }
  return norm;
}

WarmupCosine::WarmupCosine(float base_lr, int64_t warmup, int64_t total, float min_lr)
    : base_lr_(base_lr), min_lr_(min_lr), warmup_(warmup), total_(total) {
  AZ_CHECK(warmup >= 0 && total > 0 && warmup <= total, "WarmupCosine: need 0 <= warmup <= total, total > 0; got ",
           "warmup=", warmup, " total=", total);
}

float WarmupCosine::lr(int64_t step) const {
  if (step < warmup_) return base_lr_ * static_cast<float>(step + 1) / static_cast<float>(warmup_);
  if (step >= total_) return min_lr_;
  const double progress = static_cast<double>(step - warmup_) / static_cast<double>(std::max<int64_t>(1, total_ - warmup_));
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return static_cast<float>(min_lr_ + (base_lr_ - min_lr_) * cosine);
}

}  // namespace core::optim
