// tests/test_star.cpp — the Star Transformer (attention/star.h): the fused satellite kernel against a masked
// dense softmax over [satellites; embeddings; relay] (outputs and gradients), out == A @ v, the ring (no
// zero-padded neighbours: cyclic shifts commute with the kernel), padding, gradchecks of the kernel and of the
// layer with its parameters, the global receptive field of one layer, linear memory, its own errors, what the seed
// changes. Generic bad settings, the causal refusal and same-seed determinism: the conformance table
// (tests/test_schemes.cpp).
#include <limits>

#include "attention/dense.h"
#include "attention/star.h"
#include "tests/helpers.h"

using namespace core;
using testing::QKV;
using testing::random_qkv;

namespace {

const attention::Scheme& star() { return attention::find_scheme("star"); }

// The satellite update written as ordinary masked dense attention from core ops, O(n²): the keys are the n
// satellites, then the n embeddings (here the tokens themselves), then the relay mean(k); query i may look at
// satellites {i-1, i, i+1} (mod n), at embedding i and at the relay. Valid for n >= 3, where the three ring
// neighbours are distinct (for n <= 2 the ring visits a key twice, which a mask cannot say).
Tensor star_reference(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t n = q.size(2), m = 2 * n + 1;
  const Tensor keys = concat({k, k, mean(k, 2, true)}, 2);    // (B, H, 2n+1, d)
  const Tensor values = concat({v, v, mean(v, 2, true)}, 2);  // (B, H, 2n+1, d)
  Tensor blocked = Tensor::ones({1, 1, n, m});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j : {(i + n - 1) % n, i, (i + 1) % n, n + i, 2 * n}) blocked.at({0, 0, i, j}) = 0.0f;
  }
  const Tensor scores = masked_fill(attention::dense_scores(q, keys), blocked, -std::numeric_limits<float>::infinity());
  return matmul(softmax(scores, -1), values);  // (B, H, n, d)
}

// Rotates the sequence axis of (B, H, n, d) by r: out[i] = x[(i + r) mod n].
Tensor rotate(const Tensor& x, int64_t r) {
  const int64_t n = x.size(2);
  IntTensor idx({n});
  for (int64_t i = 0; i < n; ++i) idx.data[static_cast<size_t>(i)] = (i + r) % n;
  return index_select(x, 2, idx);
}

std::unique_ptr<attention::AttentionLayer> make_star_layer(int64_t d_model, int64_t heads, int64_t cycles,
                                                           uint64_t seed) {
  Rng rng(seed);
  attention::LayerConfig lc = testing::layer_config(d_model, heads, {"cycles=" + std::to_string(cycles)});
  return star().make_layer(lc, rng);
}

}  // namespace

TEST_CASE("star: the kernel equals masked dense attention over [satellites; embeddings; relay], with gradients") {
  for (int64_t n : {3, 7, 37}) {
    CAPTURE(n);
    const QKV x = random_qkv({2, 2, n, 8}, 10 + n);
    const Tensor g = testing::rand_tensor({2, 2, n, 8}, 20 + n);
    auto leaves = [&] {
      return std::vector<Tensor>{x.q.clone().detach().set_requires_grad(), x.k.clone().detach().set_requires_grad(),
                                 x.v.clone().detach().set_requires_grad()};
    };
    std::vector<Tensor> mine = leaves(), ref = leaves();
    const Tensor out = star().kernel(mine[0], mine[1], mine[2], star().configure({}));
    const Tensor want = star_reference(ref[0], ref[1], ref[2]);
    CHECK_CLOSE(out.detach(), want.detach(), 1e-4, 1e-6);
    out.backward(g);
    want.backward(g);
    for (int a = 0; a < 3; ++a) {
      CAPTURE(a);
      CHECK_CLOSE(mine[a].grad(), ref[a].grad(), 1e-4, 1e-5);
    }
  }
}

