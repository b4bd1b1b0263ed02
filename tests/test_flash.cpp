// tests/test_flash.cpp — flash attention equals the dense reference (outputs and gradients) on awkward sizes:
// n not a multiple of the tile, d = 1, 17, 64, 128, causal, padding, fully masked rows, n != m; results do not
// depend on the thread count; and the memory it keeps is O(n·d).

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
  const testing::QKV x = testing::random_qkv({1, 2, 7, 3}, 8);
  const auto r = testing::gradcheck_qkv(
      [&](const Tensor& q, const Tensor& k, const Tensor& v) { return attention::flash_attention(q, k, v, fo); }, x.q, x.k, x.v);
  INFO(r.message);
  CHECK(r.ok);

  const Tensor q = testing::rand_tensor({2, 4, 300, 32}, 11), k = testing::rand_tensor({2, 4, 300, 32}, 12),
               v = testing::rand_tensor({2, 4, 300, 32}, 13), g = testing::rand_tensor({2, 4, 300, 32}, 14);
  auto f = [](auto& a, auto& b, auto& d) { return attention::flash_attention(a, b, d, {true, Tensor(), 64, 64}); };
  const auto one = testing::with_threads(1, [&] { return run(f, q, k, v, g); });
  const auto two = testing::with_threads(2, [&] { return run(f, q, k, v, g); });
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

TEST_CASE("flash: q of another rank is a clear error (bad settings: tests/test_schemes.cpp)") {
  CHECK_THROWS_WITH_AS(attention::flash_attention(Tensor::zeros({1, 4, 2}), Tensor::zeros({1, 4, 2}), Tensor::zeros({1, 4, 2})),
                       doctest::Contains("flash: q must be (B, H, n, d)"), core::Error);
}

TEST_CASE("flash: gradients stay right at large scores, against float64 and full (regression)") {
  // The user's report: q, k scaled by 100 / 1000 / 10000 gave dv relative errors 1.3e-3 / 0.12 / 1.9e13 (full:
  // 3.5e-8): the backward took P = e^(S − L) with L = m + log l rounded to one float (log l lost at large m), and
  // recomputed S = Q Kᵀ where the forward had K Qᵀ (a few ulps of |S| apart: e^(S − L) > 1).
  // Errors are measured against float64 in units of the size of the terms each gradient sums (|dO|·|v|·|k|/√d
  // for dq): float32 rounding of those terms is ~1e-7, whatever the scale; at scale >= 100 the exact dq, dk are
  // far below it (one-hot rows), so a relative error against their own size would measure rounding only.
  const auto& full = attention::find_scheme("full");
  const auto& flash = attention::find_scheme("flash");
  Rng rng(77);
  const int64_t n = 37, d = 8;
  for (float scale : {1.0f, 10.0f, 100.0f, 1000.0f})
    for (bool causal : {false, true})
      for (const char* tiles : {"block_q=64", "block_q=8,block_k=16"}) {
        CAPTURE(scale);
        CAPTURE(causal);
        CAPTURE(tiles);
        const Tensor q = randn({1, 2, n, d}, rng) * scale, k = randn({1, 2, n, d}, rng) * scale;
        const Tensor v = randn({1, 2, n, d}, rng), g = randn({1, 2, n, d}, rng);
        std::vector<std::string> set;
        for (const char* t : {"block_q=8", "block_k=16"})
          if (std::string(tiles).find(t) != std::string::npos) set.push_back(t);
        const attention::Config cf = flash.configure(set, causal), cd = full.configure({}, causal);
        const auto fl = run([&](const Tensor& a, const Tensor& b, const Tensor& c) { return flash.kernel(a, b, c, cf); },
                            q, k, v, g);
        const auto de = run([&](const Tensor& a, const Tensor& b, const Tensor& c) { return full.kernel(a, b, c, cd); },
                            q, k, v, g);
        const testing::Reference64 ref = testing::softmax_reference64(q, k, v, 1.0 / std::sqrt(double(d)), causal,
                                                                      Tensor(), g);
        const double G = testing::max_abs(g), V = testing::max_abs(v);
        const double units[4] = {V, G * V * testing::max_abs(k) / std::sqrt(double(d)),
                                 G * V * testing::max_abs(q) / std::sqrt(double(d)), G};
        const std::vector<double>* refs[4] = {&ref.out, &ref.dq, &ref.dk, &ref.dv};
        for (int t = 0; t < 4; ++t) {
          CAPTURE(t);  // 0 out, 1 dq, 2 dk, 3 dv
          const double e_flash = testing::max_error64(fl[t], *refs[t], units[t]);
          const double e_full = testing::max_error64(de[t], *refs[t], units[t]);
          CAPTURE(e_full);
          CHECK(e_flash < 1e-5);
          CHECK(e_full < 1e-5);  // the reference's own error, for scale
        }
        CHECK(testing::max_error64(fl[3], ref.dv, testing::max_abs(fl[3]) + 1e-30) < 1e-5);  // dv relative as well
      }
}

