// attention/kernels/feature_attention.cpp — the kernel-attention forward and backward passes (see the header).
#include "attention/kernels/feature_attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "attention/scheme.h"
#include "core/fast_exp.h"
#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_linalg.h"
#include "core/ops_reduce.h"
#include "core/ops_shape.h"
#include "core/parallel.h"

namespace attention {

using namespace core;
using detail::parallel_rows;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kMinNormal = std::numeric_limits<float>::min();  // ~1.2e-38, the smallest normal float

// A normaliser s = phi(q_i)·Σ_j w_ij phi(k_j) of a row that sees at least one key is a sum of positive terms, so
// float computes it to full relative precision — unless it left float's normal range: 0 or subnormal (every
// product underflowed: the true weights are smaller than float can hold) or inf/NaN (overflow, or a non-finite
// input). Such a row cannot be normalised in float32, and the kernel refuses rather than print a wrong row.
inline bool usable_normaliser(float s) { return s >= kMinNormal && s <= std::numeric_limits<float>::max(); }

// The denominator used for row i: its normaliser s itself (no eps: a row that sees a key is normalised exactly,
// whatever its scale), or eps for a row that sees no key (s = 0, numerator 0: the output row is 0, not 0/0).
inline float denominator(float s, float eps) { return s > 0.0f ? s : eps; }

[[noreturn]] void refuse_row(const FeatureAttentionOptions& o, int64_t row, float s) {
  AZ_FAIL(o.who, ": the normaliser of query row ", row, " is ", s,
          ", outside float32's normal range (features underflowed or overflowed: inputs too large or not finite)");
}

void check_finite_output(const Tensor& out, const FeatureAttentionOptions& o) {
  AZ_CHECK(core::all_finite(out.data(), out.numel()), o.who,
           ": the output has a non-finite value (an input is too large or not finite)");
}

void check_inputs(const Tensor& phi_q, const Tensor& phi_k, const Tensor* v, const FeatureAttentionOptions& o,
                  const char* op) {
  AZ_CHECK(phi_q.defined() && phi_k.defined(), op, ": phi_q and phi_k must be given");
  AZ_CHECK(phi_q.dim() == 4 && phi_k.dim() == 4, op, ": phi_q ", phi_q.shape(), " and phi_k ", phi_k.shape(),
           " must be (B, H, n, m)");
  AZ_CHECK(phi_q.size(0) == phi_k.size(0) && phi_q.size(1) == phi_k.size(1) && phi_q.size(3) == phi_k.size(3), op,
           ": phi_q ", phi_q.shape(), " and phi_k ", phi_k.shape(), " must agree on B, H and m");
  if (v) {
    AZ_CHECK(v->defined() && v->dim() == 4 && v->size(0) == phi_k.size(0) && v->size(1) == phi_k.size(1) &&
                 v->size(2) == phi_k.size(2),
             op, ": v must be (B, H, nk, dv) with phi_k ", phi_k.shape(), ", got ",
             v->defined() ? core::shape_str(v->shape()) : std::string("nothing"));
  }
  AZ_CHECK(!o.causal || phi_q.size(2) == phi_k.size(2), op, ": causal attention needs as many queries as keys, got ",
           phi_q.size(2), " and ", phi_k.size(2));
  AZ_CHECK(o.who != nullptr, op, ": options.who must name the caller");
  AZ_CHECK(o.eps > 0.0f && std::isfinite(o.eps), op, ": eps must be a positive number, got ", o.eps);
  if (o.key_log_scale.defined())
    AZ_CHECK(o.key_log_scale.shape() == Shape({phi_k.size(0), phi_k.size(1), phi_k.size(2)}), op,
             ": key_log_scale must be (B, H, nk) = ", Shape({phi_k.size(0), phi_k.size(1), phi_k.size(2)}), ", got ",
             o.key_log_scale.shape());
}

// Causal running maxima M_i = max_{j<=i} c_j for every (b, h): (B, H, n); -inf while every c_j so far is -inf.
Tensor running_max(const Tensor& log_scale) {
  Tensor M = Tensor::empty(log_scale.shape());
  const int64_t n = log_scale.size(2), rows = log_scale.size(0) * log_scale.size(1);
  const float* c = log_scale.data();
  float* pm = M.data();
  for (int64_t r = 0; r < rows; ++r) {
    float run = kNegInf;
    for (int64_t i = 0; i < n; ++i) {
      run = c[r * n + i] > run ? c[r * n + i] : run;
      pm[r * n + i] = run;
    }
  }
  return M;
}

// Non-causal key weights exp(c_j - max_j c_j): (B, H, nk, 1); 0 for c_j = -inf.
Tensor key_weights(const Tensor& log_scale) {
  const int64_t nk = log_scale.size(2), rows = log_scale.size(0) * log_scale.size(1);
  Tensor w = Tensor::empty({log_scale.size(0), log_scale.size(1), nk, 1});
  const float* c = log_scale.data();
  float* pw = w.data();
  for (int64_t r = 0; r < rows; ++r) {
    float M = kNegInf;
    for (int64_t j = 0; j < nk; ++j) M = c[r * nk + j] > M ? c[r * nk + j] : M;
    for (int64_t j = 0; j < nk; ++j) pw[r * nk + j] = c[r * nk + j] == kNegInf ? 0.0f : core::fast_exp(c[r * nk + j] - M);
  }
  return w;
}

// Weight of key j seen from a row whose running maximum is M: exp(c - M) <= 1, or 0 for a dropped key.
inline float weight_of(float c, float M) { return c == kNegInf ? 0.0f : std::exp(c - M); }
// Factor that converts sums kept in units of exp(M_old) to units of exp(M_new >= M_old).
inline float rescale(float M_old, float M_new) { return M_old == M_new ? 1.0f : std::exp(M_old - M_new); }

// One step of the causal scan over keys, before key i is added. Unscaled: returns k_i. Scaled: the running sums
// (state = S (m, dv) then z (m), contiguous) are in units of exp(M_{i-1}); they move to units of exp(M_i), and
// the key comes back weighted by exp(c_i - M_i), written to fk (m). The forward and the backward's rebuilding
// scan call this, so that both see the same sums bit for bit.
inline const float* scan_key(float* state, float* fk, const float* k_i, int64_t m, int64_t dv, const float* c,
                             const float* M, int64_t i, float& M_prev) {
  if (c == nullptr) return k_i;
  const float M_i = M[i], f = rescale(M_prev, M_i);
  if (f != 1.0f)
    for (int64_t t = 0; t < m * dv + m; ++t) state[t] *= f;
  M_prev = M_i;
  const float w = weight_of(c[i], M_i);
  for (int64_t a = 0; a < m; ++a) fk[a] = w * k_i[a];
  return fk;
}

// ---- non-causal -----------------------------------------------------------------------------------------
// The four products go to BLAS (core::matmul); the elementwise parts are single fused loops.
Tensor noncausal(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, const FeatureAttentionOptions& o) {
  const int64_t B = phi_q.size(0), H = phi_q.size(1), n = phi_q.size(2), m = phi_q.size(3), dv = v.size(3);
  const float eps = o.eps;  // only the denominator of a row that sees no key
  Tensor S, z, den, out, w, phik_w;
  {
    NoGradGuard no_grad;  // the pieces are plain values: the one node recorded below does the backward
    w = o.key_log_scale.defined() ? key_weights(o.key_log_scale) : Tensor();  // (B,H,nk,1)
    phik_w = w.defined() ? phi_k.detach() * w : phi_k.detach();            // (B,H,nk,m)
    S = matmul(phik_w, v.detach(), true, false);                           // (B,H,m,nk) @ (B,H,nk,dv) -> (B,H,m,dv)
    z = sum(phik_w, 2, true);                                              // (B,H,1,m)
    out = matmul(phi_q.detach(), S);                                       // (B,H,n,m) @ (B,H,m,dv) -> (B,H,n,dv): num
    den = Tensor::empty({B, H, n, 1});                                     // (B,H,n,1)
    // does (b, h) see any key? Without log-scales every key counts; with them, c_j = -inf drops key j.
    std::vector<char> sees(static_cast<size_t>(B * H), 1);
    if (w.defined())
      for (int64_t r = 0; r < B * H; ++r) {
        sees[r] = 0;
        for (int64_t j = 0; j < phi_k.size(2); ++j) sees[r] |= o.key_log_scale.data()[r * phi_k.size(2) + j] != kNegInf;
      }
    const float *pq = phi_q.data(), *pz = z.data();
    float *po = out.data(), *pden = den.data();
    parallel_rows(B * H * n, m + dv, [&](int64_t i) {
      const float* q_i = pq + i * m;
      const float* z_bh = pz + (i / n) * m;
      float s = 0.0f;
      for (int64_t l = 0; l < m; ++l) s += q_i[l] * z_bh[l];  // s_i = phi_q_i·z
      pden[i] = sees[i / n] && !usable_normaliser(s) ? std::numeric_limits<float>::quiet_NaN() : denominator(s, eps);
      const float inv = 1.0f / pden[i];
      for (int64_t t = 0; t < dv; ++t) po[i * dv + t] *= inv;  // out_i = num_i / den_i
    });
    for (int64_t i = 0; i < B * H * n; ++i)  // outside the parallel loop: an exception may not leave it
      if (std::isnan(pden[i])) {
        float s = 0.0f;
        for (int64_t l = 0; l < m; ++l) s += pq[i * m + l] * pz[(i / n) * m + l];
        refuse_row(o, i % n, s);
      }
    check_finite_output(out, o);
  }
  std::vector<Tensor> saved = {S, z, den};
  if (w.defined()) saved.push_back(w), saved.push_back(phik_w);
  return record(
      out, "feature_attention", {phi_q, phi_k, v},
      [B, H, n, m, dv](BackwardContext& c) {
        const Tensor &S = c.saved[0], &z = c.saved[1], &den = c.saved[2];
        const bool weighted = c.saved.size() > 3;
        const Tensor& phi_q = c.inputs[0];
        const Tensor& phik_w = weighted ? c.saved[4] : c.inputs[1];
        const int64_t nk = phik_w.size(2);
        // forward: out = num / den  =>  gt = dnum = g / den,  r = dden = -sum_c(g * out) / den
        Tensor gt = Tensor::empty({B, H, n, dv}), r = Tensor::empty({B, H, n, 1});
        {
          const float *pg = c.grad_out.data(), *po = c.out.data(), *pden = den.data();
          float *pgt = gt.data(), *pr = r.data();
          parallel_rows(B * H * n, dv, [&](int64_t i) {
            float go = 0.0f;
            for (int64_t t = 0; t < dv; ++t) go += pg[i * dv + t] * po[i * dv + t];
            const float inv = 1.0f / pden[i];
            for (int64_t t = 0; t < dv; ++t) pgt[i * dv + t] = pg[i * dv + t] * inv;
            pr[i] = -go * inv;
          });
        }
        // forward: num = phi_q S, den = phi_q z (eps: a constant)  =>  dphi_q = gt Sᵀ + r zᵀ
        if (c.needs_grad(0)) {
          Tensor dq = matmul(gt, S, false, true);  // (B,H,n,dv) @ (B,H,dv,m) -> (B,H,n,m)
          const float *pr = r.data(), *pz = z.data();
          float* pdq = dq.data();
          parallel_rows(B * H * n, m, [&](int64_t i) {
            const float* z_bh = pz + (i / n) * m;
            for (int64_t l = 0; l < m; ++l) pdq[i * m + l] += pr[i] * z_bh[l];
          });
          c.add_grad(0, dq);
        }
        if (!c.needs_grad(1) && !c.needs_grad(2)) return;
        const Tensor dS = matmul(phi_q, gt, true, false);  // (B,H,m,n) @ (B,H,n,dv) -> (B,H,m,dv)
        // forward: S = Σ_j phik_j v_jᵀ, z = Σ_j phik_j  =>  dphik_j = dS v_j + dz,  dv_j = dSᵀ phik_j
        if (c.needs_grad(1)) {
          const Tensor dz = matmul(r, phi_q, true, false);            // (B,H,1,n) @ (B,H,n,m) -> (B,H,1,m)
          Tensor dphik = matmul(c.inputs[2], dS, false, true);        // (B,H,nk,dv) @ (B,H,dv,m) -> (B,H,nk,m)
          const float *pdz = dz.data(), *pw = weighted ? c.saved[3].data() : nullptr;
          float* pk = dphik.data();
          parallel_rows(B * H * nk, m, [&](int64_t j) {
            const float* dz_bh = pdz + (j / nk) * m;
            const float wj = pw ? pw[j] : 1.0f;  // phik_w = phi_k * w
            for (int64_t l = 0; l < m; ++l) pk[j * m + l] = wj * (pk[j * m + l] + dz_bh[l]);
          });
          c.add_grad(1, dphik);
        }
        if (c.needs_grad(2)) c.add_grad(2, matmul(phik_w, dS));  // (B,H,nk,m) @ (B,H,m,dv) -> (B,H,nk,dv)
      },
      saved);
}

// ---- causal ---------------------------------------------------------------------------------------------
Tensor causal(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, const FeatureAttentionOptions& o) {
  const int64_t B = phi_q.size(0), H = phi_q.size(1), n = phi_q.size(2), m = phi_q.size(3), dv = v.size(3);
  const float eps = o.eps;
  const bool scaled = o.key_log_scale.defined();
  Tensor out = Tensor::empty({B, H, n, dv});
  Tensor den = Tensor::empty({B, H, n});                   // (B,H,n) saved for backward
  Tensor state = Tensor::empty({B * H, m * dv + 2 * m});  // per (b,h): S (m,dv), z (m), a weighted phi_k (m)
  const Tensor M = scaled ? running_max(o.key_log_scale) : Tensor();  // (B,H,n)
  const float *pq = phi_q.data(), *pk = phi_k.data(), *pv = v.data();
  const float* pc = scaled ? o.key_log_scale.data() : nullptr;
  const float* pM = scaled ? M.data() : nullptr;
  float *po = out.data(), *pden = den.data();
  std::vector<float> bad(static_cast<size_t>(B * H), 0.0f);          // the refused normaliser, per (b, h)
  std::vector<int64_t> bad_row(static_cast<size_t>(B * H), -1);      // its row, or -1
  parallel_rows(B * H, n * m * dv, [&](int64_t r) {
    float* S = state.data() + r * (m * dv + 2 * m);  // (m, dv)
    float* z = S + m * dv;                            // (m)
    float* fk = z + m;                                // (m)
    for (int64_t t = 0; t < m * dv + m; ++t) S[t] = 0.0f;
    float M_prev = kNegInf;
    for (int64_t i = 0; i < n; ++i) {
      // scaled: the sums so far move to units of exp(M_i), and key i comes with weight exp(c_i - M_i)
      const float* k_i = scan_key(S, fk, pk + (r * n + i) * m, m, dv, scaled ? pc + r * n : nullptr,
                                  scaled ? pM + r * n : nullptr, i, M_prev);
      const float s = feature_attention_step(S, z, pq + (r * n + i) * m, k_i, pv + (r * n + i) * dv, m, dv, eps,
                                             po + (r * n + i) * dv);
      // row i sees a key unless every c_j, j <= i, is -inf (M_i = -inf)
      const bool sees = !scaled || pM[r * n + i] != kNegInf;
      pden[r * n + i] = sees && !usable_normaliser(s) ? std::numeric_limits<float>::quiet_NaN() : denominator(s, eps);
      if (std::isnan(pden[r * n + i])) {  // refused after the parallel loop (an exception may not leave it)
        bad[r] = s;
        bad_row[r] = i;
        break;
      }
    }
  });
  for (int64_t r = 0; r < B * H; ++r)
    if (bad_row[r] >= 0) refuse_row(o, bad_row[r], bad[r]);
  check_finite_output(out, o);
  std::vector<Tensor> saved = {den};
  if (scaled) saved.push_back(o.key_log_scale.detach()), saved.push_back(M);
  return record(
      out, "causal_feature_attention", {phi_q, phi_k, v},
      [B, H, n, m, dv](BackwardContext& c) {
        const bool scaled = c.saved.size() > 1;
        const float *pq = c.inputs[0].data(), *pk = c.inputs[1].data(), *pv = c.inputs[2].data();
        const float *pg = c.grad_out.data(), *po = c.out.data(), *pden = c.saved[0].data();
        const float* pc = scaled ? c.saved[1].data() : nullptr;
        const float* pM = scaled ? c.saved[2].data() : nullptr;
        Tensor dq = Tensor::empty({B, H, n, m}), dk = Tensor::empty({B, H, n, m}), dv_t = Tensor::empty({B, H, n, dv});
        // per (b,h): S or R (m,dv), z or u (m), weighted phi_k (m), g/den (dv): O(m·dv), independent of n
        const int64_t per = m * dv + 2 * m + dv;
        Tensor state = Tensor::empty({B * H, per});
        float *pdq = dq.data(), *pdk = dk.data(), *pdv = dv_t.data();
        parallel_rows(B * H, 3 * n * m * dv, [&](int64_t r) {
          float* S = state.data() + r * per;  // (m, dv)
          float* z = S + m * dv;              // (m)
          float* fk = z + m;                  // (m)
          float* gt = fk + m;                 // (dv)
          // forward: den_i = phi_q_i·z_i (or the constant eps), out_i = num_i / den_i
          //   =>  gt_i = g_i / den_i,  r_i = dL/dden_i = -(g_i·out_i) / den_i
          auto upstream = [&](int64_t i) {
            const float d = pden[r * n + i];
            const float* g = pg + (r * n + i) * dv;
            const float* o = po + (r * n + i) * dv;
            float go = 0.0f;
            for (int64_t t = 0; t < dv; ++t) {
              gt[t] = g[t] / d;
              go += g[t] * o[t];
            }
            return -go / d;
          };
          // 1. forward scan: rebuild S_i, z_i exactly as the forward did.
          //    forward: num_i = phi_q_iᵀ S_i, den_i = phi_q_iᵀ z_i  =>  dphi_q_i = S_i gt_i + z_i r_i
          for (int64_t t = 0; t < m * dv + m; ++t) S[t] = 0.0f;
          float M_prev = kNegInf;
          for (int64_t i = 0; i < n; ++i) {
            const float* k_i = scan_key(S, fk, pk + (r * n + i) * m, m, dv, scaled ? pc + r * n : nullptr,
                                        scaled ? pM + r * n : nullptr, i, M_prev);
            const float* v_i = pv + (r * n + i) * dv;
            for (int64_t a = 0; a < m; ++a) {  // S_i = S_{i-1} + phi_k_i v_iᵀ, z_i = z_{i-1} + phi_k_i
              float* S_a = S + a * dv;
              const float ka = k_i[a];
              for (int64_t t = 0; t < dv; ++t) S_a[t] += ka * v_i[t];
              z[a] += ka;
            }
            const float r_i = upstream(i);
            float* dq_i = pdq + (r * n + i) * m;
            for (int64_t a = 0; a < m; ++a) {
              const float* S_a = S + a * dv;
              float acc = 0.0f;
              for (int64_t t = 0; t < dv; ++t) acc += S_a[t] * gt[t];
              dq_i[a] = acc + z[a] * r_i;
            }
          }
          // 2. backward scan: key j was added to S_i for every i >= j, with weight exp(c_j - M_i), so
          //    forward: S_i += w_ij phi_k_j v_jᵀ, z_i += w_ij phi_k_j
          //    =>  dphi_k_j = w_jj (R_j v_j + u_j),  dv_j = w_jj R_jᵀ phi_k_j,  where (in units of exp(M_j))
          //        R_j = Σ_{i>=j} exp(M_j - M_i) phi_q_i gt_iᵀ,  u_j = Σ_{i>=j} exp(M_j - M_i) r_i phi_q_i
          float* R = S;  // reuse the buffers: (m, dv) and (m)
          float* u = z;
          for (int64_t t = 0; t < m * dv + m; ++t) R[t] = 0.0f;
          for (int64_t j = n - 1; j >= 0; --j) {
            float w = 1.0f;
            if (scaled) {
              if (j + 1 < n) {
                const float f = rescale(pM[r * n + j], pM[r * n + j + 1]);
                if (f != 1.0f)
                  for (int64_t t = 0; t < m * dv + m; ++t) R[t] *= f;
              }
              w = weight_of(pc[r * n + j], pM[r * n + j]);
            }
            const float r_j = upstream(j);
            const float* q_j = pq + (r * n + j) * m;
            for (int64_t a = 0; a < m; ++a) {  // R_j = phi_q_j gt_jᵀ + R_{j+1}, u_j = r_j phi_q_j + u_{j+1}
              float* R_a = R + a * dv;
              const float qa = q_j[a];
              for (int64_t t = 0; t < dv; ++t) R_a[t] += qa * gt[t];
              u[a] += r_j * qa;
            }
            const float* k_j = pk + (r * n + j) * m;
            const float* v_j = pv + (r * n + j) * dv;
            float* dk_j = pdk + (r * n + j) * m;
            float* dv_j = pdv + (r * n + j) * dv;
            for (int64_t t = 0; t < dv; ++t) dv_j[t] = 0.0f;
            for (int64_t a = 0; a < m; ++a) {
              const float* R_a = R + a * dv;
              float acc = 0.0f;
              for (int64_t t = 0; t < dv; ++t) acc += R_a[t] * v_j[t];
              dk_j[a] = w * (acc + u[a]);
              const float wk = w * k_j[a];
              for (int64_t t = 0; t < dv; ++t) dv_j[t] += wk * R_a[t];
            }
          }
        });
        if (c.needs_grad(0)) c.add_grad(0, dq);
        if (c.needs_grad(1)) c.add_grad(1, dk);
        if (c.needs_grad(2)) c.add_grad(2, dv_t);
      },
      saved);
}

}  // namespace

