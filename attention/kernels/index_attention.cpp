// attention/kernels/index_attention.cpp — softmax attention over per-query key lists: forward, hand-written backward,
// and the dense helpers (effective attention, pattern, masked dense reference) that tests and lessons compare
// it with.
//
// Legend: B = batch, H = heads, n = queries, m = keys, d = head size, K = slots per query,
//         Bi, Hi = the index's batch and head sizes (1 = shared).
#include "attention/kernels/index_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/fast_exp.h"
#include "core/autograd.h"
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/parallel.h"

namespace attention {

using namespace core;
using core::detail::parallel_rows;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Dims {
  int64_t B, H, n, m, d, K, Bi, Hi;
  // Which (n, K) slice of the index (b, h) reads: a size-1 axis is shared.
  int64_t slice(int64_t b, int64_t h) const { return (Bi == 1 ? 0 : b) * Hi + (Hi == 1 ? 0 : h); }
};

Dims dims_of(const Tensor& q, const Tensor& k, const IntTensor& index) {
  return {q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), index.shape[3], index.shape[0], index.shape[1]};
}

// q · k over d floats with 8 independent partial sums: a fixed summation order (deterministic) that the
// compiler can still keep in one SIMD register (a single running sum cannot be vectorised without
// -ffast-math, which the project forbids).
inline float dot(const float* a, const float* b, int64_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t t = 0;
  for (; t + 8 <= d; t += 8)
    for (int u = 0; u < 8; ++u) acc[u] += a[t + u] * b[t + u];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; t < d; ++t) s += a[t] * b[t];
  return s;
}

// y += alpha * x over d floats.
inline void axpy(float* y, float alpha, const float* x, int64_t d) {
  for (int64_t t = 0; t < d; ++t) y[t] += alpha * x[t];
}

float scale_of(const IndexAttentionOptions& o, int64_t d) {
  return o.scale != 0.0f ? o.scale : 1.0f / std::sqrt(static_cast<float>(d));
}

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const IntTensor& index,
                  const IndexAttentionOptions& o, const std::string& op) {
  Scheme::check_qkv(q, k, v, op);
  check_index(index, q.size(0), q.size(1), q.size(2), k.size(2), op);
  if (o.key_padding_mask.defined())
    AZ_CHECK(o.key_padding_mask.shape() == Shape({q.size(0), k.size(2)}), op, ": key_padding_mask must be (B, m) = ",
             Shape({q.size(0), k.size(2)}), ", got ", o.key_padding_mask.shape());
}

// The forward pass, one query row per thread. Writes out (B, H, n, d) and probs (B, H, n, K). Returns false when
// some row that has usable keys got a score that is not finite (q·k overflowed float32): such a row cannot be
// softmaxed honestly, and must not pass for a row that "sees no key" (zeros). The caller refuses the input.
bool forward_rows(const Dims& s, const float* q, const float* k, const float* v, const int64_t* index,
                  const float* pad, float scale, float* out, float* probs) {
  std::vector<char> bad(static_cast<size_t>(s.B * s.H * s.n), 0);  // written per row: no race
  parallel_rows(s.B * s.H * s.n, s.K * s.d, [&](int64_t r) {
    const int64_t bh = r / s.n, i = r % s.n, b = bh / s.H, h = bh % s.H;
    const int64_t* idx = index + (s.slice(b, h) * s.n + i) * s.K;  // (K) keys of query i
    const float* qi = q + r * s.d;                                   // (d)
    const float* kb = k + bh * s.m * s.d;                            // (m, d)
    const float* vb = v + bh * s.m * s.d;                            // (m, d)
    float* p = probs + r * s.K;                                      // (K)
    float* o = out + r * s.d;                                        // (d)
    // score[s] = q_i · k_j * scale over the usable slots; -inf marks the others.
    float top = kNegInf;
    bool finite = true;
    for (int64_t t = 0; t < s.K; ++t) {
      const int64_t j = idx[t];
      if (j < 0 || (pad && pad[b * s.m + j] == 0.0f)) {
        p[t] = kNegInf;
        continue;
      }
      p[t] = scale * dot(qi, kb + j * s.d, s.d);
      finite = finite && std::isfinite(p[t]);
      top = p[t] > top ? p[t] : top;
    }
    if (!finite) {  // a usable key's score overflowed: flag the row (NaN output), the caller refuses
      bad[static_cast<size_t>(r)] = 1;
      for (int64_t t = 0; t < s.K; ++t) p[t] = std::numeric_limits<float>::quiet_NaN();
      for (int64_t c = 0; c < s.d; ++c) o[c] = std::numeric_limits<float>::quiet_NaN();
      return;
    }
    if (top == kNegInf) {  // no usable key: the row attends to nothing -> zeros, not NaN
      for (int64_t t = 0; t < s.K; ++t) p[t] = 0.0f;
      for (int64_t c = 0; c < s.d; ++c) o[c] = 0.0f;
      return;
    }
    // p = softmax(score) over the row's slots (exp(score - top) <= 1 cannot overflow).
    double total = 0.0;
    for (int64_t t = 0; t < s.K; ++t) {
      const float e = p[t] == kNegInf ? 0.0f : core::fast_exp(p[t] - top);
      p[t] = e;
      total += e;
    }
    const float inv = static_cast<float>(1.0 / total);
    // out_i = Σ_s p[s] v_j
    for (int64_t c = 0; c < s.d; ++c) o[c] = 0.0f;
    for (int64_t t = 0; t < s.K; ++t) {
      p[t] *= inv;
      if (p[t] != 0.0f) axpy(o, p[t], vb + idx[t] * s.d, s.d);
    }
  });
  return std::find(bad.begin(), bad.end(), 1) == bad.end();
}

