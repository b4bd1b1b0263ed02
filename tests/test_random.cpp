// tests/test_random.cpp — core/random: determinism, pinned outputs, distribution moments, orthogonal matrices.
//
// Statistical checks use fixed seeds and tolerances of several standard errors, so they are never flaky: with
// a fixed seed the result is a fixed number, and the tolerance says how far from the truth a correct generator
// may plausibly land.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "core/random.h"

using core::Rng;

namespace {

bool same_bytes(const core::Tensor& a, const core::Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

// max |(M M^T - I)_ij| for a (r, c) row-major matrix M: checks that its rows are orthonormal.
double rows_orthonormality_error(const std::vector<double>& m, int64_t r, int64_t c) {
  double worst = 0.0;
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t j = 0; j < r; ++j) {
      double dot = 0.0;
      for (int64_t t = 0; t < c; ++t) dot += m[i * c + t] * m[j * c + t];
      worst = std::max(worst, std::fabs(dot - (i == j ? 1.0 : 0.0)));
    }
  }
  return worst;
}

// Q^T Q (columns) for tall matrices, Q Q^T (rows) for wide ones: whichever side is the smaller one.
double orthonormality_error(const core::Tensor& q) {
  const int64_t r = q.shape()[0], c = q.shape()[1];
  std::vector<double> m(q.data(), q.data() + r * c);
  if (r <= c) return rows_orthonormality_error(m, r, c);
  std::vector<double> mt(static_cast<size_t>(r * c));  // transpose: columns of q become rows
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t j = 0; j < c; ++j) mt[j * r + i] = m[i * c + j];
  }
  return rows_orthonormality_error(mt, c, r);
}

}  // namespace

TEST_CASE("random: golden outputs pin the generator (xoshiro256** seeded by splitmix64)") {
  // Cross-checked against an independent Python implementation of the reference C code of splitmix64 and
  // xoshiro256** 1.0 (Blackman & Vigna, https://prng.di.unimi.it/), written from the published algorithm and
  // run with /usr/bin/python3 during development; the same script reproduced the published first output of
  // splitmix64 for seed 0 (0xe220a8397b1dcdaf). If these change, every seeded result in the project changes.
  Rng rng(42);
  CHECK(rng.next_u64() == 0x15780b2e0c2ec716ULL);
  CHECK(rng.next_u64() == 0x6104d9866d113a7eULL);
  CHECK(rng.next_u64() == 0xae17533239e499a1ULL);
  CHECK(Rng(0).next_u64() == 0x99ec5f36cb75f2b4ULL);
  CHECK(rng.seed() == 42);

  // uniform01 = top 53 bits * 2^-53 of the first output; normal = Marsaglia polar (u*m first, then the
  // cached v*m). Same Python script; a tolerance because std::log may differ by an ulp between libms.
  CHECK(Rng(42).uniform01() == 0x15780b2e0c2ec716ULL / 2048 * 0x1.0p-53);
  Rng g(42);
  CHECK(g.normal() == doctest::Approx(-0.7262191382447857).epsilon(1e-6));
  CHECK(g.normal() == doctest::Approx(-0.21119691823195985).epsilon(1e-6));
  CHECK(g.normal() == doctest::Approx(0.2216227015035933).epsilon(1e-6));
  CHECK(g.normal() == doctest::Approx(0.5227716877560146).epsilon(1e-6));
}

TEST_CASE("random: the same seed gives identical sequences and identical tensor bytes") {
  Rng a(1234), b(1234);
  for (int i = 0; i < 1000; ++i) REQUIRE(a.next_u64() == b.next_u64());
  for (int i = 0; i < 1000; ++i) REQUIRE(a.normal(0.5f, 2.0f) == b.normal(0.5f, 2.0f));
  for (int i = 0; i < 1000; ++i) REQUIRE(a.randint(-7, 1000) == b.randint(-7, 1000));

  CHECK(same_bytes(core::randn({3, 5}, a), core::randn({3, 5}, b)));
  CHECK(same_bytes(core::rand_uniform({7}, a, -1.0f, 1.0f), core::rand_uniform({7}, b, -1.0f, 1.0f)));
  CHECK(same_bytes(core::orthogonal(6, 4, a), core::orthogonal(6, 4, b)));
  CHECK(core::randint({4, 4}, a, 0, 10).data == core::randint({4, 4}, b, 0, 10).data);
  CHECK(core::permutation(50, a).data == core::permutation(50, b).data);
}

TEST_CASE("random: different seeds give different streams") {
  Rng a(1), b(2);
  int equal = 0;
  for (int i = 0; i < 100; ++i) equal += a.next_u64() == b.next_u64();
  CHECK(equal == 0);
  Rng c(0), d(1);
  CHECK_FALSE(same_bytes(core::randn({16}, c), core::randn({16}, d)));
}

