// core/svd.cpp — one-sided Jacobi SVD in double (see svd.h).
#include "core/svd.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace core {

namespace {

constexpr int kMaxSweeps = 80;
constexpr double kEps = 2.220446049250313e-16;  // double's machine epsilon

// The decomposition of a tall or square matrix (m >= n), given column by column: w[j] is column j (length m).
SVD jacobi(std::vector<std::vector<double>> w, int64_t m, int64_t n, bool want_v) {
  // v[j] is column j of V (length n), V starts as the identity.
  std::vector<std::vector<double>> v;
  if (want_v) {
    v.assign(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(n), 0.0));
    for (int64_t j = 0; j < n; ++j) v[j][j] = 1.0;
  }
  // A pair of columns counts as orthogonal once |w_p · w_q| <= tol |w_p| |w_q|: the dot product of m terms
  // carries a rounding error of about m·eps relative, so asking for less never converges. A column whose squared
  // norm is below (eps ||A||_F)² is rounding noise: its singular value is 0 to working precision, rotating it
  // against others changes nothing that matters (and may never settle).
  const double tol = kEps * static_cast<double>(std::max<int64_t>(m, 1));
  double frob2 = 0.0;
  for (const auto& col : w)
    for (double x : col) frob2 += x * x;
  const double negligible = kEps * kEps * frob2;
  int sweep = 0;
  for (bool rotated = true; rotated; ++sweep) {
    AZ_CHECK(sweep < kMaxSweeps, "svd: (", m, ",", n, ") did not converge in ", kMaxSweeps, " Jacobi sweeps");
    rotated = false;
    for (int64_t p = 0; p + 1 < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        std::vector<double>& wp = w[p];
        std::vector<double>& wq = w[q];
        double alpha = 0.0, beta = 0.0, gamma = 0.0;  // |w_p|², |w_q|², w_p · w_q
        for (int64_t i = 0; i < m; ++i) {
          alpha += wp[i] * wp[i];
          beta += wq[i] * wq[i];
          gamma += wp[i] * wq[i];
        }
        if (gamma == 0.0 || alpha <= negligible || beta <= negligible) continue;
        if (std::fabs(gamma) <= tol * std::sqrt(alpha * beta)) continue;
        rotated = true;
        // The rotation [c s; -s c] that makes the two columns orthogonal: t = tan(theta) is the smaller root of
        // t² + 2 zeta t - 1 = 0 (|theta| <= pi/4, the stable choice).
        const double zeta = (beta - alpha) / (2.0 * gamma);
        const double t = (zeta >= 0.0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1.0 + zeta * zeta));
        const double c = 1.0 / std::sqrt(1.0 + t * t), s = c * t;
        for (int64_t i = 0; i < m; ++i) {
          const double a = wp[i], b = wq[i];
          wp[i] = c * a - s * b;
          wq[i] = s * a + c * b;
        }
        if (want_v) {
          std::vector<double>& vp = v[p];
          std::vector<double>& vq = v[q];
          for (int64_t i = 0; i < n; ++i) {
            const double a = vp[i], b = vq[i];
            vp[i] = c * a - s * b;
            vq[i] = s * a + c * b;
          }
        }
      }
    }
  }

  // S = column norms, sorted descending (stable, so equal values keep their column order).
  std::vector<double> norms(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    double s2 = 0.0;
    for (int64_t i = 0; i < m; ++i) s2 += w[j][i] * w[j][i];
    norms[j] = std::sqrt(s2);
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return norms[a] > norms[b]; });

  SVD out;
  out.m = m;
  out.n = n;
  out.r = n;
  out.sweeps = sweep;
  out.S.resize(static_cast<size_t>(n));
  out.U.assign(static_cast<size_t>(m * n), 0.0);
  if (want_v) out.V.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t c = 0; c < n; ++c) {
    const int64_t j = order[c];
    out.S[c] = norms[j];
    if (norms[j] > 0.0)
      for (int64_t i = 0; i < m; ++i) out.U[i * n + c] = w[j][i] / norms[j];
    if (want_v)
      for (int64_t i = 0; i < n; ++i) out.V[i * n + c] = v[j][i];
  }
  return out;
}

