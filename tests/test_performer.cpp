// tests/test_performer.cpp — FAVOR+ (attention/performer.h): the kernel against its own materialised
// Â = D⁻¹ phi(Q) phi(K)ᵀ (outputs and gradients), the approximation of softmax attention improving with m,
// orthogonal features beating iid ones, the random-feature matrix W, the stabiliser (large inputs, and the
// causal case never looking at future keys), gradcheck of the kernel, redrawing, padding, W's shape, what the seed
// changes. The layer's gradcheck, generic bad settings and same-seed determinism: the conformance table
// (tests/test_schemes.cpp).
#include <cmath>

#include "attention/dense.h"
#include "attention/performer.h"
#include "tests/helpers.h"

using namespace core;
using testing::Grads;
using testing::with_grads;

namespace {

// mean |Â - A| against exact softmax attention, averaged over feature seeds 0..seeds-1.
double mean_error(const Tensor& q, const Tensor& k, int64_t m, bool orthogonal, int seeds, bool causal = false) {
  const Tensor A = attention::dense_probabilities(q, k, {causal, Tensor()});
  double total = 0.0;
  for (int s = 0; s < seeds; ++s) {
    const Tensor W = attention::draw_random_features(m, q.size(3), orthogonal, 1000 + s);
    total += mean(abs(attention::performer_attention_matrix(q, k, W, causal) - A)).item();
  }
  return total / seeds;
}

}  // namespace

TEST_CASE("performer: the kernel equals its materialised Â, outputs and gradients, causal and not") {
  const Tensor q = testing::rand_tensor({2, 2, 29, 8}, 1), k = testing::rand_tensor({2, 2, 29, 8}, 2),
               v = testing::rand_tensor({2, 2, 29, 8}, 3), g = testing::rand_tensor({2, 2, 29, 8}, 4);
  const Tensor W = attention::draw_random_features(32, 8, true, 5);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const Grads kernel = with_grads(
        [&](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::performer_attention(a, b, c, W, causal); },
        q, k, v, g);
    const Grads dense = with_grads(
        [&](const Tensor& a, const Tensor& b, const Tensor& c) {
          return matmul(attention::performer_attention_matrix(a, b, W, causal), c);
        },
        q, k, v, g);
    CHECK_SAME_GRADS(kernel, dense, 1e-4, 1e-5);
    // Â is a proper attention matrix: non-negative rows summing to 1 (up to eps), zero above the diagonal
    const Tensor A = attention::performer_attention_matrix(q, k, W, causal);
    CHECK(testing::max_abs(sum(A, -1) - 1.0f) < 1e-4f);
    bool nonneg = true, upper_zero = true;
    for (int64_t r = 0; r < 4; ++r)
      for (int64_t i = 0; i < 29; ++i)
        for (int64_t j = 0; j < 29; ++j) {
          const float a = A.data()[(r * 29 + i) * 29 + j];
          nonneg = nonneg && a >= 0.0f;
          if (causal && j > i) upper_zero = upper_zero && a == 0.0f;
        }
    CHECK(nonneg);
    CHECK(upper_zero);
  }
}

TEST_CASE("performer: the stabilised kernel equals the plain formula phi(q)·phi(k) where that does not overflow") {
  // Unstabilised: Â_ij = phi(q_i)·phi(k_j) / Σ_j' phi(q_i)·phi(k_j'), straight from positive_random_features.
  const Tensor q = testing::rand_tensor({1, 2, 13, 4}, 6), k = testing::rand_tensor({1, 2, 13, 4}, 7);
  const Tensor W = attention::draw_random_features(16, 4, false, 8);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    Tensor scores = matmul(attention::positive_random_features(q, W), attention::positive_random_features(k, W), false, true);
    if (causal) {
      Tensor lower = Tensor::zeros({1, 1, 13, 13});
      for (int64_t i = 0; i < 13; ++i)
        for (int64_t j = 0; j <= i; ++j) lower.at({0, 0, i, j}) = 1.0f;
      scores = scores * lower;
    }
    const Tensor plain = scores / sum(scores, -1, true);
    CHECK_CLOSE(attention::performer_attention_matrix(q, k, W, causal), plain, 1e-4, 1e-6);
  }
}

