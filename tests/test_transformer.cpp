// tests/test_transformer.cpp — the encoder block and the small models: gradients through every parameter,
// padding that cannot change the result, and a short training run that learns.
#include "attention/transformer.h"
#include "tests/helpers.h"

using namespace core;
using attention::ModelConfig;

namespace {
ModelConfig tiny() {
  ModelConfig c;
  c.vocab = 6;
  c.max_len = 8;
  c.d_model = 8;
  c.n_heads = 2;
  c.n_layers = 1;
  c.d_ff = 12;
  return c;
}
}  // namespace

TEST_CASE("transformer: an encoder block gradchecks through x and all its parameters") {
  ModelConfig c = tiny();
  Rng rng(1);
  attention::EncoderBlock block(c, rng);
  Tensor x = testing::rand_tensor({2, 4, 8}, 2);
  x.set_requires_grad();
  std::vector<Tensor> leaves = {x};
  for (const Tensor& p : block.parameters()) leaves.push_back(p);
  Rng drop(3);
  const auto r = gradcheck_leaves([&] { return block.forward(x, Tensor(), drop); }, leaves);
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked == x.numel() + block.num_parameters());
}

TEST_CASE("transformer: padding tokens change nothing for the real tokens") {
  ModelConfig c = tiny();
  attention::SequenceClassifier model(c, 3);
  const Tensor mask = Tensor::from_vector({1, 6}, {1, 1, 1, 1, 0, 0});
  const IntTensor a = IntTensor::from_vector({1, 6}, {1, 2, 3, 4, 0, 0});
  const IntTensor b = IntTensor::from_vector({1, 6}, {1, 2, 3, 4, 5, 2});  // other values in the padding
  NoGradGuard no_grad;
  CHECK_CLOSE(model.forward(a, mask), model.forward(b, mask), 1e-6, 1e-6);
  CHECK_THROWS_WITH_AS(model.forward(IntTensor({1, 9})), doctest::Contains("exceeds max_len 8"), core::Error);
}

TEST_CASE("transformer: a classifier learns which of two tokens a sequence contains") {
  // label = 1 if token 5 occurs anywhere in the sequence, else 0: needs attention to look everywhere.
  ModelConfig c = tiny();
  c.n_layers = 2;
  c.d_model = 16;
  c.seed = 4;
  attention::SequenceClassifier model(c, 2);
  optim::AdamW opt(model.parameters(), 3e-3f, 0.9f, 0.999f, 1e-8f, 0.0f);
  Rng rng(5);
  auto batch = [&](IntTensor& ids, IntTensor& labels) {
    ids = IntTensor({16, 8});
    labels = IntTensor({16});
    for (int64_t b = 0; b < 16; ++b) {
      const bool has = rng.uniform01() < 0.5;
      for (int64_t i = 0; i < 8; ++i) ids.at({b, i}) = rng.randint(0, 5);  // 0..4
      if (has) ids.at({b, rng.randint(0, 8)}) = 5;
      labels.data[static_cast<size_t>(b)] = has;
    }
  };
  float first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    IntTensor ids, labels;
    batch(ids, labels);
    opt.zero_grad();
    Tensor loss = cross_entropy(model.forward(ids), labels);
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    opt.step();
  }
  CHECK(first > 0.6f);
  CHECK(last < 0.25f);
}
