// core/ops_nn.cpp — softmax, log_softmax, layer_norm, cross_entropy, dropout, embedding, cumsum.
//
// Each op here has a hand-written backward that uses the closed-form gradient instead of recording the
// dozen primitive ops it is made of: faster, and far less memory.
#include "core/ops_nn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/fast_exp.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/row_sums.h"

namespace core {

using detail::lane_sum;
using detail::parallel_rows;
using detail::row_max;
using detail::split_at;

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// A "line" is the set of elements along `axis` that one softmax normalises: `len` floats, `stride` apart.
// Lines are numbered r = o * inner + i.
struct Lines {
  int64_t count, len, stride;
  int64_t base(int64_t r) const { return (r / stride) * len * stride + r % stride; }
};
Lines lines_of(const Shape& s, int64_t axis) {
  const auto sp = split_at(s, axis);
  return {sp.outer * sp.inner, sp.len, sp.inner};
}

// The largest of len values `stride` apart (-inf when all are -inf: a fully masked line).
float line_max(const float* x, int64_t len, int64_t stride) {
  if (stride == 1) return row_max(x, len);
  float m = kNegInf;
  for (int64_t j = 0; j < len; ++j) m = x[j * stride] > m ? x[j * stride] : m;
  return m;
}

// Σ_j term(j) over a line: in 8 lanes when it is contiguous (core/row_sums.h), in one chain otherwise.
template <class Term>
double line_sum(int64_t len, int64_t stride, Term term) {
  if (stride == 1) return lane_sum(len, term);
  double total = 0.0;
  for (int64_t j = 0; j < len; ++j) total += term(j);
  return total;
}
}  // namespace

// ---- softmax --------------------------------------------------------------------------------------------
Tensor softmax(const Tensor& x, int64_t axis) {
  axis = normalize_axis(axis, x.dim(), "softmax");
  const Lines L = lines_of(x.shape(), axis);
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = out.data();
  parallel_rows(L.count, L.len, [&](int64_t r) {
    const float* xr = px + L.base(r);
    float* yr = py + L.base(r);
    const int64_t s = L.stride;
    const float m = line_max(xr, L.len, s);
    if (m == kNegInf) {  // every entry masked: the row attends to nothing -> zeros, not NaN
      for (int64_t j = 0; j < L.len; ++j) yr[j * s] = 0.0f;
      return;
    }
    // exp(x - m) <= 1: subtracting the max keeps exp from overflowing. Two passes (exp, then the sum) so
    // that the first one vectorises when the line is contiguous.
    if (s == 1) {
      for (int64_t j = 0; j < L.len; ++j) yr[j] = fast_exp(xr[j] - m);
    } else {
      for (int64_t j = 0; j < L.len; ++j) yr[j * s] = fast_exp(xr[j * s] - m);
    }
    const double total = line_sum(L.len, s, [&](int64_t j) { return static_cast<double>(yr[j * s]); });
    const float inv = static_cast<float>(1.0 / total);
    for (int64_t j = 0; j < L.len; ++j) yr[j * s] *= inv;
  });
  return record(out, "softmax", {x}, [axis](BackwardContext& c) {
    // forward: y = softmax(x)  =>  dx = y * (g - sum_j g_j y_j)
    const Lines L = lines_of(c.out.shape(), axis);
    Tensor gx = Tensor::empty(c.out.shape());
    const float* py = c.out.data();
    const float* pg = c.grad_out.data();
    float* pgx = gx.data();
    parallel_rows(L.count, L.len, [&](int64_t r) {
      const int64_t b = L.base(r), s = L.stride;
      const double dot =
          line_sum(L.len, s, [&](int64_t j) { return static_cast<double>(pg[b + j * s]) * py[b + j * s]; });
      const float d = static_cast<float>(dot);
      for (int64_t j = 0; j < L.len; ++j) pgx[b + j * s] = py[b + j * s] * (pg[b + j * s] - d);
    });
    c.add_grad(0, gx);
  });
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  axis = normalize_axis(axis, x.dim(), "log_softmax");
  const Lines L = lines_of(x.shape(), axis);
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = out.data();
  parallel_rows(L.count, L.len, [&](int64_t r) {
    const float* xr = px + L.base(r);
    float* yr = py + L.base(r);
    const int64_t s = L.stride;
    const float m = line_max(xr, L.len, s);
    if (m == kNegInf) {  // every entry masked: log-probabilities are all -inf
      for (int64_t j = 0; j < L.len; ++j) yr[j * s] = kNegInf;
      return;
    }
    const double total = line_sum(L.len, s, [&](int64_t j) { return static_cast<double>(fast_exp(xr[j * s] - m)); });
    const float lse = m + static_cast<float>(std::log(total));
    for (int64_t j = 0; j < L.len; ++j) yr[j * s] = xr[j * s] - lse;
  });
  return record(out, "log_softmax", {x}, [axis](BackwardContext& c) {
    // forward: y = x - logsumexp(x)  =>  dx = g - exp(y) * sum_j g_j
    const Lines L = lines_of(c.out.shape(), axis);
    Tensor gx = Tensor::empty(c.out.shape());
    const float* py = c.out.data();
    const float* pg = c.grad_out.data();
    float* pgx = gx.data();
    parallel_rows(L.count, L.len, [&](int64_t r) {
      const int64_t b = L.base(r), s = L.stride;
      double total = 0.0;
      bool all_masked = true;
      for (int64_t j = 0; j < L.len; ++j) {
        total += pg[b + j * s];
        all_masked = all_masked && py[b + j * s] == kNegInf;
      }
      const float t = static_cast<float>(total);
      for (int64_t j = 0; j < L.len; ++j)
        pgx[b + j * s] = all_masked ? 0.0f : pg[b + j * s] - std::exp(py[b + j * s]) * t;
    });
    c.add_grad(0, gx);
  });
}

