// attention/sinkhorn.cpp — Sparse Sinkhorn Attention: block summaries, log-domain Sinkhorn balancing with a
// hand-written backward, attention over [own block; sorted block], SortCut, the causal variant, the layer and
// the registry entry "sinkhorn". See attention/sinkhorn.h for the equations and the choices made.
//
// Legend: B = batch, H = heads, n = sequence length, d = head size, b = block, nb = blocks, N = nb * b.
#include "attention/sinkhorn.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/autograd.h"
#include "core/fast_exp.h"
#include "core/ops_elementwise.h"
#include "core/ops_index.h"
#include "core/ops_linalg.h"
#include "core/ops_nn.h"
#include "core/ops_reduce.h"
#include "core/ops_shape.h"
#include "core/parallel.h"

namespace attention {

using namespace core;
using core::detail::parallel_rows;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int64_t blocks_of(int64_t n, int64_t b) { return (n + b - 1) / b; }

// A block larger than the sequence is one block of n: the setting's effect is clamped to what the input needs
// (block = 10000 at n = 20 used to pad to 10000 tokens and build (B, H, 1, b, 2b) score tensors: 4.7 GB).
SinkhornOptions fitted(SinkhornOptions o, int64_t n) {
  if (n > 0 && o.block > n) o.block = n;
  return o;
}

void check_options(const SinkhornOptions& o, int64_t n) {
  AZ_CHECK(o.block >= 1, "sinkhorn: block must be >= 1, got ", o.block);
  AZ_CHECK(o.iters >= 1 && o.iters <= 1000, "sinkhorn: iters must be in [1, 1000], got ", o.iters);
  AZ_CHECK(std::isfinite(o.tau) && o.tau > 0.0, "sinkhorn: tau must be a positive number, got ", o.tau);
  AZ_CHECK(o.sortcut >= 0, "sinkhorn: sortcut must be >= 0 (0 = off), got ", o.sortcut);
  AZ_CHECK(o.sortcut == 0 || !o.causal, "sinkhorn: sortcut=", o.sortcut,
           " is for encoders (it mixes every block into the first sorted ones): it cannot be causal");
  if (n > 0 && o.sortcut > 0) {
    const int64_t nb = blocks_of(n, o.block);
    AZ_CHECK(o.sortcut <= nb, "sinkhorn: sortcut=", o.sortcut, " exceeds the ", nb, " blocks that n = ", n,
             " makes with block=", o.block);
  }
}

// ---- log-domain normalisations of one nb × nb matrix (row-major; -inf = masked, stays -inf) --------------

// y = x - logsumexp along one axis of the nb × nb matrix: for each of the nb lines o, over its nb entries t at
// o·line + t·step (rows: line = nb, step = 1; columns: line = 1, step = nb). A fully masked line stays masked.
void lines_forward(const float* x, float* y, int64_t nb, int64_t line, int64_t step) {
  for (int64_t o = 0; o < nb; ++o) {
    const float* xl = x + o * line;
    float* yl = y + o * line;
    float m = kNegInf;
    for (int64_t t = 0; t < nb; ++t) m = xl[t * step] > m ? xl[t * step] : m;
    if (m == kNegInf) {
      for (int64_t t = 0; t < nb; ++t) yl[t * step] = kNegInf;
      continue;
    }
    double s = 0.0;
    for (int64_t t = 0; t < nb; ++t) s += std::exp(static_cast<double>(xl[t * step]) - m);
    const double lse = m + std::log(s);
    for (int64_t t = 0; t < nb; ++t)
      yl[t * step] = xl[t * step] == kNegInf ? kNegInf : static_cast<float>(xl[t * step] - lse);
  }
}
void rows_forward(const float* x, float* y, int64_t nb) { lines_forward(x, y, nb, nb, 1); }  // over each row
void cols_forward(const float* x, float* y, int64_t nb) { lines_forward(x, y, nb, 1, nb); }  // over each column

// Causal: y_ij = x_ij - max(0, L_ij) with L_ij = log Σ_{k <= i} exp(x_kj), the logsumexp of column j down to
// row i. Row i never sees a later row. An entry is scaled down only where the column's mass over the rows so
// far exceeds 1 (the plain prefix normalisation x - L would pin each column's first entry to 1; see the header).
void cols_causal_forward(const float* x, float* y, int64_t nb) {
  for (int64_t j = 0; j < nb; ++j) {
    double L = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < nb; ++i) {
      const float xv = x[i * nb + j];
      if (xv == kNegInf) {
        y[i * nb + j] = kNegInf;
        continue;
      }
      if (std::isinf(L)) {
        L = xv;
      } else {
        const double m = std::max(L, static_cast<double>(xv));
        L = m + std::log(std::exp(L - m) + std::exp(xv - m));
      }
      y[i * nb + j] = static_cast<float>(xv - std::max(L, 0.0));
    }
  }
}