TEST_CASE("star: out == effective_attention @ v; rows sum to 1; the band has ring corners and a flat relay floor") {
  for (int64_t n : {1, 2, 3, 9, 37}) {
    CAPTURE(n);
    const QKV x = random_qkv({2, 3, n, 4}, 40 + n);
    const Tensor out = attention::star_attention(x.q, x.k, x.v);
    const Tensor A = attention::star_effective_attention(x.q, x.k, x.v);
    REQUIRE(A.shape() == Shape{2, 3, n, n});
    CHECK_CLOSE(out, matmul(A, x.v), 1e-4, 1e-5);
    const Tensor rows = sum(A, -1);
    CHECK_CLOSE(rows, Tensor::ones(rows.shape()), 1e-5, 1e-5);
    if (n < 4) continue;
    // The relay spreads p_relay / n over every column: outside the band, each row is one constant > 0.
    const Tensor P = attention::star_satellite_probabilities(x.q, x.k, x.k, attention::star_token_mean(x.k),
                                                             attention::star_ring(2, n));
    for (int64_t i = 0; i < n; ++i) {
      const float floor = P.at({1, 2, i, attention::kStarRelay}) / static_cast<float>(n);
      CHECK(floor > 0.0f);
      for (int64_t j = 0; j < n; ++j) {
        const int64_t dist = std::min((i - j + n) % n, (j - i + n) % n);
        if (dist > 1) CHECK(A.at({1, 2, i, j}) == doctest::Approx(floor).epsilon(1e-5));
        else CHECK(A.at({1, 2, i, j}) > floor);
      }
    }
    // ring corners: the first token's left neighbour is the last one, and vice versa
    CHECK(A.at({0, 0, 0, n - 1}) > A.at({0, 0, 0, n / 2}));
    CHECK(A.at({0, 0, n - 1, 0}) > A.at({0, 0, n - 1, n / 2}));
  }
}

TEST_CASE("star: the ring has no ends — a cyclic shift of the input shifts the output (zero padding would not)") {
  const int64_t n = 11;
  const QKV x = random_qkv({1, 2, n, 6}, 70);
  const Tensor out = attention::star_attention(x.q, x.k, x.v);
  for (int64_t r : {1, 5}) {
    CAPTURE(r);
    const Tensor shifted = attention::star_attention(rotate(x.q, r), rotate(x.k, r), rotate(x.v, r));
    CHECK_CLOSE(shifted, rotate(out, r), 1e-5, 1e-6);
  }
  // Token 0's context slots: its left neighbour is token n-1 (a real key), never a zero vector.
  const attention::StarRing ring = attention::star_ring(1, n);
  CHECK(ring.prev.at({0, 0}) == n - 1);
  CHECK(ring.next.at({0, n - 1}) == 0);
}

TEST_CASE("star: padding — the ring and the relay skip padded tokens, so real outputs equal the unpadded ones") {
  const int64_t n = 9, real = 6;
  const QKV x = random_qkv({2, 2, n, 4}, 80);
  Tensor pad = Tensor::ones({2, n});
  for (int64_t j = real; j < n; ++j) pad.at({0, j}) = 0.0f;  // batch 0: 3 padding tokens at the end
  const Tensor out = attention::star_attention(x.q, x.k, x.v, pad);
  const QKV cut{slice(x.q, 2, 0, real), slice(x.k, 2, 0, real), slice(x.v, 2, 0, real)};
  const Tensor want = attention::star_attention(cut.q, cut.k, cut.v);  // (2, 2, 6, 4)
  CHECK_CLOSE(slice(slice(out, 0, 0, 1), 2, 0, real), slice(want, 0, 0, 1), 1e-5, 1e-6);
  // batch 1 has no padding: the same as without a mask
  CHECK_CLOSE(slice(out, 0, 1, 2), slice(attention::star_attention(x.q, x.k, x.v), 0, 1, 2), 1e-6, 1e-7);
  // no real query puts weight on a padding key
  const Tensor A = attention::star_effective_attention(x.q, x.k, x.v, pad);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < real; ++i)
      for (int64_t j = real; j < n; ++j) CHECK(A.at({0, h, i, j}) == 0.0f);
  CHECK_CLOSE(matmul(A, x.v), out, 1e-4, 1e-5);

  // The layer: the same invariance through every cycle (satellites, relay mean, relay attention).
  auto layer = make_star_layer(8, 2, 2, 81);
  const Tensor xs = testing::rand_tensor({1, n, 8}, 82);
  const Tensor layer_pad = slice(pad, 0, 0, 1);
  const Tensor y = layer->forward(xs, layer_pad);
  const Tensor y_cut = layer->forward(slice(xs, 1, 0, real));
  CHECK_CLOSE(slice(y, 1, 0, real), y_cut, 1e-4, 1e-5);
}

