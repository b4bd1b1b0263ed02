// tests/test_linear.cpp — the Linear Transformer (attention/linear.h) and the shared kernel-attention code
// (attention/kernels/feature_attention.h): outputs and gradients against the dense normalised matrix
// A = D⁻¹ phi(Q) phi(K)ᵀ (lower-triangular when causal) built here from core ops, RNN form == parallel form,
// gradcheck of the kernel, padding, no-leak in the gradients too, the causal backward's memory, what eps does,
// feature_attention's errors. The layer's gradcheck, generic bad settings and determinism: the conformance table
// (tests/test_schemes.cpp).
#include "attention/kernels/feature_attention.h"
#include "attention/linear.h"
#include "tests/helpers.h"

using namespace core;
using testing::Grads;
using testing::with_grads;

namespace {

// The reference, written without attention/kernels/feature_attention: phi(x) = elu(x) + 1 as max(x,0) + exp(min(x,0)),
// scores phi(Q) phi(K)ᵀ times a 0/1 causal mask, divided by row sums (eps: only for a row that sees no key).
Tensor reference_linear(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float eps = 0.0f) {
  auto phi = [](const Tensor& x) { return elu(x) + 1.0f; };
  Tensor scores = matmul(phi(q), phi(k), false, true);  // (B,H,n,n)
  if (causal) {
    const int64_t n = q.size(2);
    Tensor lower = Tensor::zeros({1, 1, n, n});
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j <= i; ++j) lower.at({0, 0, i, j}) = 1.0f;
    scores = scores * lower;
  }
  return matmul(scores / (sum(scores, -1, true) + eps), v);
}

}  // namespace

TEST_CASE("linear: outputs and gradients equal the dense normalised matrix, causal and not") {
  const Tensor q = testing::rand_tensor({2, 3, 29, 8}, 1), k = testing::rand_tensor({2, 3, 29, 8}, 2),
               v = testing::rand_tensor({2, 3, 29, 8}, 3), g = testing::rand_tensor({2, 3, 29, 8}, 4);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const Grads mine = with_grads(
        [&](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::linear_attention(a, b, c, causal); },
        q, k, v, g);
    const Grads ref = with_grads(
        [&](const Tensor& a, const Tensor& b, const Tensor& c) { return reference_linear(a, b, c, causal); }, q, k, v,
        g);
    CHECK_SAME_GRADS(mine, ref, 1e-4, 1e-5);
    // and the effective matrix is the reference's matrix
    const Tensor A = attention::linear_attention_matrix(q, k, causal);
    CHECK_CLOSE(matmul(A, v), ref.out, 1e-4, 1e-5);
  }
}

TEST_CASE("linear: the causal kernel at a long n (the scans) still equals the dense reference") {
  const Tensor q = testing::rand_tensor({1, 2, 300, 16}, 5), k = testing::rand_tensor({1, 2, 300, 16}, 6),
               v = testing::rand_tensor({1, 2, 300, 12}, 7), g = testing::rand_tensor({1, 2, 300, 12}, 8);
  // d_v != d_k exercises the (m, dv) state shapes
  auto kernel = [](const Tensor& a, const Tensor& b, const Tensor& c) {
    return attention::feature_attention(attention::elu_feature_map(a), attention::elu_feature_map(b), c, {true, 1e-6f, Tensor()});
  };
  auto ref = [](const Tensor& a, const Tensor& b, const Tensor& c) { return reference_linear(a, b, c, true); };
  const Grads mine = with_grads(kernel, q, k, v, g), want = with_grads(ref, q, k, v, g);
  CHECK_SAME_GRADS(mine, want, 1e-4, 1e-5);
}

TEST_CASE("linear: non-causal with fewer keys than queries") {
  const Tensor q = testing::rand_tensor({1, 2, 9, 4}, 9), k = testing::rand_tensor({1, 2, 5, 4}, 10),
               v = testing::rand_tensor({1, 2, 5, 4}, 11);
  const Tensor A = attention::linear_attention_matrix(q, k, false);
  CHECK(A.shape() == Shape{1, 2, 9, 5});
  CHECK_CLOSE(attention::linear_attention(q, k, v, false), matmul(A, v), 1e-5, 1e-6);
  CHECK_THROWS_WITH_AS(attention::linear_attention(q, k, v, true),
                       doctest::Contains("linear: causal attention needs as many queries as keys"), core::Error);
}

