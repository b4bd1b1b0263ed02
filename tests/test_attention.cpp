// tests/test_attention.cpp — the dense reference and the scheme interface: masks, fully masked rows,
// out == A @ v, causal no-leak, the registry, settings parsing, and the projected layer's gradients.
#include "attention/dense.h"
#include "tests/helpers.h"

using namespace core;
using attention::DenseOptions;

namespace {
// Naive triple loop: softmax(q kᵀ/√d + mask) v for one (b, h), written independently of the ops.
Tensor naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, const Tensor& pad) {
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), m = k.size(2), d = q.size(3);
  Tensor out = Tensor::zeros(q.shape());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> s(static_cast<size_t>(m));
        double mx = -1e300;
        bool any = false;
        for (int64_t j = 0; j < m; ++j) {
          const bool blocked = (causal && j > i) || (pad.defined() && pad.at({b, j}) == 0.0f);
          if (blocked) {
            s[j] = -1e300;
            continue;
          }
          double dot = 0;
          for (int64_t t = 0; t < d; ++t) dot += q.at({b, h, i, t}) * k.at({b, h, j, t});
          s[j] = dot / std::sqrt(static_cast<double>(d));
          mx = std::max(mx, s[j]);
          any = true;
        }
        if (!any) continue;  // fully masked row: zeros
        double z = 0;
        for (int64_t j = 0; j < m; ++j) z += s[j] > -1e299 ? std::exp(s[j] - mx) : 0.0;
        for (int64_t j = 0; j < m; ++j) {
          const double p = s[j] > -1e299 ? std::exp(s[j] - mx) / z : 0.0;
          for (int64_t t = 0; t < d; ++t) out.at({b, h, i, t}) += static_cast<float>(p * v.at({b, h, j, t}));
        }
      }
  return out;
}
}  // namespace

TEST_CASE("dense: matches a naive loop, with causal and padding masks") {
  const Tensor q = testing::rand_tensor({2, 3, 7, 5}, 1), k = testing::rand_tensor({2, 3, 7, 5}, 2),
               v = testing::rand_tensor({2, 3, 7, 5}, 3);
  const Tensor pad = Tensor::from_vector({2, 7}, {1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1});
  for (bool causal : {false, true})
    for (bool padded : {false, true}) {
      CAPTURE(causal);
      CAPTURE(padded);
      const Tensor p = padded ? pad : Tensor();
      CHECK_CLOSE(attention::dense_attention(q, k, v, {causal, p}), naive_attention(q, k, v, causal, p), 1e-5, 1e-6);
    }
}

TEST_CASE("dense: a fully masked row gives zeros and zero gradients, never NaN") {
  Tensor q = testing::rand_tensor({1, 1, 3, 4}, 4), k = testing::rand_tensor({1, 1, 3, 4}, 5),
         v = testing::rand_tensor({1, 1, 3, 4}, 6);
  for (Tensor* t : {&q, &k, &v}) t->set_requires_grad();
  const Tensor pad = Tensor::from_vector({1, 3}, {0, 1, 1});  // causal: row 0 may only see key 0, padded away
  const Tensor out = attention::dense_attention(q, k, v, {true, pad});
  for (int t = 0; t < 4; ++t) CHECK(out.at({0, 0, 0, t}) == 0.0f);
  CHECK(testing::all_finite(out));
  sum(out).backward();
  for (Tensor* t : {&q, &k, &v}) CHECK(testing::all_finite(t->grad()));
  CHECK(q.grad().at({0, 0, 0, 0}) == 0.0f);
}

TEST_CASE("dense: out == A @ v, gradients vs gradcheck") {
  const Tensor q = testing::rand_tensor({1, 2, 5, 3}, 7), k = testing::rand_tensor({1, 2, 5, 3}, 8),
               v = testing::rand_tensor({1, 2, 5, 3}, 9);
  const Tensor A = attention::dense_probabilities(q, k, {true, Tensor()});
  CHECK_CLOSE(attention::dense_attention(q, k, v, {true, Tensor()}), matmul(A, v), 1e-6, 1e-7);
  for (bool causal : {false, true}) {
    auto f = [causal](const std::vector<Tensor>& x) { return attention::dense_attention(x[0], x[1], x[2], {causal, Tensor()}); };
    const auto r = gradcheck(f, {q, k, v});
    INFO(r.message);
    CHECK(r.ok);
  }
}