TEST_CASE("star: gradcheck of the fused satellite op (all seven inputs) and of the kernel") {
  const Shape s{1, 2, 5, 3}, r{1, 2, 1, 3};
  std::vector<Tensor> in = {testing::rand_tensor(s, 90), testing::rand_tensor(s, 91), testing::rand_tensor(s, 92),
                            testing::rand_tensor(s, 93), testing::rand_tensor(s, 94), testing::rand_tensor(r, 95),
                            testing::rand_tensor(r, 96)};
  const attention::StarRing ring = attention::star_ring(1, 5);
  GradcheckOptions opt;
  opt.name = "star_satellite_attention";
  auto res = gradcheck(
      [&](const std::vector<Tensor>& t) {
        return attention::star_satellite_attention(t[0], t[1], t[2], t[3], t[4], t[5], t[6], ring);
      },
      in, opt);
  INFO(res.message);
  CHECK(res.ok);
  CHECK(res.checked == 5 * 30 + 2 * 6);
  for (int64_t n : {1, 2, 4}) {  // n = 1, 2: the ring visits the same key in several slots
    CAPTURE(n);
    opt.name = "star kernel";
    const QKV x = random_qkv({2, 1, n, 3}, 100 + n);
    res = gradcheck([&](const std::vector<Tensor>& t) { return attention::star_attention(t[0], t[1], t[2]); },
                    {x.q, x.k, x.v}, opt);
    INFO(res.message);
    CHECK(res.ok);
  }
}

// The Star layer written with plain ops only: satellites by masked dense attention over [h; e; s] (the mask
// of star_reference), the relay by dense attention over [s; h]. Same parameters as `layer`.
Tensor star_layer_reference(attention::StarLayer& layer, const Tensor& x) {
  const int64_t n = x.size(1), H = layer.n_heads;
  Tensor blocked = Tensor::ones({1, 1, n, 2 * n + 1});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j : {(i + n - 1) % n, i, (i + 1) % n, n + i, 2 * n}) blocked.at({0, 0, i, j}) = 0.0f;
  Tensor h = x, s = mean(x, 1, true);  // (B, n, D), (B, 1, D)
  for (int64_t t = 0; t < layer.cycles; ++t) {
    attention::StarCycle& c = *layer.cycle[static_cast<size_t>(t)];
    const Tensor ctx = concat({h, x, s}, 1);  // (B, 2n+1, D)
    const Tensor q = attention::split_heads(c.w_q.forward(h), H);
    const Tensor k = attention::split_heads(c.w_k.forward(ctx), H), v = attention::split_heads(c.w_v.forward(ctx), H);
    const Tensor p = softmax(masked_fill(attention::dense_scores(q, k), blocked, -1e30f), -1);
    h = c.satellite_norm.forward(relu(c.w_o.forward(attention::merge_heads(matmul(p, v)))));
    if (t + 1 == layer.cycles) break;
    const Tensor rc = concat({s, h}, 1);  // (B, n+1, D)
    const Tensor r = attention::dense_attention(attention::split_heads(c.r_q->forward(s), H),
                                                attention::split_heads(c.r_k->forward(rc), H),
                                                attention::split_heads(c.r_v->forward(rc), H));
    s = c.relay_norm->forward(relu(c.r_o->forward(attention::merge_heads(r))));
  }
  return h;
}

TEST_CASE("star: the layer equals a plain-ops reference, outputs and every parameter's gradient") {
  for (int64_t cycles : {1, 2, 3}) {
    for (int64_t n : {3, 10}) {
      CAPTURE(cycles);
      CAPTURE(n);
      auto layer = make_star_layer(8, 2, cycles, 100 + cycles);
      auto* star_layer = dynamic_cast<attention::StarLayer*>(layer.get());
      REQUIRE(star_layer != nullptr);
      const Tensor x0 = testing::rand_tensor({2, n, 8}, 7 * n + cycles);
      const Tensor g = testing::rand_tensor({2, n, 8}, 9 * n + cycles);
      const auto params = layer->parameters();
      auto grads_of = [&](bool reference) {
        for (Tensor p : params) p.zero_grad();
        Tensor x = x0.clone().detach().set_requires_grad();
        const Tensor y = reference ? star_layer_reference(*star_layer, x) : layer->forward(x);
        y.backward(g);
        std::vector<Tensor> out = {y.detach(), x.grad()};
        for (const Tensor& p : params) out.push_back(p.grad().clone());
        return out;
      };
      const auto mine = grads_of(false), ref = grads_of(true);
      for (size_t a = 0; a < mine.size(); ++a) {
        CAPTURE(a);  // 0 = output, 1 = dx, then the parameters in layer->parameters() order
        CHECK_CLOSE(mine[a], ref[a], 1e-4, 1e-5);
      }
    }
  }
}