// forward: y_ij = x_ij - log Σ_j' exp(x_ij') along a line  =>  gx_ij = g_ij - exp(y_ij) Σ_j' g_ij'   (unmasked
// entries only). line and step as in lines_forward.
void lines_backward(const float* y, const float* g, float* gx, int64_t nb, int64_t line, int64_t step) {
  for (int64_t o = 0; o < nb; ++o) {
    double total = 0.0;
    for (int64_t t = 0; t < nb; ++t)
      if (y[o * line + t * step] != kNegInf) total += g[o * line + t * step];
    for (int64_t t = 0; t < nb; ++t) {
      const int64_t a = o * line + t * step;
      gx[a] = y[a] == kNegInf ? 0.0f : static_cast<float>(g[a] - std::exp(static_cast<double>(y[a])) * total);
    }
  }
}
void rows_backward(const float* y, const float* g, float* gx, int64_t nb) { lines_backward(y, g, gx, nb, nb, 1); }
void cols_backward(const float* y, const float* g, float* gx, int64_t nb) { lines_backward(y, g, gx, nb, 1, nb); }

// forward: y_ij = x_ij - max(0, L_ij), L_ij = log Σ_{k<=i} exp(x_kj); row i is "active" where L_ij > 0
//   =>  gx_kj = g_kj - Σ_{i>=k, active} g_ij exp(x_kj - L_ij) = g_kj - exp(x_kj - L_kj) U_k,
//       U_k = Σ_{i>=k, active} g_ij exp(L_kj - L_ij) = [k active] g_kj + exp(L_kj - L_k'j) U_k'
//       (k' = the next unmasked row below k). Every factor exp(L_k - L_k') is <= 1 (L grows down the column),
//       so the reverse scan cannot overflow.
void cols_causal_backward(const float* x, const float* g, float* gx, int64_t nb) {
  std::vector<double> L(static_cast<size_t>(nb));
  for (int64_t j = 0; j < nb; ++j) {
    double run = -std::numeric_limits<double>::infinity();  // recompute L down the column
    for (int64_t i = 0; i < nb; ++i) {
      const float xv = x[i * nb + j];
      if (xv == kNegInf) continue;
      if (std::isinf(run)) {
        run = xv;
      } else {
        const double m = std::max(run, static_cast<double>(xv));
        run = m + std::log(std::exp(run - m) + std::exp(xv - m));
      }
      L[i] = run;
    }
    double U = 0.0, L_next = 0.0;
    bool have_next = false;
    for (int64_t i = nb - 1; i >= 0; --i) {
      const int64_t a = i * nb + j;
      if (x[a] == kNegInf) {
        gx[a] = 0.0f;
        continue;
      }
      U = (L[i] > 0.0 ? g[a] : 0.0) + (have_next ? std::exp(L[i] - L_next) * U : 0.0);
      gx[a] = static_cast<float>(g[a] - std::exp(static_cast<double>(x[a]) - L[i]) * U);
      L_next = L[i];
      have_next = true;
    }
  }
}

