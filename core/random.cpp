// core/random.cpp — xoshiro256** seeded by splitmix64, and the distributions built on it (see random.h).
//
// Everything here is written out so that the same seed gives the same bytes with every compiler and standard
// library:
//   - splitmix64 and xoshiro256** follow the reference C code of Blackman & Vigna (https://prng.di.unimi.it/);
//   - uniform01 takes the top 53 bits of one 64-bit draw;
//   - normal uses the Marsaglia polar method in double (only sqrt and log, no sin/cos), caching the spare;
//   - randint rejects the few draws that would bias the modulo.
#include "core/random.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace core {

namespace {

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// splitmix64: a counter passed through a bijective mixer. Used only to spread a seed over xoshiro's 256 bits.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Shapes arrive from users; name the function in the error instead of failing deeper inside Tensor::empty.
void check_shape(const char* op, const Shape& shape) {
  for (int64_t d : shape) AZ_CHECK(d >= 0, op, ": negative dimension in shape ", shape);
}

}  // namespace

// ---- Rng ---------------------------------------------------------------------------------------------------

Rng::Rng(uint64_t seed) : seed_(seed) {
  // splitmix64 is a bijection of its counter, so the four words are distinct and never all zero (the one state
  // xoshiro must avoid).
  uint64_t sm = seed;
  for (uint64_t& word : s_) word = splitmix64(sm);
}

uint64_t Rng::next_u64() {
  // xoshiro256** 1.0
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform01() {
  // The top 53 bits (xoshiro's low bits are its weakest) scaled by 2^-53: every value k / 2^53, k < 2^53.
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

float Rng::uniform(float lo, float hi) {
  AZ_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "uniform: need finite lo <= hi, got [", lo, ", ", hi,
           ")");
  if (lo == hi) return lo;
  const double span = static_cast<double>(hi) - static_cast<double>(lo);
  const float x = static_cast<float>(static_cast<double>(lo) + span * uniform01());
  // Rounding to float can land exactly on hi; keep the interval half-open.
  return x < hi ? x : std::nextafter(hi, lo);
}

float Rng::normal(float mean, float std) {
  AZ_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0.0f, "normal: need finite mean and std >= 0, got mean ",
           mean, ", std ", std);
  double z;
  if (has_spare_) {
    has_spare_ = false;
    z = spare_;
  } else {
    // Marsaglia polar method: a uniform point in the unit disc (u, v) with s = u^2 + v^2 gives two independent
    // standard normals u * m and v * m, m = sqrt(-2 ln s / s).
    double u, v, s;
    do {
      u = 2.0 * uniform01() - 1.0;
      v = 2.0 * uniform01() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double m = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * m;
    has_spare_ = true;
    z = u * m;
  }
  return static_cast<float>(static_cast<double>(mean) + static_cast<double>(std) * z);
}

int64_t Rng::randint(int64_t lo, int64_t hi) {
  AZ_CHECK(lo < hi, "randint: empty range [", lo, ", ", hi, ")");
  // range = hi - lo computed in unsigned arithmetic: exact even for [INT64_MIN, INT64_MAX).
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  // 2^64 mod range draws at the bottom would make the small residues more likely; reject them.
  const uint64_t threshold = (0 - range) % range;
  uint64_t x;
  do {
    x = next_u64();
  } while (x < threshold);
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % range);
}

Rng Rng::split() { return Rng(next_u64()); }

// ---- tensors -----------------------------------------------------------------------------------------------

Tensor randn(const Shape& shape, Rng& rng, float mean, float std) {
  check_shape("randn", shape);
  AZ_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0.0f, "randn: need finite mean and std >= 0, got mean ",
           mean, ", std ", std);
  Tensor t = Tensor::empty(shape);
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = rng.normal(mean, std);
  return t;
}

Tensor rand_uniform(const Shape& shape, Rng& rng, float lo, float hi) {
  check_shape("rand_uniform", shape);
  AZ_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "rand_uniform: need finite lo <= hi, got [", lo, ", ",
           hi, ")");
  Tensor t = Tensor::empty(shape);
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = rng.uniform(lo, hi);
  return t;
}

IntTensor randint(const Shape& shape, Rng& rng, int64_t lo, int64_t hi) {
  check_shape("randint", shape);
  AZ_CHECK(lo < hi, "randint: empty range [", lo, ", ", hi, ")");
  IntTensor t(shape);
  for (int64_t& x : t.data) x = rng.randint(lo, hi);
  return t;
}

IntTensor permutation(int64_t n, Rng& rng) {
  AZ_CHECK(n >= 0, "permutation: n must be >= 0, got ", n);
  IntTensor t({n});
  for (int64_t i = 0; i < n; ++i) t.data[i] = i;
  // Fisher–Yates: position i takes a uniformly chosen element among those not yet placed (indices 0..i).
  for (int64_t i = n - 1; i > 0; --i) std::swap(t.data[i], t.data[rng.randint(0, i + 1)]);
  return t;
}

