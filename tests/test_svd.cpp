// tests/test_svd.cpp — core/svd: known decompositions, reconstruction, orthonormality, Eckart–Young errors.
#include "core/svd.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/helpers.h"

using namespace core;

namespace {

// max |(Mᵀ M - I)_ij| over the columns c with S[c] > 0 (columns of an (rows, r) row-major matrix).
double columns_orthonormality_error(const std::vector<double>& M, int64_t rows, int64_t r,
                                    const std::vector<double>& S) {
  double worst = 0.0;
  for (int64_t a = 0; a < r; ++a)
    for (int64_t b = 0; b < r; ++b) {
      if (S[a] == 0.0 || S[b] == 0.0) continue;
      double dot = 0.0;
      for (int64_t i = 0; i < rows; ++i) dot += M[i * r + a] * M[i * r + b];
      worst = std::max(worst, std::fabs(dot - (a == b ? 1.0 : 0.0)));
    }
  return worst;
}

double max_abs_diff(const std::vector<double>& a, const Tensor& t) {
  double worst = 0.0;
  for (int64_t i = 0; i < t.numel(); ++i) worst = std::max(worst, std::fabs(a[i] - double(t.data()[i])));
  return worst;
}

}  // namespace

TEST_CASE("svd: a diagonal matrix gives its sorted absolute diagonal") {
  // diag(1, -5, 3): singular values 5, 3, 1; the sign goes into U or V.
  const SVD s = svd(std::vector<double>{1, 0, 0, 0, -5, 0, 0, 0, 3}, 3, 3);
  REQUIRE(s.S.size() == 3);
  CHECK(s.S[0] == doctest::Approx(5.0).epsilon(1e-14));
  CHECK(s.S[1] == doctest::Approx(3.0).epsilon(1e-14));
  CHECK(s.S[2] == doctest::Approx(1.0).epsilon(1e-14));
  CHECK(std::fabs(s.U[1 * 3 + 0] * s.V[1 * 3 + 0]) == doctest::Approx(1.0));  // the -5 sits at (1, 1)
  CHECK(s.U[1 * 3 + 0] * s.V[1 * 3 + 0] < 0.0);
}

TEST_CASE("svd: known 2x2 and rank-one matrices") {
  // [[3, 0], [4, 5]] has singular values sqrt(45) and sqrt(5) (AᵀA = [[25, 20], [20, 25]], eigenvalues 45, 5).
  const SVD a = svd(std::vector<double>{3, 0, 4, 5}, 2, 2);
  CHECK(a.S[0] == doctest::Approx(std::sqrt(45.0)).epsilon(1e-13));
  CHECK(a.S[1] == doctest::Approx(std::sqrt(5.0)).epsilon(1e-13));
  // u vᵀ with u = (1, 2, 2), v = (3, 4): one singular value |u| |v| = 3 * 5 = 15, the other 0.
  const SVD b = svd(std::vector<double>{3, 4, 6, 8, 6, 8}, 3, 2);
  CHECK(b.S[0] == doctest::Approx(15.0).epsilon(1e-13));
  CHECK(b.S[1] < 1e-12);
  const std::vector<double> e = cumulative_energy(b.S);
  CHECK(e[0] == doctest::Approx(1.0));
}

TEST_CASE("svd: random tall, wide and square matrices reconstruct, with orthonormal U and V") {
  struct Case {
    int64_t m, n;
  };
  for (const Case c : {Case{7, 4}, Case{4, 7}, Case{16, 16}, Case{1, 5}, Case{5, 1}}) {
    CAPTURE(c.m);
    CAPTURE(c.n);
    const Tensor a = testing::rand_tensor({c.m, c.n}, 100 + c.m * 10 + c.n);
    const SVD s = svd(a);
    const int64_t r = std::min(c.m, c.n);
    REQUIRE(s.r == r);
    REQUIRE(static_cast<int64_t>(s.U.size()) == c.m * r);
    REQUIRE(static_cast<int64_t>(s.V.size()) == c.n * r);
    for (int64_t t = 1; t < r; ++t) CHECK(s.S[t - 1] >= s.S[t]);
    CHECK(s.S[r - 1] >= 0.0);
    CHECK(columns_orthonormality_error(s.U, c.m, r, s.S) < 1e-12);
    CHECK(columns_orthonormality_error(s.V, c.n, r, std::vector<double>(r, 1.0)) < 1e-12);
    // U diag(S) Vᵀ == A (in double, then rounded to float).
    std::vector<double> ad(a.data(), a.data() + a.numel());
    CHECK(max_abs_diff(ad, s.reconstruct()) < 1e-6);
    // Sum of squares of S == squared Frobenius norm.
    double fro = 0.0, s2 = 0.0;
    for (double x : ad) fro += x * x;
    for (double x : s.S) s2 += x * x;
    CHECK(s2 == doctest::Approx(fro).epsilon(1e-12));
    // singular_values() agrees with svd().S.
    const std::vector<double> only = singular_values(a);
    for (int64_t t = 0; t < r; ++t) CHECK(only[t] == doctest::Approx(s.S[t]).epsilon(1e-12));
  }
}