TEST_CASE("linear: gradcheck of the kernel, causal and not") {
  const testing::QKV x = testing::random_qkv({1, 2, 6, 3}, 12);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const auto r = testing::gradcheck_qkv(
        [causal](const Tensor& q, const Tensor& k, const Tensor& v) { return attention::linear_attention(q, k, v, causal); },
        x.q, x.k, x.v);
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.checked == 3 * x.q.numel());
  }
}

TEST_CASE("linear: the RNN form generates the causal kernel's rows, in constant memory") {
  const int64_t B = 2, H = 2, n = 40, d = 8;
  const Tensor q = testing::rand_tensor({B, H, n, d}, 17), k = testing::rand_tensor({B, H, n, d}, 18),
               v = testing::rand_tensor({B, H, n, d}, 19);
  const Tensor parallel = attention::linear_attention(q, k, v, true);
  attention::LinearAttentionState state(B, H, d, d);
  Tensor rnn = Tensor::empty({B, H, n, d});
  std::size_t first_peak = 0, last_peak = 0;
  for (int64_t t = 0; t < n; ++t) {
    const Tensor qt = reshape(slice(q, 2, t, t + 1), {B, H, d}), kt = reshape(slice(k, 2, t, t + 1), {B, H, d}),
                 vt = reshape(slice(v, 2, t, t + 1), {B, H, d});
    memory::PeakScope scope;
    const Tensor out = state.step(qt, kt, vt);  // (B, H, d)
    (t == 0 ? first_peak : last_peak) = scope.peak_above_start();
    for (int64_t r = 0; r < B * H; ++r)
      for (int64_t c = 0; c < d; ++c) rnn.data()[(r * n + t) * d + c] = out.data()[r * d + c];
  }
  CHECK(state.position() == n);
  CHECK(testing::bit_equal(rnn, parallel));  // the same step function, the same arithmetic
  CHECK(first_peak == last_peak);            // memory per generated token does not grow with t
  CHECK(state.state_bytes() == sizeof(float) * B * H * (d * d + d));
  state.reset();
  CHECK(state.position() == 0);
  const Tensor again = state.step(reshape(slice(q, 2, 0, 1), {B, H, d}), reshape(slice(k, 2, 0, 1), {B, H, d}),
                                  reshape(slice(v, 2, 0, 1), {B, H, d}));
  CHECK_CLOSE(again, reshape(slice(parallel, 2, 0, 1), {B, H, d}), 0.0, 0.0);
  CHECK_THROWS_WITH_AS(state.step(Tensor::zeros({B, H, d + 1}), Tensor::zeros({B, H, d}), Tensor::zeros({B, H, d})),
                       doctest::Contains("LinearAttentionState: q (2,2,9)"), core::Error);
}

TEST_CASE("linear: the causal backward does not store n outer products") {
  // Activation memory of forward + backward, in units of one (B, H, n, d) tensor. Storing the n states
  // S_i (d x d each) would cost n·d² floats = d = 64 such units; the scans need a few (phi_q, phi_k, their
  // gradients, out, dq, dk, dv) whatever n.
  const int64_t B = 1, H = 2, d = 64;
  std::vector<double> units;
  for (int64_t n : {256, 1024}) {
    const Tensor q = testing::rand_tensor({B, H, n, d}, 20), k = testing::rand_tensor({B, H, n, d}, 21),
                 v = testing::rand_tensor({B, H, n, d}, 22), g = testing::rand_tensor({B, H, n, d}, 23);
    Tensor lq = q.clone(), lk = k.clone(), lv = v.clone();
    for (Tensor* t : {&lq, &lk, &lv}) t->set_requires_grad();
    memory::PeakScope scope;
    attention::linear_attention(lq, lk, lv, true).backward(g);
    const double one = double(sizeof(float) * B * H * n * d);
    units.push_back(double(scope.peak_above_start()) / one);
  }
  INFO("peak / (B·H·n·d floats): n=256 -> " << units[0] << ", n=1024 -> " << units[1]);
  CHECK(units[1] < 16.0);                       // far below the d = 64 units of n stored d x d states
  CHECK(units[1] <= units[0] * 1.05 + 0.1);     // and the same multiple at 4x the length: O(n·d)
}