Tensor orthogonal(int64_t rows, int64_t cols, Rng& rng) {
  AZ_CHECK(rows >= 1 && cols >= 1, "orthogonal: rows and cols must be >= 1, got (", rows, ",", cols, ")");
  // m x k with m >= k: the tall shape whose k columns we orthonormalise.
  const int64_t m = rows >= cols ? rows : cols;
  const int64_t k = rows >= cols ? cols : rows;
  constexpr int64_t kMaxElements = int64_t(1) << 28;  // 2 GiB of doubles; also keeps m * k from overflowing
  AZ_CHECK(m <= kMaxElements / k, "orthogonal: (", rows, ",", cols, ") is too large");

  // A: (m, k) standard Gaussian, row-major, drawn in row-major order.
  std::vector<double> a(static_cast<size_t>(m * k));
  for (double& x : a) x = rng.normal();
  auto A = [&](int64_t i, int64_t j) -> double& { return a[static_cast<size_t>(i * k + j)]; };

  // Householder QR: for column j, H_j = I - 2 v v^T (v unit, supported on rows j..m-1) maps A[j:, j] onto
  // r_jj * e_1, with r_jj = -sign(A[j][j]) * ||A[j:, j]|| to avoid cancellation. A is overwritten by R.
  std::vector<double> vs(static_cast<size_t>(m * k), 0.0);  // v_j stored in column j, rows j..m-1
  std::vector<double> r_diag(static_cast<size_t>(k), 0.0);
  auto V = [&](int64_t i, int64_t j) -> double& { return vs[static_cast<size_t>(i * k + j)]; };
  for (int64_t j = 0; j < k; ++j) {
    double norm2 = 0.0;
    for (int64_t i = j; i < m; ++i) norm2 += A(i, j) * A(i, j);
    const double norm = std::sqrt(norm2);
    if (norm == 0.0) continue;  // a zero column (probability 0): H_j = I, r_jj = 0
    const double alpha = A(j, j) >= 0.0 ? -norm : norm;
    r_diag[static_cast<size_t>(j)] = alpha;
    // v = x - alpha e_1, normalised. ||v||^2 = 2 norm (norm + |x_0|) > 0.
    double vnorm2 = 0.0;
    for (int64_t i = j; i < m; ++i) {
      V(i, j) = A(i, j) - (i == j ? alpha : 0.0);
      vnorm2 += V(i, j) * V(i, j);
    }
    const double inv = 1.0 / std::sqrt(vnorm2);
    for (int64_t i = j; i < m; ++i) V(i, j) *= inv;
    // A[j:, j:] -= 2 v (v^T A[j:, j:])
    for (int64_t c = j; c < k; ++c) {
      double dot = 0.0;
      for (int64_t i = j; i < m; ++i) dot += V(i, j) * A(i, c);
      for (int64_t i = j; i < m; ++i) A(i, c) -= 2.0 * dot * V(i, j);
    }
  }

  // Q = H_0 H_1 ... H_{k-1} [I_k; 0]: apply the reflections to the first k columns of I, last one first.
  std::vector<double> q(static_cast<size_t>(m * k), 0.0);  // (m, k)
  auto Q = [&](int64_t i, int64_t j) -> double& { return q[static_cast<size_t>(i * k + j)]; };
  for (int64_t j = 0; j < k; ++j) Q(j, j) = 1.0;
  for (int64_t j = k - 1; j >= 0; --j) {
    if (r_diag[static_cast<size_t>(j)] == 0.0) continue;  // H_j = I
    for (int64_t c = 0; c < k; ++c) {
      double dot = 0.0;
      for (int64_t i = j; i < m; ++i) dot += V(i, j) * Q(i, c);
      for (int64_t i = j; i < m; ++i) Q(i, c) -= 2.0 * dot * V(i, j);
    }
  }

  // A = QR is unique only up to the signs of R's diagonal; fixing diag(R) > 0 (column j of Q times
  // sign(r_jj)) makes Q Haar-distributed (Mezzadri 2007, "How to generate random matrices from the classical
  // compact groups").
  for (int64_t j = 0; j < k; ++j) {
    if (r_diag[static_cast<size_t>(j)] < 0.0) {
      for (int64_t i = 0; i < m; ++i) Q(i, j) = -Q(i, j);
    }
  }

  // (rows, cols): Q itself when tall (orthonormal columns), Q^T when wide (orthonormal rows).
  Tensor out = Tensor::empty({rows, cols});
  float* o = out.data();
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      o[i * cols + j] = static_cast<float>(rows >= cols ? Q(i, j) : Q(j, i));
    }
  }
  return out;
}

}  // namespace core