namespace {
// The reference composition attention_probabilities replaces: four recorded ops, each holding its input.
Tensor composed_probabilities(const Tensor& q, const Tensor& k, const DenseOptions& o) {
  Tensor s = matmul(q, k, false, true) / std::sqrt(static_cast<float>(q.size(-1)));  // (B, H, n, m)
  if (o.causal || o.key_padding_mask.defined())
    s = masked_fill(s, attention::blocked_mask(q.size(0), q.size(2), k.size(2), o),
                    -std::numeric_limits<float>::infinity());
  return softmax(s, -1);
}
}  // namespace

TEST_CASE("attention_probabilities: equals scale-mask-softmax from separate ops; gradcheck with every mask, m != n") {
  // batch 1 has every key padded: all its rows are fully masked
  const Tensor pad = Tensor::from_vector({2, 6}, {1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0});
  for (int64_t m : {int64_t(6), int64_t(4)})
    for (bool causal : {false, true})
      for (bool padded : {false, true}) {
        CAPTURE(m);
        CAPTURE(causal);
        CAPTURE(padded);
        const DenseOptions o{causal, padded ? slice(pad, 1, 0, m) : Tensor()};
        // d = 16: 1/√d = 1/4 is exact, so the fused op must give the very same bits as the composition
        const Tensor q = testing::rand_tensor({2, 2, 5, 16}, 20), k = testing::rand_tensor({2, 2, m, 16}, 21);
        const Tensor P = attention::dense_probabilities(q, k, o);
        CHECK(P.shape() == Shape{2, 2, 5, m});
        CHECK(testing::bit_equal(P, composed_probabilities(q, k, o)));
        CHECK(testing::all_finite(P));
        if (padded)
          for (int64_t t = 0; t < 2 * 5 * m; ++t) CHECK(P.data()[2 * 5 * m + t] == 0.0f);  // batch 1: all zeros

        // gradients: gradcheck, and equal to the composition's (d = 3: scale 1/√3 is not exact)
        const Tensor q3 = testing::rand_tensor({2, 2, 5, 3}, 22), k3 = testing::rand_tensor({2, 2, m, 3}, 23);
        const float scale = 0.7f;
        auto f = [&](const std::vector<Tensor>& x) { return attention::attention_probabilities(x[0], x[1], scale, o); };
        const auto r = gradcheck(f, {q3, k3});
        INFO(r.message);
        CHECK(r.ok);
        Tensor qa = q3.clone(), ka = k3.clone(), qb = q3.clone(), kb = k3.clone();
        for (Tensor* t : {&qa, &ka, &qb, &kb}) t->set_requires_grad();
        const Tensor G = testing::rand_tensor({2, 2, 5, m}, 24);
        sum(attention::dense_probabilities(qa, ka, o) * G).backward();
        sum(composed_probabilities(qb, kb, o) * G).backward();
        CHECK_CLOSE(qa.grad(), qb.grad(), 1e-5, 1e-6);
        CHECK_CLOSE(ka.grad(), kb.grad(), 1e-5, 1e-6);
        if (padded) {  // fully masked rows: zero gradient into their queries, none from them into the keys
          for (int64_t t = 0; t < 2 * 5 * 3; ++t) CHECK(qa.grad().data()[2 * 5 * 3 + t] == 0.0f);
          for (int64_t t = 0; t < 2 * m * 3; ++t) CHECK(ka.grad().data()[2 * m * 3 + t] == 0.0f);
        }
      }
  const Tensor q43 = Tensor::zeros({1, 2, 4, 3});
  CHECK_THROWS_WITH_AS(attention::attention_probabilities(q43, Tensor::zeros({1, 2, 4, 5}), 1.0f),
                       doctest::Contains("must agree on B, H and d"), core::Error);
  CHECK_THROWS_WITH_AS(attention::attention_probabilities(Tensor::zeros({2, 4, 3}), Tensor::zeros({2, 4, 3}), 1.0f),
                       doctest::Contains("got q (2,4,3)"), core::Error);
}