// Not inline, one copy: the causal kernel and the RNN form run the very same instructions.
float feature_attention_step(float* S, float* z, const float* phi_q, const float* phi_k, const float* v, int64_t m,
                             int64_t dv, float eps, float* out) {
  for (int64_t t = 0; t < dv; ++t) out[t] = 0.0f;
  float den = 0.0f;
  for (int64_t a = 0; a < m; ++a) {
    float* S_a = S + a * dv;  // row a of S: (dv)
    const float ka = phi_k[a], qa = phi_q[a];
    for (int64_t t = 0; t < dv; ++t) {
      S_a[t] += ka * v[t];   // S_i = S_{i-1} + phi_k v_ᵀ
      out[t] += qa * S_a[t];  // num_i = phi_qᵀ S_i
    }
    z[a] += ka;          // z_i = z_{i-1} + phi_k
    den += qa * z[a];    // phi_qᵀ z_i
  }
  const float inv = 1.0f / denominator(den, eps);  // den = 0: no key seen, out = 0 (not 0/0)
  for (int64_t t = 0; t < dv; ++t) out[t] *= inv;
  return den;
}

FeatureRecurrence::FeatureRecurrence(int64_t B, int64_t H, int64_t m, int64_t dv, float eps, bool scaled,
                                     const char* who)
    : B_(B), H_(H), m_(m), dv_(dv), eps_(eps), scaled_(scaled), who_(who),
      state_(static_cast<size_t>(B * H * (m * dv + m)), 0.0f),
      M_(scaled ? static_cast<size_t>(B * H) : 0, kNegInf) {
  AZ_CHECK(eps > 0.0f && std::isfinite(eps), who, ": eps must be a positive number, got ", eps);
}