TEST_CASE("performer: phi(q)·phi(k) is an unbiased estimate of exp(q·k/√d)") {
  const int64_t d = 4;
  const Tensor q = testing::rand_tensor({1, 1, 3, d}, 9, -0.7f, 0.7f), k = testing::rand_tensor({1, 1, 3, d}, 10, -0.7f, 0.7f);
  const Tensor exact = exp(matmul(q, k, false, true) / 2.0f);  // √d = 2
  for (bool orthogonal : {false, true}) {
    CAPTURE(orthogonal);
    Tensor avg = Tensor::zeros({1, 1, 3, 3});
    const int draws = 20;
    for (int s = 0; s < draws; ++s) {
      const Tensor W = attention::draw_random_features(1024, d, orthogonal, 50 + s);
      avg = avg + matmul(attention::positive_random_features(q, W), attention::positive_random_features(k, W), false, true);
    }
    CHECK_CLOSE(avg / float(draws), exact, 0.03, 0.0);  // 20 x 1024 features: a few tenths of a percent typical
  }
}

TEST_CASE("performer: the error against softmax attention shrinks with m, and stays below a bound") {
  // d = 8, q and k ~ U(-0.8, 0.8): mean entry of A is 1/64 = 0.0156.
  const Tensor q = testing::rand_tensor({1, 2, 64, 8}, 11, -0.8f, 0.8f), k = testing::rand_tensor({1, 2, 64, 8}, 12, -0.8f, 0.8f);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const double e16 = mean_error(q, k, 16, true, 4, causal), e256 = mean_error(q, k, 256, true, 4, causal),
                 e1024 = mean_error(q, k, 1024, true, 2, causal);
    INFO("mean |Â - A|: m=16 " << e16 << ", m=256 " << e256 << ", m=1024 " << e1024);
    CHECK(e256 < 0.6 * e16);    // ~1/√m would be 0.25
    CHECK(e1024 < 0.8 * e256);  // ~1/√m would be 0.5
    CHECK(e256 < 0.002);        // < 13 % of a mean entry
    CHECK(e1024 < 0.001);       // < 6.4 %
  }
}

TEST_CASE("performer: orthogonal features approximate better than iid ones on average") {
  const Tensor q = testing::rand_tensor({1, 2, 48, 16}, 13, -0.9f, 0.9f), k = testing::rand_tensor({1, 2, 48, 16}, 14, -0.9f, 0.9f);
  for (int64_t m : {16, 64}) {
    CAPTURE(m);
    const double iid = mean_error(q, k, m, false, 12), orth = mean_error(q, k, m, true, 12);
    INFO("iid " << iid << ", orthogonal " << orth);
    CHECK(orth < iid);
  }
}

TEST_CASE("performer: the random features W") {
  const int64_t d = 8, m = 20;  // two full orthogonal blocks and a cut one
  const Tensor W = attention::draw_random_features(m, d, true, 15);
  REQUIRE(W.shape() == Shape{m, d});
  CHECK(testing::bit_equal(W, attention::draw_random_features(m, d, true, 15)));
  CHECK_FALSE(testing::bit_equal(W, attention::draw_random_features(m, d, true, 16)));
  const Tensor G = matmul(W, W, false, true);  // (m, m) Gram matrix
  double max_in_block = 0.0;
  std::vector<double> norms;
  for (int64_t i = 0; i < m; ++i) {
    norms.push_back(std::sqrt(G.at({i, i})));
    for (int64_t j = 0; j < m; ++j)
      if (i != j && i / d == j / d) max_in_block = std::max(max_in_block, std::fabs(double(G.at({i, j}))) / G.at({i, i}));
  }
  CHECK(max_in_block < 1e-5);  // rows of one block are orthogonal
  // across blocks they are not (independent blocks)
  CHECK(std::fabs(G.at({0, d})) > 1e-3f);
  // row norms are chi_d-distributed, not all equal to √d
  double lo = 1e9, hi = 0;
  for (double x : norms) lo = std::min(lo, x), hi = std::max(hi, x);
  CHECK(hi - lo > 0.5);
  // second moments: E‖w‖² = d, for orthogonal and iid rows alike (average over many rows)
  for (bool orthogonal : {false, true}) {
    const Tensor big = attention::draw_random_features(4096, d, orthogonal, 17);
    const double mean_norm2 = sum(square(big)).item() / 4096.0;
    CAPTURE(orthogonal);
    CHECK(std::fabs(mean_norm2 - d) < 0.3);
  }
  // iid rows are not orthogonal within a block
  const Tensor Wi = attention::draw_random_features(m, d, false, 15);
  CHECK(std::fabs(matmul(Wi, Wi, false, true).at({0, 1})) > 1e-3f);
  CHECK(attention::feature_seed(7, 0) == 7);
  CHECK(attention::feature_seed(7, 1) != attention::feature_seed(7, 2));
}

