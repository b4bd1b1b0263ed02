// tests/test_linformer.cpp — the Linformer scheme: the fused kernel against a composition of core ops (outputs
// and gradients of q, k, v, E, F), exactness with k = n and E = F = I, out == (P̄ F) @ v with rank <= k,
// gradchecks of the kernel and the layer (n < max_len), causal refused, the limits of k, seeding, sharing modes,
// and shorter / padded sequences. Generic bad settings: the conformance table (tests/test_schemes.cpp).
#include "attention/dense.h"
#include "attention/linformer.h"
#include "core/svd.h"
#include "tests/helpers.h"

using namespace core;
using attention::LinformerLayer;
using attention::LinformerShare;

namespace {

const attention::Scheme& scheme() { return attention::find_scheme("linformer"); }

// softmax(q (E k)ᵀ/√d) (F v) written directly with core ops (autograd does the backward), using E's and F's
// first m columns and zeroing padded keys and values.
Tensor composed(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& E, const Tensor& F,
                const Tensor& pad = Tensor()) {
  const int64_t B = q.size(0), m = k.size(2);
  const Tensor Ec = slice(E, E.dim() - 1, 0, m), Fc = slice(F, F.dim() - 1, 0, m);
  Tensor kk = k, vv = v;
  if (pad.defined()) {
    kk = k * reshape(pad, {B, 1, m, 1});
    vv = v * reshape(pad, {B, 1, m, 1});
  }
  const Tensor kp = matmul(Ec, kk), vp = matmul(Fc, vv);  // (B, H, k, d)
  const Tensor P = softmax(matmul(q, kp, false, true) * (1.0f / std::sqrt(float(q.size(3)))), -1);  // (B, H, n, k)
  return matmul(P, vp);
}

Tensor leaf(const Tensor& t) { return t.clone().detach().set_requires_grad(); }

attention::LayerConfig layer_config(int64_t d_model, int64_t heads, int64_t max_len, std::vector<std::string> set) {
  attention::LayerConfig lc = testing::layer_config(d_model, heads, std::move(set));
  lc.max_len = max_len;
  return lc;
}

}  // namespace

TEST_CASE("linformer: the fused kernel equals a composition of core ops, outputs and all gradients") {
  const int64_t B = 2, H = 3, n = 11, d = 5, kp = 4;
  const Tensor q = testing::rand_tensor({B, H, n, d}, 1), k = testing::rand_tensor({B, H, n, d}, 2),
               v = testing::rand_tensor({B, H, n, d}, 3), g = testing::rand_tensor({B, H, n, d}, 4);
  const Tensor pad = Tensor::from_vector({B, n}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0});
  struct Case {
    const char* what;
    Shape e_shape;
    bool shared_kv, padded;
  };
  const std::vector<Case> cases = {
      {"per-head E, F (share=none)", {H, kp, n}, false, false},
      {"one E, F for all heads (headwise)", {1, kp, n}, false, false},
      {"E = F (kv)", {1, kp, n}, true, false},
      {"2-D E, F", {kp, n}, false, false},
      {"E, F with more columns than n (max_len 16)", {H, kp, 16}, false, false},
      {"padding mask", {H, kp, n}, false, true},
      {"kv with padding and extra columns", {1, kp, 14}, true, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const Tensor E0 = testing::rand_tensor(c.e_shape, 5, -0.5f, 0.5f), F0 = testing::rand_tensor(c.e_shape, 6, -0.5f, 0.5f);
    const Tensor mask = c.padded ? pad : Tensor();
    std::vector<Tensor> a = {leaf(q), leaf(k), leaf(v), leaf(E0), leaf(F0)};
    std::vector<Tensor> b = {leaf(q), leaf(k), leaf(v), leaf(E0), leaf(F0)};
    const Tensor out_a = attention::linformer_attention(a[0], a[1], a[2], a[3], c.shared_kv ? a[3] : a[4], mask);
    const Tensor out_b = composed(b[0], b[1], b[2], b[3], c.shared_kv ? b[3] : b[4], mask);
    CHECK(std::string(out_a.op_name()) == "linformer_attention");
    CHECK_CLOSE(out_a, out_b, 1e-4, 1e-6);
    out_a.backward(g);
    out_b.backward(g);
    const char* names[] = {"dq", "dk", "dv", "dE", "dF"};
    for (int i = 0; i < (c.shared_kv ? 4 : 5); ++i) {
      CAPTURE(names[i]);
      REQUIRE(a[i].grad().defined());
      CHECK(testing::max_abs(a[i].grad()) > 0.0f);
      CHECK_CLOSE(a[i].grad(), b[i].grad(), 1e-4, 1e-5);
    }
    if (c.e_shape.back() > n) {  // columns past n are not used: zero gradient
      CHECK(testing::max_abs(slice(a[3].grad(), a[3].dim() - 1, n, c.e_shape.back())) == 0.0f);
    }
    if (c.padded) {  // padded keys and values get no gradient
      CHECK(a[1].grad().at({1, 1, 3, 2}) == 0.0f);
      CHECK(a[2].grad().at({1, 2, 10, 0}) == 0.0f);
    }
  }
}

