// tests/test_sinkhorn.cpp — Sparse Sinkhorn Attention: the kernel against a dense composition of the same formula
// built from core ops (outputs and dq, dk, dv), Sinkhorn balancing (convergence, gradient), the sorted values,
// noise only when asked (and never in eval), causal no-leak at every t, SortCut, padding, gradchecks (the layer at
// n not a multiple of the block), SortCut's rules. Generic bad settings: the conformance table
// (tests/test_schemes.cpp).
#include <cmath>
#include <limits>

#include "attention/sinkhorn.h"
#include "tests/helpers.h"

using namespace core;
using attention::SinkhornOptions;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor leaf(const Tensor& t) { return t.detach().clone().set_requires_grad(); }

// 1 for real tokens (B, N): the first n of N, and key_padding_mask where given.
Tensor real_tokens(int64_t B, int64_t n, int64_t N, const Tensor& kpm) {
  Tensor m = Tensor::zeros({B, N});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < n; ++t) m.at({b, t}) = (!kpm.defined() || kpm.at({b, t}) != 0.0f) ? 1.0f : 0.0f;
  return m;
}

struct Reference {
  Tensor out;  // (B, H, n, d)
  Tensor A;    // (B, H, n, n)
  Tensor P;    // (B, H, nb, nb)
};

