// tests/test_etc.cpp — the ETC scheme: the four pieces (g2g, g2l, l2g, l2l band) and the relative ids, the bias
// columns reproduce the relative biases exactly, kernel vs the dense reference with the bias matrix and the
// pattern as mask (outputs and gradients of q, k, v and the biases; odd n, padding, no globals), the exactness
// check (r >= n-1, zero biases, shared projections == full attention), out == A @ v, gradcheck of the kernel with
// its relative biases, global projections move only global rows (and are parameters), linear memory, its own
// rules (n > global_tokens, the bias shape), the seed draws the biases. Causal no-leak, determinism, gradcheck of
// the layer (every parameter) and generic bad settings: the conformance table (tests/test_schemes.cpp).
#include <algorithm>
#include <limits>

#include "attention/dense.h"
#include "attention/etc.h"
#include "tests/helpers.h"

using namespace core;
using attention::EtcOptions;

namespace {

struct Grads {
  Tensor out, dq, dk, dv, dbias;
};
template <class F>
Grads with_grads(F f, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, const Tensor& g) {
  Tensor a = q.clone().detach().set_requires_grad(), b = k.clone().detach().set_requires_grad(),
         c = v.clone().detach().set_requires_grad(), e = bias.clone().detach().set_requires_grad();
  const Tensor out = f(a, b, c, e);
  out.backward(g);
  return {out.detach(), a.grad(), b.grad(), c.grad(), e.grad()};
}

}  // namespace

TEST_CASE("etc: the four pieces and the relative ids of each pair") {
  const int64_t n = 12;  // G = 2 globals, 10 long tokens
  const EtcOptions o(2, 2, 1, false);
  const IntTensor parts = attention::etc_parts(o, n), ids = attention::etc_relative_ids(o, n);
  auto part = [&](int64_t i, int64_t j) { return parts.at({i, j}); };
  auto id = [&](int64_t i, int64_t j) { return ids.at({i, j}); };
  CHECK(attention::etc_num_relative_ids(o) == 5);  // 2k+1 distances, l2g, g2l
  CHECK(part(0, 1) == attention::kEtcG2G);
  CHECK(part(1, 11) == attention::kEtcG2L);
  CHECK(part(7, 0) == attention::kEtcL2G);
  CHECK(part(7, 9) == attention::kEtcL2L);
  CHECK(part(7, 10) == attention::kEtcNone);  // 3 > r
  CHECK(part(2, 4) == attention::kEtcL2L);
  CHECK(part(2, 5) == attention::kEtcNone);
  CHECK(id(0, 1) == 2);   // g2g distance +1 -> clip 1 -> id 2
  CHECK(id(1, 0) == 0);   // -1 -> id 0
  CHECK(id(7, 9) == 2);   // +2 clipped to +1
  CHECK(id(7, 5) == 0);   // -2 clipped to -1
  CHECK(id(7, 7) == 1);   // 0
  CHECK(id(7, 1) == 3);   // l2g
  CHECK(id(0, 6) == 4);   // g2l
  CHECK(id(7, 11) == -1);  // not attended

  SUBCASE("causal: g2l is empty, globals see earlier globals, long tokens the band behind them and every global") {
    const EtcOptions c(2, 2, 1, true);
    const IntTensor cp = attention::etc_parts(c, n), ci = attention::etc_relative_ids(c, n);
    CHECK(attention::etc_num_relative_ids(c) == 3);  // distances -1, 0, and l2g
    CHECK(cp.at({0, 1}) == attention::kEtcNone);
    CHECK(cp.at({1, 0}) == attention::kEtcG2G);
    for (int64_t j = 2; j < n; ++j) CHECK(cp.at({1, j}) == attention::kEtcNone);
    CHECK(cp.at({7, 5}) == attention::kEtcL2L);
    CHECK(cp.at({7, 8}) == attention::kEtcNone);
    CHECK(cp.at({2, 1}) == attention::kEtcL2G);
    CHECK(ci.at({7, 5}) == 0);
    CHECK(ci.at({7, 7}) == 1);
    CHECK(ci.at({7, 0}) == 2);
  }
}