TEST_CASE("linformer: with k = n and E = F = identity it is exactly full attention (outputs and gradients)") {
  const int64_t B = 2, H = 2, n = 9, d = 4;
  const Tensor q = testing::rand_tensor({B, H, n, d}, 10), k = testing::rand_tensor({B, H, n, d}, 11),
               v = testing::rand_tensor({B, H, n, d}, 12), g = testing::rand_tensor({B, H, n, d}, 13);
  Tensor I = Tensor::zeros({1, n, n});
  for (int64_t i = 0; i < n; ++i) I.at({0, i, i}) = 1.0f;
  std::vector<Tensor> a = {leaf(q), leaf(k), leaf(v)}, b = {leaf(q), leaf(k), leaf(v)};
  const Tensor out_lin = attention::linformer_attention(a[0], a[1], a[2], I, I);
  const Tensor out_full = attention::dense_attention(b[0], b[1], b[2]);
  CHECK_CLOSE(out_lin, out_full, 1e-5, 1e-6);
  out_lin.backward(g);
  out_full.backward(g);
  for (int i = 0; i < 3; ++i) CHECK_CLOSE(a[i].grad(), b[i].grad(), 1e-4, 1e-6);
  // The effective attention is then the full softmax matrix itself.
  CHECK_CLOSE(attention::linformer_effective_attention(q, k, I, I), attention::dense_probabilities(q, k), 1e-5, 1e-7);
}

TEST_CASE("linformer: out == (P̄ F) @ v, P̄ rows sum to 1, and A has rank <= k") {
  const int64_t B = 1, H = 2, n = 24, d = 6, kp = 5;
  const Tensor q = testing::rand_tensor({B, H, n, d}, 20), k = testing::rand_tensor({B, H, n, d}, 21),
               v = testing::rand_tensor({B, H, n, d}, 22);
  const attention::Config cfg = scheme().configure({"k=5"}, false, 3);
  const Tensor out = scheme().kernel(q, k, v, cfg);
  const Tensor A = scheme().effective_attention(q, k, v, cfg);
  REQUIRE(A.shape() == Shape({B, H, n, n}));
  CHECK_CLOSE(out, matmul(A, v), 1e-4, 1e-6);
  Rng rng(3);
  const auto p = attention::linformer_projections(H, kp, n, LinformerShare::none, rng);
  const Tensor P = attention::linformer_context(q, k, p.E);
  REQUIRE(P.shape() == Shape({B, H, n, kp}));
  CHECK_CLOSE(sum(P, -1), Tensor::ones({B, H, n}), 1e-5, 1e-6);
  for (int64_t h = 0; h < H; ++h) {
    const Tensor Ah = reshape(slice(A, 1, h, h + 1), {n, n});
    const std::vector<double> s = singular_values(Ah);
    CAPTURE(h);
    CHECK(s[kp - 1] > 1e-3 * s[0]);  // rank exactly k here (random E, F)
    CHECK(s[kp] < 1e-5 * s[0]);      // and never more
  }
  // With a padding mask, padded key columns of A are 0 and out == A @ v still holds.
  attention::Config padded = cfg;
  padded.key_padding_mask = Tensor::ones({B, n});
  for (int64_t j = 18; j < n; ++j) padded.key_padding_mask.at({0, j}) = 0.0f;
  const Tensor Ap = scheme().effective_attention(q, k, v, padded);
  CHECK_CLOSE(scheme().kernel(q, k, v, padded), matmul(Ap, v), 1e-4, 1e-6);
  CHECK(testing::max_abs(slice(Ap, 3, 18, n)) == 0.0f);
}