// The whole scheme written as dense n×n algebra from core ops, independently of attention/sinkhorn.cpp:
// summaries by masked sums (causal: a strictly-lower-triangular matmul for the "blocks before i" sums), Sinkhorn by
// log_softmax (non-causal) or by masked logsumexp with cumsum and relu (causal), the sorted blocks as an N × N expansion
// matrix E[(I,t),(J,u)] = P_IJ δ_tu [token (J,u) is real], and one softmax over [own block; sorted slots].
Reference reference(const Tensor& q, const Tensor& k, const Tensor& v, const SinkhornOptions& o,
                    const Tensor& noise = Tensor()) {
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), d = q.size(3), b = o.block;
  const int64_t nb = (n + b - 1) / b, N = nb * b;
  const Tensor m = real_tokens(B, n, N, o.key_padding_mask);  // (B, N)
  const Tensor qp = pad(q, 2, 0, N - n), kp = pad(k, 2, 0, N - n), vp = pad(v, 2, 0, N - n);  // (B, H, N, d)
  const Tensor m5 = reshape(m, {B, 1, nb, b, 1});
  Tensor qs = sum(reshape(qp, {B, H, nb, b, d}) * m5, 3);  // (B, H, nb, d)
  Tensor ks = sum(reshape(kp, {B, H, nb, b, d}) * m5, 3);
  Tensor cnt = sum(reshape(m, {B, 1, nb, b}), 3, true);    // (B, 1, nb, 1)
  Tensor cnt_q = cnt;
  if (o.causal) {
    Tensor before = Tensor::zeros({nb, nb});  // before[i][j] = 1 for j < i
    for (int64_t i = 0; i < nb; ++i)
      for (int64_t j = 0; j < i; ++j) before.at({i, j}) = 1.0f;
    qs = matmul(before, qs);
    cnt_q = matmul(before, cnt);
  }
  auto at_least_one = [](const Tensor& c) {
    Tensor t = c.clone();
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = std::max(t.data()[i], 1.0f);
    return t;
  };
  const Tensor Sq = qs / at_least_one(cnt_q), Sk = ks / at_least_one(cnt);
  Tensor R = matmul(Sq, Sk, false, true) / std::sqrt(float(d));  // (B, H, nb, nb)
  if (noise.defined()) R = R + noise;
  Tensor X = R / float(o.tau);
  Tensor P;
  if (!o.causal) {
    for (int64_t it = 0; it < o.iters; ++it) X = log_softmax(log_softmax(X, -1), -2);
    P = exp(X);
  } else {
    Tensor allowed = Tensor::zeros({nb, nb});  // j < i
    for (int64_t i = 0; i < nb; ++i)
      for (int64_t j = 0; j < i; ++j) allowed.at({i, j}) = 1.0f;
    const Tensor low = Tensor::full({nb, nb}, -30.0f);  // stands in for -inf: exp(-30) is negligible, never 0
    X = where(allowed, X, low);
    for (int64_t it = 0; it < o.iters; ++it) {
      X = where(allowed, X - log(sum(exp(X), -1, true)), low);  // rows
      X = where(allowed, X - relu(log(cumsum(exp(X), -2))), low);  // columns: rows <= i, only above 1
    }
    P = exp(X) * allowed;
  }
  // E[(I,t),(J,u)] = P_IJ δ_tu m_(J,u): (B, H, N, N)
  Tensor eye = Tensor::zeros({1, 1, 1, b, 1, b});
  for (int64_t t = 0; t < b; ++t) eye.data()[t * b + t] = 1.0f;
  Tensor E = reshape(reshape(P, {B, H, nb, 1, nb, 1}) * eye, {B, H, N, N}) * reshape(m, {B, 1, 1, N});
  {
    // No weight on padding: row (I,t) of E is renormalised over its real tokens to the row mass Σ_J P_IJ where
    // position t is padding in some block (scale exactly 1 elsewhere).
    Tensor colpad = Tensor::zeros({B, 1, N}), zero_cover = Tensor::zeros({B, H, N});
    for (int64_t bi = 0; bi < B; ++bi)
      for (int64_t t = 0; t < N; ++t)
        if (m.at({bi, t}) == 0.0f)
          for (int64_t I = 0; I < nb; ++I) colpad.at({bi, 0, I * b + t % b}) = 1.0f;
    const Tensor real = sum(E, -1);  // (B, H, N)
    for (int64_t i = 0; i < real.numel(); ++i) zero_cover.data()[i] = real.data()[i] > 0.0f ? 0.0f : 1.0f;
    const Tensor mass = reshape(sum(P, -1, true) * Tensor::ones({1, 1, 1, b}), {B, H, N});  // Σ_J P_IJ per slot
    const Tensor slot_scale = (mass / (real + zero_cover) - 1.0f) * colpad + 1.0f;           // (B, H, N)
    E = E * unsqueeze(slot_scale, -1);
  }
  Tensor cover;
  {
    NoGradGuard ng;
    cover = sum(E.detach(), -1);  // (B, H, N): real tokens behind each sorted slot
  }
  const float scale = 1.0f / std::sqrt(float(d));
  Reference r;
  r.P = P;
  if (o.sortcut == 0) {
    const Tensor Ks = matmul(E, kp);  // (B, H, N, d): slot (I,t) = Σ_J P_IJ m k_(J,t)
    Tensor own_blocked = Tensor::zeros({B, 1, N, N}), slot_blocked = Tensor::zeros({B, H, N, N});
    for (int64_t bi = 0; bi < B; ++bi)
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) {
          const bool same = i / b == j / b;
          own_blocked.at({bi, 0, i, j}) = (!same || m.at({bi, j}) == 0.0f || (o.causal && j > i)) ? 1.0f : 0.0f;
          for (int64_t h = 0; h < H; ++h)
            slot_blocked.at({bi, h, i, j}) = (!same || cover.at({bi, h, j}) <= 0.0f) ? 1.0f : 0.0f;
        }
    const Tensor s_own = masked_fill(matmul(qp, kp, false, true) * scale, own_blocked, -kInf);
    const Tensor s_slot = masked_fill(matmul(qp, Ks, false, true) * scale, slot_blocked, -kInf);
    const Tensor probs = softmax(concat({s_own, s_slot}, -1), -1);  // (B, H, N, 2N)
    const Tensor A = slice(probs, -1, 0, N) + matmul(slice(probs, -1, N, 2 * N), E);  // (B, H, N, N)
    r.A = slice(slice(A, 2, 0, n), 3, 0, n);
    r.out = slice(matmul(A, vp), 2, 0, n);
  } else {
    const Tensor Ec = slice(E, 2, 0, o.sortcut * b);  // the first sortcut sorted blocks
    const Tensor Ks = matmul(Ec, kp);                // (B, H, kc·b, d)
    Tensor blocked = Tensor::zeros({B, H, 1, o.sortcut * b});
    for (int64_t i = 0; i < blocked.numel(); ++i) blocked.data()[i] = 0.0f;
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t s = 0; s < o.sortcut * b; ++s)
        blocked.data()[bh * o.sortcut * b + s] = cover.data()[bh * N + s] <= 0.0f ? 1.0f : 0.0f;
    const Tensor probs = softmax(masked_fill(matmul(q, Ks, false, true) * scale, blocked, -kInf), -1);
    const Tensor A = matmul(probs, Ec);  // (B, H, n, N)
    r.A = slice(A, 3, 0, n);
    r.out = matmul(A, vp);
  }
  return r;
}