// The transposed index of every (n, K) slice: for key j, the flat slots e = i*K + s that list it, in increasing
// order. offsets (slices, m+1), entries (slices, n*K): slice sl's key j owns entries[sl][offsets[sl][j] ..
// offsets[sl][j+1]).
struct Transposed {
  IntTensor offsets, entries;
};

Transposed transpose_index(const Dims& s, const int64_t* index) {
  const int64_t slices = s.Bi * s.Hi, nk = s.n * s.K;
  Transposed t{IntTensor({slices, s.m + 1}, 0), IntTensor({slices, nk}, 0)};
  IntTensor cursor({slices, s.m}, 0);
  parallel_rows(slices, nk, [&](int64_t sl) {
    const int64_t* idx = index + sl * nk;
    int64_t* off = t.offsets.data.data() + sl * (s.m + 1);
    int64_t* cur = cursor.data.data() + sl * s.m;
    int64_t* ent = t.entries.data.data() + sl * nk;
    for (int64_t e = 0; e < nk; ++e)
      if (idx[e] >= 0) ++off[idx[e] + 1];
    for (int64_t j = 0; j < s.m; ++j) off[j + 1] += off[j];
    for (int64_t e = 0; e < nk; ++e)  // increasing e: each key's list comes out sorted by (i, s)
      if (idx[e] >= 0) ent[off[idx[e]] + cur[idx[e]]++] = e;
  });
  return t;
}

}  // namespace

// ---- checks ---------------------------------------------------------------------------------------------
void check_index(const IntTensor& index, int64_t B, int64_t H, int64_t n, int64_t m, const std::string& op) {
  AZ_CHECK(index.dim() == 4, op, ": the key index must be (B or 1, H or 1, n, K), got ", index.shape);
  const Shape& s = index.shape;
  AZ_CHECK((s[0] == 1 || s[0] == B) && (s[1] == 1 || s[1] == H) && s[2] == n, op, ": the key index ", s,
           " does not fit q of B = ", B, ", H = ", H, ", n = ", n, " (want (B or 1, H or 1, n, K))");
  const int64_t K = s[3], rows = s[0] * s[1] * n;
  // stamp[j] = the last row that listed key j: a repeated key in one row is found in O(K).
  IntTensor stamp({m}, -1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < K; ++t) {
      const int64_t j = index.data[static_cast<size_t>(r * K + t)];
      if (j == -1) continue;
      AZ_CHECK(j >= 0 && j < m, op, ": key index ", j, " at (", r / (s[1] * n), ",", (r / n) % s[1], ",", r % n, ",",
               t, ") is out of range [-1, ", m, ")");
      AZ_CHECK(stamp.data[static_cast<size_t>(j)] != r, op, ": query row (", r / (s[1] * n), ",", (r / n) % s[1], ",",
               r % n, ") lists key ", j,
               " twice (a repeated key would be counted twice in the softmax; list each key once)");
      stamp.data[static_cast<size_t>(j)] = r;
    }
}

// ---- forward --------------------------------------------------------------------------------------------
IndexAttentionResult index_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const IntTensor& index,
                                             const IndexAttentionOptions& o) {
  check_inputs(q, k, v, index, o, "index_attention");
  const Dims s = dims_of(q, k, index);
  IndexAttentionResult r{Tensor::empty({s.B, s.H, s.n, s.d}), Tensor::empty({s.B, s.H, s.n, s.K})};
  const bool ok = forward_rows(s, q.data(), k.data(), v.data(), index.data.data(),
                               o.key_padding_mask.defined() ? o.key_padding_mask.data() : nullptr, scale_of(o, s.d),
                               r.out.data(), r.probs.data());
  AZ_CHECK(ok, o.who ? o.who : "index_attention",
           ": a score q.k/sqrt(d) overflowed float32 or is not finite (inputs too large): refusing rather than writing "
           "a wrong row");
  return r;
}