TEST_CASE("linformer: gradcheck of the kernel, including E and F") {
  const int64_t B = 1, H = 2, n = 5, d = 3, kp = 3;
  const Tensor q = testing::rand_tensor({B, H, n, d}, 30), k = testing::rand_tensor({B, H, n, d}, 31),
               v = testing::rand_tensor({B, H, n, d}, 32);
  const Tensor E = testing::rand_tensor({H, kp, 7}, 33, -0.7f, 0.7f), F = testing::rand_tensor({H, kp, 7}, 34, -0.7f, 0.7f);
  {
    auto f = [](const std::vector<Tensor>& x) { return attention::linformer_attention(x[0], x[1], x[2], x[3], x[4]); };
    const auto r = gradcheck(f, {q, k, v, E, F});
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.checked == 3 * q.numel() + 2 * E.numel());
  }
  {  // E shared by keys and values (kv): the gradient of E is the sum of both uses
    auto f = [](const std::vector<Tensor>& x) { return attention::linformer_attention(x[0], x[1], x[2], x[3], x[3]); };
    const auto r = gradcheck(f, {q, k, v, slice(E, 0, 0, 1)});
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("linformer: gradcheck of the layer through x and every parameter, E and F included") {
  for (const char* share : {"share=none", "share=kv"}) {
    CAPTURE(share);
    Rng rng(40);
    LinformerLayer layer(layer_config(4, 2, 6, {"k=3", share}), rng);
    Tensor x = testing::rand_tensor({2, 5, 4}, 41).set_requires_grad();  // n = 5 < max_len = 6
    std::vector<Tensor> leaves = {x};
    bool has_E = false;
    for (const auto& [name, p] : layer.named_parameters()) {
      leaves.push_back(p);
      has_E = has_E || name == "E";
    }
    CHECK(has_E);
    const auto r = gradcheck_leaves([&] { return layer.forward(x); }, leaves);
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.checked == x.numel() + layer.num_parameters());
  }
}

TEST_CASE("linformer: causal is refused with a message that says why") {
  CHECK_FALSE(scheme().supports_causal());
  CHECK_FALSE(scheme().has_pattern());
  CHECK_THROWS_WITH_AS(scheme().configure({}, true), doctest::Contains("causal"), core::Error);
  attention::Config cfg = scheme().configure({});
  cfg.causal = true;  // set by hand, past configure()
  const Tensor q = testing::rand_tensor({1, 1, 40, 4}, 50);
  CHECK_THROWS_WITH_AS(scheme().kernel(q, q, q, cfg), doctest::Contains("causal attention is not supported"), core::Error);
  CHECK_THROWS_WITH_AS(scheme().effective_attention(q, q, q, cfg), doctest::Contains("future"), core::Error);
  attention::LayerConfig lc = layer_config(8, 2, 64, {});
  lc.causal = true;
  Rng rng(1);
  CHECK_THROWS_WITH_AS(scheme().make_layer(lc, rng), doctest::Contains("mixes all n positions, future tokens included"),
                       core::Error);
  CHECK_THROWS_WITH_AS(LinformerLayer(lc, rng), doctest::Contains("causal"), core::Error);
}