TEST_CASE("linear: padding keys are ignored; a row with no visible key gives 0, not NaN") {
  const Tensor q = testing::rand_tensor({2, 2, 7, 4}, 24), k = testing::rand_tensor({2, 2, 7, 4}, 25),
               v = testing::rand_tensor({2, 2, 7, 4}, 26);
  const Tensor pad = Tensor::from_vector({2, 7}, {1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1});
  // batch 0: the output equals attention over its first 5 keys only
  const Tensor out = attention::linear_attention(q, k, v, false, 1e-6f, pad);
  const Tensor q0 = slice(q, 0, 0, 1), k0 = slice(slice(k, 0, 0, 1), 2, 0, 5), v0 = slice(slice(v, 0, 0, 1), 2, 0, 5);
  CHECK_CLOSE(slice(out, 0, 0, 1), attention::linear_attention(q0, k0, v0, false), 1e-5, 1e-6);
  // batch 1, causal: row 0 sees only key 0, which is padding
  const Tensor out_c = attention::linear_attention(q, k, v, true, 1e-6f, pad);
  CHECK(testing::all_finite(out_c));
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t c = 0; c < 4; ++c) CHECK(out_c.at({1, h, 0, c}) == 0.0f);
  const Tensor A = attention::linear_attention_matrix(q, k, true, 1e-6f, pad);
  CHECK_CLOSE(out_c, matmul(A, v), 1e-5, 1e-6);
  for (int64_t i = 0; i < 7; ++i) CHECK(A.at({1, 0, i, 0}) == 0.0f);
}

TEST_CASE("linear: causal rows up to t ignore later tokens, also in their gradients") {
  const int64_t n = 12, t = 6;
  Tensor q = testing::rand_tensor({1, 1, n, 4}, 27), k = testing::rand_tensor({1, 1, n, 4}, 28),
         v = testing::rand_tensor({1, 1, n, 4}, 29);
  for (Tensor* x : {&q, &k, &v}) x->set_requires_grad();
  sum(slice(attention::linear_attention(q, k, v, true), 2, 0, t + 1)).backward();
  for (Tensor* x : {&q, &k, &v})
    for (int64_t j = t + 1; j < n; ++j)
      for (int64_t c = 0; c < 4; ++c) CHECK(x->grad().at({0, 0, j, c}) == 0.0f);
  CHECK(testing::max_abs(k.grad()) > 0.0f);
}

TEST_CASE("linear: eps only guards rows that see no key; no randomness; feature_attention's errors") {
  const auto& s = attention::find_scheme("linear");
  CHECK(s.supports_causal());
  CHECK_FALSE(s.has_pattern());
  const Tensor q = testing::rand_tensor({1, 2, 10, 4}, 30);
  // eps is the denominator of a row that sees no key only: a row that sees keys is normalised exactly
  const Tensor small = s.kernel(q, q, q, s.configure({}));
  const Tensor big = s.kernel(q, q, q, s.configure({"eps=1"}));
  CHECK(testing::bit_equal(big, small));
  CHECK(testing::bit_equal(small, s.kernel(q, q, q, s.configure({}, false, 99))));  // no randomness at all
  CHECK_THROWS_WITH_AS(attention::feature_attention(q, q, q, {false, 0.0f, Tensor()}),
                       doctest::Contains("feature_attention: eps must be a positive number"), core::Error);
  CHECK_THROWS_WITH_AS(attention::feature_attention(q, q, Tensor::zeros({1, 2, 9, 4})),
                       doctest::Contains("feature_attention: v must be (B, H, nk, dv)"), core::Error);
}