// All iterates of the balancing: trace[s] for s = 0..2·iters (trace[0] = logits; odd s after a row step, even
// s after a column step): (2·iters + 1, M, nb, nb).
Tensor sinkhorn_trace(const Tensor& logits, int64_t iters, bool causal) {
  AZ_CHECK(logits.dim() >= 2 && logits.size(-1) == logits.size(-2),
           "sinkhorn_balance: logits must be (..., nb, nb), got ", logits.shape());
  AZ_CHECK(iters >= 1, "sinkhorn_balance: iters must be >= 1, got ", iters);
  const int64_t nb = logits.size(-1), M = logits.numel() / (nb * nb), steps = 2 * iters;
  Tensor trace = Tensor::empty({steps + 1, M, nb, nb});
  std::memcpy(trace.data(), logits.data(), sizeof(float) * logits.numel());
  float* t = trace.data();
  const int64_t mat = nb * nb, stride = M * mat;
  parallel_rows(M, steps * mat * 8, [&](int64_t mi) {
    for (int64_t s = 1; s <= steps; ++s) {
      const float* x = t + (s - 1) * stride + mi * mat;
      float* y = t + s * stride + mi * mat;
      if (s % 2 == 1) {
        rows_forward(x, y, nb);
      } else if (causal) {
        cols_causal_forward(x, y, nb);
      } else {
        cols_forward(x, y, nb);
      }
    }
  });
  return trace;
}

}  // namespace

// ---- hyperparameters ------------------------------------------------------------------------------------
const ParamTable<SinkhornOptions>& sinkhorn_params() {
  using O = SinkhornOptions;
  static const auto table =
      ParamTable<O>("sinkhorn")
          .integer("block", &O::block, 1, kNoLimit, "tokens per block b (n is padded up to a multiple of b)")
          .integer("iters", &O::iters, 1, 1000,
                   "Sinkhorn iterations (each normalises the rows, then the columns, in the log domain)")
          .number("tau", &O::tau, above(0), "temperature of the sorting logits: smaller is closer to a hard permutation")
          .integer("sortcut", &O::sortcut, 0, kNoLimit,
                   "SortCut budget: 0 = off; k > 0 = every query attends to the first k sorted blocks only")
          .flag("noise", &O::noise,
                "add Gumbel noise to the sorting logits (layer: in training only; kernel: from the seed)");
  return table;
}

std::vector<HyperParam> sinkhorn_hyperparams() { return sinkhorn_params().hyperparams(); }

SinkhornOptions sinkhorn_options(const Config& cfg, int64_t n) {
  SinkhornOptions o = sinkhorn_params().read(cfg.settings);  // block > n is clamped to n (when n is given)
  o.causal = cfg.causal;
  o.seed = cfg.seed;
  o.key_padding_mask = cfg.key_padding_mask;
  check_options(o, n);
  return fitted(o, n);
}

// ---- step 1: which tokens are real, and the block summaries ---------------------------------------------
Tensor sinkhorn_valid(int64_t batch, int64_t n, int64_t block, const Tensor& key_padding_mask) {
  AZ_CHECK(block >= 1, "sinkhorn: block must be >= 1, got ", block);
  const int64_t N = blocks_of(n, block) * block;
  if (key_padding_mask.defined())
    AZ_CHECK(key_padding_mask.shape() == Shape({batch, n}), "sinkhorn: key_padding_mask must be (B, n) = ",
             Shape({batch, n}), ", got ", key_padding_mask.shape());
  Tensor valid = Tensor::zeros({batch, N});  // (B, N)
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < n; ++t)
      valid.data()[b * N + t] =
          !key_padding_mask.defined() || key_padding_mask.data()[b * n + t] != 0.0f ? 1.0f : 0.0f;
  return valid;
}