Tensor FeatureRecurrence::step(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, const Tensor& log_scale) {
  AZ_CHECK(phi_q.shape() == Shape({B_, H_, 1, m_}) && phi_k.shape() == phi_q.shape() &&
               v.shape() == Shape({B_, H_, 1, dv_}),
           who_, " decode: features must be (B, H, 1, m) = ", Shape({B_, H_, 1, m_}), " and v (B, H, 1, dv) = ",
           Shape({B_, H_, 1, dv_}), ", got ", phi_q.shape(), ", ", phi_k.shape(), ", ", v.shape());
  AZ_CHECK(scaled_ == log_scale.defined() && (!scaled_ || log_scale.shape() == Shape({B_, H_, 1})), who_,
           " decode: the key's log-scale must be ", scaled_ ? "(B, H, 1)" : "absent", ", got ",
           log_scale.defined() ? core::shape_str(log_scale.shape()) : std::string("none"));
  Tensor out = Tensor::empty({B_, H_, 1, dv_});
  std::vector<float> fk(static_cast<size_t>(m_));
  for (int64_t r = 0; r < B_ * H_; ++r) {
    float* S = state_.data() + r * (m_ * dv_ + m_);
    float* z = S + m_ * dv_;
    const float* k_t = phi_k.data() + r * m_;
    float seen = 0.0f;  // M_t: the causal kernel's running_max, one step of it
    if (scaled_) {
      const float c = log_scale.data()[r];
      const float M_t = c > M_[static_cast<size_t>(r)] ? c : M_[static_cast<size_t>(r)];
      // as scan_key: the sums move to units of exp(M_t), the key comes weighted by exp(c - M_t)
      float M_prev = M_[static_cast<size_t>(r)];
      k_t = scan_key(S, fk.data(), k_t, m_, dv_, &c, &M_t, 0, M_prev);
      M_[static_cast<size_t>(r)] = M_t;
      seen = M_t;
    }
    const float s = feature_attention_step(S, z, phi_q.data() + r * m_, k_t, v.data() + r * dv_, m_, dv_, eps_,
                                           out.data() + r * dv_);
    const bool sees = !scaled_ || seen != kNegInf;
    if (sees && !usable_normaliser(s)) {
      FeatureAttentionOptions o;
      o.who = who_;
      refuse_row(o, t_, s);
    }
  }
  FeatureAttentionOptions o;
  o.who = who_;
  check_finite_output(out, o);
  ++t_;
  return out;
}