TEST_CASE("dense: forward + backward keeps at most three (B, H, n, m) buffers alive (memory accounting)") {
  // A graph built from separate ops holds S, S/√d, the masked S and A until backward ends, and backward adds
  // dA and dS on top: five or more n×m buffers. Fused scale-mask-softmax keeps A only; the peak is A, dA and dS.
  const int64_t B = 1, H = 2, n = 256, d = 16;
  for (int64_t m : {int64_t(256), int64_t(192)})
    for (bool masked : {false, true}) {
      CAPTURE(m);
      CAPTURE(masked);
      Tensor q = testing::rand_tensor({B, H, n, d}, 30), k = testing::rand_tensor({B, H, m, d}, 31),
             v = testing::rand_tensor({B, H, m, d}, 32);
      for (Tensor* t : {&q, &k, &v}) t->set_requires_grad();
      const Tensor g = testing::rand_tensor({B, H, n, d}, 33);
      Tensor pad;
      if (masked) {
        pad = Tensor::ones({B, m});
        for (int64_t j = m - 10; j < m; ++j) pad.data()[j] = 0.0f;
      }
      const DenseOptions o{masked, pad};
      const size_t scores = sizeof(float) * B * H * n * m, rows = sizeof(float) * B * H * n * d;
      // room for 3 score buffers, plus small change: q, k, v grads, out, out * g and their gradients
      const size_t bound = 3 * scores + 10 * rows;
      auto peak_of = [&](auto probabilities) {
        for (Tensor* t : {&q, &k, &v}) t->zero_grad();
        memory::PeakScope scope;
        {
          const Tensor out = matmul(probabilities(q, k, o), v);  // (B, H, n, d)
          sum(out * g).backward();
        }
        return scope.peak_above_start();
      };
      const size_t fused = peak_of(attention::dense_probabilities);
      const size_t composed = peak_of(composed_probabilities);
      INFO("peak fused ", fused, " B, composed ", composed, " B, bound ", bound, " B (one n×m buffer ", scores, " B)");
      CHECK(fused <= bound);
      CHECK(composed > bound);  // the bound can fail: it does for the composition
      CHECK(fused >= 2 * scores);  // A and dA at least: the counter does see the n×m buffers
    }
}

TEST_CASE("dense: causal outputs up to t are bit-identical when later tokens change") {
  const Tensor q = testing::rand_tensor({1, 2, 10, 4}, 10), k = testing::rand_tensor({1, 2, 10, 4}, 11),
               v = testing::rand_tensor({1, 2, 10, 4}, 12);
  const Tensor out = attention::dense_attention(q, k, v, {true, Tensor()});
  const int64_t t = 5;
  Tensor q2 = q.clone(), k2 = k.clone(), v2 = v.clone();
  for (Tensor* x : {&q2, &k2, &v2})
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = t + 1; i < 10; ++i)
        for (int64_t c = 0; c < 4; ++c) x->at({0, h, i, c}) += 3.0f;
  const Tensor out2 = attention::dense_attention(q2, k2, v2, {true, Tensor()});
  CHECK(testing::bit_equal(slice(out, 2, 0, t + 1), slice(out2, 2, 0, t + 1)));
  CHECK_FALSE(testing::bit_equal(slice(out, 2, t + 1, 10), slice(out2, 2, t + 1, 10)));
}