TEST_CASE("etc: the bias columns give exactly b[h, id(i, j)] on every listed pair of a long query") {
  for (bool causal : {false, true})
    for (int64_t n : {9, 30}) {
      CAPTURE(causal);
      CAPTURE(n);
      const EtcOptions o(3, 4, 2, causal);
      const int64_t H = 2, d = 16, G = 3;
      const Tensor bias = testing::rand_tensor({H, attention::etc_num_relative_ids(o)}, 5);
      const auto cols = attention::etc_bias_columns(o, bias, n, d);
      const Tensor B = attention::etc_bias_matrix(o, bias, n);  // (H, n, n)
      const IntTensor index = attention::etc_long_index(o, n);
      const int64_t K = index.shape[3];
      const Tensor prod = matmul(cols.query, cols.key, false, true) / std::sqrt(16.0f);  // (H, n_l, n)
      int64_t wrong = 0, listed = 0;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < n - G; ++i)
          for (int64_t s = 0; s < K; ++s) {
            const int64_t j = index.data[static_cast<size_t>(i * K + s)];
            if (j < 0) continue;
            ++listed;
            wrong += std::fabs(prod.at({h, i, j}) - B.at({h, G + i, j})) > 1e-6f;
          }
      CHECK(listed > 0);
      CHECK(wrong == 0);
    }
}

TEST_CASE("etc: kernel equals the dense reference with biases and mask, outputs and gradients incl. the biases") {
  const int64_t B = 2, H = 2, d = 8;
  for (int64_t n : {37, 64})
    for (bool causal : {false, true})
      for (int64_t G : {0, 3}) {
        CAPTURE(n);
        CAPTURE(causal);
        CAPTURE(G);
        const EtcOptions o(G, 5, 3, causal);
        Tensor pad = Tensor::ones({B, n});
        for (int64_t j : {1, 17, 30}) pad.at({1, j}) = 0.0f;
        const Tensor q = testing::rand_tensor({B, H, n, d}, 1 + n), k = testing::rand_tensor({B, H, n, d}, 2 + n),
                     v = testing::rand_tensor({B, H, n, d}, 3 + n), g = testing::rand_tensor({B, H, n, d}, 4 + n);
        const Tensor bias = testing::rand_tensor({H, attention::etc_num_relative_ids(o)}, 5 + n);
        const Grads mine = with_grads(
            [&](const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& e) {
              return attention::etc_attention(a, b, c, o, e, pad);
            },
            q, k, v, bias, g);
        const Grads ref = with_grads(
            [&](const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& e) {
              return attention::etc_dense_reference(a, b, c, o, e, pad);
            },
            q, k, v, bias, g);
        CHECK_CLOSE(mine.out, ref.out, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dq, ref.dq, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dk, ref.dk, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dv, ref.dv, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dbias, ref.dbias, 1e-4, 1e-5);
        CHECK(testing::max_abs(mine.dbias) > 0.0f);
        const auto P = attention::etc_probabilities(q, k, v, o, bias, pad);
        CHECK_CLOSE(matmul(P.dense, v), mine.out, 1e-4, 1e-5);
        const Tensor pattern = attention::etc_pattern(o, B, H, n, pad);
        int64_t outside = 0;
        for (int64_t e = 0; e < pattern.numel(); ++e) outside += pattern.data()[e] == 0.0f && P.dense.data()[e] != 0.0f;
        CHECK(outside == 0);
      }
}

TEST_CASE("etc: with r >= n-1, zero biases and shared projections, ETC is full attention over [global; long]") {
  const int64_t n = 21;
  const Tensor q = testing::rand_tensor({2, 2, n, 8}, 80), k = testing::rand_tensor({2, 2, n, 8}, 81),
               v = testing::rand_tensor({2, 2, n, 8}, 82);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const EtcOptions o(4, n - 1, 3, causal);
    const Tensor zero = Tensor::zeros({2, attention::etc_num_relative_ids(o)});
    CHECK_CLOSE(attention::etc_attention(q, k, v, o, zero), attention::dense_attention(q, k, v, {causal, Tensor()}),
                1e-5, 1e-6);
    // One radius short of n-1 is no longer full attention (the first and last long tokens miss each other).
    const EtcOptions short_band(4, n - 4 - 2, 3, false);
    if (!causal)
      CHECK(testing::max_abs(attention::etc_attention(q, k, v, short_band, Tensor::zeros({2, 2 * 3 + 3})) -
                             attention::dense_attention(q, k, v)) > 1e-4f);
  }
  // The layer: shared projections, radius n, rel_std 0 -> the full layer with the same weights.
  Rng rng(83);
  attention::LayerConfig lc = testing::layer_config(8, 2, {"shared_qkv=true", "window=100", "rel_std=0"});
  auto layer = attention::find_scheme("etc").make_layer(lc, rng);
  auto* etc = dynamic_cast<attention::EtcLayer*>(layer.get());
  REQUIRE(etc != nullptr);
  CHECK(layer->parameters().size() == 9);  // 4 linear layers (weight, bias) + rel_bias
  const Tensor x = testing::rand_tensor({2, n, 8}, 84);
  const Tensor qx = attention::split_heads(etc->w_q.forward(x), 2), kx = attention::split_heads(etc->w_k.forward(x), 2),
               vx = attention::split_heads(etc->w_v.forward(x), 2);
  const Tensor full = etc->w_o.forward(attention::merge_heads(attention::dense_attention(qx, kx, vx)));
  CHECK_CLOSE(layer->forward(x), full, 1e-5, 1e-6);
}