Tensor feature_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, const FeatureAttentionOptions& o) {
  check_inputs(phi_q, phi_k, &v, o, "feature_attention");
  return o.causal ? causal(phi_q, phi_k, v, o) : noncausal(phi_q, phi_k, v, o);
}

Tensor feature_attention_matrix(const Tensor& phi_q, const Tensor& phi_k, const FeatureAttentionOptions& o) {
  check_inputs(phi_q, phi_k, nullptr, o, "feature_attention_matrix");
  const int64_t B = phi_q.size(0), H = phi_q.size(1), n = phi_q.size(2), nk = phi_k.size(2);
  Tensor scores = matmul(phi_q, phi_k, false, true);  // (B,H,n,m) @ (B,H,m,nk) -> (B,H,n,nk)
  if (o.causal || o.key_log_scale.defined()) {
    // W_ij = exp(c_j - M_i) (or 1), 0 above the diagonal when causal: a constant (B,H,n,nk) or (1,1,n,nk)
    const bool scaled = o.key_log_scale.defined();
    Tensor W = scaled ? Tensor::zeros({B, H, n, nk}) : Tensor::zeros({1, 1, n, nk});
    const int64_t rows = scaled ? B * H : 1;
    Tensor M;  // (B,H,n): the maximum each row's weights are relative to
    if (scaled) {
      M = o.causal ? running_max(o.key_log_scale) : Tensor::empty({B, H, n});
      if (!o.causal) {
        for (int64_t r = 0; r < rows; ++r) {
          float mx = kNegInf;
          for (int64_t j = 0; j < nk; ++j) mx = std::max(mx, o.key_log_scale.data()[r * nk + j]);
          for (int64_t i = 0; i < n; ++i) M.data()[r * n + i] = mx;
        }
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < nk; ++j) {
          if (o.causal && j > i) continue;
          W.data()[(r * n + i) * nk + j] =
              scaled ? weight_of(o.key_log_scale.data()[r * nk + j], M.data()[r * n + i]) : 1.0f;
        }
    scores = scores * W;
  }
  // Row sums s_i, normalised exactly where the row sees a key (eps only in the denominator of a row that sees
  // none: A's row is 0), refused where s_i left float's normal range — the kernel's rule, to the same rows.
  const Tensor s = sum(scores, -1, true);  // (B,H,n,1)
  Tensor guard = Tensor::zeros({B, H, n, 1});
  for (int64_t r = 0; r < B * H; ++r)
    for (int64_t i = 0; i < n; ++i) {
      bool sees = !o.causal || i < nk;  // without log-scales every (earlier) key counts
      if (o.key_log_scale.defined()) {
        sees = false;
        for (int64_t j = 0; j < (o.causal ? std::min(i + 1, nk) : nk); ++j)
          sees = sees || o.key_log_scale.data()[r * nk + j] != kNegInf;
      }
      const float si = s.data()[r * n + i];
      if (sees && !usable_normaliser(si)) refuse_row(o, i, si);
      if (si == 0.0f) guard.data()[r * n + i] = o.eps;
    }
  return scores / (s + guard);  // (B,H,n,nk) / (B,H,n,1)
}

}  // namespace attention
