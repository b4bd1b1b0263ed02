// tests/test_schemes.cpp — the conformance table: what every registered scheme must satisfy, checked for all of
// them at once, with the settings each scheme's own file declares (SchemeInfo::test_settings, plus the defaults).
//
// A new scheme is covered by adding its file: this suite walks the registry. For every scheme, every declared
// setting, causal where supported, on q, k, v of shape (2, 2, n, 8) with n = 37 (not a multiple of any block) and
// n = 64:
//   - out == effective_attention @ v              (the matrix drawn is the matrix applied)
//   - the same seed gives bit-identical outputs   (determinism)
//   - effective attention is 0 outside pattern()  (where a pattern exists), and pattern() is 0/1
//   - a masked softmax (SchemeInfo::masked_softmax) equals dense attention masked by its pattern: out, dq, dk, dv,
//     also with padding keys
//   - causal: A is 0 above the diagonal; outputs up to t are bit-identical when tokens after t change
//   - batch and head independence: changing batch 0 (head 0) leaves batch 1 (head 1) bit-identical
//   - bad values of every setting (malformed, and just outside the range it states) are refused by configure and
//     by make_layer, naming the scheme and the key (and the range); unknown keys too; causal is refused clearly
//     where unsupported
//   - the layer maps (B, n, d_model) -> (B, n, d_model), the same seeds give the same numbers, backprop reaches
//     every parameter, and it gradchecks
// What is specific to one scheme (LSH collision statistics, Sinkhorn's doubly stochastic matrix, ETC's relative
// biases, ...) lives in tests/test_<scheme>.cpp.
#include <cstring>
#include <memory>

#include "attention/scheme.h"
#include "tests/helpers.h"

using namespace core;
using attention::Scheme;