SVD decompose(const std::vector<double>& a, int64_t m, int64_t n, bool want_v) {
  AZ_CHECK(m >= 1 && n >= 1, "svd: the matrix must be (m, n) with m, n >= 1, got (", m, ",", n, ")");
  AZ_CHECK(static_cast<int64_t>(a.size()) == m * n, "svd: ", a.size(), " values for a (", m, ",", n, ") matrix");
  for (double x : a) AZ_CHECK(std::isfinite(x), "svd: the (", m, ",", n, ") matrix has a non-finite value");
  if (m >= n) {
    std::vector<std::vector<double>> cols(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(m)));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) cols[j][i] = a[i * n + j];
    return jacobi(std::move(cols), m, n, want_v);
  }
  // Wide: decompose Aᵀ = U' S V'ᵀ, then A = V' S U'ᵀ. The columns of Aᵀ are the rows of A. U' is needed in
  // full here (it becomes V), and V' (it becomes U).
  std::vector<std::vector<double>> rows(static_cast<size_t>(m), std::vector<double>(static_cast<size_t>(n)));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) rows[i][j] = a[i * n + j];
  SVD t = jacobi(std::move(rows), n, m, /*want_v=*/true);
  SVD out;
  out.m = m;
  out.n = n;
  out.r = m;
  out.sweeps = t.sweeps;
  out.S = std::move(t.S);
  out.U = std::move(t.V);  // (m, m)
  if (want_v) out.V = std::move(t.U);  // (n, m)
  // A zero singular value left a zero column in t.U, but t.V's column is still a valid orthonormal vector:
  // nothing to fix for U; V keeps the zero column, as documented.
  return out;
}

}  // namespace

Tensor SVD::reconstruct(int64_t t) const {
  AZ_CHECK(t >= 0 && t <= r, "svd: reconstruct(", t, ") needs 0 <= t <= ", r);
  AZ_CHECK(!V.empty(), "svd: reconstruct needs V (computed by svd(), not by singular_values())");
  Tensor out = Tensor::empty({m, n});
  float* p = out.data();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double x = 0.0;
      for (int64_t c = 0; c < t; ++c) x += U[i * r + c] * S[c] * V[j * r + c];
      p[i * n + j] = static_cast<float>(x);
    }
  return out;
}

SVD svd(const std::vector<double>& a, int64_t m, int64_t n) { return decompose(a, m, n, true); }

SVD svd(const Tensor& a) {
  AZ_CHECK(a.defined() && a.dim() == 2, "svd: wants a 2-D (m, n) tensor, got ",
           a.defined() ? a.shape() : Shape{});
  return svd(std::vector<double>(a.data(), a.data() + a.numel()), a.size(0), a.size(1));
}

std::vector<double> singular_values(const Tensor& a) {
  AZ_CHECK(a.defined() && a.dim() == 2, "singular_values: wants a 2-D (m, n) tensor, got ",
           a.defined() ? a.shape() : Shape{});
  return decompose(std::vector<double>(a.data(), a.data() + a.numel()), a.size(0), a.size(1), false).S;
}

std::vector<double> cumulative_energy(const std::vector<double>& s) {
  double total = 0.0;
  for (double x : s) total += x * x;
  std::vector<double> out(s.size(), 1.0);
  if (total == 0.0) return out;
  double run = 0.0;
  for (size_t t = 0; t < s.size(); ++t) {
    run += s[t] * s[t];
    out[t] = run / total;
  }
  return out;
}

std::vector<double> truncation_error(const std::vector<double>& s) {
  double total = 0.0;
  for (double x : s) total += x * x;
  std::vector<double> out(s.size() + 1, 0.0);
  if (total == 0.0) return out;
  // tail[t] = S[t]² + ... + S[r-1]², summed from the small end (better rounding).
  double tail = 0.0;
  for (size_t t = s.size(); t-- > 0;) {
    tail += s[t] * s[t];
    out[t] = std::sqrt(tail / total);
  }
  out[s.size()] = 0.0;
  return out;
}

int64_t numerical_rank(const std::vector<double>& s, double tol) {
  AZ_CHECK(tol > 0.0 && tol < 1.0, "numerical_rank: tol must be in (0, 1), got ", tol);
  int64_t rank = 0;
  for (double v : s) rank += v > tol * s.front();  // s is descending: s.front() is the largest
  return rank;
}

int64_t numerical_rank(const Tensor& a, double tol) { return numerical_rank(singular_values(a), tol); }

}  // namespace core