TEST_CASE("random: normal has mean 0 and std 1 (100k draws)") {
  Rng rng(7);
  const int n = 100000;
  double sum = 0.0, sum2 = 0.0, sum3 = 0.0, sum4 = 0.0;
  int within_one = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    REQUIRE(std::isfinite(z));
    sum += z;
    sum2 += z * z;
    sum3 += z * z * z;
    sum4 += z * z * z * z;
    within_one += std::fabs(z) < 1.0;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  // Standard errors at n = 1e5: mean 0.0032, std 0.0022, skewness 0.0077, kurtosis 0.015, P(|z|<1) 0.0015.
  CHECK(std::fabs(mean) < 0.02);
  CHECK(std::fabs(std::sqrt(var) - 1.0) < 0.02);
  CHECK(std::fabs(sum3 / n) < 0.05);
  CHECK(std::fabs(sum4 / n - 3.0) < 0.1);
  CHECK(std::fabs(within_one / double(n) - 0.682689) < 0.01);

  // randn applies mean + std * z.
  core::Tensor t = core::randn({100000}, rng, 3.0f, 0.5f);
  double s = 0.0, s2 = 0.0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s += t.data()[i];
    s2 += double(t.data()[i]) * t.data()[i];
  }
  const double m = s / t.numel();
  CHECK(std::fabs(m - 3.0) < 0.01);
  CHECK(std::fabs(std::sqrt(s2 / t.numel() - m * m) - 0.5) < 0.01);
  CHECK(core::randn({2, 0, 3}, rng).numel() == 0);
  CHECK(core::randn({}, rng).numel() == 1);
}

TEST_CASE("random: uniform stays in [lo, hi) with the right mean") {
  Rng rng(11);
  double sum = 0.0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform01();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
  }
  CHECK(std::fabs(sum / n - 0.5) < 0.005);  // standard error 0.0009

  core::Tensor t = core::rand_uniform({50000}, rng, -2.0f, 3.0f);
  float lo = 1e9f, hi = -1e9f;
  for (int64_t i = 0; i < t.numel(); ++i) {
    lo = std::min(lo, t.data()[i]);
    hi = std::max(hi, t.data()[i]);
  }
  CHECK(lo >= -2.0f);
  CHECK(hi < 3.0f);
  CHECK(lo < -1.99f);  // and it reaches both ends
  CHECK(hi > 2.99f);

  CHECK(rng.uniform(4.0f, 4.0f) == 4.0f);
  // A float interval one ulp wide: rounding must never return hi.
  const float a = 1.0f, b = std::nextafter(1.0f, 2.0f);
  for (int i = 0; i < 1000; ++i) REQUIRE(rng.uniform(a, b) == a);
  CHECK_THROWS_WITH_AS(core::rand_uniform({2}, rng, 1.0f, 0.0f),
                       doctest::Contains("rand_uniform: need finite lo <= hi"), core::Error);
}

TEST_CASE("random: randint is in bounds, covers the range, and is unbiased") {
  Rng rng(3);
  std::map<int64_t, int> counts;
  const int n = 70000;
  for (int i = 0; i < n; ++i) counts[rng.randint(-3, 4)]++;
  REQUIRE(counts.size() == 7);
  CHECK(counts.begin()->first == -3);
  CHECK(counts.rbegin()->first == 3);
  for (const auto& kv : counts) CHECK(std::abs(kv.second - 10000) < 500);  // sigma = 93

  for (int i = 0; i < 100; ++i) REQUIRE(rng.randint(5, 6) == 5);
  // The full int64 range is one draw, no overflow.
  for (int i = 0; i < 100; ++i) (void)rng.randint(INT64_MIN, INT64_MAX);
  // A range just above 2^63 rejects almost half the draws; it must still be in bounds.
  const int64_t lo = -(int64_t(1) << 62) - 1, hi = (int64_t(1) << 62) + 1;
  for (int i = 0; i < 1000; ++i) {
    const int64_t x = rng.randint(lo, hi);
    REQUIRE(x >= lo);
    REQUIRE(x < hi);
  }

  core::IntTensor t = core::randint({3, 4}, rng, 10, 13);
  CHECK(t.shape == core::Shape{3, 4});
  for (int64_t x : t.data) CHECK((x >= 10 && x < 13));

  CHECK_THROWS_WITH_AS(rng.randint(5, 5), "randint: empty range [5, 5)", core::Error);
  CHECK_THROWS_WITH_AS(core::randint({2}, rng, 5, 5), "randint: empty range [5, 5)", core::Error);
  CHECK_THROWS_WITH_AS(core::randint({2}, rng, 9, 1), "randint: empty range [9, 1)", core::Error);
}

