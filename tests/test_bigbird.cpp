// tests/test_bigbird.cpp — the BigBird scheme: the block graph (window, global, random blocks per head, causal
// variant), the token pattern is the block layout expanded and cropped at n, slot storage, random blocks fixed
// (same seed, same blocks; train == eval; every layer its own; another seed, other blocks), linear memory, its
// own rules (odd window, one sequence). Kernel vs dense attention masked by the pattern (outputs, dq, dk, dv;
// random blocks, causal, padding, odd n), out == A @ v inside the pattern, causal no-leak, determinism, gradcheck
// of the layer and generic bad settings: the conformance table (tests/test_schemes.cpp), with the settings
// bigbird.cpp declares.
#include <algorithm>
#include <limits>
#include <set>

#include "attention/bigbird.h"
#include "attention/dense.h"
#include "tests/helpers.h"

using namespace core;
using attention::BigBirdOptions;

namespace {

int kind(const IntTensor& layout, int64_t h, int64_t i, int64_t j) {
  const int64_t nb = layout.shape[1];
  return static_cast<int>(layout.data[static_cast<size_t>((h * nb + i) * nb + j)]);
}

}  // namespace

TEST_CASE("bigbird: the block graph has window, global and r random blocks, different per head") {
  const int64_t b = 8, n = 96, nb = 12, H = 3;  // blocks 0 and 11 are global
  const BigBirdOptions o(b, 3, 1, 2, false, 5);
  const IntTensor layout = attention::bigbird_block_layout(o, n, H);
  REQUIRE(layout.shape == Shape{H, nb, nb});
  bool heads_differ = false;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < nb; ++i) {
      CAPTURE(h);
      CAPTURE(i);
      if (i == 0 || i == nb - 1) {  // global query blocks see everything
        for (int64_t j = 0; j < nb; ++j) CHECK(kind(layout, h, i, j) == attention::kBlockGlobal);
        continue;
      }
      int random = 0;
      for (int64_t j = 0; j < nb; ++j) {
        const int want_fixed = std::abs(i - j) <= 1 ? attention::kBlockWindow
                               : (j == 0 || j == nb - 1) ? attention::kBlockGlobal
                                                         : -1;
        const int got = kind(layout, h, i, j);
        if (want_fixed >= 0) {
          CHECK(got == want_fixed);
        } else {
          CHECK((got == attention::kBlockNone || got == attention::kBlockRandom));
          random += got == attention::kBlockRandom;
        }
        if (h > 0) heads_differ |= got != kind(layout, 0, i, j);
      }
      CHECK(random == 2);  // 12 blocks - 3 window - 2 global leave at least 7 candidates
    }
  CHECK(heads_differ);

  SUBCASE("fewer candidates than r: take all of them") {
    const IntTensor small = attention::bigbird_block_layout(BigBirdOptions(8, 3, 1, 5, false, 1), 40, 1);  // nb = 5
    // block 2: window 1,2,3, global 0,4: nothing left for random blocks
    for (int64_t j = 0; j < 5; ++j) CHECK(kind(small, 0, 2, j) != attention::kBlockRandom);
    const IntTensor wide = attention::bigbird_block_layout(BigBirdOptions(8, 1, 0, 5, false, 1), 40, 1);  // window = own block
    for (int64_t i = 0; i < 5; ++i) {
      int r = 0;
      for (int64_t j = 0; j < 5; ++j) r += kind(wide, 0, i, j) == attention::kBlockRandom;
      CHECK(r == 4);  // the 4 other blocks, all of them
    }
  }
}

TEST_CASE("bigbird: the causal block graph looks back only: window i-1, i; globals at the start; random from earlier") {
  const int64_t b = 4, n = 64, nb = 16, H = 2;
  const BigBirdOptions o(b, 3, 1, 2, true, 9);
  const IntTensor layout = attention::bigbird_block_layout(o, n, H);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < nb; ++i) {
      CAPTURE(h);
      CAPTURE(i);
      int random = 0;
      for (int64_t j = 0; j < nb; ++j) {
        const int got = kind(layout, h, i, j);
        if (j > i) CHECK(got == attention::kBlockNone);
        if (i == 0) continue;
        if (j == i || j == i - 1) CHECK(got == attention::kBlockWindow);
        else if (j == 0) CHECK(got == attention::kBlockGlobal);
        random += got == attention::kBlockRandom;
      }
      if (i > 0) CHECK(random == std::min<int64_t>(2, std::max<int64_t>(0, i - 2)));  // candidates: 1 .. i-2
    }
  CHECK(attention::bigbird_dense_rows(o, n).empty());  // no dense rows when causal
}

TEST_CASE("bigbird: the token pattern is the block layout expanded, cropped at n, causal inside the diagonal block") {
  for (bool causal : {false, true})
    for (int64_t n : {37, 64, 80}) {
      CAPTURE(causal);
      CAPTURE(n);
      const BigBirdOptions o(8, 3, 1, 1, causal, 3);
      const int64_t H = 2;
      const IntTensor layout = attention::bigbird_block_layout(o, n, H);
      const Tensor P = attention::bigbird_pattern(o, 1, H, n);
      int64_t wrong = 0;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const bool want = kind(layout, h, i / 8, j / 8) != attention::kBlockNone && (!causal || j <= i);
            wrong += P.at({0, h, i, j}) != (want ? 1.0f : 0.0f);
          }
      CHECK(wrong == 0);
    }
}