BlockSummaries sinkhorn_summaries(const Tensor& q, const Tensor& k, const SinkhornOptions& options) {
  const SinkhornOptions o = fitted(options, q.size(2));
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3), b = o.block;
  const int64_t nb = blocks_of(n, b), N = nb * b;
  const Tensor valid = sinkhorn_valid(B, n, b, o.key_padding_mask);  // (B, N)
  const Tensor m = reshape(valid, {B, 1, nb, b, 1});
  const Tensor qb = reshape(pad(q, 2, 0, N - n), {B, H, nb, b, d});  // (B, H, nb, b, d)
  const Tensor kb = reshape(pad(k, 2, 0, N - n), {B, H, nb, b, d});
  Tensor qsum = sum(qb * m, 3);  // (B, H, nb, d)
  const Tensor ksum = sum(kb * m, 3);
  // real tokens per block (B, 1, nb, 1); causal: of the blocks before i (an exclusive prefix sum)
  std::vector<double> count(static_cast<size_t>(B * nb), 0.0), before(static_cast<size_t>(B * nb), 0.0);
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t t = 0; t < N; ++t) count[static_cast<size_t>(bi * nb + t / b)] += valid.data()[bi * N + t];
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t i = 1; i < nb; ++i)
      before[static_cast<size_t>(bi * nb + i)] =
          before[static_cast<size_t>(bi * nb + i - 1)] + count[static_cast<size_t>(bi * nb + i - 1)];
  auto denominator = [&](const std::vector<double>& c) {
    Tensor t = Tensor::empty({B, 1, nb, 1});
    for (int64_t i = 0; i < B * nb; ++i) t.data()[i] = static_cast<float>(std::max(c[static_cast<size_t>(i)], 1.0));
    return t;
  };
  if (o.causal) {
    // cumulative summary of the blocks strictly before i: shift the inclusive prefix sum down by one block
    // (not cumsum - qsum, whose rounding would depend on block i's own later tokens)
    qsum = nb > 1 ? pad(slice(cumsum(qsum, 2), 2, 0, nb - 1), 2, 1, 0) : qsum * 0.0f;
    return {qsum / denominator(before), ksum / denominator(count)};
  }
  return {qsum / denominator(count), ksum / denominator(count)};
}

// ---- step 2: the sorting logits -------------------------------------------------------------------------
Tensor gumbel_noise(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  Tensor g = Tensor::empty(shape);
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double u = std::min(std::max(rng.uniform01(), 1e-12), 1.0 - 1e-12);
    g.data()[i] = static_cast<float>(-std::log(-std::log(u)));
  }
  return g;
}

Tensor sinkhorn_logits(const Tensor& q, const Tensor& k, const SinkhornOptions& options) {
  const SinkhornOptions o = fitted(options, q.size(2));
  const int64_t B = q.size(0), H = q.size(1), d = q.size(3), nb = blocks_of(q.size(2), o.block);
  const BlockSummaries s = sinkhorn_summaries(q, k, o);
  Tensor R = matmul(s.sq, s.sk, false, true) / std::sqrt(static_cast<float>(d));  // (B, H, nb, nb)
  if (o.causal) {
    Tensor future = Tensor::zeros({1, 1, nb, nb});  // block i may be sorted only to blocks j < i
    for (int64_t i = 0; i < nb; ++i)
      for (int64_t j = i; j < nb; ++j) future.data()[i * nb + j] = 1.0f;
    R = masked_fill(R, future, kNegInf);
  }
  if (o.noise) R = R + gumbel_noise({B, H, nb, nb}, o.seed);
  return R / static_cast<float>(o.tau);
}

// ---- step 3: Sinkhorn balancing -------------------------------------------------------------------------
Tensor sinkhorn_balance(const Tensor& logits, int64_t iters, bool causal) {
  const Tensor trace = sinkhorn_trace(logits, iters, causal);  // (2T+1, M, nb, nb)
  const int64_t nb = logits.size(-1), M = logits.numel() / (nb * nb), steps = 2 * iters;
  Tensor P = Tensor::empty(logits.shape());
  const float* last = trace.data() + steps * M * nb * nb;
  float* pP = P.data();
  // exp(-inf) = 0: masked stays 0
  for (int64_t i = 0, count = P.numel(); i < count; ++i) pP[i] = core::fast_exp(last[i]);
  if (!will_record({&logits})) return P;
  return record(
      P, "sinkhorn_balance", {logits},
      [iters, causal](BackwardContext& c) {
        const Tensor& trace = c.saved[0];
        const int64_t nb = c.out.size(-1), M = c.out.numel() / (nb * nb), steps = 2 * iters, mat = nb * nb;
        const int64_t stride = M * mat;
        Tensor gx = Tensor::empty(c.out.shape());
        const float* t = trace.data();
        parallel_rows(M, steps * mat * 8, [&](int64_t mi) {
          std::vector<float> gy(static_cast<size_t>(mat)), gprev(static_cast<size_t>(mat));
          // forward: P = exp(X_final)  =>  dX_final = g * P
          for (int64_t a = 0; a < mat; ++a) gy[a] = c.grad_out.data()[mi * mat + a] * c.out.data()[mi * mat + a];
          for (int64_t s = steps; s >= 1; --s) {
            const float* x = t + (s - 1) * stride + mi * mat;
            const float* y = t + s * stride + mi * mat;
            if (s % 2 == 1) {
              rows_backward(y, gy.data(), gprev.data(), nb);
            } else if (causal) {
              cols_causal_backward(x, gy.data(), gprev.data(), nb);
            } else {
              cols_backward(y, gy.data(), gprev.data(), nb);
            }
            gy.swap(gprev);
          }
          std::memcpy(gx.data() + mi * mat, gy.data(), sizeof(float) * mat);
        });
        c.add_grad(0, gx);
      },
      {trace});
}

