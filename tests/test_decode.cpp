// tests/test_decode.cpp — decoding one token at a time (attention/decode.h): for every causal scheme and each of
// its declared settings, the decoder's outputs equal the causal kernel on the whole sequence, row by row; the
// state takes the memory each decoder documents; bad use is a one-line error.
#include <memory>
#include <string>
#include <vector>

#include "attention/decode.h"
#include "tests/helpers.h"

using namespace core;
using attention::Scheme;

namespace {

std::vector<std::vector<std::string>> settings_of(const Scheme& s) {
  std::vector<std::vector<std::string>> sets = {{}};
  for (const auto& set : s.info().test_settings) sets.push_back(set);
  return sets;
}

// The kernel's causal output and the decoder's, for q, k, v of this shape; a scheme that refuses the shape with
// an error naming it (n not a multiple of its block) is skipped at this shape.
void check_decode_equals_kernel(const Scheme& s, const std::vector<std::string>& set, const Shape& shape) {
  const testing::QKV x = testing::random_qkv(shape, 900 + shape[2] + shape[3], -1.5f, 1.5f);
  const attention::Config cfg = s.configure(set, /*causal=*/true, 7);
  Tensor want;
  try {
    want = s.kernel(x.q, x.k, x.v, cfg);
  } catch (const core::Error& e) {
    MESSAGE(s.name() << " refuses " << shape << ": " << e.what());
    return;
  }
  const std::unique_ptr<attention::Decoder> dec = attention::make_decoder(s, cfg, shape[2]);
  const Tensor got = attention::decode_all(*dec, x.q, x.k, x.v);
  const testing::Closeness c = testing::close(got, want, 1e-4, 1e-4);
  CHECK_MESSAGE(c.ok, c.detail);
  CHECK(dec->tokens() == shape[2]);
  CHECK(dec->state_floats() > 0);
  CHECK(!dec->state().empty());
  // prefill the first half at once, then step: the same rows after it, and the same state
  const int64_t n = shape[2], half = n / 2;
  if (half == 0) return;
  const std::unique_ptr<attention::Decoder> pre = attention::make_decoder(s, cfg, n);
  pre->prefill(slice(x.q, 2, 0, half), slice(x.k, 2, 0, half), slice(x.v, 2, 0, half));
  CHECK(pre->tokens() == half);
  std::vector<Tensor> rows;
  for (int64_t t = half; t < n; ++t)
    rows.push_back(pre->step(slice(x.q, 2, t, t + 1), slice(x.k, 2, t, t + 1), slice(x.v, 2, t, t + 1)));
  const testing::Closeness after = testing::close(concat(rows, 2), slice(want, 2, half, n), 1e-4, 1e-4);
  CHECK_MESSAGE(after.ok, "after prefill: " << after.detail);
  CHECK(pre->state_floats() == dec->state_floats());
}

}  // namespace

TEST_CASE("decode: token by token equals the causal kernel on the whole sequence, every causal scheme and setting") {
  int schemes = 0;
  for (const Scheme* s : attention::all_schemes()) {
    if (!s->supports_causal()) continue;
    ++schemes;
    for (const auto& set : settings_of(*s)) {
      std::string label = s->name();
      for (const auto& kv : set) label += " " + kv;
      CAPTURE(label);
      for (const Shape& shape : {Shape{1, 1, 37, 17}, Shape{2, 3, 29, 1}, Shape{1, 2, 64, 64}, Shape{2, 2, 64, 8}})
        check_decode_equals_kernel(*s, set, shape);
    }
  }
  CHECK(schemes >= 12);  // the course's twelve, and any added (scripts/check-add-scheme.sh adds one)
}

TEST_CASE("decode: longformer's ring buffer with dilation and global tokens, and a global token beyond the ring") {
  const Scheme& s = attention::find_scheme("longformer");
  for (const std::vector<std::string>& set :
       std::vector<std::vector<std::string>>{{"window=3"}, {"window=2", "dilation=1,3"}, {"window=2", "global=0,5"},
                                             {"window=2", "global=30"}, {"window=50"}}) {
    CAPTURE(set.back());
    check_decode_equals_kernel(s, set, {2, 2, 41, 8});
  }
}