SinkhornOptions opts(int64_t block, bool causal, int64_t sortcut = 0) {
  SinkhornOptions o;
  o.block = block;
  o.causal = causal;
  o.sortcut = sortcut;
  return o;
}

// Kernel and reference on the same inputs: outputs, effective attention, and gradients for one upstream G.
void compare_with_reference(const SinkhornOptions& o, int64_t n, uint64_t seed, const Tensor& noise = Tensor()) {
  const int64_t B = 2, H = 2, d = 4;
  const Tensor q0 = testing::rand_tensor({B, H, n, d}, seed), k0 = testing::rand_tensor({B, H, n, d}, seed + 1),
               v0 = testing::rand_tensor({B, H, n, d}, seed + 2), G = testing::rand_tensor({B, H, n, d}, seed + 3);
  std::vector<Tensor> mine{leaf(q0), leaf(k0), leaf(v0)}, ref{leaf(q0), leaf(k0), leaf(v0)};
  const Tensor out = attention::sinkhorn_attention(mine[0], mine[1], mine[2], o);
  const Reference r = reference(ref[0], ref[1], ref[2], o, noise);
  CHECK_CLOSE(out.detach(), r.out.detach(), 1e-4, 1e-5);
  CHECK_CLOSE(attention::sinkhorn_effective_attention(q0, k0, v0, o), r.A.detach(), 1e-4, 1e-5);
  out.backward(G);
  r.out.backward(G);
  const char* names[] = {"dq", "dk", "dv"};
  for (int a = 0; a < 3; ++a) {
    CAPTURE(names[a]);
    CHECK_CLOSE(mine[a].grad(), ref[a].grad(), 1e-4, 1e-5);
  }
}

}  // namespace

TEST_CASE("sinkhorn: outputs and dq, dk, dv equal a dense composition of the same formula") {
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    compare_with_reference(opts(8, causal), 32, 10);  // n a multiple of the block
    compare_with_reference(opts(8, causal), 21, 20);  // padded: 3 blocks, the last one with 5 real tokens
    compare_with_reference(opts(4, causal), 16, 30);  // more blocks, sharper sorting
  }
  SinkhornOptions o = opts(4, false);
  o.tau = 0.3;
  o.iters = 9;
  compare_with_reference(o, 18, 40);
}

TEST_CASE("sinkhorn: SortCut equals the dense composition: every query attends to the first k sorted blocks") {
  compare_with_reference(opts(4, false, 2), 16, 50);
  compare_with_reference(opts(8, false, 1), 21, 60);
  const Tensor q = testing::rand_tensor({1, 1, 16, 4}, 1), k = testing::rand_tensor({1, 1, 16, 4}, 2);
  const auto parts = attention::sinkhorn_parts(q, k, k, opts(4, false, 2));
  CHECK(parts.probs.shape() == Shape{1, 1, 16, 8});  // 2 sorted blocks of 4 slots, for every query
  CHECK_THROWS_WITH_AS(attention::sinkhorn_attention(q, k, k, opts(4, true, 2)),
                       doctest::Contains("sortcut=2 is for encoders"), core::Error);
  CHECK_THROWS_WITH_AS(attention::sinkhorn_attention(q, k, k, opts(4, false, 5)),
                       doctest::Contains("sortcut=5 exceeds the 4 blocks that n = 16"), core::Error);
}

