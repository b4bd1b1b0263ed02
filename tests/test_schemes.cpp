// tests/test_schemes.cpp — what every registered scheme must satisfy, checked for all of them at once.
//
// A new scheme is covered by adding its files: this suite walks the registry. For each scheme, at its default
// settings, on q, k, v of shape (2, 2, n, 8) with n = 64 (and n = 37, which is not a multiple of any block):
//   - out == effective_attention @ v              (the matrix drawn is the matrix applied)
//   - the same seed gives bit-identical outputs   (determinism)
//   - effective attention is 0 outside pattern()  (where a pattern exists), and pattern() is 0/1
//   - causal: outputs up to t are bit-identical when tokens after t change; A is 0 above the diagonal
//   - unknown settings are rejected naming the key; causal is refused clearly if unsupported
//   - the layer maps (B, n, d_model) -> (B, n, d_model) and backprop reaches every parameter
// Scheme-specific tests (against the dense reference with the scheme's mask, gradchecks, the paper's
// properties) live in tests/test_<scheme>.cpp.
#include <cstring>

#include "attention/scheme.h"
#include "tests/helpers.h"

using namespace core;

namespace {

struct QKV {
  Tensor q, k, v;
};

QKV random_qkv(int64_t n, uint64_t seed, int64_t B = 2, int64_t H = 2, int64_t d = 8) {
  return {testing::rand_tensor({B, H, n, d}, seed, -1.5f, 1.5f), testing::rand_tensor({B, H, n, d}, seed + 1, -1.5f, 1.5f),
          testing::rand_tensor({B, H, n, d}, seed + 2, -1.5f, 1.5f)};
}

// The schemes whose kernel takes arbitrary q, k, v (`attnzoo run` works on them).
std::vector<const attention::Scheme*> runnable() {
  std::vector<const attention::Scheme*> out;
  return attention::all_schemes();
}

// Runs f(n) for n = 37 (not a multiple of any block) and accepts a clear error instead, as long as the
// message names n; the scheme must then work at n = 64.
template <class F>
void at_odd_and_even_n(const attention::Scheme& s, F f) {
  try {
    f(37);
  } catch (const core::Error& e) {
    const std::string msg = e.what();
    INFO(s.name() << " refused n = 37 with: " << msg);
    CHECK((msg.find("37") != std::string::npos && msg.find(s.name()) != std::string::npos));
  }
  f(64);
}

}  // namespace

TEST_CASE("schemes: every scheme describes itself") {
  for (const auto* s : attention::all_schemes()) {
    CAPTURE(s->name());
    CHECK(!s->summary().empty());
    CHECK(s->paper().find("20") != std::string::npos);  // "Authors year, title"
    for (const auto& hp : s->hyperparams()) {
      CHECK(!hp.key.empty());
      CHECK(!hp.help.empty());
    }
    CHECK_THROWS_WITH_AS(s->configure({"no_such_key=1"}), doctest::Contains("unknown setting 'no_such_key'"), core::Error);
    if (!s->supports_causal())
      CHECK_THROWS_WITH_AS(s->configure({}, true), doctest::Contains("causal"), core::Error);
  }
}

TEST_CASE("schemes: out == effective_attention @ v, deterministic, inside the pattern") {
  for (const auto* s : runnable()) {
    for (bool causal : {false, true}) {
      if (causal && !s->supports_causal()) continue;
      CAPTURE(s->name());
      CAPTURE(causal);
      at_odd_and_even_n(*s, [&](int64_t n) {
        CAPTURE(n);
        const QKV x = random_qkv(n, 100 + n);
        const attention::Config cfg = s->configure({}, causal, /*seed=*/7);
        const Tensor out = s->kernel(x.q, x.k, x.v, cfg);
        REQUIRE(out.shape() == x.q.shape());
        CHECK(testing::all_finite(out));
        const Tensor A = s->effective_attention(x.q, x.k, x.v, cfg);
        REQUIRE(A.shape() == Shape{2, 2, n, n});
        CHECK_CLOSE(out, matmul(A, x.v), 1e-4, 1e-5);

        const Tensor again = s->kernel(x.q, x.k, x.v, s->configure({}, causal, 7));
        CHECK(testing::bit_equal(out, again));

        if (s->has_pattern()) {
          const Tensor P = s->data_pattern(x.q, x.k, cfg);
          REQUIRE(P.shape() == Shape{2, 2, n, n});
          int64_t outside = 0, non_binary = 0;
          for (int64_t i = 0; i < P.numel(); ++i) {
            non_binary += P.data()[i] != 0.0f && P.data()[i] != 1.0f;
            outside += P.data()[i] == 0.0f && A.data()[i] != 0.0f;
          }
          CHECK(non_binary == 0);
          CHECK(outside == 0);
        }
        if (causal) {
          int64_t above = 0;
          for (int64_t bh = 0; bh < 4; ++bh)
            for (int64_t i = 0; i < n; ++i)
              for (int64_t j = i + 1; j < n; ++j) above += A.data()[(bh * n + i) * n + j] != 0.0f;
          CHECK(above == 0);
        }
      });
    }
  }
}