TEST_CASE("performer: large inputs stay finite thanks to the stabiliser (the plain features underflow)") {
  const Tensor q = testing::rand_tensor({1, 2, 16, 8}, 18) * 25.0f, k = testing::rand_tensor({1, 2, 16, 8}, 19) * 25.0f;
  const Tensor v = testing::rand_tensor({1, 2, 16, 8}, 20);
  const Tensor W = attention::draw_random_features(32, 8, true, 21);
  // exp(w·x' - ‖x'‖²/2) with ‖x'‖² in the thousands: every feature of a row is 0, the plain normaliser 0/0
  const Tensor plain = attention::positive_random_features(q, W);
  CHECK(testing::max_abs(plain) == 0.0f);
  // the stabilised rows keep their largest entry at exactly 1/√m
  const Tensor stable = attention::favor_query_features(q, W);
  CHECK(testing::all_finite(stable));
  CHECK(testing::max_abs(max(stable, -1) - 1.0f / std::sqrt(32.0f)) < 1e-7f);
  // At this scale some rows' normalisers underflow float32 (the features of q and of the keys peak at different
  // l): the kernel refuses them in one line naming the scheme, rather than print a row of zeros. Where it answers,
  // the rows sum to 1 and out == Â v.
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    try {
      const Tensor out = attention::performer_attention(q, k, v, W, causal);
      const Tensor A = attention::performer_attention_matrix(q, k, W, causal);
      CHECK(testing::all_finite(out));
      CHECK(testing::max_abs(sum(A, -1) - 1.0f) < 1e-5f);
      CHECK_CLOSE(out, matmul(A, v), 1e-4, 1e-5);
    } catch (const core::Error& e) {
      CHECK(testing::printable_line(e.what()));
      CHECK(std::string(e.what()).rfind("performer: the normaliser of query row", 0) == 0);
    }
  }
}

TEST_CASE("performer: rows of Â sum to 1 at large input norms, kernel and Â agree, causal and not (regression)") {
  // The user's report: q, k, v ~ 6·N(0, 1), (1, 2, 40, 16). The stabilised normalisers go down to ~1e-12, and the
  // old fixed eps = 1e-12 added to them took up to 62% of a row (causal: 99.8%; outputs collapsed to 0).
  Rng rng(2024);
  const Tensor q = randn({1, 2, 40, 16}, rng) * 6.0f, k = randn({1, 2, 40, 16}, rng) * 6.0f;
  const Tensor v = randn({1, 2, 40, 16}, rng), g = randn({1, 2, 40, 16}, rng);
  const auto& s = attention::find_scheme("performer");
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const attention::Config cfg = s.configure({}, causal, 0);
    const Tensor A = s.effective_attention(q, k, v, cfg);  // (1,2,40,40)
    CHECK(testing::max_abs(sum(A, -1) - 1.0f) < 1e-5f);     // every row is a probability row
    CHECK(-testing::max_abs(A - abs(A)) == 0.0f);  // no negative entry
    // the kernel applies this Â, and its gradients are those of Â v
    const Grads kern = with_grads([&](const Tensor& a, const Tensor& b, const Tensor& c) { return s.kernel(a, b, c, cfg); },
                                      q, k, v, g);
    const Grads mat = with_grads(
        [&](const Tensor& a, const Tensor& b, const Tensor& c) { return matmul(s.effective_attention(a, b, c, cfg), c); },
        q, k, v, g);
    CHECK_CLOSE(kern.out, mat.out, 1e-4, 1e-5);
    CHECK_CLOSE(kern.dv, mat.dv, 1e-4, 1e-5);
    CHECK_CLOSE(kern.dq, mat.dq, 1e-3, 1e-4);
    CHECK_CLOSE(kern.dk, mat.dk, 1e-3, 1e-4);
  }
  // eps only guards a row that sees no key: its value does not change a row that sees one
  const attention::Config big = s.configure({"eps=1"}, false, 0);
  CHECK(testing::bit_equal(s.kernel(q, k, v, big), s.kernel(q, k, v, s.configure({}, false, 0))));
}

TEST_CASE("performer: exponents that overflow float32 and non-finite inputs are refused in one line") {
  const Tensor W = attention::draw_random_features(16, 8, true, 3);
  const Tensor v = testing::rand_tensor({1, 1, 6, 8}, 4);
  Tensor big = testing::rand_tensor({1, 1, 6, 8}, 5) * 1e20f;  // ‖x'‖² overflows
  Tensor nan = testing::rand_tensor({1, 1, 6, 8}, 6);
  nan.data()[9] = std::nanf("");
  for (bool causal : {false, true})
    for (const Tensor* bad : {&big, &nan}) {
      CAPTURE(causal);
      const Tensor ok = testing::rand_tensor({1, 1, 6, 8}, 7);
      for (int which = 0; which < 2; ++which) {
        const Tensor& q = which == 0 ? *bad : ok;
        const Tensor& k = which == 0 ? ok : *bad;
        try {
          (void)attention::performer_attention(q, k, v, W, causal);
          FAIL("a non-finite exponent was not refused");
        } catch (const core::Error& e) {
          CHECK(testing::printable_line(e.what()));
          CHECK(std::string(e.what()).rfind("performer: ", 0) == 0);
        }
      }
    }
}