// A layer of the scheme (eval mode), fed x one row at a time through its LayerDecoder: the rows of forward(x).
void check_layer_decode(const Scheme& s, const std::vector<std::string>& set, int64_t n) {
  attention::LayerConfig lc;
  lc.d_model = 16;
  lc.n_heads = 2;
  lc.max_len = n;
  lc.causal = true;
  lc.seed = 11;
  lc.set = set;
  core::Rng rng(12);
  std::unique_ptr<attention::AttentionLayer> layer;
  Tensor want;
  const Tensor x = testing::rand_tensor({2, n, 16}, 13 + n);
  try {
    layer = s.make_layer(lc, rng);
    layer->eval();
    core::NoGradGuard no_grad;
    want = layer->forward(x);  // (2, n, 16)
  } catch (const core::Error& e) {
    MESSAGE(s.name() << " refuses n = " << n << ": " << e.what());
    return;
  }
  const std::unique_ptr<attention::LayerDecoder> dec = layer->make_decoder(n);
  std::vector<Tensor> rows;
  for (int64_t t = 0; t < n; ++t) rows.push_back(dec->step(slice(x, 1, t, t + 1)));
  const testing::Closeness c = testing::close(concat(rows, 1), want, 1e-4, 1e-4);
  CHECK_MESSAGE(c.ok, c.detail);
  CHECK(dec->tokens() == n);
  CHECK(dec->state_floats() > 0);
}

TEST_CASE("decode: a layer one token at a time equals its causal forward, every causal scheme and setting") {
  for (const Scheme* s : attention::all_schemes()) {
    if (!s->supports_causal()) continue;
    for (const auto& set : settings_of(*s)) {
      std::string label = s->name();
      for (const auto& kv : set) label += " " + kv;
      CAPTURE(label);
      for (int64_t n : {29, 32}) check_layer_decode(*s, set, n);
    }
  }
  // longformer with global tokens (its own projections: the fallback) and without (the ring buffer)
  check_layer_decode(attention::find_scheme("longformer"), {"window=4", "global=0,9"}, 24);
}

TEST_CASE("decode: which layers keep a small state — the standard layer's is its scheme's, the others recompute") {
  attention::LayerConfig lc;
  lc.d_model = 16, lc.n_heads = 2, lc.max_len = 64, lc.causal = true;
  core::Rng rng(3);
  auto floats_after = [&](const std::string& name, int64_t t) {
    auto layer = attention::find_scheme(name).make_layer(lc, rng);
    layer->eval();
    auto dec = layer->make_decoder(64);
    for (int64_t i = 0; i < t; ++i) dec->step(testing::rand_tensor({1, 1, 16}, 40 + i));
    return dec->state_floats();
  };
  CHECK(floats_after("full", 10) == 2 * 2 * 10 * 8);        // K and V: 2·H·t·d
  CHECK(floats_after("linear", 10) == floats_after("linear", 50));
  CHECK(floats_after("performer", 10) == floats_after("performer", 50));
  CHECK(floats_after("reformer", 10) == 10 * 16);          // the fallback: the layer's inputs, t·d_model
  // a layer in training mode is refused: decoding is inference
  auto layer = attention::find_scheme("full").make_layer(lc, rng);
  auto dec = layer->make_decoder(4);
  const std::string e = testing::error_of([&] { dec->step(testing::rand_tensor({1, 1, 16}, 1)); });
  CHECK_MESSAGE(e.find("eval mode") != std::string::npos, e);
  // a non-causal standard layer has no decoder
  lc.causal = false;
  auto bidirectional = attention::find_scheme("full").make_layer(lc, rng);
  CHECK(testing::error_of([&] { bidirectional->make_decoder(4); }).find("not causal") != std::string::npos);
}

TEST_CASE("decode: sparse drops the keys no later query reads, and still equals the kernel") {
  const Scheme& s = attention::find_scheme("sparse");
  for (const std::vector<std::string>& set : std::vector<std::vector<std::string>>{
           {"stride=3"}, {"mode=fixed", "stride=4", "summary=1"}, {"mode=fixed", "heads=split", "stride=6", "summary=2"},
           {"heads=split", "stride=7"}, {"mode=fixed", "stride=5", "summary=5"}}) {
    CAPTURE(set.back());
    check_decode_equals_kernel(s, set, {2, 2, 43, 8});
  }
}