TEST_CASE("flash: scores that overflow float32 are refused, not written as zeros; rows with no key stay 0 (regression)") {
  // The user's report: q, k ~ N(0,1)·1e30: full refuses ("non-finite"), flash returned zeros with exit 0 (a NaN
  // normaliser failed "l > 0" and read as "saw no key"). The same at 1e19 and FLT_MAX, causal or not.
  Rng rng(78);
  const Tensor base_q = randn({1, 2, 16, 8}, rng), base_k = randn({1, 2, 16, 8}, rng), v = randn({1, 2, 16, 8}, rng);
  const auto& flash = attention::find_scheme("flash");
  for (float scale : {1e19f, 1e30f, std::numeric_limits<float>::max()})
    for (bool causal : {false, true}) {
      CAPTURE(scale);
      CAPTURE(causal);
      const Tensor q = base_q * scale, k = base_k * scale;
      try {
        const Tensor out = flash.kernel(q, k, v, flash.configure({}, causal));
        FAIL("overflowing scores were not refused; max |out| = ", testing::max_abs(out));
      } catch (const core::Error& e) {
        CHECK(testing::printable_line(e.what()));
        // 1e19, 1e30: finite inputs whose scores overflow (refused by the kernel); FLT_MAX: q itself holds infinities
        // (refused at the door, Scheme::check_qkv)
        const std::string expected = scale < 1e31f ? "flash: a score" : "flash: q has a non-finite value";
        CHECK(std::string(e.what()).rfind(expected, 0) == 0);
      }
    }
  Tensor qn = base_q.clone();
  qn.data()[3] = std::nanf("");
  CHECK_THROWS_WITH_AS(flash.kernel(qn, base_k, v, flash.configure({})),
                       doctest::Contains("flash: q has a non-finite value (nan) at flat index 3"), core::Error);
  // a row that truly sees no key (every key padded) still gives zeros, and no refusal
  Tensor pad = Tensor::ones({2, 16});
  for (int64_t j = 0; j < 16; ++j) pad.data()[j] = 0.0f;
  const Tensor q2 = randn({2, 2, 16, 8}, rng), k2 = randn({2, 2, 16, 8}, rng), v2 = randn({2, 2, 16, 8}, rng);
  attention::FlashOptions o;
  o.key_padding_mask = pad;
  const Tensor out = attention::flash_attention(q2, k2, v2, o);
  CHECK(testing::max_abs(slice(out, 0, 0, 1)) == 0.0f);
  CHECK(testing::max_abs(slice(out, 0, 1, 2)) > 0.0f);
}

TEST_CASE("flash: tiles larger than the sequence are clamped to it (memory bounded by the input)") {
  // The user's report: block_k=10000000 at n = 20 allocated 790 MB (a bk × br score tile per task).
  Rng rng(79);
  const Tensor q = randn({1, 2, 20, 8}, rng), k = randn({1, 2, 20, 8}, rng), v = randn({1, 2, 20, 8}, rng);
  const auto& flash = attention::find_scheme("flash");
  for (bool causal : {false, true}) {
    const Tensor clamped = flash.kernel(q, k, v, flash.configure({"block_q=20", "block_k=20"}, causal));
    memory::reset_peak();
    const size_t before = memory::current_bytes();
    const Tensor huge = flash.kernel(q, k, v, flash.configure({"block_q=10000000", "block_k=10000000"}, causal));
    CHECK(memory::peak_bytes() - before < 64 * 1024);  // a few (n, d) buffers, not 10⁷ floats
    CHECK(testing::bit_equal(huge, clamped));
  }
}