namespace {

using testing::QKV;

// q, k, v (2, 2, n, 8) in [-1.5, 1.5).
QKV random_qkv(int64_t n, uint64_t seed) { return testing::random_qkv({2, 2, n, 8}, seed, -1.5f, 1.5f); }

// One row of the table: a scheme, one of its declared settings, causal or not.
struct Case {
  const Scheme* scheme;
  std::vector<std::string> set;
  bool causal;
  // A layer of d_model with 2 heads for this row's settings and causality.
  attention::LayerConfig layer_config(int64_t d_model, int64_t max_len, uint64_t seed) const {
    attention::LayerConfig lc = testing::layer_config(d_model, 2, set, causal);
    lc.max_len = max_len;
    lc.seed = seed;
    return lc;
  }
  std::string label() const {
    std::string s = scheme->name() + (causal ? " causal" : "");
    for (const auto& kv : set) s += " " + kv;
    return s;
  }
};

std::vector<Case> table() {
  std::vector<Case> out;
  for (const Scheme* s : attention::all_schemes()) {
    std::vector<std::vector<std::string>> sets = {{}};
    for (const auto& set : s->info().test_settings) sets.push_back(set);
    for (const auto& set : sets)
      for (bool causal : {false, true})
        if (!causal || s->supports_causal()) out.push_back({s, set, causal});
  }
  return out;
}

// Runs f(n) for n = 37 (not a multiple of any block) and accepts a clear error instead, as long as the
// message names n and the scheme; the scheme must then work at n = 64.
template <class F>
void at_odd_and_even_n(const Scheme& s, F f) {
  try {
    f(37);
  } catch (const core::Error& e) {
    const std::string msg = e.what();
    INFO(s.name() << " refused n = 37 with: " << msg);
    CHECK((msg.find("37") != std::string::npos && msg.find(s.name()) != std::string::npos));
  }
  f(64);
}

// x with the rows (b, h, i >= from) of batch `b` (all heads when h < 0) replaced by other values.
Tensor perturbed(const Tensor& x, int64_t b, int64_t h, int64_t from = 0) {
  Tensor y = x.clone();
  const int64_t H = x.size(1), n = x.size(2), d = x.size(3);
  for (int64_t bb = 0; bb < x.size(0); ++bb)
    for (int64_t hh = 0; hh < H; ++hh) {
      if ((b >= 0 && bb != b) || (h >= 0 && hh != h)) continue;
      float* p = y.data() + ((bb * H + hh) * n + from) * d;
      for (int64_t e = 0; e < (n - from) * d; ++e) p[e] = 0.5f - p[e];
    }
  return y;
}

// A value a setting must refuse, and a part of the message that must name why ("" when the key alone is asked).
struct Bad {
  std::string value, says;
};

// The values just outside the range that `accepts` states (">= 1", "> 0", "in [1, 64]", "in (0, 1]", at the end of
// "integer >= 1", "number in (0, 1]", "list of integer >= 0", ...), each with the clause its message must carry:
// "is out of range: it must be >= 1". None when no range is stated.
std::vector<Bad> just_outside(const std::string& accepts) {
  const bool integer = accepts.find("integer") != std::string::npos;
  auto text = [&](double v) { return integer ? std::to_string(static_cast<int64_t>(v)) : attention::format_number(v); };
  std::vector<Bad> out;
  size_t at = accepts.find(">");
  if (at == std::string::npos) at = accepts.find("in [");
  if (at == std::string::npos) at = accepts.find("in (");
  if (at == std::string::npos) return out;
  const std::string range = accepts.substr(at), says = "is out of range: it must be " + range;
  if (range[0] == '>') {  // ">= lo" or "> lo"
    const bool open = range[1] != '=';
    const double lo = std::stod(range.substr(open ? 2 : 3));
    out.push_back({text(open ? lo : lo - 1), says});
  } else {  // "in [lo, hi]" with ( or ) where an end is open
    const size_t comma = range.find(',');
    const double lo = std::stod(range.substr(4, comma - 4)), hi = std::stod(range.substr(comma + 1));
    out.push_back({text(range[3] == '(' ? lo : lo - 1), says});
    out.push_back({text(range.back() == ')' ? hi : hi + 1), says});
  }
  return out;
}

// Values a setting must refuse, from the text of what it accepts ("integer >= 1", "true | false", ...).
std::vector<Bad> bad_values(const attention::HyperParam& hp) {
  const std::string& a = hp.accepts;
  std::vector<Bad> bad;
  if (a.find("integer") != std::string::npos) {
    bad = {{"x", ""}, {"1.5", ""}, {"3x", ""}, {"99999999999999999999", ""}};
    if (a.find("may be empty") == std::string::npos) bad.push_back({"", ""});
    if (a.find(">= 0") != std::string::npos || a.find(">= 1") != std::string::npos || a.find("in [") != std::string::npos)
      bad.push_back({"-1", ""});
    if (a.find("list") != std::string::npos) bad.push_back({"1,x", ""});
  } else if (a.find("number") != std::string::npos) {
    bad = {{"", ""}, {"x", ""}, {"nan", ""}, {"inf", ""}, {"1e999", ""}};
  } else if (a == "true | false") {
    bad = {{"", ""}, {"maybe", ""}, {"2", ""}};
  } else if (a.find(" | ") != std::string::npos) {
    bad = {{"", ""}, {"no_such_choice", "is not one of " + a}};
  }
  for (const Bad& b : just_outside(a)) bad.push_back(b);
  return bad;
}

}  // namespace