// ---- layer_norm -----------------------------------------------------------------------------------------
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  AZ_CHECK(x.dim() >= 1, "layer_norm: needs at least 1 dim, got shape ", x.shape());
  const int64_t D = x.size(-1);
  AZ_CHECK(!gamma.defined() || gamma.shape() == Shape{D}, "layer_norm: gamma of shape ", gamma.shape(),
           " does not match the last dim of ", x.shape());
  AZ_CHECK(!beta.defined() || beta.shape() == Shape{D}, "layer_norm: beta of shape ", beta.shape(),
           " does not match the last dim of ", x.shape());
  const int64_t rows = D ? x.numel() / D : 0;
  Tensor out = Tensor::empty(x.shape());
  Tensor stats = Tensor::empty({rows, 2});  // per row: mean, rstd = 1/sqrt(var + eps)
  const float* px = x.data();
  // No gamma: 1s, no beta: 0s, so that the row loops hold no branch and vectorise.
  const std::vector<float> ones(gamma.defined() ? 0 : static_cast<size_t>(D), 1.0f);
  const std::vector<float> zeros(beta.defined() ? 0 : static_cast<size_t>(D), 0.0f);
  const float* pgm = gamma.defined() ? gamma.data() : ones.data();
  const float* pbt = beta.defined() ? beta.data() : zeros.data();
  float* py = out.data();
  float* ps = stats.data();
  parallel_rows(rows, D, [&](int64_t r) {
    const float* xr = px + r * D;
    const double mean = lane_sum(D, [&](int64_t j) { return static_cast<double>(xr[j]); }) / static_cast<double>(D);
    // biased variance, as in the paper and PyTorch
    const double var = lane_sum(D, [&](int64_t j) { return (xr[j] - mean) * (xr[j] - mean); }) / static_cast<double>(D);
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    ps[2 * r] = m;
    ps[2 * r + 1] = rstd;
    float* yr = py + r * D;
    for (int64_t j = 0; j < D; ++j) {
      const float xhat = (xr[j] - m) * rstd;
      yr[j] = xhat * pgm[j] + pbt[j];
    }
  });
  return record(
      out, "layer_norm", {x, gamma, beta},
      [D, rows](BackwardContext& c) {
        // xhat = (x - mean) rstd; y = xhat * gamma + beta
        //   dbeta = sum_rows g; dgamma = sum_rows g * xhat
        //   dxhat = g * gamma; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
        const Tensor& x = c.inputs[0];
        const Tensor& gamma = c.inputs[1];
        const float* px = x.data();
        const float* pg = c.grad_out.data();
        const float* ps = c.saved[0].data();
        const std::vector<float> ones(gamma.defined() ? 0 : static_cast<size_t>(D), 1.0f);
        const float* pgm = gamma.defined() ? gamma.data() : ones.data();
        if (c.needs_grad(0)) {
          Tensor gx = Tensor::empty(x.shape());
          float* pgx = gx.data();
          parallel_rows(rows, D, [&](int64_t r) {
            const float m = ps[2 * r], rstd = ps[2 * r + 1];
            const float* xr = px + r * D;
            const float* gr = pg + r * D;
            auto dxhat = [&](int64_t j) { return gr[j] * pgm[j]; };
            const double mean_dxhat = lane_sum(D, [&](int64_t j) { return static_cast<double>(dxhat(j)); });
            const double mean_dxhat_xhat =
                lane_sum(D, [&](int64_t j) { return static_cast<double>(dxhat(j) * (xr[j] - m) * rstd); });
            const float a = static_cast<float>(mean_dxhat / D), b = static_cast<float>(mean_dxhat_xhat / D);
            for (int64_t j = 0; j < D; ++j) {
              const float xhat = (xr[j] - m) * rstd;
              pgx[r * D + j] = rstd * (gr[j] * pgm[j] - a - xhat * b);
            }
          });
          c.add_grad(0, gx);
        }
        if (c.needs_grad(1) || c.needs_grad(2)) {
          // Every row adds into the same D cells. The rows are cut into a fixed number of blocks (not one per
          // thread: the summation order, and so every bit of the result, must not depend on the thread count);
          // each block sums its rows into its own cells, vectorised over D, then the blocks are added in order.
          const int64_t blocks = std::min<int64_t>(rows, 16);
          std::vector<double> dgamma(static_cast<size_t>(blocks * D), 0.0), dbeta(static_cast<size_t>(blocks * D), 0.0);
          parallel_rows(blocks, (rows / std::max<int64_t>(blocks, 1)) * D, [&](int64_t blk) {
            double* dg = dgamma.data() + blk * D;
            double* db = dbeta.data() + blk * D;
            for (int64_t r = rows * blk / blocks; r < rows * (blk + 1) / blocks; ++r) {
              const float m = ps[2 * r], rstd = ps[2 * r + 1];
              for (int64_t j = 0; j < D; ++j) {
                const float g = pg[r * D + j];
                dg[j] += g * ((px[r * D + j] - m) * rstd);
                db[j] += g;
              }
            }
          });
          Tensor tg = Tensor::empty({D}), tb = Tensor::empty({D});
          for (int64_t j = 0; j < D; ++j) {
            double sg = 0.0, sb = 0.0;
            for (int64_t blk = 0; blk < blocks; ++blk) {
              sg += dgamma[static_cast<size_t>(blk * D + j)];
              sb += dbeta[static_cast<size_t>(blk * D + j)];
            }
            tg.data()[j] = static_cast<float>(sg);
            tb.data()[j] = static_cast<float>(sb);
          }
          c.add_grad(1, tg);
          c.add_grad(2, tb);
        }
      },
      {stats});
}