TEST_CASE("decode: the state's memory — a KV cache grows as 2·t·d per head, the recurrent and ring states do not") {
  const int64_t B = 2, H = 2, d = 8, n = 200;
  const testing::QKV x = testing::random_qkv({B, H, n, d}, 5, -1.0f, 1.0f);
  auto floats_after = [&](const std::string& name, const std::vector<std::string>& set, int64_t t) {
    const Scheme& s = attention::find_scheme(name);
    const std::unique_ptr<attention::Decoder> dec = attention::make_decoder(s, s.configure(set, true, 3), n);
    for (int64_t i = 0; i < t; ++i)
      dec->step(slice(x.q, 2, i, i + 1), slice(x.k, 2, i, i + 1), slice(x.v, 2, i, i + 1));
    return dec->state_floats();
  };
  for (const char* name : {"full", "flash"}) {
    CAPTURE(name);
    CHECK(floats_after(name, {}, 10) == 2 * B * H * 10 * d);
    CHECK(floats_after(name, {}, 150) == 2 * B * H * 150 * d);
  }
  // linear: S (d × d) and z (d) per head; performer: the same with m features, plus its running maximum and W
  CHECK(floats_after("linear", {}, 10) == B * H * (d * d + d));
  CHECK(floats_after("linear", {}, 150) == floats_after("linear", {}, 10));
  CHECK(floats_after("performer", {"features=16"}, 10) == B * H * (16 * d + 16 + 1) + 16 * d);
  CHECK(floats_after("performer", {"features=16"}, 150) == floats_after("performer", {"features=16"}, 10));
  // longformer: the ring of w + 1 = 5 keys and values per head
  CHECK(floats_after("longformer", {"window=4"}, 10) == 2 * B * H * 5 * d);
  CHECK(floats_after("longformer", {"window=4"}, 150) == 2 * B * H * 5 * d);
  // sparse, fixed (l = 10, c = 2): the summary cells of the blocks so far and the current block's tokens
  CHECK(floats_after("sparse", {"mode=fixed", "stride=10", "summary=2"}, 150) == 2 * B * H * (15 * 2) * d);
  CHECK(floats_after("sparse", {"mode=fixed", "stride=10", "summary=2"}, 155) == 2 * B * H * (15 * 2 + 5) * d);
  // sparse, strided: every residue comes again, so every key is kept (a step reads ~t/l + l of them)
  CHECK(floats_after("sparse", {"stride=10"}, 150) == 2 * B * H * 150 * d);
  // bigbird: a KV cache (a later query's random or global blocks may reach any key), read through its pattern
  CHECK(floats_after("bigbird", {"block=4"}, 150) == 2 * B * H * 150 * d);
  // the fallback keeps q, k, v of every token
  CHECK(floats_after("reformer", {}, 10) == 3 * B * H * 10 * d);
}

TEST_CASE("decode: a non-causal scheme or config, a padding mask, a wrong shape and a step past n are one line") {
  const Scheme& star = attention::find_scheme("star");
  auto one_line = [](const std::string& e, const std::string& part) {
    CHECK_MESSAGE(e.find(part) != std::string::npos, e);
    CHECK(e.find('\n') == std::string::npos);
  };
  one_line(testing::error_of([&] { attention::make_decoder(star, star.configure({}, false), 8); }),
           "no causal variant");
  const Scheme& full = attention::find_scheme("full");
  one_line(testing::error_of([&] { attention::make_decoder(full, full.configure({}, false), 8); }), "set causal");
  attention::Config padded = full.configure({}, true);
  padded.key_padding_mask = Tensor::ones({1, 8});
  one_line(testing::error_of([&] { attention::make_decoder(full, padded, 8); }), "padding");
  one_line(testing::error_of([&] { attention::make_decoder(full, full.configure({}, true), 0); }), "n = 0");

  const std::unique_ptr<attention::Decoder> dec = attention::make_decoder(full, full.configure({}, true), 2);
  const Tensor a = testing::rand_tensor({1, 2, 1, 4}, 1);
  one_line(testing::error_of([&] { dec->step(testing::rand_tensor({1, 2, 3, 4}, 1), a, a); }), "one token");
  dec->step(a, a, a);
  const Tensor wide = testing::rand_tensor({1, 3, 1, 4}, 1);
  one_line(testing::error_of([&] { dec->step(wide, wide, wide); }), "token 1");
  dec->step(a, a, a);
  one_line(testing::error_of([&] { dec->step(a, a, a); }), "past the sequence's 2 tokens");
}
