// tests/test_longformer.cpp — the Longformer scheme: band key lists with dilation and edges, global keys
// removed from the band (never counted twice), kernel vs dense attention with the pattern as mask (outputs and
// gradients), global rows see everything, out == A @ v, band storage, gradcheck of the kernel and of the layer
// with its global projections, global projections only move the global rows, linear memory, bad settings.
// Causal no-leak and determinism: the conformance table (tests/test_schemes.cpp).
#include <algorithm>

#include "attention/dense.h"
#include "attention/longformer.h"
#include "tests/helpers.h"

using namespace core;
using attention::LongformerOptions;

using testing::Grads;
using testing::masked_dense_attention;
using testing::with_grads;

namespace {

LongformerOptions options(int64_t window, std::vector<int64_t> dilation, std::vector<int64_t> global, bool causal) {
  LongformerOptions o;
  o.window = window;
  o.dilation = std::move(dilation);
  o.global = std::move(global);
  o.causal = causal;
  return o;
}

std::vector<int64_t> row(const IntTensor& index, int64_t h, int64_t i) {
  const int64_t n = index.shape[2], K = index.shape[3];
  return {index.data.begin() + (h * n + i) * K, index.data.begin() + (h * n + i + 1) * K};
}

}  // namespace

TEST_CASE("longformer: band slots hold i + δt, edges are -1, global keys move to their own column") {
  const int64_t n = 20;
  SUBCASE("window 2, dilation 1 and 3 over two heads") {
    const IntTensor index = attention::longformer_index(options(2, {1, 3}, {}, false), n, 2);
    REQUIRE(index.shape == Shape{1, 2, n, 5});
    CHECK(row(index, 0, 10) == std::vector<int64_t>{8, 9, 10, 11, 12});
    CHECK(row(index, 1, 10) == std::vector<int64_t>{4, 7, 10, 13, 16});
    CHECK(row(index, 1, 2) == std::vector<int64_t>{-1, -1, 2, 5, 8});     // left edge
    CHECK(row(index, 0, 19) == std::vector<int64_t>{17, 18, 19, -1, -1});  // right edge
  }
  SUBCASE("one dilation: one index shared by every head") {
    CHECK(attention::longformer_index(options(2, {2, 2}, {}, false), n, 4).shape == Shape{1, 1, n, 5});
  }
  SUBCASE("global 11 and 0: not in the band, a column each (in the given order) for every local row, own rows empty") {
    const IntTensor index = attention::longformer_index(options(2, {1}, {11, 0}, false), n, 1);
    REQUIRE(index.shape == Shape{1, 1, n, 7});
    CHECK(row(index, 0, 10) == std::vector<int64_t>{8, 9, 10, -1, 12, 11, 0});
    CHECK(row(index, 0, 1) == std::vector<int64_t>{-1, -1, 1, 2, 3, 11, 0});
    CHECK(row(index, 0, 11) == std::vector<int64_t>(7, -1));
  }
  SUBCASE("causal: the band looks back, a global key only after it") {
    const IntTensor index = attention::longformer_index(options(3, {1}, {5}, true), n, 1);
    REQUIRE(index.shape == Shape{1, 1, n, 5});
    CHECK(row(index, 0, 7) == std::vector<int64_t>{4, -1, 6, 7, 5});
    CHECK(row(index, 0, 3) == std::vector<int64_t>{0, 1, 2, 3, -1});
  }
}