// ---- cross_entropy --------------------------------------------------------------------------------------
Tensor cross_entropy(const Tensor& logits, const IntTensor& targets, int64_t ignore_index) {
  AZ_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got ", logits.shape(),
           " (reshape to (-1, C) first)");
  const int64_t N = logits.size(0), C = logits.size(1);
  AZ_CHECK(targets.shape == Shape{N}, "cross_entropy: targets of shape ", targets.shape, " do not match logits ",
           logits.shape());
  int64_t valid = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = targets.data[static_cast<size_t>(i)];
    if (t == ignore_index) continue;
    AZ_CHECK(t >= 0 && t < C, "cross_entropy: target ", t, " at row ", i, " is out of range for ", C, " classes");
    ++valid;
  }
  const float* px = logits.data();
  double total = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = targets.data[static_cast<size_t>(i)];
    if (t == ignore_index) continue;
    const float* row = px + i * C;
    const float m = line_max(row, C, 1);
    const double s = lane_sum(C, [&](int64_t j) { return static_cast<double>(fast_exp(row[j] - m)); });
    total += m + std::log(s) - row[t];  // -log softmax(row)[t] = logsumexp(row) - row[t]
  }
  Tensor out = Tensor::full({}, valid ? static_cast<float>(total / static_cast<double>(valid)) : 0.0f);
  return record(out, "cross_entropy", {logits}, [targets, ignore_index, valid](BackwardContext& c) {
    // loss = mean_i (logsumexp(x_i) - x_i[t_i])  =>  dx_i = g / valid * (softmax(x_i) - onehot(t_i))
    const Tensor& x = c.inputs[0];
    const int64_t N = x.size(0), C = x.size(1);
    Tensor gx = Tensor::zeros(x.shape());
    if (valid == 0) {
      c.add_grad(0, gx);
      return;
    }
    const float scale = c.grad_out.item() / static_cast<float>(valid);
    const float* px = x.data();
    float* pgx = gx.data();
    parallel_rows(N, C, [&](int64_t i) {
      const int64_t t = targets.data[static_cast<size_t>(i)];
      if (t == ignore_index) return;
      const float* row = px + i * C;
      const float m = line_max(row, C, 1);
      const double s = lane_sum(C, [&](int64_t j) { return static_cast<double>(fast_exp(row[j] - m)); });
      for (int64_t j = 0; j < C; ++j)
        pgx[i * C + j] = scale * static_cast<float>(fast_exp(row[j] - m) / s);
      pgx[i * C + t] -= scale;
    });
    c.add_grad(0, gx);
  });
}