TEST_CASE("conformance: every scheme describes itself, and its declared settings are valid") {
  CHECK(table().size() > attention::all_schemes().size());
  for (const Scheme* s : attention::all_schemes()) {
    CAPTURE(s->name());
    CHECK(!s->summary().empty());
    CHECK(s->paper().find("20") != std::string::npos);  // "Authors year, title"
    CHECK(!s->info().families.empty());
    for (const auto& hp : s->hyperparams()) {
      CAPTURE(hp.key);
      CHECK(!hp.help.empty());
      CHECK(!hp.accepts.empty());
      CHECK_NOTHROW(s->configure({hp.key + "=" + hp.default_value}));  // the default shown is accepted
    }
    CHECK_THROWS_WITH_AS(s->configure({"no_such_key=1"}), doctest::Contains("unknown setting 'no_such_key'"), core::Error);
    if (!s->supports_causal()) {
      CHECK(!s->causal_refusal().empty());
      CHECK_THROWS_WITH_AS(s->configure({}, true), doctest::Contains("causal"), core::Error);
    }
  }
}

TEST_CASE("presets: a user's --set replaces the preset's value of its key, and only that key") {
  using attention::overlay_settings;
  CHECK(overlay_settings({}, {}).empty());
  CHECK(overlay_settings({"window=64"}, {}) == std::vector<std::string>{"window=64"});
  CHECK(overlay_settings({"window=64", "dilation=1"}, {"window=16"}) ==
        std::vector<std::string>{"dilation=1", "window=16"});
  CHECK(overlay_settings({"k=64"}, {"share=kv"}) == std::vector<std::string>{"k=64", "share=kv"});
  // every LM preset is accepted for the objective the LM trains it with (causal where it has a causal variant)
  for (const Scheme* s : attention::all_schemes()) {
    CAPTURE(s->name());
    CHECK_NOTHROW(s->configure(s->info().lm_settings, s->supports_causal()));
  }
}

TEST_CASE("conformance: bad values of every setting are refused naming the scheme and the key, by the layer too") {
  for (const Scheme* s : attention::all_schemes())
    for (const auto& hp : s->hyperparams()) {
      const std::vector<Bad> bad = bad_values(hp);
      CAPTURE(s->name());
      CAPTURE(hp.accepts);
      CHECK(!bad.empty());  // every kind of setting has values it refuses
      for (const Bad& b : bad) {
        CAPTURE(b.value);
        const std::string set = hp.key + "=" + b.value;
        try {
          s->configure({set});
          FAIL_CHECK("accepted " << set);
        } catch (const core::Error& e) {
          const std::string msg = e.what();
          CHECK(msg.rfind(s->name() + ": setting " + hp.key + "=", 0) == 0);  // "longformer: setting window=0 ..."
          CHECK(msg.find(b.value) != std::string::npos);
          CHECK(msg.find(b.says) != std::string::npos);
          CHECK(msg.find('\n') == std::string::npos);
        }
        attention::LayerConfig lc = testing::layer_config(8, 2, {set});  // a layer refuses them the same way
        lc.max_len = 64;
        Rng rng(1);
        CHECK_THROWS_WITH_AS(s->make_layer(lc, rng), doctest::Contains((s->name() + ": setting " + hp.key).c_str()),
                             core::Error);
      }
      CHECK_THROWS_WITH_AS(s->configure({hp.key + "=" + hp.default_value, hp.key + "=" + hp.default_value}),
                           doctest::Contains(hp.key.c_str()), core::Error);  // given twice
    }
}

