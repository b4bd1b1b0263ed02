// tests/test_index_attention.cpp — the shared sparse kernel on its own: per-query key lists against the dense
// reference with the equivalent mask (outputs and gradients), gradcheck, empty rows, padding, broadcasting of
// the index over batch and heads, repeated and out-of-range keys rejected, determinism across thread counts,
// O(n·K) memory.

#include <algorithm>

#include "attention/kernels/index_attention.h"
#include "tests/helpers.h"

using namespace core;
using attention::IndexAttentionOptions;

namespace {

using testing::random_index;

using testing::Grads;

void check_against_dense(const IntTensor& index, int64_t B, int64_t H, int64_t n, int64_t m, int64_t d,
                         const IndexAttentionOptions& o, uint64_t seed) {
  const Tensor q = testing::rand_tensor({B, H, n, d}, seed), k = testing::rand_tensor({B, H, m, d}, seed + 1),
               v = testing::rand_tensor({B, H, m, d}, seed + 2), g = testing::rand_tensor({B, H, n, d}, seed + 3);
  const Grads mine = testing::with_grads(
      [&](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::index_attention(a, b, c, index, o); },
      q, k, v, g);
  const Grads ref = testing::with_grads(
      [&](const Tensor& a, const Tensor& b, const Tensor& c) {
        return attention::index_attention_dense_reference(a, b, c, index, o);
      },
      q, k, v, g);
  CHECK_SAME_GRADS(mine, ref, 1e-4, 1e-5);
}

}  // namespace

TEST_CASE("index_attention: outputs and gradients equal dense attention with the equivalent mask") {
  const int64_t B = 2, H = 3, n = 11, m = 13, d = 5, K = 6;
  SUBCASE("index per batch and head") { check_against_dense(random_index(B, H, n, K, m, 1), B, H, n, m, d, {}, 10); }
  SUBCASE("index shared over the batch") { check_against_dense(random_index(1, H, n, K, m, 2), B, H, n, m, d, {}, 20); }
  SUBCASE("index shared over batch and heads") {
    check_against_dense(random_index(1, 1, n, K, m, 3), B, H, n, m, d, {}, 30);
  }
  SUBCASE("with padding keys and a custom scale") {
    IndexAttentionOptions o;
    o.scale = 0.7f;
    o.key_padding_mask = Tensor::ones({B, m});
    for (int64_t j : {2, 5, 6, 12}) o.key_padding_mask.at({1, j}) = 0.0f;
    check_against_dense(random_index(B, 1, n, K, m, 4), B, H, n, m, d, o, 40);
  }
  SUBCASE("d longer than the 8-wide dot product, large logits") {
    const IntTensor idx = random_index(1, 1, 9, 9, 9, 5);
    const Tensor q = testing::rand_tensor({1, 2, 9, 19}, 50, -4, 4), k = testing::rand_tensor({1, 2, 9, 19}, 51, -4, 4),
                 v = testing::rand_tensor({1, 2, 9, 19}, 52);
    CHECK_CLOSE(attention::index_attention(q, k, v, idx), attention::index_attention_dense_reference(q, k, v, idx), 1e-4,
                1e-5);
  }
}

TEST_CASE("index_attention: gradcheck in q, k and v") {
  const IntTensor index = random_index(1, 2, 5, 3, 6, 6);
  const Tensor q = testing::rand_tensor({2, 2, 5, 3}, 60), k = testing::rand_tensor({2, 2, 6, 3}, 61),
               v = testing::rand_tensor({2, 2, 6, 3}, 62);
  const auto r = testing::gradcheck_qkv(
      [&](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::index_attention(a, b, c, index); }, q, k, v);
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked == q.numel() + k.numel() + v.numel());
}

TEST_CASE("index_attention: a row with no usable key gives zeros and zero gradients, never NaN") {
  const int64_t n = 6, m = 6, d = 4, K = 3;
  IntTensor index = random_index(1, 1, n, K, m, 7, /*empty_row0=*/true);  // row 0: every slot -1
  // Row 1 lists only keys 4 and 5, which are padding.
  for (int64_t t = 0; t < K; ++t) index.data[1 * K + t] = t < 2 ? 4 + t : -1;
  IndexAttentionOptions o;
  o.key_padding_mask = Tensor::from_vector({1, m}, {1, 1, 1, 1, 0, 0});
  Tensor q = testing::rand_tensor({1, 1, n, d}, 70), k = testing::rand_tensor({1, 1, m, d}, 71),
         v = testing::rand_tensor({1, 1, m, d}, 72);
  for (Tensor* t : {&q, &k, &v}) t->set_requires_grad();
  const Tensor out = attention::index_attention(q, k, v, index, o);
  CHECK(testing::all_finite(out));
  for (int64_t i : {0, 1})
    for (int64_t c = 0; c < d; ++c) CHECK(out.at({0, 0, i, c}) == 0.0f);
  const auto probs = attention::index_attention_forward(q.detach(), k.detach(), v.detach(), index, o).probs;
  for (int64_t i : {0, 1})
    for (int64_t t = 0; t < K; ++t) CHECK(probs.at({0, 0, i, t}) == 0.0f);
  sum(out * testing::rand_tensor({1, 1, n, d}, 73)).backward();
  for (Tensor* t : {&q, &k, &v}) CHECK(testing::all_finite(t->grad()));
  for (int64_t i : {0, 1})
    for (int64_t c = 0; c < d; ++c) CHECK(q.grad().at({0, 0, i, c}) == 0.0f);
  for (int64_t j : {4, 5})  // padding keys get no gradient
    for (int64_t c = 0; c < d; ++c) {
      CHECK(k.grad().at({0, 0, j, c}) == 0.0f);
      CHECK(v.grad().at({0, 0, j, c}) == 0.0f);
    }
  check_against_dense(index, 1, 1, n, m, d, o, 74);
}