TEST_CASE("linformer: k is bounded by the keys and by max_len; share=layerwise needs a model; E's shape is checked") {
  const Tensor q = testing::rand_tensor({1, 2, 64, 4}, 60);
  auto kernel_with = [&](std::vector<std::string> set) { return scheme().kernel(q, q, q, scheme().configure(set)); };
  CHECK_THROWS_WITH_AS(kernel_with({"k=65"}), doctest::Contains("k=65 must be <= the number of keys m=64"), core::Error);
  CHECK(kernel_with({"k=64"}).shape() == q.shape());  // k = n is allowed
  // Fewer keys than queries: the limit is the number of keys m, and the message names m, not n.
  const Tensor k20 = testing::rand_tensor({1, 2, 20, 4}, 61), q40 = testing::rand_tensor({1, 2, 40, 4}, 62);
  CHECK_THROWS_WITH_AS(scheme().kernel(q40, k20, k20, scheme().configure({})),
                       doctest::Contains("k=32 must be <= the number of keys m=20"), core::Error);

  Rng rng(2);
  CHECK_THROWS_WITH_AS(scheme().make_layer(layer_config(8, 2, 1024, {"k=2000"}), rng),
                       doctest::Contains("k=2000 must be <= max_len=1024"), core::Error);
  CHECK_THROWS_WITH_AS(scheme().make_layer(layer_config(8, 2, 64, {"share=layerwise"}), rng),
                       doctest::Contains("share=layerwise needs one E shared by every layer"), core::Error);
  CHECK_THROWS_WITH_AS(scheme().make_layer(layer_config(8, 3, 64, {}), rng), doctest::Contains("not divisible"),
                       core::Error);
  // Wrong E shapes given to the kernel directly.
  CHECK_THROWS_WITH_AS(attention::linformer_attention(q, q, q, Tensor::zeros({3, 4, 64}), Tensor::zeros({3, 4, 64})),
                       doctest::Contains("must have 1 or H=2 matrices"), core::Error);
  CHECK_THROWS_WITH_AS(attention::linformer_attention(q, q, q, Tensor::zeros({1, 4, 50}), Tensor::zeros({1, 4, 50})),
                       doctest::Contains("has 50 columns (its max_len) but the sequence has n=64"), core::Error);
  CHECK_THROWS_WITH_AS(attention::linformer_attention(q, q, q, Tensor::zeros({1, 4, 64}), Tensor::zeros({1, 5, 64})),
                       doctest::Contains("same k"), core::Error);
}

TEST_CASE("linformer: E and F are determined by the seed, drawn as documented") {
  const int64_t B = 2, H = 2, n = 40, d = 4;
  const Tensor q = testing::rand_tensor({B, H, n, d}, 70), k = testing::rand_tensor({B, H, n, d}, 71),
               v = testing::rand_tensor({B, H, n, d}, 72);
  const Tensor a = scheme().kernel(q, k, v, scheme().configure({}, false, 9));
  CHECK(testing::bit_equal(a, scheme().kernel(q, k, v, scheme().configure({}, false, 9))));
  CHECK_FALSE(testing::bit_equal(a, scheme().kernel(q, k, v, scheme().configure({}, false, 10))));
  // The kernel's E, F are linformer_projections drawn from Rng(seed) with max_len = n.
  for (const char* share : {"none", "headwise", "kv", "layerwise"}) {
    CAPTURE(share);
    Rng rng(9);
    const auto p = attention::linformer_projections(H, 32, n, attention::parse_linformer_share(share), rng);
    const Tensor want = attention::linformer_attention(q, k, v, p.E, p.F);
    CHECK(testing::bit_equal(scheme().kernel(q, k, v, scheme().configure({std::string("share=") + share}, false, 9)), want));
  }
  // E ~ N(0, 1/n): the sample standard deviation of 32 * 40 * 2 draws is within 5 % of 1/sqrt(40).
  Rng rng(11);
  const auto p = attention::linformer_projections(H, 32, n, LinformerShare::none, rng);
  double s2 = 0.0;
  for (int64_t i = 0; i < p.E.numel(); ++i) s2 += double(p.E.data()[i]) * p.E.data()[i];
  CHECK(std::sqrt(s2 / p.E.numel()) == doctest::Approx(1.0 / std::sqrt(40.0)).epsilon(0.05));
  CHECK(p.E.shape() == Shape({H, 32, n}));
  CHECK_FALSE(testing::bit_equal(p.E, p.F));
  // Layers made from the same generator state have the same E and F.
  Rng r1(12), r2(12);
  LinformerLayer l1(layer_config(8, 2, 30, {"k=6"}), r1), l2(layer_config(8, 2, 30, {"k=6"}), r2);
  CHECK(testing::bit_equal(l1.E, l2.E));
  CHECK(testing::bit_equal(l1.F, l2.F));
}