TEST_CASE("conformance: out == effective_attention @ v, deterministic, inside the pattern, causal above the diagonal") {
  for (const Case& c : table()) {
    const Scheme& s = *c.scheme;
    CAPTURE(c.label());
    at_odd_and_even_n(s, [&](int64_t n) {
      CAPTURE(n);
      const QKV x = random_qkv(n, 100 + n);
      const attention::Config cfg = s.configure(c.set, c.causal, /*seed=*/7);
      const Tensor out = s.kernel(x.q, x.k, x.v, cfg);
      REQUIRE(out.shape() == x.q.shape());
      CHECK(testing::all_finite(out));
      const Tensor A = s.effective_attention(x.q, x.k, x.v, cfg);
      REQUIRE(A.shape() == Shape{2, 2, n, n});
      CHECK_CLOSE(out, matmul(A, x.v), 1e-4, 1e-5);
      CHECK(testing::bit_equal(out, s.kernel(x.q, x.k, x.v, s.configure(c.set, c.causal, 7))));

      if (s.has_pattern()) {
        const Tensor P = s.data_pattern(x.q, x.k, cfg);
        REQUIRE(P.shape() == Shape{2, 2, n, n});
        int64_t outside = 0, non_binary = 0;
        for (int64_t i = 0; i < P.numel(); ++i) {
          non_binary += P.data()[i] != 0.0f && P.data()[i] != 1.0f;
          outside += P.data()[i] == 0.0f && A.data()[i] != 0.0f;
        }
        CHECK(non_binary == 0);
        CHECK(outside == 0);
      }
      if (c.causal) {
        int64_t above = 0;
        for (int64_t bh = 0; bh < 4; ++bh)
          for (int64_t i = 0; i < n; ++i)
            for (int64_t j = i + 1; j < n; ++j) above += A.data()[(bh * n + i) * n + j] != 0.0f;
        CHECK(above == 0);
      }
    });
  }
}

TEST_CASE("conformance: a masked softmax equals dense attention masked by its pattern, outputs and dq, dk, dv") {
  int64_t compared = 0;
  for (const Case& c : table()) {
    const Scheme& s = *c.scheme;
    if (!s.info().masked_softmax) continue;
    for (bool padded : {false, true}) {
      CAPTURE(c.label());
      CAPTURE(padded);
      at_odd_and_even_n(s, [&](int64_t n) {
        CAPTURE(n);
        const QKV x = random_qkv(n, 200 + n);
        const Tensor g = testing::rand_tensor(x.q.shape(), 250 + n);
        attention::Config cfg = s.configure(c.set, c.causal, 7);
        if (padded) {  // padding keys in batch 1
          cfg.key_padding_mask = Tensor::ones({2, n});
          for (int64_t j : {3, 17, 31}) cfg.key_padding_mask.at({1, j}) = 0.0f;
        }
        Tensor P = s.data_pattern(x.q, x.k, cfg);  // (2, 2, n, n)
        if (padded) P = P * reshape(cfg.key_padding_mask, {2, 1, 1, n});  // padding keys are never attended
        const testing::Grads mine = testing::with_grads(
            [&](const Tensor& q, const Tensor& k, const Tensor& v) { return s.kernel(q, k, v, cfg); }, x.q, x.k, x.v, g);
        const testing::Grads ref = testing::with_grads(
            [&](const Tensor& q, const Tensor& k, const Tensor& v) { return testing::masked_dense_attention(q, k, v, P); }, x.q,
            x.k, x.v, g);
        CHECK_CLOSE(mine.out, ref.out, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dq, ref.dq, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dk, ref.dk, 1e-4, 1e-5);
        CHECK_CLOSE(mine.dv, ref.dv, 1e-4, 1e-5);
        ++compared;
      });
    }
  }
  CHECK(compared > 0);
}

TEST_CASE("conformance: causal outputs up to t do not depend on tokens after t") {
  for (const Case& c : table()) {
    if (!c.causal) continue;
    const Scheme& s = *c.scheme;
    CAPTURE(c.label());
    const int64_t n = 64, t = 29;
    const QKV x = random_qkv(n, 300);
    const attention::Config cfg = s.configure(c.set, true, 11);
    const Tensor out = s.kernel(x.q, x.k, x.v, cfg);
    const Tensor later = s.kernel(perturbed(x.q, -1, -1, t + 1), perturbed(x.k, -1, -1, t + 1),
                                  perturbed(x.v, -1, -1, t + 1), cfg);
    CHECK(testing::bit_equal(slice(out, 2, 0, t + 1), slice(later, 2, 0, t + 1)));
    CHECK(!testing::bit_equal(slice(out, 2, t + 1, n), slice(later, 2, t + 1, n)));  // the change did reach them
  }
}