TEST_CASE("random: permutation is a uniformly random permutation") {
  Rng rng(5);
  core::IntTensor p = core::permutation(1000, rng);
  CHECK(p.shape == core::Shape{1000});
  std::vector<int64_t> sorted(p.data.begin(), p.data.end());
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) REQUIRE(sorted[i] == i);
  CHECK_FALSE(std::is_sorted(p.data.begin(), p.data.end()));

  CHECK(core::permutation(0, rng).numel() == 0);
  CHECK(core::permutation(1, rng).data[0] == 0);

  // All 6 orders of 3 elements are equally likely: 6000 draws, each ~1000 (sigma = 29).
  std::map<std::vector<int64_t>, int> orders;
  for (int i = 0; i < 6000; ++i) {
    core::IntTensor q = core::permutation(3, rng);
    orders[std::vector<int64_t>(q.data.begin(), q.data.end())]++;
  }
  REQUIRE(orders.size() == 6);
  for (const auto& kv : orders) CHECK(std::abs(kv.second - 1000) < 150);

  CHECK_THROWS_WITH_AS(core::permutation(-1, rng), "permutation: n must be >= 0, got -1", core::Error);
}

TEST_CASE("random: orthogonal has orthonormal columns (tall) or rows (wide)") {
  Rng rng(9);
  const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {8, 8}, {10, 4}, {3, 7}, {1, 1}, {1, 5}, {5, 1}, {64, 64}, {100, 16}, {16, 100},
  };
  for (const auto& [rows, cols] : shapes) {
    CAPTURE(rows);
    CAPTURE(cols);
    core::Tensor q = core::orthogonal(rows, cols, rng);
    REQUIRE(q.shape() == core::Shape{rows, cols});
    CHECK(orthonormality_error(q) < 1e-5);
  }
  CHECK_THROWS_WITH_AS(core::orthogonal(0, 3, rng), "orthogonal: rows and cols must be >= 1, got (0,3)", core::Error);
  CHECK_THROWS_WITH_AS(core::orthogonal(4, -1, rng), "orthogonal: rows and cols must be >= 1, got (4,-1)", core::Error);
}

TEST_CASE("random: orthogonal is Haar-distributed (the signs of R are fixed)") {
  // For a Haar-random Q every entry is symmetric around 0. Householder QR without the sign fix always makes
  // Q[0][0] negative (its r_00 takes the sign opposite to A[0][0]), so this catches a missing fix.
  Rng rng(13);
  const int n = 2000;
  double sum00 = 0.0, sum_last = 0.0;
  int positive_1x1 = 0;
  for (int i = 0; i < n; ++i) {
    core::Tensor q = core::orthogonal(3, 3, rng);
    sum00 += q.data()[0];
    sum_last += q.data()[8];
    positive_1x1 += core::orthogonal(1, 1, rng).data()[0] > 0.0f;
  }
  // E[Q_ij] = 0, sd of one entry = 1/sqrt(3), standard error of the mean 0.013.
  CHECK(std::fabs(sum00 / n) < 0.06);
  CHECK(std::fabs(sum_last / n) < 0.06);
  CHECK(std::abs(positive_1x1 - n / 2) < 150);  // +1 and -1 equally likely, sigma = 22
}

TEST_CASE("random: split gives a different, reproducible stream") {
  Rng parent(21);
  Rng child = parent.split();
  std::vector<uint64_t> from_parent, from_child;
  for (int i = 0; i < 100; ++i) {
    from_parent.push_back(parent.next_u64());
    from_child.push_back(child.next_u64());
  }
  CHECK(from_parent != from_child);

  Rng parent2(21);
  Rng child2 = parent2.split();
  for (int i = 0; i < 100; ++i) REQUIRE(child2.next_u64() == from_child[i]);
  for (int i = 0; i < 100; ++i) REQUIRE(parent2.next_u64() == from_parent[i]);  // split advanced the parent once

  Rng fresh(21);
  CHECK(fresh.next_u64() != from_parent[0]);
  Rng other_child = parent.split();
  CHECK(other_child.next_u64() != from_child[0]);
}

TEST_CASE("random: errors name the function and the arguments") {
  Rng rng(1);
  CHECK_THROWS_WITH_AS(core::randn({2, -1}, rng), "randn: negative dimension in shape (2,-1)", core::Error);
  CHECK_THROWS_WITH_AS(core::randn({2}, rng, 0.0f, -1.0f), doctest::Contains("randn: need finite mean and std >= 0"),
                       core::Error);
  CHECK_THROWS_WITH_AS(rng.normal(0.0f, NAN), doctest::Contains("normal: need finite mean and std >= 0"), core::Error);
  CHECK_THROWS_WITH_AS(core::rand_uniform({-3}, rng), "rand_uniform: negative dimension in shape (-3)", core::Error);
  CHECK_THROWS_WITH_AS(core::randint({-1, 2}, rng, 0, 3), "randint: negative dimension in shape (-1,2)", core::Error);
}