TEST_CASE("sinkhorn: Gumbel noise is added to the logits only when asked, from the seed") {
  SinkhornOptions o = opts(4, false);
  o.noise = true;
  o.seed = 99;
  const Tensor noise = attention::gumbel_noise({2, 2, 5, 5}, 99);
  compare_with_reference(o, 20, 70, noise);
  // the noise is Gumbel(0, 1): mean ≈ 0.5772 (Euler's constant)
  const Tensor g = attention::gumbel_noise({20000}, 3);
  double mean = 0.0;
  for (int64_t i = 0; i < g.numel(); ++i) mean += g.data()[i];
  CHECK(std::fabs(mean / g.numel() - 0.5772) < 0.03);
}

TEST_CASE("sinkhorn: balancing drives row and column sums to 1 as iterations grow") {
  const Tensor logits = testing::rand_tensor({3, 6, 6}, 5, -3.0f, 3.0f);
  auto deviations = [](const Tensor& P) {
    double row = 0.0, col = 0.0;
    const int64_t nb = P.size(-1);
    for (int64_t m = 0; m < P.size(0); ++m)
      for (int64_t i = 0; i < nb; ++i) {
        double rs = 0.0, cs = 0.0;
        for (int64_t j = 0; j < nb; ++j) rs += P.at({m, i, j}), cs += P.at({m, j, i});
        row = std::max(row, std::fabs(rs - 1.0));
        col = std::max(col, std::fabs(cs - 1.0));
      }
    return std::pair<double, double>{row, col};
  };
  const auto iterates = attention::sinkhorn_iterates(logits, 40);
  REQUIRE(iterates.size() == 41);
  double previous = 1e9;
  for (int64_t it : {1, 2, 4, 8, 16, 40}) {
    const auto [row, col] = deviations(exp(iterates[it]));
    CAPTURE(it);
    CHECK(col < 1e-5);         // the last step of each iteration normalises the columns exactly
    CHECK(row < previous);     // and the rows get closer every time
    previous = row;
  }
  CHECK(deviations(exp(iterates[1])).first > 1e-2);  // one iteration is not enough here
  CHECK(previous < 1e-4);
  // sinkhorn_balance returns the same P as the last iterate, and masks stay exactly 0
  CHECK_CLOSE(attention::sinkhorn_balance(logits, 40), exp(iterates[40]), 1e-6, 1e-7);
  Tensor masked = logits.clone();
  for (int64_t m = 0; m < 3; ++m)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = i; j < 6; ++j) masked.at({m, i, j}) = -kInf;
  const Tensor Pc = attention::sinkhorn_balance(masked, 5, /*causal=*/true);
  for (int64_t m = 0; m < 3; ++m)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 6; ++j) {
        if (j >= i) CHECK(Pc.at({m, i, j}) == 0.0f);
        else CHECK(Pc.at({m, i, j}) > 0.0f);
      }
  CHECK(testing::all_finite(Pc));
}