Tensor index_attention(const Tensor& q, const Tensor& k, const Tensor& v, const IntTensor& index,
                       const IndexAttentionOptions& o) {
  return index_attention(q, k, v, std::make_shared<const IntTensor>(index), o);
}

Tensor index_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SharedIndex& index,
                       const IndexAttentionOptions& o) {
  AZ_CHECK(index != nullptr, "index_attention: no key index given");
  IndexAttentionResult r = index_attention_forward(q, k, v, *index, o);  // out (B,H,n,d), probs (B,H,n,K)
  const Dims s = dims_of(q, k, *index);
  const float scale = scale_of(o, s.d);
  return record(
      r.out, "index_attention", {q, k, v},
      [index, s, scale](BackwardContext& c) {
        const bool need_q = c.needs_grad(0), need_k = c.needs_grad(1), need_v = c.needs_grad(2);
        const float* q = c.inputs[0].data();     // (B, H, n, d)
        const float* k = c.inputs[1].data();     // (B, H, m, d)
        const float* v = c.inputs[2].data();     // (B, H, m, d)
        const float* P = c.saved[0].data();      // (B, H, n, K)
        const float* g = c.grad_out.data();      // (B, H, n, d)
        const int64_t* idx = index->data.data(); // (Bi, Hi, n, K)

        // Pass 1, one query row per thread:
        // forward: out_i = Σ_s p_s v_j            =>  dp_s = g_i · v_j
        // forward: p = softmax(score)             =>  dscore_s = p_s (dp_s - Σ_t p_t dp_t)
        // forward: score_s = scale · q_i · k_j    =>  dq_i += scale Σ_s dscore_s k_j
        Tensor dscore = Tensor::empty({s.B, s.H, s.n, s.K});  // (B, H, n, K)
        Tensor dq = need_q ? Tensor::zeros({s.B, s.H, s.n, s.d}) : Tensor();
        float* ds = dscore.data();
        parallel_rows(s.B * s.H * s.n, s.K * s.d, [&](int64_t r) {
          const int64_t bh = r / s.n, i = r % s.n, b = bh / s.H, h = bh % s.H;
          const int64_t* row = idx + (s.slice(b, h) * s.n + i) * s.K;
          const float* p = P + r * s.K;
          const float* gi = g + r * s.d;
          const float* kb = k + bh * s.m * s.d;
          const float* vb = v + bh * s.m * s.d;
          float* dsr = ds + r * s.K;
          double total = 0.0;  // Σ_t p_t dp_t
          for (int64_t t = 0; t < s.K; ++t) {
            if (p[t] == 0.0f) {  // unused, padded or underflowed slot: no weight, no gradient
              dsr[t] = 0.0f;
              continue;
            }
            dsr[t] = dot(gi, vb + row[t] * s.d, s.d);  // dp_t
            total += static_cast<double>(p[t]) * dsr[t];
          }
          const float sum_pdp = static_cast<float>(total);
          for (int64_t t = 0; t < s.K; ++t) dsr[t] = p[t] == 0.0f ? 0.0f : p[t] * (dsr[t] - sum_pdp);
          if (need_q) {
            float* dqi = dq.data() + r * s.d;
            for (int64_t t = 0; t < s.K; ++t)
              if (dsr[t] != 0.0f) axpy(dqi, scale * dsr[t], kb + row[t] * s.d, s.d);
          }
        });
        if (need_q) c.add_grad(0, dq);
        if (!need_k && !need_v) return;

        // Pass 2, one key row per thread, over the queries that list the key (transposed index):
        // forward: score_s = scale · q_i · k_j    =>  dk_j += scale Σ_(i,s lists j) dscore_s q_i
        // forward: out_i = Σ_s p_s v_j            =>  dv_j += Σ_(i,s lists j) p_s g_i
        const Transposed tr = transpose_index(s, idx);
        Tensor dk = need_k ? Tensor::zeros({s.B, s.H, s.m, s.d}) : Tensor();
        Tensor dv = need_v ? Tensor::zeros({s.B, s.H, s.m, s.d}) : Tensor();
        const int64_t nk = s.n * s.K;
        parallel_rows(s.B * s.H * s.m, std::max<int64_t>(1, nk / s.m) * s.d, [&](int64_t r) {
          const int64_t bh = r / s.m, j = r % s.m, b = bh / s.H, h = bh % s.H;
          const int64_t sl = s.slice(b, h);
          const int64_t* off = tr.offsets.data.data() + sl * (s.m + 1);
          const int64_t* ent = tr.entries.data.data() + sl * nk;
          const float* dsb = ds + bh * nk;
          const float* pb = P + bh * nk;
          for (int64_t e = off[j]; e < off[j + 1]; ++e) {
            const int64_t slot = ent[e], i = slot / s.K;
            if (need_k && dsb[slot] != 0.0f) axpy(dk.data() + r * s.d, scale * dsb[slot], q + (bh * s.n + i) * s.d, s.d);
            if (need_v && pb[slot] != 0.0f) axpy(dv.data() + r * s.d, pb[slot], g + (bh * s.n + i) * s.d, s.d);
          }
        });
        if (need_k) c.add_grad(1, dk);
        if (need_v) c.add_grad(2, dv);
      },
      {r.probs});
}