std::vector<Tensor> sinkhorn_iterates(const Tensor& logits, int64_t iters, bool causal) {
  const Tensor trace = sinkhorn_trace(logits.detach(), iters, causal);
  const int64_t per = logits.numel();
  std::vector<Tensor> out;
  for (int64_t it = 0; it <= iters; ++it) {
    Tensor x = Tensor::empty(logits.shape());
    std::memcpy(x.data(), trace.data() + 2 * it * per, sizeof(float) * per);
    out.push_back(x);
  }
  return out;
}

// ---- steps 4 and 5: sorted blocks and the attention -----------------------------------------------------
SinkhornParts sinkhorn_parts(const Tensor& q, const Tensor& k, const Tensor& v, const SinkhornOptions& options) {
  // check_qkv also refuses a NaN/inf: here it would turn its block's summary — and through Sinkhorn's
  // normalisations whole rows of P — into NaN, which the masking (P > 0, cover > 0) reads as "no weight".
  Scheme::check_qkv(q, k, v, "sinkhorn");
  AZ_CHECK(k.size(2) == q.size(2), "sinkhorn: needs as many keys as queries (self-attention), got q ", q.shape(),
           " and k ", k.shape());
  check_options(options, q.size(2));
  const SinkhornOptions o = fitted(options, q.size(2));
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3), b = o.block;
  const int64_t nb = blocks_of(n, b), N = nb * b;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));

  SinkhornParts parts;
  parts.valid = sinkhorn_valid(B, n, b, o.key_padding_mask);                          // (B, N)
  parts.P = sinkhorn_balance(sinkhorn_logits(q, k, o), o.iters, o.causal);            // (B, H, nb, nb)
  const Tensor m = reshape(parts.valid, {B, 1, N, 1});
  const Tensor km = pad(k, 2, 0, N - n) * m;  // (B, H, N, d): padding tokens are zero keys/values
  const Tensor vm = pad(v, 2, 0, N - n) * m;
  const Tensor k_blocks = reshape(km, {B, H, nb, b * d});  // one row per block
  const Tensor v_blocks = reshape(vm, {B, H, nb, b * d});
  // cover[., I, t] = Σ_J P_IJ [token t of block J is real]: a sorted slot with cover 0 holds no real token.
  Tensor cover;
  {
    NoGradGuard no_grad;
    cover = matmul(parts.P.detach(), reshape(parts.valid, {B, 1, nb, b}));  // (B, H, nb, b)
  }
  const float* pv = parts.valid.data();
  const float* pc = cover.data();
  // No weight on a padding position. Slot t of sorted block I mixes token t of every block J with weight P_IJ; where
  // some of those tokens are padding (the zero tokens after n, or key_padding_mask == 0), their share of the slot
  // would go to a zero key/value — a phantom key that takes attention mass (rows of A summed to 0.77 at n = 65,
  // b = 16). So the slot's weights are renormalised over its real tokens, keeping the slot's total Σ_J P_IJ:
  //   P̃_IJt = P_IJ [t of J real] · (Σ_J' P_IJ') / cover_It            (0 where cover_It = 0: a masked slot)
  // slot_scale_It = (Σ_J' P_IJ') / cover_It multiplies the slot's key and value; it is differentiable in P (it
  // depends on q, k). Positions t without padding in any block keep exactly P (scale 1, bit for bit).
  {
    Tensor col_padded = Tensor::zeros({B, 1, 1, b});  // 1 where position t is padding in some block
    for (int64_t bi = 0; bi < B; ++bi)
      for (int64_t t = 0; t < N; ++t)
        if (pv[bi * N + t] == 0.0f) col_padded.data()[bi * b + t % b] = 1.0f;
    Tensor safe = Tensor::zeros({B, H, nb, b});  // 1 where cover = 0 (avoids 0/0; those slots are masked anyway)
    for (int64_t i = 0; i < safe.numel(); ++i) safe.data()[i] = pc[i] > 0.0f ? 0.0f : 1.0f;
    const Tensor real_cover = matmul(parts.P, reshape(parts.valid, {B, 1, nb, b}));  // (B, H, nb, b), with grad
    const Tensor row_mass = sum(parts.P, -1, true);                                     // (B, H, nb, 1)
    parts.slot_scale = (row_mass / (real_cover + safe) - 1.0f) * col_padded + 1.0f;    // (B, H, nb, b)
  }
  const Tensor slot_scale5 = reshape(parts.slot_scale, {B, H, nb, b, 1});

  if (o.sortcut == 0) {
    // K̃_I = Σ_J P̃_IJ K_J,  Ṽ_I = Σ_J P̃_IJ V_J  (B, H, nb, b, d)
    const Tensor k_sorted = reshape(matmul(parts.P, k_blocks), {B, H, nb, b, d}) * slot_scale5;
    const Tensor v_sorted = reshape(matmul(parts.P, v_blocks), {B, H, nb, b, d}) * slot_scale5;
    const Tensor qb = reshape(pad(q, 2, 0, N - n), {B, H, nb, b, d});
    const Tensor keys = concat({reshape(km, {B, H, nb, b, d}), k_sorted}, 3);    // (B, H, nb, 2b, d)
    const Tensor values = concat({reshape(vm, {B, H, nb, b, d}), v_sorted}, 3);  // (B, H, nb, 2b, d)
    Tensor scores = matmul(qb, keys, false, true) * scale;                       // (B, H, nb, b, 2b)
    Tensor blocked = Tensor::zeros({B, H, nb, b, 2 * b});
    float* pb = blocked.data();
    for (int64_t bi = 0; bi < B; ++bi)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t I = 0; I < nb; ++I)
          for (int64_t t = 0; t < b; ++t) {
            float* row = pb + ((((bi * H + h) * nb + I) * b + t) * 2 * b);
            for (int64_t u = 0; u < b; ++u) {
              const bool real = pv[bi * N + I * b + u] != 0.0f;
              row[u] = (!real || (o.causal && u > t)) ? 1.0f : 0.0f;                         // own block
              row[b + u] = pc[((bi * H + h) * nb + I) * b + u] > 0.0f ? 0.0f : 1.0f;        // sorted slot u
            }
          }
    scores = masked_fill(scores, blocked, kNegInf);
    parts.probs = softmax(scores, -1);  // one softmax over [own block; sorted block]; a fully blocked row -> 0
    parts.out = slice(reshape(matmul(parts.probs, values), {B, H, N, d}), 2, 0, n);  // (B, H, n, d)
    return parts;
  }

  // SortCut: the first `sortcut` sorted blocks, seen by every query.
  const int64_t kc = o.sortcut;
  const Tensor P_cut = slice(parts.P, 2, 0, kc);                                     // (B, H, kc, nb)
  const Tensor cut_scale = slice(slot_scale5, 2, 0, kc);                             // (B, H, kc, b, 1)
  const Tensor k_cut = reshape(reshape(matmul(P_cut, k_blocks), {B, H, kc, b, d}) * cut_scale, {B, H, kc * b, d});
  const Tensor v_cut = reshape(reshape(matmul(P_cut, v_blocks), {B, H, kc, b, d}) * cut_scale, {B, H, kc * b, d});
  Tensor blocked = Tensor::zeros({B, H, 1, kc * b});
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t s = 0; s < kc * b; ++s)
      blocked.data()[bh * kc * b + s] = pc[bh * nb * b + s] > 0.0f ? 0.0f : 1.0f;
  const Tensor scores = masked_fill(matmul(q, k_cut, false, true) * scale, blocked, kNegInf);  // (B, H, n, kc·b)
  parts.probs = softmax(scores, -1);
  parts.out = matmul(parts.probs, v_cut);  // (B, H, n, d)
  return parts;
}