// ---- dropout --------------------------------------------------------------------------------------------
Tensor dropout(const Tensor& x, float p, Rng& rng, bool training) {
  AZ_CHECK(p >= 0.0f && p < 1.0f, "dropout: p must be in [0, 1), got ", p);
  if (!training || p == 0.0f) return x;
  Tensor mask = Tensor::empty(x.shape());  // 0 or 1/(1-p): the kept elements are scaled up
  const float keep_scale = 1.0f / (1.0f - p);
  float* pm = mask.data();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) pm[i] = rng.uniform01() < p ? 0.0f : keep_scale;
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* po = out.data();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) po[i] = px[i] * pm[i];
  return record(
      out, "dropout", {x},
      [](BackwardContext& c) {
        // forward: out = x * mask  =>  dx = g * mask
        Tensor gx = Tensor::empty(c.grad_out.shape());
        const float* pg = c.grad_out.data();
        const float* pm = c.saved[0].data();
        for (int64_t i = 0, n = gx.numel(); i < n; ++i) gx.data()[i] = pg[i] * pm[i];
        c.add_grad(0, gx);
      },
      {mask});
}

// ---- embedding ------------------------------------------------------------------------------------------
Tensor embedding(const Tensor& weight, const IntTensor& index) {
  AZ_CHECK(weight.dim() == 2, "embedding: weight must be (V, D), got ", weight.shape());
  const int64_t V = weight.size(0), D = weight.size(1);
  for (int64_t i = 0; i < index.numel(); ++i) {
    const int64_t v = index.data[static_cast<size_t>(i)];
    AZ_CHECK(v >= 0 && v < V, "embedding: token id ", v, " at position ", i, " is out of range for a table of ", V,
             " rows");
  }
  Shape out_shape = index.shape;
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape);
  const float* pw = weight.data();
  float* po = out.data();
  parallel_rows(index.numel(), D, [&](int64_t i) {
    std::memcpy(po + i * D, pw + index.data[static_cast<size_t>(i)] * D, static_cast<size_t>(D) * sizeof(float));
  });
  return record(out, "embedding", {weight}, [index, D](BackwardContext& c) {
    // forward: out[i] = W[index[i]]  =>  dW[index[i]] += g[i]  (serial: ids repeat)
    Tensor gw = Tensor::zeros(c.inputs[0].shape());
    const float* pg = c.grad_out.data();
    float* pgw = gw.data();
    for (int64_t i = 0; i < index.numel(); ++i) {
      float* row = pgw + index.data[static_cast<size_t>(i)] * D;
      for (int64_t j = 0; j < D; ++j) row[j] += pg[i * D + j];
    }
    c.add_grad(0, gw);
  });
}

// ---- cumsum ---------------------------------------------------------------------------------------------
namespace {
// out[l] = sum_{j <= l} x[j] along each line (reverse: sum_{j >= l}).
Tensor scan_lines(const Tensor& x, int64_t axis, bool reverse) {
  const Lines L = lines_of(x.shape(), axis);
  Tensor out = Tensor::empty(x.shape());
  const float* px = x.data();
  float* po = out.data();
  parallel_rows(L.count, L.len, [&](int64_t r) {
    const int64_t b = L.base(r), s = L.stride;
    double acc = 0.0;
    for (int64_t t = 0; t < L.len; ++t) {
      const int64_t j = reverse ? L.len - 1 - t : t;
      acc += px[b + j * s];
      po[b + j * s] = static_cast<float>(acc);
    }
  });
  return out;
}
}  // namespace

Tensor cumsum(const Tensor& x, int64_t axis) {
  axis = normalize_axis(axis, x.dim(), "cumsum");
  Tensor out = scan_lines(x, axis, false);
  return record(out, "cumsum", {x}, [axis](BackwardContext& c) {
    // forward: out[l] = sum_{j<=l} x[j]  =>  dx[j] = sum_{l>=j} g[l]  (a reversed cumsum)
    c.add_grad(0, scan_lines(c.grad_out, axis, true));
  });
}

}  // namespace core