TEST_CASE("sinkhorn: the sorted VALUES are mixed with P (not the keys)") {
  // A public version mixes the keys into the sorted values. With v = 0 the output must be exactly 0, and the
  // output must be linear in v (A depends on q and k only) — both fail when keys leak into the values.
  for (bool causal : {false, true}) {
    for (int64_t sortcut : {0, 2}) {
      if (causal && sortcut) continue;
      CAPTURE(causal);
      CAPTURE(sortcut);
      const SinkhornOptions o = opts(4, causal, sortcut);
      const Tensor q = testing::rand_tensor({1, 2, 16, 4}, 1), k = testing::rand_tensor({1, 2, 16, 4}, 2);
      const Tensor v1 = testing::rand_tensor({1, 2, 16, 4}, 3), v2 = testing::rand_tensor({1, 2, 16, 4}, 4);
      CHECK(testing::max_abs(attention::sinkhorn_attention(q, k, Tensor::zeros({1, 2, 16, 4}), o)) == 0.0f);
      CHECK_CLOSE(attention::sinkhorn_attention(q, k, v1 + v2, o),
                  attention::sinkhorn_attention(q, k, v1, o) + attention::sinkhorn_attention(q, k, v2, o), 1e-5, 1e-6);
      // a value placed in one block reaches other blocks' queries only through the sorted slots, weighted by P
      const auto parts = attention::sinkhorn_parts(q, k, v1, o);
      const Tensor A = attention::sinkhorn_effective_attention(q, k, v1, o);
      CHECK_CLOSE(parts.out, matmul(A, v1), 1e-5, 1e-6);
    }
  }
}

TEST_CASE("sinkhorn: causal outputs up to t do not depend on later tokens, at any t") {
  const int64_t n = 37, d = 4;
  const SinkhornOptions o = opts(8, true);
  const Tensor q = testing::rand_tensor({1, 2, n, d}, 1), k = testing::rand_tensor({1, 2, n, d}, 2),
               v = testing::rand_tensor({1, 2, n, d}, 3);
  const Tensor out = attention::sinkhorn_attention(q, k, v, o);
  for (int64_t t : {0, 6, 7, 8, 15, 16, 20, 31, 32, 35}) {
    CAPTURE(t);
    Tensor q2 = q.clone(), k2 = k.clone(), v2 = v.clone();
    for (Tensor* x : {&q2, &k2, &v2})
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = t + 1; i < n; ++i)
          for (int64_t c = 0; c < d; ++c) x->at({0, h, i, c}) = 3.0f - 2.0f * x->at({0, h, i, c});
    const Tensor out2 = attention::sinkhorn_attention(q2, k2, v2, o);
    CHECK(testing::bit_equal(slice(out, 2, 0, t + 1), slice(out2, 2, 0, t + 1)));
  }
  // the gradient of output t reaches no later token
  const Tensor lq = leaf(q), lk = leaf(k), lv = leaf(v);
  sum(slice(attention::sinkhorn_attention(lq, lk, lv, o), 2, 17, 18)).backward();
  for (const Tensor* g : {&lq, &lk, &lv})
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 18; i < n; ++i)
        for (int64_t c = 0; c < d; ++c) CHECK(g->grad().at({0, h, i, c}) == 0.0f);
  // block 0 has no earlier block to be sorted to: its queries see only their own past
  const Tensor A = attention::sinkhorn_effective_attention(q, k, v, o);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) CHECK(A.at({0, 0, i, j}) == 0.0f);
  CHECK(A.at({0, 0, 0, 0}) == doctest::Approx(1.0f));
}

TEST_CASE("sinkhorn: padding tokens change nothing for the real tokens") {
  const int64_t n = 21, d = 4;
  Tensor kpm = Tensor::ones({2, n});
  for (int64_t i : {3, 9, 10, 19, 20}) kpm.at({0, i}) = 0.0f;
  for (int64_t i : {0, 12}) kpm.at({1, i}) = 0.0f;
  SinkhornOptions o = opts(4, false);
  o.key_padding_mask = kpm;
  for (bool causal : {false, true}) {
    o.causal = causal;
    CAPTURE(causal);
    compare_with_reference(o, n, 80);
    const Tensor q = testing::rand_tensor({2, 2, n, d}, 1), k = testing::rand_tensor({2, 2, n, d}, 2),
                 v = testing::rand_tensor({2, 2, n, d}, 3);
    Tensor q2 = q.clone(), k2 = k.clone(), v2 = v.clone();
    for (Tensor* x : {&q2, &k2, &v2})
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t i = 0; i < n; ++i)
          if (kpm.at({b, i}) == 0.0f)
            for (int64_t h = 0; h < 2; ++h)
              for (int64_t c = 0; c < d; ++c) x->at({b, h, i, c}) = 5.0f;
    const Tensor a = attention::sinkhorn_attention(q, k, v, o), b = attention::sinkhorn_attention(q2, k2, v2, o);
    for (int64_t bi = 0; bi < 2; ++bi)
      for (int64_t i = 0; i < n; ++i)
        if (kpm.at({bi, i}) != 0.0f)
          for (int64_t h = 0; h < 2; ++h)
            for (int64_t c = 0; c < d; ++c) CHECK(a.at({bi, h, i, c}) == doctest::Approx(b.at({bi, h, i, c})).epsilon(1e-5));
  }
}