// ---- dense views (small n) --------------------------------------------------------------------------------
Tensor index_to_dense(const Tensor& slot_values, const IntTensor& index, int64_t m) {
  AZ_CHECK(slot_values.dim() == 4, "index_to_dense: slot values must be (B, H, n, K), got ", slot_values.shape());
  const int64_t B = slot_values.size(0), H = slot_values.size(1), n = slot_values.size(2), K = slot_values.size(3);
  check_index(index, B, H, n, m, "index_to_dense");
  AZ_CHECK(index.shape[3] == K, "index_to_dense: slot values ", slot_values.shape(), " and index ", index.shape,
           " disagree on K");
  const Dims s{B, H, n, m, 1, K, index.shape[0], index.shape[1]};
  Tensor dense = Tensor::zeros({B, H, n, m});  // (B, H, n, m)
  const float* src = slot_values.data();
  float* dst = dense.data();
  parallel_rows(B * H * n, K, [&](int64_t r) {
    const int64_t bh = r / n, i = r % n;
    const int64_t* row = index.data.data() + (s.slice(bh / H, bh % H) * n + i) * K;
    for (int64_t t = 0; t < K; ++t)
      if (row[t] >= 0) dst[r * m + row[t]] = src[r * K + t];
  });
  return dense;
}

Tensor index_pattern(const IntTensor& index, int64_t B, int64_t H, int64_t m, const Tensor& pad) {
  AZ_CHECK(index.dim() == 4, "index_pattern: the key index must be (B or 1, H or 1, n, K), got ", index.shape);
  const int64_t n = index.shape[2], K = index.shape[3];
  check_index(index, B, H, n, m, "index_pattern");
  if (pad.defined())
    AZ_CHECK(pad.shape() == Shape({B, m}), "index_pattern: key_padding_mask must be (B, m) = ", Shape({B, m}),
             ", got ", pad.shape());
  Tensor ones = Tensor::ones({B, H, n, K});
  Tensor P = index_to_dense(ones, index, m);  // (B, H, n, m): 1 where listed
  if (pad.defined()) {
    float* p = P.data();
    for (int64_t r = 0; r < B * H * n; ++r) {
      const int64_t b = r / (H * n);
      for (int64_t j = 0; j < m; ++j)
        if (pad.data()[b * m + j] == 0.0f) p[r * m + j] = 0.0f;
    }
  }
  return P;
}

Tensor index_attention_dense_reference(const Tensor& q, const Tensor& k, const Tensor& v, const IntTensor& index,
                                       const IndexAttentionOptions& o) {
  check_inputs(q, k, v, index, o, "index_attention_dense_reference");
  const float scale = scale_of(o, q.size(3));
  const Tensor allowed = index_pattern(index, q.size(0), q.size(1), k.size(2), o.key_padding_mask);  // (B,H,n,m)
  const Tensor scores = matmul(q, k, false, true) * scale;                                           // (B,H,n,m)
  const Tensor probs = softmax(masked_fill(scores, 1.0f - allowed, kNegInf), -1);  // blocked row -> zeros
  return matmul(probs, v);                                                         // (B,H,n,d)
}

double index_pairs_per_head(const IntTensor& index) {
  AZ_CHECK(index.dim() == 4, "index_pairs_per_head: index must be (B, H, n, K), got ", index.shape);
  double valid = 0;
  for (int64_t v : index.data) valid += v >= 0;
  return valid / static_cast<double>(index.shape[0] * index.shape[1]);
}

}  // namespace attention
