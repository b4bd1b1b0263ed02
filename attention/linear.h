// attention/linear.h — the Linear Transformer (Katharopoulos, Vyas, Pappas, Fleuret 2020, Transformers are
// RNNs: Fast Autoregressive Transformers with Linear Attention, ICML), registered as the scheme "linear".
//
// Legend: B = batch, H = heads, n = sequence length, d = head size.
//
// Softmax attention weighs key j by exp(q_i·k_j / √d). The Linear Transformer replaces that similarity by a
// kernel phi(q_i)·phi(k_j) with the feature map phi(x) = elu(x) + 1 (positive, d features, no 1/√d):
//
//   out_i = phi(q_i)ᵀ (Σ_j phi(k_j) v_jᵀ) / (phi(q_i)ᵀ Σ_j phi(k_j) + eps)          non-causal
//   out_i = phi(q_i)ᵀ S_i / (phi(q_i)ᵀ z_i + eps),  S_i = S_{i-1} + phi(k_i) v_iᵀ,  z_i = z_{i-1} + phi(k_i)   causal
//
// Associativity moves the sum over keys in front: O(n·d²) time and O(n·d) memory instead of O(n²·d) and O(n²).
// The causal form is an RNN whose state (S, z) is d x d + d numbers: LinearAttentionState generates one token
// at a time in constant memory. The kernels live in attention/kernels/feature_attention.h; the causal backward
// runs two scans and never stores the n outer products phi(k_i) v_iᵀ.
//
// eps = 1e-6 (the key `eps`) is the denominator of a row that sees no key at all (every key padded): its output
// is 0 instead of 0/0. Unlike the paper, eps is not added to the other rows: their normaliser can be of any
// scale (phi(x) = e^x is tiny for very negative x), and a fixed eps would take their mass; they are normalised
// exactly, and a normaliser that left float32's range (underflow to 0, overflow) is refused with core::Error
// (attention/kernels/feature_attention.h).
//
// Hyperparameters: eps (default 1e-6). No pattern: every query sees every (earlier) key.
#pragma once

#include "attention/scheme.h"

namespace attention {

constexpr float kLinearEps = 1e-6f;

// phi(x) = elu(x) + 1 > 0 (x + 1 for x > 0, e^x otherwise), elementwise, differentiable (one fused op).
Tensor elu_feature_map(const Tensor& x);

// q, k, v: (B, H, n, d) -> (B, H, n, d). key_padding_mask (B, n): 1 = token, 0 = padding (or undefined);
// padding keys get phi(k) = 0.
Tensor linear_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float eps = kLinearEps,
                        const Tensor& key_padding_mask = Tensor());

// The matrix the kernel applies: A = D⁻¹ phi(Q) phi(K)ᵀ (lower triangle when causal), D = diag(row sums):
// (B, H, n, n), with linear_attention(q, k, v) == A @ v. Differentiable.
Tensor linear_attention_matrix(const Tensor& q, const Tensor& k, bool causal, float eps = kLinearEps,
                               const Tensor& key_padding_mask = Tensor());

// The RNN form of causal linear attention: one token at a time, O(d_k·d_v) state per (b, h), whatever the
// position. step() reproduces the causal kernel's rows bit for bit (it runs the same step function).
//   LinearAttentionState state(B, H, d, d);
//   for (t...) out_t = state.step(q_t, k_t, v_t);   // each (B, H, d) -> (B, H, d_v)
// Inference only (no graph is recorded through step()).
class LinearAttentionState {
 public:
  LinearAttentionState(int64_t batch, int64_t heads, int64_t d_k, int64_t d_v, float eps = kLinearEps);
  Tensor step(const Tensor& q, const Tensor& k, const Tensor& v);
  int64_t position() const { return position_; }  // tokens seen so far
  std::size_t state_bytes() const;                 // bytes of S and z: (B, H, d_k, d_v) + (B, H, d_k) floats
  void reset();

 private:
  int64_t B_, H_, dk_, dv_;
  float eps_;
  int64_t position_ = 0;
  Tensor S_;  // (B, H, d_k, d_v) = Σ_{j<=t} phi(k_j) v_jᵀ
  Tensor z_;  // (B, H, d_k)      = Σ_{j<=t} phi(k_j)
};

}  // namespace attention