TEST_CASE("sinkhorn: gradcheck of the balancing, the kernel and the layer") {
  {
    const Tensor logits = testing::rand_tensor({2, 5, 5}, 3, -1.5f, 1.5f);
    const auto r = gradcheck([](const std::vector<Tensor>& x) { return attention::sinkhorn_balance(x[0], 4); },
                             {logits}, {"sinkhorn_balance"});
    INFO(r.message);
    CHECK(r.ok);
    Tensor causal_logits = logits.clone();
    const auto rc = gradcheck(
        [](const std::vector<Tensor>& x) {
          Tensor future = Tensor::zeros({1, 5, 5});
          for (int64_t i = 0; i < 5; ++i)
            for (int64_t j = i; j < 5; ++j) future.at({0, i, j}) = 1.0f;
          return attention::sinkhorn_balance(masked_fill(x[0], future, -kInf), 4, true);
        },
        {causal_logits}, {"causal sinkhorn_balance"});
    INFO(rc.message);
    CHECK(rc.ok);
  }
  for (bool causal : {false, true})
    for (int64_t sortcut : {0, 2}) {
      if (causal && sortcut) continue;
      CAPTURE(causal);
      CAPTURE(sortcut);
      const SinkhornOptions o = opts(3, causal, sortcut);
      const testing::QKV x = testing::random_qkv({1, 2, 10, 3}, 4);
      const auto r = testing::gradcheck_qkv(
          [&](const Tensor& q, const Tensor& k, const Tensor& v) { return attention::sinkhorn_attention(q, k, v, o); }, x.q,
          x.k, x.v, {"sinkhorn kernel"});
      INFO(r.message);
      CHECK(r.ok);
    }
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    Rng rng(2);
    attention::LayerConfig lc = testing::layer_config(4, 2, {"block=3"}, causal);
    attention::SinkhornLayer layer(lc, rng);
    Tensor x = testing::rand_tensor({1, 8, 4}, 9).set_requires_grad();
    std::vector<Tensor> leaves = layer.parameters();
    leaves.push_back(x);
    const auto r = gradcheck_leaves([&] { return layer.forward(x); }, leaves, {"sinkhorn layer"});
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.checked == layer.num_parameters() + x.numel());
  }
}

TEST_CASE("sinkhorn: noise off is deterministic and seed-free; the layer adds noise in training only") {
  const auto& scheme = attention::find_scheme("sinkhorn");
  const Tensor q = testing::rand_tensor({1, 2, 32, 4}, 1), k = testing::rand_tensor({1, 2, 32, 4}, 2),
               v = testing::rand_tensor({1, 2, 32, 4}, 3);
  const Tensor a = scheme.kernel(q, k, v, scheme.configure({"block=4"}, false, 1));
  CHECK(testing::bit_equal(a, scheme.kernel(q, k, v, scheme.configure({"block=4"}, false, 2))));
  const Tensor n1 = scheme.kernel(q, k, v, scheme.configure({"block=4", "noise=true"}, false, 1));
  CHECK(testing::bit_equal(n1, scheme.kernel(q, k, v, scheme.configure({"block=4", "noise=true"}, false, 1))));
  CHECK(!testing::bit_equal(n1, scheme.kernel(q, k, v, scheme.configure({"block=4", "noise=true"}, false, 2))));
  CHECK(!testing::bit_equal(n1, a));

  attention::LayerConfig lc = testing::layer_config(8, 2, {"block=4", "noise=true"});
  lc.seed = 4;
  Rng r1(3), r2(3);
  attention::SinkhornLayer noisy(lc, r1);
  lc.set = {"block=4", "noise=false"};
  attention::SinkhornLayer quiet(lc, r2);
  const Tensor x = testing::rand_tensor({2, 32, 8}, 5);
  NoGradGuard ng;
  const Tensor t1 = noisy.forward(x), t2 = noisy.forward(x);
  CHECK(!testing::bit_equal(t1, t2));                  // a fresh draw per training step
  CHECK(!testing::bit_equal(t1, quiet.forward(x)));
  noisy.eval();
  const Tensor e1 = noisy.forward(x), e2 = noisy.forward(x);
  CHECK(testing::bit_equal(e1, e2));                   // eval: no noise, deterministic
  CHECK(testing::bit_equal(e1, quiet.forward(x)));     // and the same as a layer without noise
}