TEST_CASE("svd: the rank-t truncation error is sqrt of the tail energy (Eckart–Young)") {
  // A matrix of rank 3 by construction: B (12, 3) @ C (3, 9).
  const Tensor b = testing::rand_tensor({12, 3}, 5), c = testing::rand_tensor({3, 9}, 6);
  const Tensor a = matmul(b, c);
  const SVD s = svd(a);
  CHECK(s.S[2] > 1e-3);
  CHECK(s.S[3] < 1e-5 * s.S[0]);  // float input: rank 3 up to float rounding
  const std::vector<double> err = truncation_error(s.S);
  REQUIRE(err.size() == 10);
  CHECK(err[0] == doctest::Approx(1.0));
  CHECK(err[3] < 1e-5);
  CHECK(err[9] == 0.0);
  // err[t] equals ||A - A_t||_F / ||A||_F measured on the reconstruction.
  double fro = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) fro += double(a.data()[i]) * a.data()[i];
  for (int64_t t : {1, 2}) {
    const Tensor at = s.reconstruct(t);
    double d2 = 0.0;
    for (int64_t i = 0; i < a.numel(); ++i) d2 += std::pow(double(a.data()[i]) - at.data()[i], 2);
    CHECK(std::sqrt(d2 / fro) == doctest::Approx(err[t]).epsilon(1e-5));
  }
  const std::vector<double> e = cumulative_energy(s.S);
  for (int64_t t = 1; t <= 9; ++t) CHECK(e[t - 1] == doctest::Approx(1.0 - err[t] * err[t]).epsilon(1e-9));
}

TEST_CASE("svd: nearly rank-one and rank-deficient matrices converge (attention-like inputs)") {
  // 64 x 64: every row the same one-hot-ish distribution (all queries attend to key 17), plus tiny noise;
  // and a softmax of very sharp scores. Both have singular values spanning many orders of magnitude.
  const int64_t n = 64;
  Tensor a = Tensor::full({n, n}, 1e-9f);
  for (int64_t i = 0; i < n; ++i) a.at({i, 17}) = 1.0f - 63e-9f;
  Tensor sharp = softmax(testing::rand_tensor({n, n}, 7, -30.0f, 30.0f), -1);
  for (const Tensor* m : {&a, &sharp}) {
    const SVD s = svd(*m);
    CHECK(s.sweeps < 40);
    std::vector<double> md(m->data(), m->data() + m->numel());
    CHECK(max_abs_diff(md, s.reconstruct()) < 1e-6);
    CHECK(columns_orthonormality_error(s.V, n, n, std::vector<double>(n, 1.0)) < 1e-10);
  }
  CHECK(svd(a).S[0] == doctest::Approx(8.0).epsilon(1e-6));  // rank one: ||1|| * ||e_17|| = sqrt(64)
  CHECK(svd(a).S[1] < 1e-6);
}

TEST_CASE("svd: zero matrix, bad shapes and non-finite values") {
  const SVD z = svd(Tensor::zeros({3, 4}));
  for (double x : z.S) CHECK(x == 0.0);
  CHECK(truncation_error(z.S)[0] == 0.0);
  CHECK(cumulative_energy(z.S)[0] == 1.0);
  CHECK_THROWS_WITH_AS(svd(Tensor::zeros({2, 3, 4})), doctest::Contains("svd: wants a 2-D (m, n) tensor, got (2,3,4)"),
                       core::Error);
  Tensor bad = Tensor::zeros({2, 2});
  bad.data()[3] = std::nanf("");
  CHECK_THROWS_WITH_AS(svd(bad), doctest::Contains("non-finite"), core::Error);
  CHECK_THROWS_WITH_AS(z.reconstruct(5), doctest::Contains("reconstruct(5)"), core::Error);
}

TEST_CASE("numerical_rank: a product of rank k counts k, the zero matrix 0, the identity its size") {
  for (int64_t k : {1, 3, 7}) {
    const Tensor a = matmul(testing::rand_tensor({12, k}, 5), testing::rand_tensor({k, 9}, 6));  // rank min(k, 9)
    CHECK(numerical_rank(a) == std::min<int64_t>(k, 9));
  }
  CHECK(numerical_rank(Tensor::zeros({5, 4})) == 0);
  Tensor eye = Tensor::zeros({6, 6});
  for (int64_t i = 0; i < 6; ++i) eye.at({i, i}) = 1.0f;
  CHECK(numerical_rank(eye) == 6);
  eye.at({5, 5}) = 1e-6f;  // below tol · the largest: not counted
  CHECK(numerical_rank(eye) == 5);
  CHECK(numerical_rank(eye, 1e-7) == 6);
  CHECK_THROWS_AS(numerical_rank(eye, 0.0), core::Error);
}