TEST_CASE("schemes: every runnable scheme counts its useful work (for the GFLOP/s column)") {
  for (const auto* s : runnable()) {
    CAPTURE(s->name());
    const double f1 = s->flops({1, 4, 1024, 64}, s->configure({}));
    const double f2 = s->flops({2, 4, 1024, 64}, s->configure({}));
    CHECK(std::isfinite(f1));
    CHECK(f1 > 0);
    CHECK(f2 == doctest::Approx(2 * f1));  // proportional to the batch
    // no scheme does more useful work than dense attention
    CHECK(f1 <= 12.0 * 1024 * 1024 * 64 * 4 * 1.0001);
  }
  const auto& full = attention::find_scheme("full");
  CHECK(full.flops({2, 3, 10, 4}, full.configure({})) == doctest::Approx(12.0 * 10 * 10 * 4 * 6));
  CHECK(full.flops({2, 3, 10, 4}, full.configure({}, true)) == doctest::Approx(12.0 * 55 * 4 * 6));
}

TEST_CASE("schemes: causal outputs up to t do not depend on tokens after t") {
  for (const auto* s : runnable()) {
    if (!s->supports_causal()) continue;
    CAPTURE(s->name());
    const int64_t n = 64, t = 29;
    const QKV x = random_qkv(n, 300);
    const attention::Config cfg = s->configure({}, true, 11);
    const Tensor out = s->kernel(x.q, x.k, x.v, cfg);
    QKV y{x.q.clone(), x.k.clone(), x.v.clone()};
    for (Tensor* m : {&y.q, &y.k, &y.v})
      for (int64_t bh = 0; bh < 4; ++bh)
        for (int64_t i = t + 1; i < n; ++i)
          for (int64_t c = 0; c < 8; ++c) m->data()[(bh * n + i) * 8 + c] = -m->data()[(bh * n + i) * 8 + c] + 0.5f;
    const Tensor out2 = s->kernel(y.q, y.k, y.v, cfg);
    CHECK(testing::bit_equal(slice(out, 2, 0, t + 1), slice(out2, 2, 0, t + 1)));
  }
}

TEST_CASE("schemes: every layer maps (B, n, d_model) to itself and backprop reaches every parameter") {
  for (const auto* s : attention::all_schemes()) {
    for (bool causal : {false, true}) {
      if (causal && !s->supports_causal()) continue;
      CAPTURE(s->name());
      CAPTURE(causal);
      Rng rng(5);
      attention::LayerConfig lc;
      lc.d_model = 16;
      lc.n_heads = 2;
      lc.max_len = 64;
      lc.causal = causal;
      lc.seed = 3;
      auto layer = s->make_layer(lc, rng);
      Tensor x = testing::rand_tensor({2, 64, 16}, 6);
      x.set_requires_grad();
      const Tensor y = layer->forward(x);
      REQUIRE(y.shape() == Shape{2, 64, 16});
      CHECK(testing::all_finite(y));
      sum(y * testing::rand_tensor({2, 64, 16}, 7)).backward();
      CHECK(testing::max_abs(x.grad()) > 0.0f);
      for (const auto& [name, p] : layer->named_parameters()) {
        CAPTURE(name);
        REQUIRE(p.grad().defined());
        CHECK(testing::all_finite(p.grad()));
        CHECK(testing::max_abs(p.grad()) > 0.0f);
      }
    }
  }
}