TEST_CASE("sinkhorn: P is (nearly) doubly stochastic at the default settings, and the support covers A") {
  const Tensor q = testing::rand_tensor({1, 1, 64, 8}, 1), k = testing::rand_tensor({1, 1, 64, 8}, 2);
  const SinkhornOptions o;  // block 16, iters 5, tau 0.75
  const auto parts = attention::sinkhorn_parts(q, k, k, o);
  REQUIRE(parts.P.shape() == Shape{1, 1, 4, 4});
  for (int64_t j = 0; j < 4; ++j) {
    double col = 0.0, row = 0.0;
    for (int64_t i = 0; i < 4; ++i) col += parts.P.at({0, 0, i, j}), row += parts.P.at({0, 0, j, i});
    CHECK(col == doctest::Approx(1.0).epsilon(1e-5));
    CHECK(row == doctest::Approx(1.0).epsilon(0.05));
  }
  const Tensor A = attention::sinkhorn_effective_attention(q, k, k, o);
  const Tensor S = attention::sinkhorn_support(q, k, o);
  int64_t outside = 0;
  for (int64_t i = 0; i < A.numel(); ++i) outside += A.data()[i] != 0.0f && S.data()[i] == 0.0f;
  CHECK(outside == 0);
  for (int64_t i = 0; i < 64; ++i) {  // rows of A sum to ~1 (own block + slots; P rows sum to ~1)
    double total = 0.0;
    for (int64_t j = 0; j < 64; ++j) total += A.at({0, 0, i, j});
    CHECK(total == doctest::Approx(1.0).epsilon(0.05));
  }
}

TEST_CASE("sinkhorn: SortCut is not causal, keeps at most the blocks there are; keys as many as queries") {
  const auto& s = attention::find_scheme("sinkhorn");
  const Tensor q = testing::rand_tensor({1, 1, 16, 4}, 1);
  auto run = [&](const std::vector<std::string>& set, bool causal = false) { s.kernel(q, q, q, s.configure(set, causal)); };
  CHECK_THROWS_WITH_AS(run({"sortcut=1"}, true), doctest::Contains("cannot be causal"), core::Error);
  CHECK_THROWS_WITH_AS(run({"block=4", "sortcut=9"}), doctest::Contains("n = 16"), core::Error);
  // k, v of another length than q: a clear error, not a crash
  CHECK_THROWS_WITH_AS(s.kernel(q, testing::rand_tensor({1, 1, 8, 4}, 2), testing::rand_tensor({1, 1, 8, 4}, 3),
                                s.configure({})),
                       doctest::Contains("as many keys as queries"), core::Error);
}