TEST_CASE("star: the layer gradchecks through x and every parameter (2 cycles: satellites, relay, satellites)") {
  auto layer = make_star_layer(8, 2, 2, 110);
  const auto params = layer->parameters();
  // cycle 0: w_q w_k w_v w_o (weight + bias) + satellite_norm (2) + relay r_q r_k r_v r_o + relay_norm = 20;
  // cycle 1 has no relay: 10.
  CHECK(params.size() == 30);
  Tensor x = testing::rand_tensor({2, 4, 8}, 111);
  x.set_requires_grad();
  std::vector<Tensor> leaves = {x};
  for (const Tensor& p : params) leaves.push_back(p);
  auto* raw = layer.get();
  // Each cycle ends in LayerNorm(ReLU(.)): a finite-difference step that crosses a ReLU kink measures the mean
  // of two slopes. eps = 3e-3 keeps every ReLU input of this (fixed) example on one side; the test above checks
  // the same gradients against plain ops at every seed, without finite differences.
  GradcheckOptions opt;
  opt.eps = 3e-3f;
  const auto r = gradcheck_leaves([&] { return raw->forward(x); }, leaves, opt);
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked == x.numel() + layer->num_parameters());
  CHECK_THROWS_WITH_AS(raw->forward(Tensor::zeros({2, 4, 5})), doctest::Contains("x must be (B, n, 8)"), core::Error);
}

TEST_CASE("star: one layer already connects every pair of tokens through the relay") {
  const int64_t n = 16;
  for (int64_t cycles : {1, 2}) {
    CAPTURE(cycles);
    auto layer = make_star_layer(8, 2, cycles, 120);
    Tensor x = testing::rand_tensor({1, n, 8}, 121);
    x.set_requires_grad();
    const Tensor y = layer->forward(x);
    // d(w · y_0)/dx for a random w (the plain sum of a LayerNorm output is constant: its gradient is ~0)
    sum(slice(y, 1, 0, 1) * testing::rand_tensor({8}, 122)).backward();
    std::vector<float> reach(n, 0.0f);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t c = 0; c < 8; ++c) reach[j] = std::max(reach[j], std::fabs(x.grad().at({0, j, c})));
    const float strongest = *std::max_element(reach.begin(), reach.end());
    for (int64_t j = 0; j < n; ++j) {
      CAPTURE(j);
      CHECK(reach[j] > 1e-4f * strongest);  // far from the band, through the relay; well above rounding
    }
  }
}

TEST_CASE("star: memory grows linearly with n (no n x n matrix in the kernel, forward + backward)") {
  auto peak = [](int64_t n) {
    const QKV x = random_qkv({1, 2, n, 8}, 130);
    std::vector<Tensor> l = {x.q.clone().set_requires_grad(), x.k.clone().set_requires_grad(),
                             x.v.clone().set_requires_grad()};
    const Tensor g = testing::rand_tensor({1, 2, n, 8}, 131);
    memory::PeakScope scope;
    attention::star_attention(l[0], l[1], l[2]).backward(g);
    return static_cast<double>(scope.peak_above_start());
  };
  const double p1 = peak(512), p2 = peak(1024);
  CHECK(p2 / p1 > 1.8);
  CHECK(p2 / p1 < 2.2);
  CHECK(p2 < 1024.0 * 1024.0 * 4.0 / 4.0);  // far below one n x n float matrix per head
}

TEST_CASE("star: connectivity is (n+1) x (n+2) with the ring band, the embedding column and a full relay") {
  const int64_t n = 6;
  const Tensor C = attention::star_connectivity(n);
  REQUIRE(C.shape() == Shape{n + 1, n + 2});
  CHECK(sum(C).item() == doctest::Approx(5 * n + n + 1));  // 5 per satellite, n + 1 for the relay: linear
  CHECK(C.at({0, n - 1}) == 1.0f);
  CHECK(C.at({n - 1, 0}) == 1.0f);
  CHECK(C.at({2, 4}) == 0.0f);
  for (int64_t i = 0; i < n; ++i) CHECK((C.at({i, n}) == 1.0f && C.at({i, n + 1}) == 1.0f && C.at({n, i}) == 1.0f));
  CHECK(C.at({n, n}) == 0.0f);  // the relay reads satellites, not embeddings
  CHECK(C.at({n, n + 1}) == 1.0f);
}

TEST_CASE("star: heads must divide d_model, k as long as q; another seed, another layer") {
  const QKV x = random_qkv({1, 2, 8, 4}, 140);
  attention::LayerConfig lc = testing::layer_config(8, 3);
  Rng rng(1);
  CHECK_THROWS_WITH_AS(star().make_layer(lc, rng), doctest::Contains("not divisible"), core::Error);
  const Tensor k_short = slice(x.k, 2, 0, 5), v_short = slice(x.v, 2, 0, 5);
  CHECK_THROWS_WITH_AS(star().kernel(x.q, k_short, v_short, star().configure({})), doctest::Contains("star"),
                       core::Error);
  const Tensor in = testing::rand_tensor({2, 8, 8}, 141);
  CHECK_FALSE(testing::bit_equal(make_star_layer(8, 2, 2, 142)->forward(in), make_star_layer(8, 2, 2, 143)->forward(in)));
}