Tensor sinkhorn_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SinkhornOptions& o) {
  return sinkhorn_parts(q, k, v, o).out;
}

namespace {
// Expands the block-level weights to the n × n matrix: the weights (effective attention), or with support = true
// 1 wherever a weight may be non-zero.
Tensor expand_to_tokens(const SinkhornParts& parts, const SinkhornOptions& o, int64_t n, bool support) {
  const int64_t B = parts.P.size(0), H = parts.P.size(1), nb = parts.P.size(2), b = o.block, N = nb * b;
  Tensor A = Tensor::zeros({B, H, n, n});
  const float* P = parts.P.data();
  const float* ps = parts.slot_scale.data();  // (B, H, nb, b): the slot's renormalisation over real tokens
  const float* pr = parts.probs.data();
  const float* pv = parts.valid.data();
  float* pa = A.data();
  parallel_rows(B * H, n * n, [&](int64_t bh) {
    const int64_t bi = bh / H;
    const float* Pm = P + bh * nb * nb;  // (nb, nb)
    for (int64_t i = 0; i < n; ++i) {
      float* Ai = pa + (bh * n + i) * n;
      const int64_t I = i / b, t = i % b;
      if (o.sortcut == 0) {
        const float* row = pr + (((bh * nb + I) * b + t) * 2 * b);  // (2b)
        for (int64_t u = 0; u < b; ++u) {
          const int64_t j = I * b + u;
          if (j >= n) continue;
          if (support) {
            Ai[j] = (pv[bi * N + j] != 0.0f && (!o.causal || u <= t)) ? 1.0f : 0.0f;  // admissible own key
          } else {
            Ai[j] += row[u];
          }
        }
        for (int64_t u = 0; u < b; ++u) {
          const float w = row[b + u];  // weight of sorted slot u, spread over token u of every block J
          for (int64_t J = 0; J < nb; ++J) {
            const int64_t j = J * b + u;
            if (j >= n || pv[bi * N + j] == 0.0f || Pm[I * nb + J] == 0.0f) continue;
            if (support) {
              if (w != 0.0f) Ai[j] = 1.0f;
            } else {
              Ai[j] += w * Pm[I * nb + J] * ps[(bh * nb + I) * b + u];
            }
          }
        }
      } else {
        const int64_t kc = o.sortcut;
        const float* row = pr + (bh * n + i) * kc * b;  // (kc·b)
        for (int64_t s = 0; s < kc; ++s)
          for (int64_t u = 0; u < b; ++u) {
            const float w = row[s * b + u];
            for (int64_t J = 0; J < nb; ++J) {
              const int64_t j = J * b + u;
              if (j >= n || pv[bi * N + j] == 0.0f || Pm[s * nb + J] == 0.0f) continue;
              if (support) {
                if (w != 0.0f) Ai[j] = 1.0f;
              } else {
                Ai[j] += w * Pm[s * nb + J] * ps[(bh * nb + s) * b + u];
              }
            }
          }
      }
      if (support)
        for (int64_t j = 0; j < n; ++j) Ai[j] = Ai[j] != 0.0f ? 1.0f : 0.0f;
    }
  });
  return A;
}
}  // namespace

