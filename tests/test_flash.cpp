// tests/test_flash.cpp — flash attention equals the dense reference (outputs and gradients) on awkward sizes:
// n not a multiple of the tile, d = 1, 17, 64, 128, causal, padding, fully masked rows, n != m; results do not
// depend on the thread count; and the memory it keeps is O(n·d).
#include <omp.h>

#include "attention/dense.h"
#include "attention/flash.h"
#include "tests/helpers.h"

using namespace core;

namespace {
struct Case {
  int64_t B, H, n, m, d;
  bool causal;
  bool padded;
  int64_t bq, bk;
};

// out and dq, dk, dv of sum(out * G) for one implementation.
std::vector<Tensor> run(const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& f, const Tensor& q0,
                        const Tensor& k0, const Tensor& v0, const Tensor& g) {
  Tensor q = q0.detach().clone(), k = k0.detach().clone(), v = v0.detach().clone();
  for (Tensor* t : {&q, &k, &v}) t->set_requires_grad();
  Tensor out = f(q, k, v);
  out.backward(g);
  return {out, q.grad(), k.grad(), v.grad()};
}
}  // namespace

TEST_CASE("flash: equals dense attention, outputs and gradients, on odd sizes") {
  const std::vector<Case> cases = {
      {1, 1, 1, 1, 1, false, false, 64, 64},   {2, 3, 37, 37, 17, false, false, 16, 8},
      {2, 2, 37, 37, 17, true, false, 16, 8},  {1, 2, 100, 100, 64, true, false, 32, 64},
      {2, 1, 50, 70, 8, false, true, 16, 16},  {1, 1, 33, 33, 128, true, true, 8, 8},
      {1, 2, 65, 65, 1, true, false, 64, 64},  {2, 2, 20, 45, 5, true, false, 7, 9},
  };
  for (const Case& c : cases) {
    CAPTURE(c.n);
    CAPTURE(c.m);
    CAPTURE(c.d);
    CAPTURE(c.causal);
    CAPTURE(c.padded);
    const Tensor q = testing::rand_tensor({c.B, c.H, c.n, c.d}, 1), k = testing::rand_tensor({c.B, c.H, c.m, c.d}, 2),
                 v = testing::rand_tensor({c.B, c.H, c.m, c.d}, 3), g = testing::rand_tensor({c.B, c.H, c.n, c.d}, 4);
    Tensor pad;
    if (c.padded) {
      pad = Tensor::ones({c.B, c.m});
      for (int64_t j = c.m - 5; j < c.m; ++j) pad.at({0, j}) = 0.0f;        // trailing padding
      for (int64_t j = 0; j < c.m; ++j) pad.at({c.B - 1, j}) = j % 3 != 1;  // scattered holes
    }
    attention::FlashOptions fo;
    fo.causal = c.causal;
    fo.key_padding_mask = pad;
    fo.block_q = c.bq;
    fo.block_k = c.bk;
    const auto got = run([&](auto& a, auto& b, auto& d) { return attention::flash_attention(a, b, d, fo); }, q, k, v, g);
    const auto want =
        run([&](auto& a, auto& b, auto& d) { return attention::dense_attention(a, b, d, {c.causal, pad}); }, q, k, v, g);
    const char* names[] = {"out", "dq", "dk", "dv"};
    for (int i = 0; i < 4; ++i) {
      INFO(names[i]);
      CHECK_CLOSE(got[i], want[i], 1e-4, 1e-5 * std::max(1.0f, testing::max_abs(want[i])));
    }
  }
}