TEST_CASE("conformance: batches and heads are independent") {
  for (const Case& c : table()) {
    const Scheme& s = *c.scheme;
    CAPTURE(c.label());
    const QKV x = random_qkv(64, 400);
    const attention::Config cfg = s.configure(c.set, c.causal, 13);
    const Tensor out = s.kernel(x.q, x.k, x.v, cfg);
    {  // batch 0 changes, batch 1 does not
      const Tensor other = s.kernel(perturbed(x.q, 0, -1), perturbed(x.k, 0, -1), perturbed(x.v, 0, -1), cfg);
      CHECK(testing::bit_equal(slice(out, 0, 1, 2), slice(other, 0, 1, 2)));
      CHECK(!testing::bit_equal(slice(out, 0, 0, 1), slice(other, 0, 0, 1)));
    }
    {  // head 0 changes, head 1 does not
      const Tensor other = s.kernel(perturbed(x.q, -1, 0), perturbed(x.k, -1, 0), perturbed(x.v, -1, 0), cfg);
      CHECK(testing::bit_equal(slice(out, 1, 1, 2), slice(other, 1, 1, 2)));
      CHECK(!testing::bit_equal(slice(out, 1, 0, 1), slice(other, 1, 0, 1)));
    }
  }
}

TEST_CASE("conformance: every scheme counts its useful work (for the GFLOP/s column)") {
  for (const Scheme* s : attention::all_schemes()) {
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

TEST_CASE("conformance: every layer maps (B, n, d_model) to itself, deterministically, and backprop reaches every parameter") {
  for (const Case& c : table()) {
    const Scheme& s = *c.scheme;
    CAPTURE(c.label());
    Rng rng(5);
    const attention::LayerConfig lc = c.layer_config(16, 64, 3);
    auto layer = s.make_layer(lc, rng);
    Tensor x = testing::rand_tensor({2, 64, 16}, 6);
    x.set_requires_grad();
    const Tensor y = layer->forward(x);
    REQUIRE(y.shape() == Shape{2, 64, 16});
    CHECK(testing::all_finite(y));
    {  // the same seeds, the same layer, the same numbers
      Rng rng2(5);
      auto twin = s.make_layer(lc, rng2);
      CHECK(testing::bit_equal(y.detach(), twin->forward(x).detach()));
    }
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

TEST_CASE("conformance: every layer gradchecks through x and every parameter") {
  // At n = 8 with d_model = 8: each declared setting the layer accepts at that size (a scheme may refuse one with a
  // clear error, e.g. linformer's k = 32 > n); every scheme must gradcheck in at least one. A scheme whose layer
  // is not smooth (SchemeInfo::nonsmooth: discrete routing, ReLU) gradchecks it in its own tests instead, at
  // points away from its boundaries and kinks.
  for (const Scheme* s : attention::all_schemes()) {
    if (!s->info().nonsmooth.empty()) continue;
    int64_t checked = 0;
    for (const Case& c : table()) {
      if (c.scheme != s) continue;
      CAPTURE(c.label());
      Rng rng(21);
      std::unique_ptr<attention::AttentionLayer> layer;
      try {
        layer = s->make_layer(c.layer_config(8, 8, 4), rng);
      } catch (const core::Error& e) {
        CHECK(std::string(e.what()).rfind(s->name(), 0) == 0);  // a refusal names the scheme
        continue;
      }
      layer->eval();  // a deterministic function: no training-time noise (sinkhorn's Gumbel noise, ...)
      Tensor x = testing::rand_tensor({1, 8, 8}, 22).clone().detach().set_requires_grad();
      const auto r = testing::gradcheck_layer(*layer, x);
      INFO(r.message);
      CHECK(r.ok);
      CHECK(r.checked == x.numel() + layer->num_parameters());
      ++checked;
    }
    CAPTURE(s->name());
    CHECK(checked > 0);
  }
}