TEST_CASE("performer: causal rows never see future keys, however large (no sequence-wide key maximum)") {
  const int64_t n = 24, t = 10;
  const Tensor q = testing::rand_tensor({1, 2, n, 8}, 22), k = testing::rand_tensor({1, 2, n, 8}, 23),
               v = testing::rand_tensor({1, 2, n, 8}, 24);
  const auto& s = attention::find_scheme("performer");
  const attention::Config cfg = s.configure({"features=32"}, true, 25);
  const Tensor out = s.kernel(q, k, v, cfg);
  // A future key with a huge norm: a maximum over all keys would be set by it and would rescale (here:
  // underflow) every earlier key's features — the outputs up to t would change.
  Tensor k2 = k.clone(), v2 = v.clone();
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t c = 0; c < 8; ++c) {
      k2.at({0, h, n - 1, c}) = 40.0f * (c % 2 ? 1.0f : -1.0f);
      v2.at({0, h, t + 3, c}) += 5.0f;
    }
  const Tensor out2 = s.kernel(q, k2, v2, cfg);
  CHECK(testing::all_finite(out2));
  CHECK(testing::bit_equal(slice(out, 2, 0, t + 1), slice(out2, 2, 0, t + 1)));
  CHECK_FALSE(testing::bit_equal(slice(out, 2, t + 1, n), slice(out2, 2, t + 1, n)));
  // and no gradient reaches future tokens from rows <= t
  Tensor lq = q.clone(), lk = k2.clone(), lv = v2.clone();
  for (Tensor* x : {&lq, &lk, &lv}) x->set_requires_grad();
  sum(slice(s.kernel(lq, lk, lv, cfg), 2, 0, t + 1)).backward();
  for (Tensor* x : {&lq, &lk, &lv})
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t j = t + 1; j < n; ++j)
        for (int64_t c = 0; c < 8; ++c) CHECK(x->grad().at({0, h, j, c}) == 0.0f);
  CHECK(testing::all_finite(lk.grad()));
  CHECK(testing::max_abs(lk.grad()) > 0.0f);
}

TEST_CASE("performer: gradcheck of the kernel, causal and not") {
  const Tensor q = testing::rand_tensor({1, 2, 5, 3}, 26, -1.0f, 1.0f), k = testing::rand_tensor({1, 2, 5, 3}, 27, -1.0f, 1.0f),
               v = testing::rand_tensor({1, 2, 5, 3}, 28);
  const Tensor W = attention::draw_random_features(8, 3, true, 29);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const auto r = testing::gradcheck_qkv(
        [&W, causal](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::performer_attention(a, b, c, W, causal); },
        q, k, v);
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.checked == 3 * q.numel());
  }
}

