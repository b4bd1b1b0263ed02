// tests/test_etc.cpp — the ETC scheme: the four pieces (g2g, g2l, l2g, l2l band) and the relative ids, the bias
// columns reproduce the relative biases exactly, kernel vs the dense reference with the bias matrix and the
// pattern as mask (outputs and gradients of q, k, v and the biases; odd n, padding, no globals), the exactness
// check (r >= n-1, zero biases, shared projections == full attention), out == A @ v, gradcheck of the kernel and
// of the layer with its relative biases, global projections move only global rows, linear memory, bad
// settings, determinism of the seed. Causal no-leak: the conformance table (tests/test_schemes.cpp).
#include <algorithm>
#include <limits>

#include "attention/dense.h"
#include "attention/etc.h"
#include "tests/helpers.h"

using namespace core;
using attention::EtcOptions;

namespace {

EtcOptions options(int64_t globals, int64_t radius, int64_t clip, bool causal) {
  EtcOptions o;
  o.global_tokens = globals;
  o.window = radius;
  o.rel_clip = clip;
  o.causal = causal;
  return o;
}

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
  const EtcOptions o = options(2, 2, 1, false);
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
    const EtcOptions c = options(2, 2, 1, true);
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
      const EtcOptions o = options(3, 4, 2, causal);
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
        const EtcOptions o = options(G, 5, 3, causal);
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
    const EtcOptions o = options(4, n - 1, 3, causal);
    const Tensor zero = Tensor::zeros({2, attention::etc_num_relative_ids(o)});
    CHECK_CLOSE(attention::etc_attention(q, k, v, o, zero), attention::dense_attention(q, k, v, {causal, Tensor()}),
                1e-5, 1e-6);
    // One radius short of n-1 is no longer full attention (the first and last long tokens miss each other).
    const EtcOptions short_band = options(4, n - 4 - 2, 3, false);
    if (!causal)
      CHECK(testing::max_abs(attention::etc_attention(q, k, v, short_band, Tensor::zeros({2, 2 * 3 + 3})) -
                             attention::dense_attention(q, k, v)) > 1e-4f);
  }
  // The layer: shared projections, radius n, rel_std 0 -> the full layer with the same weights.
  Rng rng(83);
  attention::LayerConfig lc;
  lc.d_model = 8;
  lc.n_heads = 2;
  lc.set = {"shared_qkv=true", "window=100", "rel_std=0"};
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

TEST_CASE("etc: gradcheck of the kernel (with the biases) and of the layer with its parameters") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const EtcOptions o = options(2, 2, 1, causal);
    const Tensor q = testing::rand_tensor({1, 2, 9, 3}, 20), k = testing::rand_tensor({1, 2, 9, 3}, 21),
                 v = testing::rand_tensor({1, 2, 9, 3}, 22),
                 bias = testing::rand_tensor({2, attention::etc_num_relative_ids(o)}, 25);
    const auto r = gradcheck(
        [&](const std::vector<Tensor>& x) { return attention::etc_attention(x[0], x[1], x[2], o, x[3]); },
        {q, k, v, bias});
    INFO(r.message);
    CHECK(r.ok);

    Rng rng(23);
    attention::LayerConfig lc;
    lc.d_model = 4;
    lc.n_heads = 2;
    lc.causal = causal;
    lc.set = {"global_tokens=2", "window=2", "rel_clip=1"};
    auto layer = attention::find_scheme("etc").make_layer(lc, rng);
    CHECK(layer->parameters().size() == 15);  // w_q, w_k, w_v, w_o, 3 global projections (weight, bias), rel_bias
    Tensor x = testing::rand_tensor({2, 8, 4}, 24).clone().detach().set_requires_grad();
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

TEST_CASE("etc: the global projections move only the global tokens' rows of the attention output") {
  Rng rng(30);
  attention::LayerConfig lc;
  lc.d_model = 8;
  lc.n_heads = 2;
  lc.set = {"global_tokens=3", "window=2"};
  auto layer = attention::find_scheme("etc").make_layer(lc, rng);
  const Tensor x = testing::rand_tensor({1, 16, 8}, 31);
  const Tensor before = layer->forward(x);
  for (const auto& [name, p] : layer->named_parameters())
    if (name.rfind("w_q_global", 0) == 0)
      for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] += 0.5f;
  const Tensor after = layer->forward(x);
  for (int64_t i = 0; i < 16; ++i) {
    CAPTURE(i);
    CHECK(testing::bit_equal(slice(before, 1, i, i + 1), slice(after, 1, i, i + 1)) == (i >= 3));
  }
}

