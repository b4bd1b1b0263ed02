// attention/kernels/feature_attention.h — kernel (feature-map) attention, shared by the Linear Transformer
// (attention/linear.h) and the Performer (attention/performer.h).
//
// Legend: B = batch, H = heads, n = query positions, nk = key positions, m = features, dv = value size.
//
// Given non-negative features phi_q (B, H, n, m) and phi_k (B, H, nk, m), attention with the kernel
// K(q, k) = phi(q)·phi(k) never needs the n x nk matrix, because the sum over keys can be done first:
//
//   non-causal:  S = Σ_j phi(k_j) v_jᵀ  (m, dv)      z = Σ_j phi(k_j)  (m)
//                out_i = phi(q_i)ᵀ S / phi(q_i)ᵀ z
//   causal:      S_i = S_{i-1} + phi(k_i) v_iᵀ         z_i = z_{i-1} + phi(k_i)
//                out_i = phi(q_i)ᵀ S_i / phi(q_i)ᵀ z_i
//
// The normaliser and eps. The paper adds a fixed eps to every denominator. We do not: a fixed eps is measured
// against the normaliser's scale, which can be anything (the Performer's stabilised normalisers go below 1e-12
// at large input norms, and a fixed eps then took most of the row's mass, so Â's rows did not sum to 1). Here a
// row that sees at least one key is divided by its normaliser exactly — the rows of the matrix sum to 1 at any
// scale — and eps is only the denominator of a row that sees no key (all keys padded, or none before it), whose
// output is then 0, not 0/0. A normaliser of a row that sees a key is a sum of positive terms, accurate unless it
// left float's normal range (0 or subnormal: every product underflowed; inf/NaN: overflow or a non-finite
// input); then the row cannot be normalised in float32 and the kernel throws core::Error naming
// options.who, as it does for an output with a non-finite value.
//
// (Katharopoulos et al. 2020, Transformers are RNNs, eq. 5-6 and 11-12.) Cost O(n·m·dv) time and O(m·dv)
// state per (b, h), against O(n²·d) and O(n²) for softmax attention.
//
// Key log-scales (optional, for the Performer's numerical stabiliser). A Performer feature exp(w·k - ...) can
// overflow float, so the caller may pass phi_k already divided by exp(c_j), with c_j = key_log_scale (B, H, nk),
// a constant (no gradient flows into it): the true features are exp(c_j) · phi_k[j]. The kernel never forms
// exp(c_j). It rescales by a running maximum, the way online softmax does:
//   non-causal: M = max_j c_j (one number per (b, h)); key j enters with weight exp(c_j - M) <= 1;
//   causal:     M_i = max_{j<=i} c_j — it depends only on positions <= i, so the future never leaks into
//               row i — and the running sums are kept in units of exp(M_i): when M grows from M_{i-1} to M_i,
//               S and z are multiplied by exp(M_{i-1} - M_i) <= 1.
// A common factor of all the keys a row sees cancels between numerator and denominator, so the result is the
// attention of the true features. c_j = -inf drops key j (padding): a row whose keys all have c_j = -inf sees
// no key. Without log-scales every weight is exactly 1 (the Linear Transformer).
//
// The backward passes are hand-written:
//   non-causal: a handful of (B·H) matrix products, O(n·(m + dv)) saved;
//   causal:     a forward scan rebuilds S_i, z_i for dphi_q; a backward scan accumulates
//               R_j = Σ_{i>=j} phi(q_i) (g_i / den_i)ᵀ and u_j = Σ_{i>=j} r_i phi(q_i) for dphi_k and dv.
//               Only den (B, H, n) and the running maxima are saved — never the n outer products
//               phi(k_i) v_iᵀ: the extra memory is O(m·dv) per (b, h), whatever n.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace attention {

using core::Tensor;

struct FeatureAttentionOptions {
  bool causal = false;  // causal needs n == nk
  float eps = 1e-6f;    // the denominator of a row that sees no key (its output is 0, not NaN); must be > 0
  Tensor key_log_scale; // (B, H, nk), or undefined (= all 0); treated as a constant
  const char* who = "feature_attention";  // names the scheme in a refusal ("performer: the normaliser ...")
};

// The kernel: (B, H, n, dv). phi_q, phi_k must be >= 0 (not checked element by element: the caller's feature
// map guarantees it). Differentiable in phi_q, phi_k and v.
Tensor feature_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v,
                         const FeatureAttentionOptions& options = {});

// The n x nk matrix the kernel applies, built from core ops (for pictures and tests at small n):
//   A_ij = W_ij phi(q_i)·phi(k_j) / Σ_j' W_ij' phi(q_i)·phi(k_j')      (a row that sees no key: 0)
// with W_ij = exp(c_j - M_i) (1 without log-scales) and 0 above the diagonal when causal; the same refusals.
// kernel(phi_q, phi_k, v) == matmul(feature_attention_matrix(phi_q, phi_k), v). Differentiable in phi_q, phi_k.
Tensor feature_attention_matrix(const Tensor& phi_q, const Tensor& phi_k, const FeatureAttentionOptions& options = {});

// One step of the causal recurrence for one (b, h), in place — the RNN form (the kernel's causal forward
// calls exactly this function, so step-by-step generation reproduces the parallel form bit for bit):
//   S += phi_k v_ᵀ; z += phi_k; out = phi_qᵀ S / phi_qᵀ z   (eps instead of a zero phi_qᵀ z: out = 0)
// S: (m, dv), z: (m), phi_q, phi_k: (m), v, out: (dv). Returns the normaliser phi_qᵀ z (the caller checks it).
float feature_attention_step(float* S, float* z, const float* phi_q, const float* phi_k, const float* v, int64_t m,
                             int64_t dv, float eps, float* out);

// The causal kernel as a recurrence over tokens, for decoding one token at a time (linear and performer's
// decoders, attention/decode.h): per (b, h) the state S (m, dv), z (m) and the running maximum M of the key
// log-scales — B·H·(m·dv + m + 1) floats whatever t. step() runs the very instructions of the causal kernel's
// forward (the same rescaling, feature_attention_step), so token t's output equals row t of
// feature_attention(..., causal) bit for bit, with the same refusals.
class FeatureRecurrence {
 public:
  FeatureRecurrence(int64_t B, int64_t H, int64_t m, int64_t dv, float eps, bool scaled, const char* who);
  // phi_q, phi_k (B, H, 1, m), v (B, H, 1, dv), and when scaled the key's log-scale c (B, H, 1) -> (B, H, 1, dv)
  Tensor step(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, const Tensor& log_scale = Tensor());
  int64_t state_floats() const { return static_cast<int64_t>(state_.size()) + static_cast<int64_t>(M_.size()); }

 private:
  int64_t B_, H_, m_, dv_, t_ = 0;
  float eps_;
  bool scaled_;
  const char* who_;
  std::vector<float> state_;  // per (b, h): S (m, dv), z (m)
  std::vector<float> M_;      // per (b, h): the running maximum of c (-inf before any key)
};

}  // namespace attention