Tensor sinkhorn_effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SinkhornOptions& options) {
  NoGradGuard no_grad;
  const SinkhornOptions o = fitted(options, q.dim() == 4 ? q.size(2) : 0);
  const SinkhornParts parts = sinkhorn_parts(q.detach(), k.detach(), v.detach(), o);
  return expand_to_tokens(parts, o, q.size(2), false);
}

Tensor sinkhorn_support(const Tensor& q, const Tensor& k, const SinkhornOptions& options) {
  NoGradGuard no_grad;
  const SinkhornOptions o = fitted(options, q.dim() == 4 ? q.size(2) : 0);
  const SinkhornParts parts = sinkhorn_parts(q.detach(), k.detach(), k.detach(), o);
  return expand_to_tokens(parts, o, q.size(2), true);
}

// ---- the layer ------------------------------------------------------------------------------------------
SinkhornLayer::SinkhornLayer(const LayerConfig& cfg, core::Rng& rng)
    : ProjectedAttention(find_scheme("sinkhorn"), cfg, rng),
      options(sinkhorn_options(config)),
      noise_rng(cfg.seed ^ 0x5A4E4B40524E2ULL) {}

Tensor SinkhornLayer::attend(const Tensor&, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& key_padding_mask) {
  SinkhornOptions o = options;
  o.key_padding_mask = key_padding_mask;
  o.noise = options.noise && training();       // the paper's Gumbel noise: training only
  if (o.noise) o.seed = noise_rng.next_u64();  // a fresh draw per step
  return sinkhorn_attention(q, k, v, o);       // (B, H, n, d)
}