TEST_CASE("dense: errors name the shapes") {
  const Tensor q = Tensor::zeros({1, 2, 4, 3});
  CHECK_THROWS_WITH_AS(attention::dense_attention(Tensor::zeros({2, 4, 3}), q, q), doctest::Contains("q must be (B, H, n, d), got (2,4,3)"),
                       core::Error);
  CHECK_THROWS_WITH_AS(attention::dense_attention(q, q, Tensor::zeros({1, 2, 5, 3})),
                       doctest::Contains("must have the same shape"), core::Error);
  CHECK_THROWS_WITH_AS(attention::dense_attention(q, q, q, {false, Tensor::ones({1, 5})}),
                       doctest::Contains("key_padding_mask must be (B, m) = (1,4), got (1,5)"), core::Error);
}

TEST_CASE("registry: full is registered; unknown names and keys are clear errors") {
  const auto& full = attention::find_scheme("full");
  CHECK(full.supports_causal());
  CHECK(full.has_pattern());
  bool listed = false;
  for (const auto* s : attention::all_schemes()) listed = listed || s->name() == "full";
  CHECK(listed);
  CHECK_THROWS_WITH_AS(attention::find_scheme("nope"), doctest::Contains("unknown scheme 'nope' (known: full"), core::Error);
  CHECK_THROWS_WITH_AS(full.configure({"window=3"}), doctest::Contains("full: unknown setting 'window'"), core::Error);
  CHECK_THROWS_WITH_AS(full.configure({"oops"}), doctest::Contains("not of the form key=value"), core::Error);

  const attention::Config cfg = full.configure({}, true);
  const Tensor q = testing::rand_tensor({1, 1, 4, 2}, 13);
  const Tensor pat = full.pattern(q.shape(), cfg);
  CHECK(pat.shape() == Shape{1, 1, 4, 4});
  CHECK(pat.at({0, 0, 1, 0}) == 1.0f);
  CHECK(pat.at({0, 0, 1, 2}) == 0.0f);
  const Tensor A = full.effective_attention(q, q, q, cfg);
  CHECK_CLOSE(full.kernel(q, q, q, cfg), matmul(A, q), 1e-6, 1e-7);
}

TEST_CASE("settings: defaults, typed getters and their errors") {
  const std::vector<attention::HyperParam> spec = {{"window", "32", ""}, {"global", "0,1", ""}, {"tau", "0.5", ""},
                                                   {"shared", "true", ""}};
  const attention::Settings s("demo", spec, {"window=8", "global="});
  CHECK(s.get_int("window") == 8);
  CHECK(s.get_int_list("global").empty());
  CHECK(s.get_float("tau") == 0.5);
  CHECK(s.get_bool("shared"));
  const attention::Settings bad("demo", spec, {"window=eight", "tau=x", "global=1,,2", "shared=maybe"});
  CHECK_THROWS_WITH_AS(bad.get_int("window"), "demo: setting window='eight' is not an integer", core::Error);
  CHECK_THROWS_WITH_AS(bad.get_float("tau"), doctest::Contains("demo: setting tau='x' is not a finite number"), core::Error);
  CHECK_THROWS_WITH_AS(bad.get_int_list("global"), doctest::Contains("comma-separated"), core::Error);
  CHECK_THROWS_WITH_AS(bad.get_bool("shared"), doctest::Contains("true/false"), core::Error);
}

TEST_CASE("layer: the projected full-attention layer has four projections and checks the width of x") {
  // (its gradcheck through x and every parameter, causal and not: the conformance table, tests/test_schemes.cpp)
  Rng rng(14);
  attention::LayerConfig lc = testing::layer_config(6, 2, {}, true);
  auto layer = attention::find_scheme("full").make_layer(lc, rng);
  CHECK(layer->parameters().size() == 8);  // w_q, w_k, w_v, w_o: weight + bias each
  CHECK(layer->forward(testing::rand_tensor({2, 4, 6}, 15)).shape() == Shape{2, 4, 6});
  CHECK_THROWS_WITH_AS(layer->forward(Tensor::zeros({2, 4, 5})), doctest::Contains("x must be (B, n, 6)"), core::Error);
}
