// tests/test_nn_optim.cpp — layers (Linear, LayerNorm, Embedding, MLP), optimisers and the LR schedule.
#include "tests/helpers.h"

using namespace core;

TEST_CASE("nn: Linear computes x Wᵀ + b and gradchecks through its parameters") {
  Rng rng(1);
  nn::Linear lin(4, 3, rng);
  CHECK(lin.parameters().size() == 2);
  CHECK(lin.num_parameters() == 4 * 3 + 3);
  const Tensor x = testing::rand_tensor({2, 5, 4}, 2);
  const Tensor y = lin.forward(x);
  CHECK(y.shape() == Shape{2, 5, 3});
  // one element by hand
  double want = lin.bias.data()[1];
  for (int j = 0; j < 4; ++j) want += x.at({1, 2, j}) * lin.weight.at({1, j});
  CHECK(y.at({1, 2, 1}) == doctest::Approx(want).epsilon(1e-5));
  // gradcheck w.r.t. input, weight and bias together
  auto f = [](const std::vector<Tensor>& t) { return matmul(t[0], t[1], false, true) + t[2]; };
  const auto r = gradcheck(f, {x, lin.weight, lin.bias});
  INFO(r.message);
  CHECK(r.ok);
  CHECK_THROWS_WITH_AS(lin.forward(Tensor::zeros({2, 5})), doctest::Contains("does not end in 4"), core::Error);
}

TEST_CASE("nn: a tensor shared by two modules (tied weights) is listed once") {
  struct Shared : nn::Module {
    Shared() {
      w = register_parameter("w", Tensor::ones({2}));
      register_parameter("w_again", w);  // the same tensor under a second name
    }
    Tensor w;
  } s;
  REQUIRE(s.named_parameters().size() == 1);
  CHECK(s.named_parameters()[0].first == "w");
  CHECK(s.num_parameters() == 2);
}

TEST_CASE("nn: buffers are listed by name through children, apart from the parameters") {
  struct Counter : nn::Module {
    Counter() : count(Tensor::scalar(0.0f)), table(Tensor::ones({2, 3})) {
      register_buffer("count", count);
      register_buffer("table", table);
      w = register_parameter("w", Tensor::zeros({3}));
    }
    Tensor count, table, w;
  };
  struct Outer : nn::Module {
    Outer() {
      register_module("inner", inner);
      register_module("other", other);
    }
    Counter inner, other;
  } m;
  const auto buffers = m.named_buffers();
  REQUIRE(buffers.size() == 4);
  CHECK(buffers[0].first == "inner.count");
  CHECK(buffers[1].first == "inner.table");
  CHECK(buffers[3].first == "other.table");
  CHECK(buffers[1].second.shape() == Shape{2, 3});
  // buffers are state, not trained: not among the parameters, no gradient
  REQUIRE(m.named_parameters().size() == 2);
  CHECK(m.named_parameters()[0].first == "inner.w");
  CHECK(m.num_parameters() == 6);
  CHECK_FALSE(buffers[0].second.requires_grad());
  // the module holds the member, not a copy: a member replaced by a new tensor is what is listed ...
  m.inner.count = Tensor::scalar(5.0f);
  CHECK(m.named_buffers()[0].second.item() == 5.0f);
  // ... and the listed handle shares its storage, so writing through it writes the member (how a restore works)
  m.named_buffers()[1].second.data()[4] = 7.0f;
  CHECK(m.inner.table.at({1, 1}) == 7.0f);
}

TEST_CASE("nn: register_buffer refuses an undefined tensor and a trained one") {
  struct Bad : nn::Module {
    void add(const std::string& name, Tensor& t) { register_buffer(name, t); }
  } m;
  Tensor undefined;
  CHECK_THROWS_WITH_AS(m.add("mu", undefined), doctest::Contains("buffer 'mu' is undefined"), core::Error);
  Tensor trained = Tensor::ones({2});
  trained.set_requires_grad(true);
  CHECK_THROWS_WITH_AS(m.add("w", trained), doctest::Contains("'w' requires grad"), core::Error);
  CHECK(m.named_buffers().empty());
}