// ---- the registered scheme ------------------------------------------------------------------------------
namespace {

SchemeInfo sinkhorn_info() {
  SchemeInfo i;
  i.name = "sinkhorn";
  i.summary = "blocks attend to themselves and to a Sinkhorn-sorted block (soft permutation of blocks): O(n·b·d + nb²·b·d)";
  i.paper = "Tay, Bahri, Yang, Metzler, Juan 2020, Sparse Sinkhorn Attention (ICML)";
  i.lecture = 12;
  i.use(sinkhorn_params());
  i.causal = true;
  // The support depends on which blocks the Sinkhorn matrix sorts where, so it exists only for given q and k.
  i.has_pattern = true;
  i.families = {Family::LP};
  i.exactness = Exactness::approximate;
  i.time_growth = "n + (n/b)²";
  i.memory_exponent = 1;
  i.idea = "blockwise local + a learned soft sorting of blocks";
  // ListOps, Pathfinder, (average), Text, Retrieval, Image. Its LRA average is printed differently in versions of
  // the paper (the five columns give 51.48), so it is left out.
  i.claim = {"Tay et al. 2020 (as reported in its experiments): competitive with vanilla attention and "
              "consistently better than local attention at equal memory (LM1B, sorting, CIFAR-10, ...)",
             attention::ClaimTest::lm_beats_local};
  i.lra_paper = {"Sinkhorn Trans.", 33.67, 67.45, std::numeric_limits<double>::quiet_NaN(), 61.20, 53.83, 41.23};
  i.lm_settings = {"block=32"};  // its own block and one sorted block: 64 keys
  i.gallery_settings = {"block=32"};
  i.test_settings = {{"block=8", "iters=3", "tau=0.5"}, {"block=4", "noise=true"}};
  return i;
}

class SinkhornScheme : public Scheme {
 public:
  SinkhornScheme() : Scheme(sinkhorn_info()) {}

  // Every query attends to 2b keys (own block + sorted block); building the sorted keys and values mixes nb
  // blocks of b·d for each of nb blocks (2·2·nb²·b·d forward, twice that backward).
  double flops(const Shape& q, const Config& cfg) const override {
    const double b = static_cast<double>(sinkhorn_options(cfg, q[2]).block);
    const double nb = std::ceil(static_cast<double>(q[2]) / b);
    return attention_flops(q, static_cast<double>(q[2]) * 2.0 * b) +
           12.0 * nb * nb * b * static_cast<double>(q[3]) * static_cast<double>(q[0] * q[1]);
  }
  Tensor kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return sinkhorn_attention(q, k, v, sinkhorn_options(cfg, q.dim() == 4 ? q.size(2) : 0));
  }
  Tensor effective_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Config& cfg) const override {
    return sinkhorn_effective_attention(q, k, v, sinkhorn_options(cfg, q.dim() == 4 ? q.size(2) : 0));
  }
  Tensor pattern(const Shape&, const Config&) const override {
    AZ_FAIL("sinkhorn: the pattern depends on q and k (the sorted blocks); use data_pattern(q, k, cfg)");
  }
  Tensor data_pattern(const Tensor& q, const Tensor& k, const Config& cfg) const override {
    NoGradGuard no_grad;
    return sinkhorn_support(q.detach(), k.detach(), sinkhorn_options(cfg, q.dim() == 4 ? q.size(2) : 0));
  }
  std::unique_ptr<AttentionLayer> make_layer(const LayerConfig& cfg, core::Rng& rng) const override {
    return std::make_unique<SinkhornLayer>(cfg, rng);
  }
};

Registrar registrar(std::make_unique<SinkhornScheme>());

}  // namespace

}  // namespace attention