TEST_CASE("performer: the layer redraws its features on request and every N training steps, never in eval") {
  const auto& scheme = attention::find_scheme("performer");
  attention::LayerConfig lc = testing::layer_config(8, 2, {"features=16", "redraw=2"});
  lc.seed = 3;
  Rng rng(32);
  auto base = scheme.make_layer(lc, rng);
  auto* layer = dynamic_cast<attention::PerformerLayer*>(base.get());
  REQUIRE(layer != nullptr);
  const Tensor x = testing::rand_tensor({1, 6, 8}, 33);
  const Tensor W0 = layer->features(4);
  CHECK(testing::bit_equal(W0, attention::draw_random_features(16, 4, true, 3)));  // draw 0 = the layer's seed
  const Tensor y0 = layer->forward(x);  // training call 1: draw 0
  const Tensor y1 = layer->forward(x);  // call 2: draw 0
  CHECK(layer->draws() == 0);
  CHECK(testing::bit_equal(y0, y1));
  const Tensor y2 = layer->forward(x);  // call 3: redraws first
  CHECK(layer->draws() == 1);
  CHECK_FALSE(testing::bit_equal(y1, y2));
  CHECK(testing::bit_equal(layer->features(4), attention::draw_random_features(16, 4, true, attention::feature_seed(3, 1))));
  layer->eval();
  for (int i = 0; i < 5; ++i) layer->forward(x);
  CHECK(layer->draws() == 1);  // eval never redraws
  layer->redraw();             // on request
  CHECK(layer->draws() == 2);
  CHECK_FALSE(testing::bit_equal(layer->features(4), W0));
  // a second layer built the same way goes through the same draws
  Rng rng2(32);
  auto other = scheme.make_layer(lc, rng2);
  auto* layer2 = dynamic_cast<attention::PerformerLayer*>(other.get());
  layer2->redraw();
  layer2->redraw();
  CHECK(testing::bit_equal(layer2->features(4), layer->features(4)));
  // the draw and the training-call count are buffers: writing them back (a checkpoint's restore) puts the layer
  // back on that draw and that redraw schedule
  const auto buffers = layer->named_buffers();
  REQUIRE(buffers.size() == 2);
  CHECK(buffers[0].first == "draw");
  CHECK(buffers[1].first == "training_calls");
  CHECK(buffers[0].second.item() == 2.0f);
  CHECK(buffers[1].second.item() == 3.0f);  // three training calls, none in eval
  buffers[0].second.data()[0] = 0.0f;
  CHECK(layer->draws() == 0);
  CHECK(testing::bit_equal(layer->features(4), W0));
  layer->train();
  CHECK(testing::bit_equal(layer->forward(x), y0));  // call 4 (not a multiple of 2): no redraw, draw 0 again
}

TEST_CASE("performer: padding keys are ignored") {
  const Tensor q = testing::rand_tensor({2, 2, 9, 4}, 34), k = testing::rand_tensor({2, 2, 9, 4}, 35),
               v = testing::rand_tensor({2, 2, 9, 4}, 36);
  const Tensor pad = Tensor::from_vector({2, 9}, {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1});
  const Tensor W = attention::draw_random_features(16, 4, true, 37);
  const Tensor out = attention::performer_attention(q, k, v, W, false, attention::kPerformerEps, pad);
  const Tensor ref = attention::performer_attention(slice(q, 0, 0, 1), slice(slice(k, 0, 0, 1), 2, 0, 6),
                                                    slice(slice(v, 0, 0, 1), 2, 0, 6), W, false);
  CHECK_CLOSE(slice(out, 0, 0, 1), ref, 1e-5, 1e-6);
  const Tensor out_c = attention::performer_attention(q, k, v, W, true, attention::kPerformerEps, pad);
  CHECK(testing::all_finite(out_c));
  for (int64_t c = 0; c < 4; ++c) CHECK(out_c.at({1, 0, 0, c}) == 0.0f);  // row 0 of batch 1 sees only padding
  CHECK_CLOSE(out_c, matmul(attention::performer_attention_matrix(q, k, W, true, attention::kPerformerEps, pad), v), 1e-4, 1e-5);
}

TEST_CASE("performer: W must be (m, d); the seed and orthogonal choose the features") {
  const auto& s = attention::find_scheme("performer");
  const Tensor q = testing::rand_tensor({1, 2, 10, 4}, 38);
  CHECK_THROWS_WITH_AS(attention::performer_attention(q, q, q, Tensor::ones({4, 3}), false),
                       doctest::Contains("performer: random features W must be (m, d) with d = 4, got (4,3)"), core::Error);

  for (bool causal : {false, true}) {
    const Tensor a = s.kernel(q, q, q, s.configure({}, causal, 5));
    CHECK_FALSE(testing::bit_equal(a, s.kernel(q, q, q, s.configure({}, causal, 6))));  // other features
    CHECK_FALSE(testing::bit_equal(a, s.kernel(q, q, q, s.configure({"orthogonal=false"}, causal, 5))));
  }
}

TEST_CASE("performer: trigonometric features estimate the same kernel but can go negative") {
  const Tensor q = testing::rand_tensor({1, 1, 32, 8}, 39), k = testing::rand_tensor({1, 1, 32, 8}, 40);
  const Tensor W = attention::draw_random_features(16, 8, false, 41);
  const Tensor trig = matmul(attention::trig_random_features(q, W), attention::trig_random_features(k, W), false, true);
  const Tensor pos = matmul(attention::positive_random_features(q, W), attention::positive_random_features(k, W), false, true);
  CHECK(trig.shape() == Shape{1, 1, 32, 32});
  int64_t negative = 0;
  for (int64_t i = 0; i < trig.numel(); ++i) negative += trig.data()[i] < 0.0f;
  CHECK(negative > 0);
  for (int64_t i = 0; i < pos.numel(); ++i) REQUIRE(pos.data()[i] > 0.0f);
}
