// tests/test_autograd.cpp — the semantics of the autograd engine: the cases micrograd's users tripped on
// (backward twice, a reused node, deep graphs), no_grad, freeing the graph, and memory going back to baseline.
#include "tests/helpers.h"

using namespace core;

TEST_CASE("autograd: a reused node gets the sum of its gradients") {
  Tensor x = Tensor::from_vector({2}, {3.0f, -1.0f});
  x.set_requires_grad();
  Tensor y = x * x + x;  // x used three times: dy/dx = 2x + 1
  sum(y).backward();
  CHECK(x.grad().data()[0] == doctest::Approx(7.0f));
  CHECK(x.grad().data()[1] == doctest::Approx(-1.0f));
}

TEST_CASE("autograd: a diamond graph adds both paths") {
  Tensor a = Tensor::scalar(2.0f);
  a.set_requires_grad();
  Tensor b = a * 3.0f;  // b = 3a
  Tensor c = exp(b);    // path 1
  Tensor d = b * b;     // path 2
  Tensor e = c + d;     // de/da = 3 (e^{3a} + 2·3a)
  e.backward();
  CHECK(a.grad().item() == doctest::Approx(3.0f * (std::exp(6.0f) + 12.0f)).epsilon(1e-6));
}

TEST_CASE("autograd: leaves accumulate with += across backward calls") {
  Tensor w = Tensor::from_vector({3}, {1.0f, 2.0f, 3.0f});
  w.set_requires_grad();
  for (int step = 0; step < 3; ++step) sum(w * 2.0f).backward();  // three fresh graphs
  for (int i = 0; i < 3; ++i) CHECK(w.grad().data()[i] == 6.0f);
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("autograd: backward twice on a freed graph is an error, not doubled gradients") {
  Tensor x = Tensor::from_vector({2}, {1.0f, 2.0f});
  x.set_requires_grad();
  Tensor loss = sum(square(x));
  loss.backward();
  CHECK(x.grad().data()[1] == 4.0f);
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("already freed"), core::Error);
  CHECK(x.grad().data()[1] == 4.0f);  // untouched by the failed call

  // retain_graph keeps it: then a second call accumulates, as asked
  Tensor loss2 = sum(square(x));
  x.zero_grad();
  loss2.backward(/*retain_graph=*/true);
  loss2.backward();
  CHECK(x.grad().data()[1] == 8.0f);

  // a tensor computed from a freed intermediate cannot backprop through it either
  Tensor mid = x * 2.0f;
  sum(mid).backward();
  CHECK_THROWS_WITH_AS(sum(mid * 3.0f).backward(), doctest::Contains("already freed"), core::Error);
}

TEST_CASE("autograd: backward needs a scalar or an explicit gradient of the right shape") {
  Tensor x = testing::rand_tensor({2, 3}, 1);
  x.set_requires_grad();
  Tensor y = x * 2.0f;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("(2,3)"), core::Error);
  CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({3, 2})), doctest::Contains("upstream gradient has shape (3,2)"),
                       core::Error);
  y.backward(Tensor::full({2, 3}, 0.5f));
  CHECK(x.grad().data()[4] == 1.0f);
  Tensor c = Tensor::ones({2});
  CHECK_THROWS_WITH_AS(sum(c).backward(), doctest::Contains("does not require grad"), core::Error);
}

TEST_CASE("autograd: a 10,000-op chain runs backward and is freed without recursion") {
  Tensor x = Tensor::scalar(1.0f);
  x.set_requires_grad();
  Tensor y = x;
  for (int i = 0; i < 10000; ++i) y = y * 1.0001f;
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(std::pow(1.0001, 10000)).epsilon(1e-3));

  // and a chain dropped without backward is torn down iteratively as well
  {
    Tensor z = x;
    for (int i = 0; i < 100000; ++i) z = z + 1.0f;
  }
  CHECK(x.grad().defined());
}