TEST_CASE("linformer: sharing modes give the expected parameter counts and tie E and F as documented") {
  const int64_t dm = 8, H = 2, L = 20, kp = 5;
  const int64_t base = 4 * (dm * dm + dm);  // w_q, w_k, w_v, w_o
  struct Case {
    const char* share;
    int64_t ef_params;
    bool has_F;
  };
  for (const Case c : {Case{"none", 2 * H * kp * L, true}, Case{"headwise", 2 * kp * L, true}, Case{"kv", kp * L, false}}) {
    CAPTURE(c.share);
    Rng rng(80);
    auto layer = scheme().make_layer(layer_config(dm, H, L, {"k=5", std::string("share=") + c.share}), rng);
    CHECK(layer->num_parameters() == base + c.ef_params);
    bool has_F = false;
    for (const auto& [name, p] : layer->named_parameters()) has_F = has_F || name == "F";
    CHECK(has_F == c.has_F);
  }
  // kv is headwise with F tied to E: same draws for w_*, and E; copy E into the headwise layer's F.
  Rng ra(81), rb(81);
  LinformerLayer head(layer_config(dm, H, L, {"k=5", "share=headwise"}), ra);
  LinformerLayer kv(layer_config(dm, H, L, {"k=5", "share=kv"}), rb);
  REQUIRE(testing::bit_equal(head.E, kv.E));
  CHECK(kv.F.impl() == kv.E.impl());
  std::copy_n(head.E.data(), head.E.numel(), head.F.data());
  const Tensor x = testing::rand_tensor({2, 13, dm}, 82);
  CHECK_CLOSE(kv.forward(x), head.forward(x), 1e-6, 1e-7);

  // layerwise: the first layer owns E; the second uses it without registering it, and sends gradient to it.
  Rng rng(83);
  LinformerLayer first(layer_config(dm, H, L, {"k=5", "share=layerwise"}), rng);
  LinformerLayer second(layer_config(dm, H, L, {"k=5", "share=layerwise"}), rng, first.E);
  CHECK(first.num_parameters() == base + kp * L);
  CHECK(second.num_parameters() == base);
  CHECK(second.E.impl() == first.E.impl());
  sum(second.forward(first.forward(x))).backward();
  const Tensor both = first.E.grad().clone();
  first.E.zero_grad();
  sum(second.forward(first.forward(x).detach())).backward();  // only the second layer's use of E
  CHECK(testing::max_abs(first.E.grad()) > 0.0f);
  CHECK(testing::max_abs(both - first.E.grad()) > 0.0f);  // the first layer's use adds to it
  CHECK_THROWS_WITH_AS(LinformerLayer(layer_config(dm, H, L, {"k=5", "share=kv"}), rng, first.E),
                       doctest::Contains("a shared E is for share=layerwise"), core::Error);
  CHECK_THROWS_WITH_AS(LinformerLayer(layer_config(dm, H, L, {"k=4", "share=layerwise"}), rng, first.E),
                       doctest::Contains("the shared E must be (1, k, max_len) = (1,4,20)"), core::Error);
}

TEST_CASE("linformer: a shorter sequence uses E's first n columns; padding equals truncation; n > max_len refused") {
  const int64_t dm = 8, H = 2, L = 12, n = 7;
  Rng rng(90);
  LinformerLayer layer(layer_config(dm, H, L, {"k=4"}), rng);
  const Tensor x = testing::rand_tensor({2, n, dm}, 91);
  const Tensor y = layer.forward(x);
  REQUIRE(y.shape() == Shape({2, n, dm}));
  // By hand: the kernel with E, F cut to their first n columns.
  {
    NoGradGuard no_grad;
    const Tensor q = attention::split_heads(layer.w_q.forward(x), H), k = attention::split_heads(layer.w_k.forward(x), H),
                 v = attention::split_heads(layer.w_v.forward(x), H);
    const Tensor Ec = slice(layer.E, 2, 0, n).clone(), Fc = slice(layer.F, 2, 0, n).clone();
    CHECK_CLOSE(y, layer.w_o.forward(attention::merge_heads(composed(q, k, v, Ec, Fc))), 1e-5, 1e-6);
  }
  // The same 7 tokens padded to 12 with a mask: identical outputs at the real positions.
  Tensor xp = pad(x, 1, 0, L - n, 0.37f);
  Tensor mask = Tensor::zeros({2, L});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t j = 0; j < n; ++j) mask.at({b, j}) = 1.0f;
  CHECK_CLOSE(slice(layer.forward(xp, mask), 1, 0, n), y, 1e-5, 1e-6);
  CHECK_THROWS_WITH_AS(layer.forward(testing::rand_tensor({1, 13, dm}, 92)),
                       doctest::Contains("sequence length n=13 exceeds max_len=12"), core::Error);
}