TEST_CASE("etc: gradcheck of the kernel, the relative biases included") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const EtcOptions o(2, 2, 1, causal);
    const Tensor q = testing::rand_tensor({1, 2, 9, 3}, 20), k = testing::rand_tensor({1, 2, 9, 3}, 21),
                 v = testing::rand_tensor({1, 2, 9, 3}, 22),
                 bias = testing::rand_tensor({2, attention::etc_num_relative_ids(o)}, 25);
    const auto r = gradcheck(
        [&](const std::vector<Tensor>& x) { return attention::etc_attention(x[0], x[1], x[2], o, x[3]); },
        {q, k, v, bias});
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("etc: the global projections move only the global tokens' rows of the attention output") {
  Rng rng(30);
  attention::LayerConfig lc = testing::layer_config(8, 2, {"global_tokens=3", "window=2"});
  auto layer = attention::find_scheme("etc").make_layer(lc, rng);
  CHECK(layer->parameters().size() == 15);  // w_q, w_k, w_v, w_o, 3 global projections (weight, bias), rel_bias
  std::vector<bool> first_3(16, false);
  first_3[0] = first_3[1] = first_3[2] = true;
  CHECK(testing::rows_moved_by(*layer, testing::rand_tensor({1, 16, 8}, 31), "w_q_global") == first_3);
}

TEST_CASE("etc: memory grows linearly in n (slot storage and a G x n block, no n x n matrix)") {
  const EtcOptions o(4, 8, 4, false);
  const Tensor bias = Tensor::zeros({1, attention::etc_num_relative_ids(o)}).set_requires_grad();
  auto peak_at = [&](int64_t n) {
    return testing::peak_bytes_forward_backward(
        [&](const Tensor& q, const Tensor& k, const Tensor& v) { return attention::etc_attention(q, k, v, o, bias); }, n);
  };
  const double p1 = peak_at(2048), p2 = peak_at(4096);
  CHECK(p2 / p1 > 1.8);
  CHECK(p2 / p1 < 2.2);
  CHECK(p2 < 4.0 * 4096 * 4096 / 8);
}

TEST_CASE("etc: n must exceed global_tokens, in the kernel and the layer; the biases must be (H, V)") {
  const auto& s = attention::find_scheme("etc");
  const Tensor q = testing::rand_tensor({1, 1, 16, 4}, 60);
  CHECK_THROWS_WITH_AS(s.kernel(q, q, q, s.configure({"global_tokens=16"})), doctest::Contains("etc: n = 16 must be larger than global_tokens = 16 (the first `global_tokens` positions are the global tokens, the rest the long input)"),
                       core::Error);
  const EtcOptions o(2, 2, 1, false);
  CHECK_THROWS_WITH_AS(attention::etc_attention(q, q, q, o, Tensor::zeros({1, 3})),
                       doctest::Contains("etc: rel_bias must be (H, V) = (1,5)"), core::Error);
  Rng rng(1);
  attention::LayerConfig lc = testing::layer_config(8, 2, {"global_tokens=8"});
  auto layer = s.make_layer(lc, rng);
  CHECK_THROWS_WITH_AS(layer->forward(testing::rand_tensor({1, 8, 8}, 2)),
                       doctest::Contains("etc: n = 8 must be larger than global_tokens = 8 (the first `global_tokens` positions are the global tokens, the rest the long input)"), core::Error);
}

TEST_CASE("etc: the seed draws the kernel's relative biases (rel_std = 0: no biases, the seed no longer matters)") {
  const auto& s = attention::find_scheme("etc");
  const Tensor q = testing::rand_tensor({2, 2, 33, 8}, 70), k = testing::rand_tensor({2, 2, 33, 8}, 71),
               v = testing::rand_tensor({2, 2, 33, 8}, 72);
  CHECK(!testing::bit_equal(s.kernel(q, k, v, s.configure({"global_tokens=2"}, false, 3)),
                            s.kernel(q, k, v, s.configure({"global_tokens=2"}, false, 4))));
  CHECK(testing::bit_equal(s.kernel(q, k, v, s.configure({"rel_std=0"}, false, 3)),
                           s.kernel(q, k, v, s.configure({"rel_std=0"}, false, 4))));
}