TEST_CASE("etc: memory grows linearly in n (slot storage and a G x n block, no n x n matrix)") {
  const EtcOptions o = options(4, 8, 4, false);
  auto peak_at = [&](int64_t n) {
    const Tensor q = testing::rand_tensor({1, 1, n, 8}, 50), k = testing::rand_tensor({1, 1, n, 8}, 51),
                 v = testing::rand_tensor({1, 1, n, 8}, 52);
    Tensor lq = q.clone().detach().set_requires_grad();
    Tensor bias = Tensor::zeros({1, attention::etc_num_relative_ids(o)}).set_requires_grad();
    memory::PeakScope scope;
    attention::etc_attention(lq, k, v, o, bias).backward(Tensor::ones(q.shape()));
    return static_cast<double>(scope.peak_above_start());
  };
  const double p1 = peak_at(2048), p2 = peak_at(4096);
  CHECK(p2 / p1 > 1.8);
  CHECK(p2 / p1 < 2.2);
  CHECK(p2 < 4.0 * 4096 * 4096 / 8);
}

TEST_CASE("etc: bad settings are rejected naming the key") {
  const auto& s = attention::find_scheme("etc");
  const Tensor q = testing::rand_tensor({1, 1, 16, 4}, 60);
  auto run = [&](const std::vector<std::string>& set) { return s.kernel(q, q, q, s.configure(set)); };
  CHECK_THROWS_WITH_AS(run({"global_tokens=-1"}), doctest::Contains("etc: setting global_tokens=-1 is out of range: it must be >= 0"), core::Error);
  CHECK_THROWS_WITH_AS(run({"global_tokens=16"}), doctest::Contains("etc: n = 16 must be larger than global_tokens = 16 (the first `global_tokens` positions are the global tokens, the rest the long input)"),
                       core::Error);
  CHECK_THROWS_WITH_AS(run({"window=-1"}), doctest::Contains("etc: setting window=-1 is out of range: it must be >= 0"), core::Error);
  CHECK_THROWS_WITH_AS(run({"rel_clip=-2"}), doctest::Contains("etc: setting rel_clip=-2 is out of range: it must be >= 0"), core::Error);
  CHECK_THROWS_WITH_AS(run({"rel_std=-0.5"}), doctest::Contains("etc: setting rel_std=-0.5 is out of range: it must be in [0, 1e6]"),
                       core::Error);
  CHECK_THROWS_WITH_AS(run({"rel_std=abc"}), doctest::Contains("etc: setting rel_std='abc' is not a finite number"), core::Error);
  CHECK_THROWS_WITH_AS(run({"shared_qkv=maybe"}), doctest::Contains("shared_qkv='maybe' is not true/false"), core::Error);
  const EtcOptions o = options(2, 2, 1, false);
  CHECK_THROWS_WITH_AS(attention::etc_attention(q, q, q, o, Tensor::zeros({1, 3})),
                       doctest::Contains("etc: rel_bias must be (H, V) = (1,5)"), core::Error);
  Rng rng(1);
  attention::LayerConfig lc;
  lc.d_model = 8;
  lc.n_heads = 2;
  lc.set = {"window=-3"};
  CHECK_THROWS_WITH_AS(s.make_layer(lc, rng), doctest::Contains("etc: setting window=-3 is out of range: it must be >= 0"), core::Error);
  lc.set = {"global_tokens=8"};
  auto layer = s.make_layer(lc, rng);
  CHECK_THROWS_WITH_AS(layer->forward(testing::rand_tensor({1, 8, 8}, 2)),
                       doctest::Contains("etc: n = 8 must be larger than global_tokens = 8 (the first `global_tokens` positions are the global tokens, the rest the long input)"), core::Error);
}

TEST_CASE("etc: deterministic kernel and layer; the seed draws the kernel's relative biases") {
  const auto& s = attention::find_scheme("etc");
  const Tensor q = testing::rand_tensor({2, 2, 33, 8}, 70), k = testing::rand_tensor({2, 2, 33, 8}, 71),
               v = testing::rand_tensor({2, 2, 33, 8}, 72);
  const attention::Config cfg = s.configure({"global_tokens=2"}, false, 3);
  CHECK(testing::bit_equal(s.kernel(q, k, v, cfg), s.kernel(q, k, v, s.configure({"global_tokens=2"}, false, 3))));
  CHECK(!testing::bit_equal(s.kernel(q, k, v, cfg), s.kernel(q, k, v, s.configure({"global_tokens=2"}, false, 4))));
  // rel_std=0: the seed no longer matters
  CHECK(testing::bit_equal(s.kernel(q, k, v, s.configure({"rel_std=0"}, false, 3)),
                           s.kernel(q, k, v, s.configure({"rel_std=0"}, false, 4))));
  attention::LayerConfig lc;
  lc.d_model = 8;
  lc.n_heads = 2;
  Rng r1(4), r2(4);
  const Tensor x = testing::rand_tensor({1, 20, 8}, 73);
  CHECK(testing::bit_equal(s.make_layer(lc, r1)->forward(x), s.make_layer(lc, r2)->forward(x)));
}