TEST_CASE("nn: MLP, LayerNorm and Embedding list their parameters by name") {
  Rng rng(3);
  nn::MLP mlp(4, 8, 2, rng);
  const auto named = mlp.named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "fc1.weight");
  CHECK(named[3].first == "fc2.bias");
  nn::LayerNorm ln(4);
  const Tensor y = ln.forward(testing::rand_tensor({3, 4}, 4));
  CHECK(std::fabs(mean(y).item()) < 1e-5f);
  nn::Embedding emb(10, 6, rng);
  CHECK(emb.forward(IntTensor::from_vector({2, 3}, {0, 1, 2, 3, 4, 9})).shape() == Shape{2, 3, 6});
  mlp.eval();
  CHECK_FALSE(mlp.fc1.training());
}

namespace {
// Minimise ||w - target||² from w = 0; returns the final loss.
float minimise(optim::Optimizer& opt, Tensor w, const Tensor& target, int steps) {
  float loss = 0;
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    Tensor l = sum(square(w - target));
    loss = l.item();
    l.backward();
    opt.step();
  }
  return loss;
}
}  // namespace

TEST_CASE("optim: SGD (with momentum) and AdamW minimise a quadratic") {
  const Tensor target = Tensor::from_vector({3}, {1.0f, -2.0f, 0.5f});
  Tensor w1 = Tensor::zeros({3});
  w1.set_requires_grad();
  optim::SGD sgd({w1}, 0.1f, 0.9f);
  CHECK(minimise(sgd, w1, target, 200) < 1e-6f);
  Tensor w2 = Tensor::zeros({3});
  w2.set_requires_grad();
  optim::AdamW adam({w2}, 0.05f, 0.9f, 0.999f, 1e-8f, 0.0f);
  CHECK(minimise(adam, w2, target, 500) < 1e-4f);
}

TEST_CASE("optim: AdamW's first step is lr·sign(g) plus decoupled weight decay") {
  Tensor w = Tensor::from_vector({2}, {1.0f, -1.0f});
  w.set_requires_grad();
  sum(w * Tensor::from_vector({2}, {3.0f, -0.5f})).backward();  // g = (3, -0.5)
  optim::AdamW adam({w}, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f);
  adam.step();
  // m̂ = g, v̂ = g² -> update = lr (g/|g| + wd·w)
  CHECK(w.data()[0] == doctest::Approx(1.0f - 0.1f * (1.0f + 0.01f * 1.0f)).epsilon(1e-5));
  CHECK(w.data()[1] == doctest::Approx(-1.0f - 0.1f * (-1.0f + 0.01f * -1.0f)).epsilon(1e-5));
}

TEST_CASE("optim: clip_grad_norm scales to max_norm and returns the norm before") {
  Tensor a = Tensor::zeros({2}), b = Tensor::zeros({1});
  a.set_requires_grad();
  b.set_requires_grad();
  (sum(a * Tensor::from_vector({2}, {3.0f, 0.0f})) + sum(b * 4.0f)).backward();  // grads (3,0) and (4): norm 5
  CHECK(optim::clip_grad_norm({a, b}, 1.0f) == doctest::Approx(5.0f));
  CHECK(a.grad().data()[0] == doctest::Approx(0.6f).epsilon(1e-4));
  CHECK(b.grad().data()[0] == doctest::Approx(0.8f).epsilon(1e-4));
  CHECK(optim::clip_grad_norm({a, b}, 10.0f) == doctest::Approx(1.0f).epsilon(1e-4));  // no change below max
  CHECK(a.grad().data()[0] == doctest::Approx(0.6f).epsilon(1e-4));
}

TEST_CASE("optim: warmup then cosine") {
  optim::WarmupCosine s(1.0f, 10, 110, 0.1f);
  CHECK(s.lr(0) == doctest::Approx(0.1f));
  CHECK(s.lr(9) == doctest::Approx(1.0f));
  CHECK(s.lr(10) == doctest::Approx(1.0f));
  CHECK(s.lr(60) == doctest::Approx(0.55f));
  CHECK(s.lr(110) == doctest::Approx(0.1f));
  CHECK(s.lr(500) == doctest::Approx(0.1f));
  CHECK_THROWS_WITH_AS(optim::WarmupCosine(1.0f, 20, 10), doctest::Contains("warmup=20 total=10"), core::Error);
}