TEST_CASE("sinkhorn: no attention mass on the zero tokens that pad n to whole blocks (regression)") {
  // The user's report: n = 65, block 16: rows of A summed to 0.770 at the least; the same data cut to n = 64 gave
  // 1.000. The padding zeros were mixed into the sorted slots: weight went to zero keys/values.
  Rng rng(91);
  const Tensor q = randn({1, 2, 65, 8}, rng), k = randn({1, 2, 65, 8}, rng), v = randn({1, 2, 65, 8}, rng);
  const auto& s = attention::find_scheme("sinkhorn");
  for (int64_t n : {65, 64, 49, 33}) {
    CAPTURE(n);
    const Tensor qn = slice(q, 2, 0, n), kn = slice(k, 2, 0, n), vn = slice(v, 2, 0, n);
    const Tensor A = s.effective_attention(qn, kn, vn, s.configure({}));
    const Tensor rows = sum(A, -1);
    // non-causal P is balanced to ~1e-5 after 5 iterations: every row is a probability row
    CHECK(testing::max_abs(rows - 1.0f) < 1e-4f);
    CHECK_CLOSE(s.kernel(qn, kn, vn, s.configure({})), matmul(A, vn), 1e-4, 1e-5);
    // causal: the causal balancing leaves a row mass below 1, but padding takes no share of it: n = 65 gives the
    // rows of its first 64 tokens the same mass as n = 64 does (the 65th token is in a block of its own)
    if (n == 65) {
      const Tensor Ac = s.effective_attention(qn, kn, vn, s.configure({}, true));
      const Tensor A64 = s.effective_attention(slice(q, 2, 0, 64), slice(k, 2, 0, 64), slice(v, 2, 0, 64),
                                               s.configure({}, true));
      CHECK_CLOSE(slice(sum(Ac, -1), 2, 0, 64), sum(A64, -1), 1e-5, 1e-6);
      CHECK_CLOSE(s.kernel(qn, kn, vn, s.configure({}, true)), matmul(Ac, vn), 1e-4, 1e-5);
    }
  }
  // key_padding_mask: the masked keys' columns of A are exactly 0, and the rows still sum to 1
  Tensor kpm = Tensor::ones({1, 65});
  for (int64_t j : {2, 17, 18, 40, 64}) kpm.data()[j] = 0.0f;
  attention::Config cfg = s.configure({});
  cfg.key_padding_mask = kpm;
  const Tensor A = s.effective_attention(q, k, v, cfg);
  for (int64_t j : {2, 17, 18, 40, 64}) CHECK(testing::max_abs(slice(A, 3, j, j + 1)) == 0.0f);
  CHECK(testing::max_abs(sum(A, -1) - 1.0f) < 1e-4f);
  CHECK_CLOSE(s.kernel(q, k, v, cfg), matmul(A, v), 1e-4, 1e-5);
}

TEST_CASE("sinkhorn: a block larger than n is one block of n (memory bounded by the input)") {
  // The user's report: n = 20, block=10000 took 4.7 GB, block=20000 more than 18.8 GB (block² score tensors).
  Rng rng(92);
  const Tensor q = randn({1, 2, 20, 8}, rng), k = randn({1, 2, 20, 8}, rng), v = randn({1, 2, 20, 8}, rng);
  const auto& s = attention::find_scheme("sinkhorn");
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const Tensor ref = s.kernel(q, k, v, s.configure({"block=20"}, causal));
    memory::reset_peak();
    const size_t before = memory::current_bytes();
    const Tensor big = s.kernel(q, k, v, s.configure({"block=20000"}, causal));
    CHECK(memory::peak_bytes() - before < 256 * 1024);
    CHECK(testing::bit_equal(big, ref));
    CHECK(testing::bit_equal(s.effective_attention(q, k, v, s.configure({"block=10000"}, causal)),
                             s.effective_attention(q, k, v, s.configure({"block=20"}, causal))));
  }
  CHECK(testing::bit_equal(s.kernel(q, k, v, s.configure({"block=10000", "sortcut=1"})),
                           s.kernel(q, k, v, s.configure({"block=20", "sortcut=1"}))));
  CHECK_THROWS_WITH_AS(s.kernel(q, k, v, s.configure({"block=0"})), doctest::Contains("sinkhorn: setting block=0 is out of range: it must be >= 1"),
                       core::Error);
}