TEST_CASE("bigbird: slot storage is (1, H, n, b(w+2g+r)), never n x n; without random blocks one index for all heads") {
  const IntTensor index = attention::bigbird_index(BigBirdOptions(16, 3, 1, 2, false, 1), 1024, 4);
  CHECK(index.shape == Shape{1, 4, 1024, 16 * (3 + 2 + 2)});
  const IntTensor shared = attention::bigbird_index(BigBirdOptions(16, 3, 1, 0, false, 1), 1024, 4);
  CHECK(shared.shape == Shape{1, 1, 1024, 16 * (3 + 2)});
  // Rows of global blocks are computed densely: all -1 in the index.
  const int64_t K = index.shape[3];
  for (int64_t i : {0, 15, 1008, 1023})
    for (int64_t s = 0; s < K; ++s) CHECK(index.data[static_cast<size_t>(i * K + s)] == -1);
  const std::vector<int64_t> rows = attention::bigbird_dense_rows(BigBirdOptions(16, 3, 1, 2, false, 1), 1000);
  CHECK(rows.size() == 16 + 8);  // block 0 and the short last block 62 (tokens 992..999)
  CHECK(rows.back() == 999);
}

TEST_CASE("bigbird: random blocks are fixed by the seed: per call, in eval, per head; each layer has its own") {
  const BigBirdOptions a(4, 3, 1, 2, false, 100), b = BigBirdOptions(4, 3, 1, 2, false, 101);
  const IntTensor la = attention::bigbird_block_layout(a, 128, 4);
  CHECK(la.data == attention::bigbird_block_layout(a, 128, 4).data);  // same seed, same blocks
  CHECK(la.data != attention::bigbird_block_layout(b, 128, 4).data);  // another seed, other blocks
  // head h's blocks do not depend on how many heads there are
  const IntTensor two = attention::bigbird_block_layout(a, 128, 2);
  CHECK(std::equal(two.data.begin(), two.data.end(), la.data.begin()));

  Rng rng(7);
  attention::LayerConfig lc = testing::layer_config(8, 2, {"block=4"});
  auto first = attention::find_scheme("bigbird").make_layer(lc, rng);
  auto second = attention::find_scheme("bigbird").make_layer(lc, rng);
  CHECK(first->parameters().size() == 8);  // w_q, w_k, w_v, w_o: the random blocks are drawn, not learned
  auto* l1 = dynamic_cast<attention::BigBirdLayer*>(first.get());
  auto* l2 = dynamic_cast<attention::BigBirdLayer*>(second.get());
  REQUIRE(l1 != nullptr);
  REQUIRE(l2 != nullptr);
  CHECK(l1->random_seed() != l2->random_seed());
  CHECK(!testing::bit_equal(l1->pattern(64), l2->pattern(64)));  // two layers, two random graphs

  const Tensor x = testing::rand_tensor({2, 64, 8}, 8);
  const Tensor pattern_train = l1->pattern(64);
  const Tensor y_train = l1->forward(x);
  CHECK(testing::bit_equal(y_train, l1->forward(x)));  // not redrawn per call
  l1->eval();
  CHECK(!l1->training());
  CHECK(testing::bit_equal(l1->pattern(64), pattern_train));  // eval == train: no all-zero or redrawn blocks
  CHECK(testing::bit_equal(l1->forward(x), y_train));
}

TEST_CASE("bigbird: memory grows linearly in n (tiled kernel, no n x n matrix)") {
  const BigBirdOptions o(16, 3, 1, 2, false, 1);
  auto peak_at = [&](int64_t n) {
    return testing::peak_bytes_forward_backward(
        [&](const Tensor& q, const Tensor& k, const Tensor& v) { return attention::bigbird_attention(q, k, v, o); }, n);
  };
  const double p1 = peak_at(2048), p2 = peak_at(4096);
  CHECK(p2 / p1 > 1.8);
  CHECK(p2 / p1 < 2.2);
  CHECK(p2 < 4.0 * 4096 * 4096 / 4);  // a quarter of one n x n float matrix, with the backward's scratch
}

TEST_CASE("bigbird: the window is odd, and keys and queries are one sequence; another seed picks other blocks") {
  const auto& s = attention::find_scheme("bigbird");
  const Tensor q = testing::rand_tensor({1, 1, 16, 4}, 60);
  CHECK_THROWS_WITH_AS(s.kernel(q, q, q, s.configure({"window_blocks=2"})), doctest::Contains("bigbird: window_blocks must be odd"),
                       core::Error);
  CHECK_THROWS_WITH_AS(s.kernel(q, testing::rand_tensor({1, 1, 20, 4}, 61), testing::rand_tensor({1, 1, 20, 4}, 62),
                                s.configure({})),
                       doctest::Contains("bigbird: blocks are cut from one sequence"), core::Error);
  const Tensor x = testing::rand_tensor({2, 2, 70, 8}, 70), k = testing::rand_tensor({2, 2, 70, 8}, 71),
               v = testing::rand_tensor({2, 2, 70, 8}, 72);
  CHECK(!testing::bit_equal(s.kernel(x, k, v, s.configure({"block=4"}, false, 3)),
                            s.kernel(x, k, v, s.configure({"block=4"}, false, 4))));
}
