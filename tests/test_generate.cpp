// tests/test_generate.cpp — a causal byte LM writing text (lm/generate.h): the cached model, one byte at a time,
// gives the logits of the whole-window forward for every causal scheme; the same seed gives the same text, with
// and without the cache, across window refills; the sampler follows its distribution; bad input is one line.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "lm/generate.h"
#include "tests/helpers.h"

using namespace core;

namespace {

std::unique_ptr<lm::ByteLM> tiny_lm(const std::string& scheme, int64_t context, bool masked = false) {
  lm::LMConfig cfg;
  cfg.model.scheme = scheme;
  cfg.model.d_model = 16;
  cfg.model.n_heads = 2;
  cfg.model.n_layers = 2;
  cfg.model.d_ff = 32;
  cfg.model.seed = 5;
  cfg.context = context;
  cfg.masked = masked;
  auto model = std::make_unique<lm::ByteLM>(cfg);
  model->eval();
  return model;
}

}  // namespace

TEST_CASE("generate: the cached model, byte by byte, gives the whole-window logits, every causal scheme") {
  const int64_t n = 32;
  std::vector<int64_t> bytes(n);
  Rng rng(3);
  for (auto& b : bytes) b = static_cast<int64_t>(rng.next_u64() % 256);
  int schemes = 0;
  for (const attention::Scheme* s : attention::all_schemes()) {
    if (!s->supports_causal()) continue;
    CAPTURE(s->name());
    ++schemes;
    auto model = tiny_lm(s->name(), n);
    Tensor want;
    {
      NoGradGuard no_grad;
      want = model->forward(IntTensor::from_vector({1, n}, bytes));  // (1, n, 256)
    }
    for (bool cache : {true, false}) {
      CAPTURE(cache);
      lm::ByteLMDecoder dec(*model, cache);
      Tensor got = Tensor::empty({1, n, 256});
      for (int64_t t = 0; t < n; ++t) {
        const std::vector<float> logits = dec.feed(static_cast<int>(bytes[t]));
        std::copy(logits.begin(), logits.end(), got.data() + t * 256);
      }
      const testing::Closeness c = testing::close(got, want, 1e-4, 1e-4);
      CHECK_MESSAGE(c.ok, c.detail);
      CHECK((dec.state_floats() > 0) == cache);
      const std::string e = testing::error_of([&] { dec.feed(1); });
      CHECK_MESSAGE(e.find("window of 32 bytes is full") != std::string::npos, e);
    }
  }
  CHECK(schemes >= 12);  // the course's twelve, and any added (scripts/check-add-scheme.sh adds one)
}

TEST_CASE("generate: same seed, same text; with and without the cache, across window refills") {
  for (const char* scheme : {"full", "linear", "longformer", "sparse", "performer", "reformer"}) {
    CAPTURE(scheme);
    auto model = tiny_lm(scheme, 16);
    lm::GenerateOptions o;
    o.tokens = 40;  // 5 + 40 bytes through a 16-byte window: three refills
    o.seed = 9;
    lm::GenerateStats cached_stats, plain_stats;
    const std::string a = lm::generate(*model, "In th", o, nullptr, &cached_stats);
    const std::string b = lm::generate(*model, "In th", o);
    CHECK(a.size() == 40);
    CHECK(a == b);
    o.cache = false;
    std::string streamed;
    const std::string c = lm::generate(*model, "In th", o, [&](char ch) { streamed += ch; }, &plain_stats);
    CHECK(c == a);
    CHECK(streamed == c);
    CHECK(cached_stats.windows == plain_stats.windows);
    CHECK(cached_stats.windows >= 3);
    CHECK(cached_stats.bytes == 40);
    CHECK(cached_stats.fed > 45);  // refills read bytes again
    o.cache = true;
    o.seed = 10;
    CHECK(lm::generate(*model, "In th", o) != a);  // another seed, another text (40 bytes of an untrained model)
  }
  // full attention's KV cache holds 2 K/V · layers · t · d_model floats at most (t <= 16)
  auto model = tiny_lm("full", 16);
  lm::GenerateOptions o;
  o.tokens = 30;
  lm::GenerateStats st;
  lm::generate(*model, "abc", o, nullptr, &st);
  CHECK(st.peak_state_floats == 2 * 2 * 16 * 16);
  CHECK(st.state.find("KV cache") != std::string::npos);
}

TEST_CASE("generate: the sampler — greedy, top-k, and the softmax's frequencies") {
  std::vector<float> logits(256, -30.0f);
  logits[65] = std::log(0.5f);
  logits[66] = std::log(0.3f);
  logits[67] = std::log(0.2f);
  Rng rng(1);
  CHECK(lm::sample_byte(logits, 0.0f, 0, rng) == 65);
  CHECK(lm::sample_byte(logits, 1.0f, 1, rng) == 65);
  int count[3] = {0, 0, 0}, other = 0;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    const int b = lm::sample_byte(logits, 1.0f, 0, rng);
    if (b >= 65 && b <= 67) ++count[b - 65]; else ++other;
  }
  CHECK(count[0] / double(draws) == doctest::Approx(0.5).epsilon(0.04));
  CHECK(count[1] / double(draws) == doctest::Approx(0.3).epsilon(0.05));
  CHECK(count[2] / double(draws) == doctest::Approx(0.2).epsilon(0.06));
  CHECK(other < 20);
  // top-k = 2 never draws the third
  for (int i = 0; i < 2000; ++i) CHECK(lm::sample_byte(logits, 1.0f, 2, rng) != 67);
}

TEST_CASE("generate: an empty prompt, tokens <= 0, a bad temperature or top-k, a masked model are one line") {
  auto model = tiny_lm("full", 16);
  lm::GenerateOptions o;
  auto error_with = [&](const lm::GenerateOptions& opts, const std::string& prompt, lm::ByteLM& m) {
    return testing::error_of([&] { lm::generate(m, prompt, opts); });
  };
  auto one_line = [](const std::string& e, const std::string& part) {
    CHECK_MESSAGE(e.find(part) != std::string::npos, e);
    CHECK(e.find('\n') == std::string::npos);
  };
  one_line(error_with(o, "", *model), "prompt is empty");
  lm::GenerateOptions bad = o;
  bad.tokens = 0;
  one_line(error_with(bad, "a", *model), "--tokens");
  bad = o;
  bad.temperature = -1;
  one_line(error_with(bad, "a", *model), "--temperature");
  bad = o;
  bad.temperature = std::nanf("");
  one_line(error_with(bad, "a", *model), "--temperature");
  bad = o;
  bad.top_k = 257;
  one_line(error_with(bad, "a", *model), "--top-k");
  auto masked = tiny_lm("full", 16, true);
  one_line(error_with(o, "a", *masked), "masked LM");
  model->train();
  one_line(error_with(o, "a", *model), "training mode");
}