TEST_CASE("index_attention: probabilities in slot form, their dense view, out == A @ v") {
  const IntTensor index = random_index(1, 2, 7, 4, 9, 8);
  const Tensor q = testing::rand_tensor({2, 2, 7, 5}, 80), k = testing::rand_tensor({2, 2, 9, 5}, 81),
               v = testing::rand_tensor({2, 2, 9, 5}, 82);
  const auto r = attention::index_attention_forward(q, k, v, index);
  REQUIRE(r.probs.shape() == Shape{2, 2, 7, 4});
  const Tensor row_sums = sum(r.probs, -1);  // every row lists at least one key
  for (int64_t i = 0; i < row_sums.numel(); ++i) CHECK(std::fabs(row_sums.data()[i] - 1.0f) < 1e-5f);
  const Tensor A = attention::index_to_dense(r.probs, index, 9);  // (2,2,7,9)
  CHECK_CLOSE(matmul(A, v), r.out, 1e-5, 1e-6);
  const Tensor P = attention::index_pattern(index, 2, 2, 9);
  int64_t outside = 0, listed = 0;
  for (int64_t i = 0; i < P.numel(); ++i) {
    outside += P.data()[i] == 0.0f && A.data()[i] != 0.0f;
    listed += P.data()[i] == 1.0f;
  }
  CHECK(outside == 0);
  int64_t used = 0;
  for (int64_t j : index.data) used += j >= 0;
  CHECK(listed == used * 2);  // the index is shared over B = 2
}

TEST_CASE("index_attention: repeated and out-of-range keys, and bad shapes, are rejected") {
  const Tensor q = testing::rand_tensor({1, 2, 4, 3}, 90), k = testing::rand_tensor({1, 2, 5, 3}, 91),
               v = testing::rand_tensor({1, 2, 5, 3}, 92);
  IntTensor index({1, 1, 4, 3}, -1);
  for (int64_t i = 0; i < 4; ++i) index.data[i * 3] = i;
  CHECK_NOTHROW(attention::index_attention(q, k, v, index));
  IntTensor repeated = index;
  repeated.data[2 * 3 + 2] = 2;  // row 2 lists key 2 in slots 0 and 2
  CHECK_THROWS_WITH_AS(attention::index_attention(q, k, v, repeated), doctest::Contains("lists key 2 twice"), core::Error);
  IntTensor far = index;
  far.data[1] = 5;
  CHECK_THROWS_WITH_AS(attention::index_attention(q, k, v, far), doctest::Contains("out of range [-1, 5)"), core::Error);
  IntTensor negative = index;
  negative.data[1] = -2;
  CHECK_THROWS_WITH_AS(attention::index_attention(q, k, v, negative), doctest::Contains("key index -2"), core::Error);
  CHECK_THROWS_WITH_AS(attention::index_attention(q, k, v, IntTensor({1, 3, 4, 3}, -1)),
                       doctest::Contains("does not fit q"), core::Error);
  CHECK_THROWS_WITH_AS(attention::index_attention(q, k, v, IntTensor({4, 3}, -1)), doctest::Contains("(B or 1, H or 1, n, K)"),
                       core::Error);
  IndexAttentionOptions o;
  o.key_padding_mask = Tensor::ones({1, 4});
  CHECK_THROWS_WITH_AS(attention::index_attention(q, k, v, index, o), doctest::Contains("key_padding_mask must be (B, m)"),
                       core::Error);
}

TEST_CASE("index_attention: bit-identical outputs and gradients with 1 and 2 threads") {
  // Large enough that parallel_rows really splits the work.
  const int64_t B = 1, H = 2, n = 384, d = 16, K = 24;
  const IntTensor index = random_index(1, H, n, K, n, 9);
  const Tensor q = testing::rand_tensor({B, H, n, d}, 100), k = testing::rand_tensor({B, H, n, d}, 101),
               v = testing::rand_tensor({B, H, n, d}, 102), g = testing::rand_tensor({B, H, n, d}, 103);
  auto run = [&] {
    return testing::with_grads(
        [&](const Tensor& a, const Tensor& b, const Tensor& c) { return attention::index_attention(a, b, c, index); }, q,
        k, v, g);
  };
  const Grads one = testing::with_threads(1, run);
  const Grads two = testing::with_threads(2, run);
  CHECK(testing::bit_equal(one.out, two.out));
  CHECK(testing::bit_equal(one.dq, two.dq));
  CHECK(testing::bit_equal(one.dk, two.dk));
  CHECK(testing::bit_equal(one.dv, two.dv));
  const Grads again = run();
  CHECK(testing::bit_equal(one.dk, again.dk));
}

TEST_CASE("index_attention: memory is O(n·K), not O(n²)") {
  const int64_t n = 2048, d = 8, K = 16;
  IntTensor index({1, 1, n, K}, -1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < K && t <= i; ++t) index.data[i * K + t] = i - t;  // a causal window of 16
  const Tensor q = testing::rand_tensor({1, 1, n, d}, 110), k = testing::rand_tensor({1, 1, n, d}, 111),
               v = testing::rand_tensor({1, 1, n, d}, 112);
  Tensor lq = q.clone().detach().set_requires_grad();
  memory::PeakScope scope;
  const Tensor out = attention::index_attention(lq, k, v, index);
  out.backward(Tensor::ones(out.shape()));
  const double peak = static_cast<double>(scope.peak_above_start());
  const double one_nn_matrix = 4.0 * n * n;  // 16 MiB
  CHECK(peak < one_nn_matrix / 8);
  CHECK(peak > 4.0 * n * K);  // it does keep the (n, K) probabilities
}
