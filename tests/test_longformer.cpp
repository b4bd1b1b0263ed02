// tests/test_longformer.cpp — the Longformer scheme: band key lists with dilation and edges, global keys
// removed from the band (never counted twice), global rows see everything, band storage, global projections
// only move the global rows, linear memory, its own rules for the global list. Kernel vs dense attention masked
// by the pattern (outputs, dq, dk, dv; dilation, globals, causal, padding, odd n), out == A @ v, causal no-leak,
// determinism, gradcheck of the layer and generic bad settings: the conformance table (tests/test_schemes.cpp),
// with the settings longformer.cpp declares.
#include <algorithm>

#include "attention/dense.h"
#include "attention/longformer.h"
#include "tests/helpers.h"

using namespace core;
using attention::LongformerOptions;

namespace {

std::vector<int64_t> row(const IntTensor& index, int64_t h, int64_t i) {
  const int64_t n = index.shape[2], K = index.shape[3];
  return {index.data.begin() + (h * n + i) * K, index.data.begin() + (h * n + i + 1) * K};
}

}  // namespace

TEST_CASE("longformer: band slots hold i + δt, edges are -1, global keys move to their own column") {
  const int64_t n = 20;
  SUBCASE("window 2, dilation 1 and 3 over two heads") {
    const IntTensor index = attention::longformer_index(LongformerOptions(2, {1, 3}, {}, false), n, 2);
    REQUIRE(index.shape == Shape{1, 2, n, 5});
    CHECK(row(index, 0, 10) == std::vector<int64_t>{8, 9, 10, 11, 12});
    CHECK(row(index, 1, 10) == std::vector<int64_t>{4, 7, 10, 13, 16});
    CHECK(row(index, 1, 2) == std::vector<int64_t>{-1, -1, 2, 5, 8});     // left edge
    CHECK(row(index, 0, 19) == std::vector<int64_t>{17, 18, 19, -1, -1});  // right edge
  }
  SUBCASE("one dilation: one index shared by every head") {
    CHECK(attention::longformer_index(LongformerOptions(2, {2, 2}, {}, false), n, 4).shape == Shape{1, 1, n, 5});
  }
  SUBCASE("global 11 and 0: not in the band, a column each (in the given order) for every local row, own rows empty") {
    const IntTensor index = attention::longformer_index(LongformerOptions(2, {1}, {11, 0}, false), n, 1);
    REQUIRE(index.shape == Shape{1, 1, n, 7});
    CHECK(row(index, 0, 10) == std::vector<int64_t>{8, 9, 10, -1, 12, 11, 0});
    CHECK(row(index, 0, 1) == std::vector<int64_t>{-1, -1, 1, 2, 3, 11, 0});
    CHECK(row(index, 0, 11) == std::vector<int64_t>(7, -1));
  }
  SUBCASE("causal: the band looks back, a global key only after it") {
    const IntTensor index = attention::longformer_index(LongformerOptions(3, {1}, {5}, true), n, 1);
    REQUIRE(index.shape == Shape{1, 1, n, 5});
    CHECK(row(index, 0, 7) == std::vector<int64_t>{4, -1, 6, 7, 5});
    CHECK(row(index, 0, 3) == std::vector<int64_t>{0, 1, 2, 3, -1});
  }
}

TEST_CASE("longformer: the pattern is the band plus a global cross; a global key inside the band counts once") {
  const int64_t n = 24;
  const LongformerOptions o(3, {1}, {6}, false);
  const Tensor P = attention::longformer_pattern(o, 1, 1, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const bool want = std::abs(i - j) <= 3 || i == 6 || j == 6;
      CHECK(P.at({0, 0, i, j}) == (want ? 1.0f : 0.0f));
    }
  // Query 7 sees global key 6 once: its weight equals the dense softmax weight (not doubled).
  const Tensor q = testing::rand_tensor({1, 1, n, 4}, 10), k = testing::rand_tensor({1, 1, n, 4}, 11),
               v = testing::rand_tensor({1, 1, n, 4}, 12);
  const auto probs = attention::longformer_probabilities(q, k, v, o);
  CHECK(probs.band.shape() == Shape{1, 1, n, attention::longformer_band_width(o) + 1});  // band slots + one global column
  const Tensor ref = softmax(masked_fill(attention::dense_scores(q, k), 1.0f - P, -1e30f), -1);
  CHECK(std::fabs(probs.dense.at({0, 0, 7, 6}) - ref.at({0, 0, 7, 6})) < 1e-6f);
  double row_sum = 0;
  for (int64_t j = 0; j < n; ++j) row_sum += probs.dense.at({0, 0, 7, j});
  CHECK(std::fabs(row_sum - 1.0) < 1e-5);
  // The global row attends to every token.
  for (int64_t j = 0; j < n; ++j) CHECK(probs.dense.at({0, 0, 6, j}) > 0.0f);
  CHECK_CLOSE(probs.dense, ref, 1e-5, 1e-6);
}

TEST_CASE("longformer: the global projections move only the global tokens' rows; without globals there are none") {
  Rng rng(30);
  attention::LayerConfig lc = testing::layer_config(8, 2, {"window=2", "global=3"});
  auto layer = attention::find_scheme("longformer").make_layer(lc, rng);
  CHECK(layer->parameters().size() == 14);  // w_q, w_k, w_v, w_o + 3 global projections, weight and bias each
  std::vector<bool> only_3(12, false);
  only_3[3] = true;
  CHECK(testing::rows_moved_by(*layer, testing::rand_tensor({1, 12, 8}, 31), "w_q_global") == only_3);
  attention::LayerConfig plain = lc;
  plain.set = {"window=2"};
  CHECK(attention::find_scheme("longformer").make_layer(plain, rng)->parameters().size() == 8);
}

TEST_CASE("longformer: memory grows linearly in n (band storage, no n x n matrix)") {
  const LongformerOptions o(8, {1}, {0}, false);
  auto peak_at = [&](int64_t n) {
    return testing::peak_bytes_forward_backward(
        [&](const Tensor& q, const Tensor& k, const Tensor& v) { return attention::longformer_attention(q, k, v, o); }, n);
  };
  // Linear = a constant (the kernel's per-thread tile buffers) plus a part proportional to n: doubling n again
  // adds twice what the first doubling added (a quadratic part would add four times).
  const double p1 = peak_at(1024), p2 = peak_at(2048), p4 = peak_at(4096);
  CHECK((p4 - p2) / (p2 - p1) > 1.8);
  CHECK((p4 - p2) / (p2 - p1) < 2.2);
  CHECK(p4 < 4.0 * 4096 * 4096 / 8);
}

TEST_CASE("longformer: a global position is listed once and lies inside the sequence") {
  const auto& s = attention::find_scheme("longformer");
  const Tensor q = testing::rand_tensor({1, 1, 16, 4}, 60);
  auto run = [&](const std::vector<std::string>& set) { return s.kernel(q, q, q, s.configure(set)); };
  CHECK_THROWS_WITH_AS(run({"global=3,3"}), doctest::Contains("longformer: global lists position 3 twice"), core::Error);
  CHECK_THROWS_WITH_AS(run({"global=16"}), doctest::Contains("global position 16 is outside the sequence (n = 16)"),
                       core::Error);
}