TEST_CASE("longformer: kernel equals dense attention with the pattern as mask, outputs and gradients") {
  const int64_t B = 2, H = 2, d = 8;
  for (int64_t n : {37, 64})
    for (bool causal : {false, true})
      for (const auto& glob : {std::vector<int64_t>{}, std::vector<int64_t>{0, 5, 30}}) {
        CAPTURE(n);
        CAPTURE(causal);
        CAPTURE(glob.size());
        const LongformerOptions o = options(4, {1, 2}, glob, causal);
        Tensor pad = Tensor::ones({B, n});
        for (int64_t j : {3, 17, 31}) pad.at({1, j}) = 0.0f;
        const Tensor q = testing::rand_tensor({B, H, n, d}, 1 + n), k = testing::rand_tensor({B, H, n, d}, 2 + n),
                     v = testing::rand_tensor({B, H, n, d}, 3 + n), g = testing::rand_tensor({B, H, n, d}, 4 + n);
        const Tensor pattern = attention::longformer_pattern(o, B, H, n, pad);
        const Grads mine = with_grads(
            [&](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::longformer_attention(a, b, c, o, pad); },
            q, k, v, g);
        const Grads ref = with_grads(
            [&](const Tensor& a, const Tensor& b, const Tensor& c) { return masked_dense_attention(a, b, c, pattern); }, q, k, v, g);
        CHECK_CLOSE(mine.out, ref.out, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dq, ref.dq, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dk, ref.dk, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dv, ref.dv, 1e-4, 1e-5);
        const auto P = attention::longformer_probabilities(q, k, v, o, pad);
        CHECK_CLOSE(matmul(P.dense, v), mine.out, 1e-4, 1e-5);
        CHECK(P.band.shape() == Shape{B, H, n, attention::longformer_band_width(o) + static_cast<int64_t>(glob.size())});
      }
}

TEST_CASE("longformer: the pattern is the band plus a global cross; a global key inside the band counts once") {
  const int64_t n = 24;
  const LongformerOptions o = options(3, {1}, {6}, false);
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
  const Tensor ref = softmax(masked_fill(attention::dense_scores(q, k), 1.0f - P, -1e30f), -1);
  CHECK(std::fabs(probs.dense.at({0, 0, 7, 6}) - ref.at({0, 0, 7, 6})) < 1e-6f);
  double row_sum = 0;
  for (int64_t j = 0; j < n; ++j) row_sum += probs.dense.at({0, 0, 7, j});
  CHECK(std::fabs(row_sum - 1.0) < 1e-5);
  // The global row attends to every token.
  for (int64_t j = 0; j < n; ++j) CHECK(probs.dense.at({0, 0, 6, j}) > 0.0f);
  CHECK_CLOSE(probs.dense, ref, 1e-5, 1e-6);
}

TEST_CASE("longformer: gradcheck of the kernel and of the layer with its global projections") {
  const LongformerOptions o = options(1, {1, 2}, {2}, false);
  const Tensor q = testing::rand_tensor({1, 2, 6, 3}, 20), k = testing::rand_tensor({1, 2, 6, 3}, 21),
               v = testing::rand_tensor({1, 2, 6, 3}, 22);
  const auto r = gradcheck(
      [&](const std::vector<Tensor>& x) { return attention::longformer_attention(x[0], x[1], x[2], o); }, {q, k, v});
  INFO(r.message);
  CHECK(r.ok);

  for (bool causal : {false, true}) {
    CAPTURE(causal);
    Rng rng(23);
    attention::LayerConfig lc;
    lc.d_model = 4;
    lc.n_heads = 2;
    lc.causal = causal;
    lc.set = {"window=1", "dilation=1,2", "global=0,4"};
    auto layer = attention::find_scheme("longformer").make_layer(lc, rng);
    CHECK(layer->parameters().size() == 14);  // w_q, w_k, w_v, w_o + 3 global projections, weight and bias each
    Tensor x = testing::rand_tensor({2, 6, 4}, 24).clone().detach().set_requires_grad();
    const auto lr = testing::gradcheck_layer(*layer, x);
    INFO(lr.message);
    CHECK(lr.ok);
    CHECK(lr.checked == x.numel() + layer->num_parameters());
    for (const auto& [name, p] : layer->named_parameters()) {
      CAPTURE(name);
      CHECK(testing::max_abs(p.grad()) > 0.0f);
    }
  }
}