TEST_CASE("flash: a fully masked row gives zeros and zero gradients") {
  const Tensor q = testing::rand_tensor({1, 1, 6, 4}, 5), k = testing::rand_tensor({1, 1, 6, 4}, 6),
               v = testing::rand_tensor({1, 1, 6, 4}, 7);
  attention::FlashOptions fo;
  fo.causal = true;
  fo.key_padding_mask = Tensor::from_vector({1, 6}, {0, 0, 1, 1, 1, 1});  // rows 0 and 1 see only padding
  fo.block_q = fo.block_k = 4;
  const auto got = run([&](auto& a, auto& b, auto& d) { return attention::flash_attention(a, b, d, fo); }, q, k, v,
                       Tensor::ones({1, 1, 6, 4}));
  for (int t = 0; t < 4; ++t) CHECK(got[0].at({0, 0, 1, t}) == 0.0f);
  for (const Tensor& t : got) CHECK(testing::all_finite(t));
  CHECK(got[1].at({0, 0, 0, 0}) == 0.0f);
}

TEST_CASE("flash: gradcheck, and results independent of the thread count") {
  attention::FlashOptions fo;
  fo.causal = true;
  fo.block_q = 3;
  fo.block_k = 2;
  const auto r = gradcheck([&](const std::vector<Tensor>& x) { return attention::flash_attention(x[0], x[1], x[2], fo); },
                           {testing::rand_tensor({1, 2, 7, 3}, 8), testing::rand_tensor({1, 2, 7, 3}, 9),
                            testing::rand_tensor({1, 2, 7, 3}, 10)});
  INFO(r.message);
  CHECK(r.ok);

  const Tensor q = testing::rand_tensor({2, 4, 300, 32}, 11), k = testing::rand_tensor({2, 4, 300, 32}, 12),
               v = testing::rand_tensor({2, 4, 300, 32}, 13), g = testing::rand_tensor({2, 4, 300, 32}, 14);
  auto f = [](auto& a, auto& b, auto& d) { return attention::flash_attention(a, b, d, {true, Tensor(), 64, 64}); };
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = run(f, q, k, v, g);
  omp_set_num_threads(2);
  const auto two = run(f, q, k, v, g);
  omp_set_num_threads(threads);
  for (int i = 0; i < 4; ++i) CHECK_CLOSE(one[i], two[i], 1e-6, 1e-7);
}

TEST_CASE("flash: keeps O(n·d) memory where dense keeps O(n²)") {
  const int64_t n = 2048, d = 32;
  const Tensor q = testing::rand_tensor({1, 1, n, d}, 15), k = testing::rand_tensor({1, 1, n, d}, 16),
               v = testing::rand_tensor({1, 1, n, d}, 17);
  size_t flash_peak, dense_peak;
  {
    memory::PeakScope scope;
    run([](auto& a, auto& b, auto& c) { return attention::flash_attention(a, b, c); }, q, k, v, Tensor::ones({1, 1, n, d}));
    flash_peak = scope.peak_above_start();
  }
  {
    memory::PeakScope scope;
    run([](auto& a, auto& b, auto& c) { return attention::dense_attention(a, b, c); }, q, k, v, Tensor::ones({1, 1, n, d}));
    dense_peak = scope.peak_above_start();
  }
  const size_t q_bytes = n * d * sizeof(float);
  CHECK(flash_peak <= 12 * q_bytes);              // q,k,v copies, out, grads, lse: a handful of (n, d) tensors
  CHECK(dense_peak >= 2 * n * n * sizeof(float));  // at least the scores and probabilities
}

TEST_CASE("flash: registered, with clear errors") {
  const auto& s = attention::find_scheme("flash");
  const Tensor x = testing::rand_tensor({1, 1, 4, 2}, 1);
  CHECK_THROWS_WITH_AS(s.kernel(x, x, x, s.configure({"block_q=0"})), doctest::Contains("flash: block_q must be >= 1, got 0"),
                       core::Error);
  CHECK_THROWS_WITH_AS(attention::flash_attention(Tensor::zeros({1, 4, 2}), Tensor::zeros({1, 4, 2}), Tensor::zeros({1, 4, 2})),
                       doctest::Contains("flash: q must be (B, H, n, d)"), core::Error);
}