TEST_CASE("autograd: NoGradGuard records nothing, nests, and restores") {
  Tensor x = testing::rand_tensor({3}, 2);
  x.set_requires_grad();
  {
    NoGradGuard outer;
    Tensor y = x * 2.0f;
    CHECK_FALSE(y.requires_grad());
    {
      NoGradGuard inner;
      CHECK_FALSE(grad_enabled());
    }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  CHECK((x * 2.0f).requires_grad());
}

TEST_CASE("autograd: memory returns to baseline after backward and release") {
  const size_t baseline = memory::current_bytes();
  {
    Tensor w = testing::rand_tensor({64, 64}, 3);
    w.set_requires_grad();
    const size_t with_w = memory::current_bytes();
    {
      Tensor h = tanh(matmul(w, w));
      Tensor loss = mean(softmax(h * h, -1));
      CHECK(memory::current_bytes() > with_w);  // the graph holds intermediates
      loss.backward();
    }
    // after backward and once the handles are gone, only w and w.grad() remain
    CHECK(memory::current_bytes() == with_w + 64 * 64 * sizeof(float));
    w.zero_grad();
    CHECK(memory::current_bytes() == with_w);
  }
  CHECK(memory::current_bytes() == baseline);
}

TEST_CASE("autograd: the allocator counts peak bytes") {
  const size_t before = memory::current_bytes();
  memory::PeakScope scope;
  {
    Tensor a = Tensor::zeros({1000});
    Tensor b = Tensor::zeros({3000});
  }
  CHECK(scope.peak_above_start() >= 4000 * sizeof(float));
  CHECK(memory::current_bytes() == before);
}

TEST_CASE("memory: freed big blocks are kept for reuse; over the cap, the sizes least recently used go first") {
#if defined(__SANITIZE_ADDRESS__)
  CHECK(memory::cached_bytes() == 0);  // no cache under ASan: it must see every free
#else
  const size_t MiB = size_t(1) << 20;
  memory::clear_cache();
  CHECK(memory::cached_bytes() == 0);
  // 16 idle blocks of 64 MiB fill the 1 GiB cache (their pages are never touched, so they cost no memory)
  std::vector<void*> big;
  for (int i = 0; i < 16; ++i) big.push_back(memory::allocate(64 * MiB));
  for (void* p : big) memory::release(p, 64 * MiB);
  CHECK(memory::cached_bytes() == 1024 * MiB);
  // a block of another size: one 64 MiB block, the least recently used size, is given back to make room for it
  void* other = memory::allocate(32 * MiB);
  memory::release(other, 32 * MiB);
  CHECK(memory::cached_bytes() == (1024 - 64 + 32) * MiB);
  void* again = memory::allocate(32 * MiB);
  CHECK(again == other);  // handed out again from the cache
  memory::release(again, 32 * MiB);
  memory::clear_cache();
  CHECK(memory::cached_bytes() == 0);
#endif
}

TEST_CASE("autograd: set_requires_grad only on leaves; detach cuts the graph; clone is differentiable") {
  Tensor x = testing::rand_tensor({2}, 4);
  x.set_requires_grad();
  Tensor y = x * 3.0f;
  CHECK_THROWS_WITH_AS(y.set_requires_grad(), doctest::Contains("only leaf tensors"), core::Error);
  CHECK_FALSE(y.detach().requires_grad());
  CHECK(y.detach().data() == y.data());  // shares storage
  Tensor z = x.clone();
  CHECK(z.data() != x.data());
  sum(z * 2.0f).backward();
  CHECK(x.grad().data()[0] == 2.0f);
}

TEST_CASE("tensor: handles are shallow, reshape is a view, errors name the problem") {
  Tensor a = Tensor::zeros({2, 3});
  Tensor b = a;  // same tensor
  b.data()[0] = 5.0f;
  CHECK(a.at({0, 0}) == 5.0f);
  Tensor r = reshape(a, {3, -1});
  CHECK(r.shape() == Shape{3, 2});
  CHECK(r.data() == a.data());
  CHECK_THROWS_WITH_AS(reshape(a, {4, -1}), doctest::Contains("reshape: (2,3) -> (4,-1)"), core::Error);
  CHECK_THROWS_WITH_AS(a.at({2, 0}), doctest::Contains("out of range"), core::Error);
  CHECK_THROWS_WITH_AS(a.item(), doctest::Contains("one element"), core::Error);
  CHECK_THROWS_WITH_AS(Tensor().shape(), doctest::Contains("undefined"), core::Error);
  CHECK(Tensor::scalar(2.5f).item() == 2.5f);
  CHECK(Tensor::from_vector({2}, {1, 2}).str().find("[1, 2]") != std::string::npos);
}

TEST_CASE("autograd: EnableGradGuard records again inside a backward function") {
  // A backward that rebuilds a small graph and differentiates it (what reversible layers do).
  Tensor x = Tensor::from_vector({2}, {1.0f, 2.0f});
  x.set_requires_grad();
  Tensor y = record(x.detach() * 3.0f, "rebuild", {x}, [](BackwardContext& c) {
    CHECK_FALSE(grad_enabled());
    EnableGradGuard recording;
    Tensor x2 = c.inputs[0].detach();
    x2.set_requires_grad();
    Tensor again = square(x2) * 1.5f;  // recorded: d/dx = 3x
    again.backward(c.grad_out);
    c.add_grad(0, x2.grad());
  });
  sum(y).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{3.0f, 6.0f});
  CHECK(grad_enabled());
}