TEST_CASE("feature_attention: key log-scales equal the unscaled features, causal and not, with gradients") {
  // phi_k / exp(c) with log-scales c must act exactly like phi_k (the Performer's stabiliser relies on it).
  const Tensor pq = exp(testing::rand_tensor({1, 2, 11, 5}, 31)), pk_raw = exp(testing::rand_tensor({1, 2, 11, 5}, 32));
  const Tensor v = testing::rand_tensor({1, 2, 11, 3}, 33), g = testing::rand_tensor({1, 2, 11, 3}, 34);
  const Tensor c = testing::rand_tensor({1, 2, 11}, 35, -3.0f, 3.0f);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    // plain: features pk_raw. scaled: features pk_raw / exp(c) and log-scales c. eps scales along, so use a
    // tiny eps for the comparison.
    auto plain = [&](const Tensor& a, const Tensor& b, const Tensor& vv) {
      return attention::feature_attention(a, b, vv, {causal, 1e-12f, Tensor()});
    };
    auto scaled = [&](const Tensor& a, const Tensor& b, const Tensor& vv) {
      return attention::feature_attention(a, b / exp(unsqueeze(c, -1)), vv, {causal, 1e-12f, c});
    };
    const Grads with_scales = with_grads(scaled, pq, pk_raw, v, g), without = with_grads(plain, pq, pk_raw, v, g);
    CHECK_SAME_GRADS(with_scales, without, 1e-4, 1e-5);
    const Tensor A = attention::feature_attention_matrix(pq, pk_raw / exp(unsqueeze(c, -1)), {causal, 1e-12f, c});
    CHECK_CLOSE(matmul(A, v), plain(pq, pk_raw, v), 1e-4, 1e-5);
  }
}

TEST_CASE("linear: rows with tiny features still sum to 1; eps only for rows that see no key (regression)") {
  // phi(x) = e^x for x < 0: queries around -50 have features ~1e-22 and normalisers far below eps = 1e-6. The old
  // denominator (normaliser + eps) then gave rows of A summing to ~1e-15 and outputs of ~0.
  const Tensor q = testing::rand_tensor({1, 2, 9, 4}, 40, -55.0f, -45.0f), k = testing::rand_tensor({1, 2, 9, 4}, 41);
  const Tensor v = testing::rand_tensor({1, 2, 9, 4}, 42);
  const auto& s = attention::find_scheme("linear");
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    const attention::Config cfg = s.configure({}, causal);
    const Tensor A = s.effective_attention(q, k, v, cfg);
    CHECK(testing::max_abs(sum(A, -1) - 1.0f) < 1e-5f);
    CHECK_CLOSE(s.kernel(q, k, v, cfg), matmul(A, v), 1e-4, 1e-5);
    // every phi(q) entry is e^q (q < 0), so q + 45 (still < 0) scales each row's features by e^45: the same rows
    CHECK_CLOSE(s.kernel(q, k, v, cfg), reference_linear(q + 45.0f, k, v, causal), 1e-4, 1e-5);
  }
  // a row whose every key is padding is 0 (eps keeps it from 0/0); the other batch row is unaffected
  Tensor mask = Tensor::ones({2, 9});
  for (int64_t j = 0; j < 9; ++j) mask.data()[j] = 0.0f;  // batch 0: all padding
  const Tensor q2 = testing::rand_tensor({2, 2, 9, 4}, 43), k2 = testing::rand_tensor({2, 2, 9, 4}, 44);
  const Tensor v2 = testing::rand_tensor({2, 2, 9, 4}, 45);
  for (bool causal : {false, true}) {
    const Tensor out = attention::linear_attention(q2, k2, v2, causal, attention::kLinearEps, mask);
    CHECK(testing::max_abs(slice(out, 0, 0, 1)) == 0.0f);
    CHECK(testing::max_abs(slice(out, 0, 1, 2)) > 0.0f);
  }
  // features that underflow to 0 although keys are visible cannot be normalised in float32: refused
  const Tensor q3 = testing::rand_tensor({1, 2, 9, 4}, 46, -300.0f, -200.0f);
  for (bool causal : {false, true}) {
    CHECK_THROWS_WITH_AS(s.kernel(q3, k, v, s.configure({}, causal)), doctest::Contains("linear: the normaliser"),
                         core::Error);
    CHECK_THROWS_WITH_AS(s.effective_attention(q3, k, v, s.configure({}, causal)),
                         doctest::Contains("linear: the normaliser"), core::Error);
  }
}