TEST_CASE("longformer: the global projections move only the global tokens' rows; without globals there are none") {
  Rng rng(30);
  attention::LayerConfig lc;
  lc.d_model = 8;
  lc.n_heads = 2;
  lc.set = {"window=2", "global=3"};
  auto layer = attention::find_scheme("longformer").make_layer(lc, rng);
  const Tensor x = testing::rand_tensor({1, 12, 8}, 31);
  const Tensor before = layer->forward(x);
  for (const auto& [name, p] : layer->named_parameters())
    if (name.rfind("w_q_global", 0) == 0)
      for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] += 0.5f;
  const Tensor after = layer->forward(x);
  for (int64_t i = 0; i < 12; ++i) {
    const bool same = testing::bit_equal(slice(before, 1, i, i + 1), slice(after, 1, i, i + 1));
    CHECK(same == (i != 3));
  }
  attention::LayerConfig plain = lc;
  plain.set = {"window=2"};
  CHECK(attention::find_scheme("longformer").make_layer(plain, rng)->parameters().size() == 8);
}

TEST_CASE("longformer: memory grows linearly in n (band storage, no n x n matrix)") {
  const LongformerOptions o = options(8, {1}, {0}, false);
  auto peak_at = [&](int64_t n) {
    const Tensor q = testing::rand_tensor({1, 1, n, 8}, 50), k = testing::rand_tensor({1, 1, n, 8}, 51),
                 v = testing::rand_tensor({1, 1, n, 8}, 52);
    Tensor lq = q.clone().detach().set_requires_grad();
    memory::PeakScope scope;
    attention::longformer_attention(lq, k, v, o).backward(Tensor::ones(q.shape()));
    return static_cast<double>(scope.peak_above_start());
  };
  // Linear = a constant (the kernel's per-thread tile buffers) plus a part proportional to n: doubling n again
  // adds twice what the first doubling added (a quadratic part would add four times).
  const double p1 = peak_at(1024), p2 = peak_at(2048), p4 = peak_at(4096);
  CHECK((p4 - p2) / (p2 - p1) > 1.8);
  CHECK((p4 - p2) / (p2 - p1) < 2.2);
  CHECK(p4 < 4.0 * 4096 * 4096 / 8);
}

TEST_CASE("longformer: bad settings are rejected naming the key") {
  const auto& s = attention::find_scheme("longformer");
  const Tensor q = testing::rand_tensor({1, 1, 16, 4}, 60);
  auto run = [&](const std::vector<std::string>& set) { return s.kernel(q, q, q, s.configure(set)); };
  CHECK_THROWS_WITH_AS(run({"window=0"}), doctest::Contains("longformer: setting window=0 is out of range: it must be >= 1"), core::Error);
  CHECK_THROWS_WITH_AS(run({"window=x"}), doctest::Contains("window='x' is not an integer"), core::Error);
  CHECK_THROWS_WITH_AS(run({"dilation=1,0"}), doctest::Contains("longformer: setting dilation=0 is out of range: it must be >= 1"),
                       core::Error);
  CHECK_THROWS_WITH_AS(run({"dilation="}), doctest::Contains("longformer: setting dilation='' must list at least 1 value"),
                       core::Error);
  CHECK_THROWS_WITH_AS(run({"global=-1"}), doctest::Contains("longformer: setting global=-1 is out of range: it must be >= 0"), core::Error);
  CHECK_THROWS_WITH_AS(run({"global=3,3"}), doctest::Contains("longformer: global lists position 3 twice"), core::Error);
  CHECK_THROWS_WITH_AS(run({"global=16"}), doctest::Contains("global position 16 is outside the sequence (n = 16)"),
                       core::Error);
  Rng rng(1);
  attention::LayerConfig lc;
  lc.d_model = 8;
  lc.n_heads = 2;
  lc.set = {"window=-3"};
  CHECK_THROWS_WITH_AS(s.make_layer(lc, rng), doctest::Contains("window"), core::Error);
}

