// tests/test_ops.cpp — every differentiable op through gradcheck (table-driven, like tinygrad's test_ops),
// boundary inputs that random values never hit, the non-differentiable helpers, and error messages.

#include <functional>
#include <limits>

#include "core/fast_erf.h"
#include "core/fast_exp.h"
#include "core/row_sums.h"
#include "tests/helpers.h"

using namespace core;
using testing::rand_away_from_zero;
using testing::rand_tensor;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
struct OpCase {
  const char* name;
  Fn f;
  std::vector<Tensor> inputs;
};

Tensor positive(const Shape& s, uint64_t seed) { return rand_tensor(s, seed, 0.5f, 2.0f); }

// Distinct values (no ties), so max's gradient is well defined under finite differences.
Tensor distinct(const Shape& s, uint64_t seed) {
  Tensor t = rand_tensor(s, seed, -0.05f, 0.05f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += 0.37f * static_cast<float>((i * 7) % t.numel());
  return t;
}

std::vector<OpCase> op_cases() {
  const IntTensor gather_idx = IntTensor::from_vector({3, 2}, {0, 4, 2, 2, 1, 3});
  const IntTensor select_idx = IntTensor::from_vector({4}, {2, 0, 2, 1});
  const IntTensor scatter_idx = IntTensor::from_vector({2, 3}, {0, 3, 3, 1, 1, 2});
  const IntTensor emb_idx = IntTensor::from_vector({2, 2}, {3, 0, 3, 1});
  const IntTensor targets = IntTensor::from_vector({4}, {1, -100, 0, 2});
  const Tensor mask = Tensor::from_vector({1, 4}, {1, 0, 0, 1});
  const Tensor cond = Tensor::from_vector({3}, {1, 0, 1});
  return {
      {"add (broadcast)", [](const auto& x) { return x[0] + x[1]; }, {rand_tensor({2, 3}, 1), rand_tensor({3}, 2)}},
      {"add (4,1,3)+(5,3)", [](const auto& x) { return x[0] + x[1]; }, {rand_tensor({4, 1, 3}, 1), rand_tensor({5, 3}, 2)}},
      {"sub (broadcast)", [](const auto& x) { return x[0] - x[1]; }, {rand_tensor({2, 1}, 3), rand_tensor({2, 3}, 4)}},
      {"mul (broadcast)", [](const auto& x) { return x[0] * x[1]; }, {rand_tensor({2, 3, 2}, 5), rand_tensor({3, 1}, 6)}},
      {"div (broadcast)", [](const auto& x) { return x[0] / x[1]; }, {rand_tensor({2, 3}, 7), positive({2, 1}, 8)}},
      {"add scalar", [](const auto& x) { return x[0] + 1.5f; }, {rand_tensor({3}, 9)}},
      {"mul scalar", [](const auto& x) { return x[0] * -2.0f; }, {rand_tensor({3}, 10)}},
      {"scalar - x", [](const auto& x) { return 1.0f - x[0]; }, {rand_tensor({3}, 11)}},
      {"x / scalar", [](const auto& x) { return x[0] / 4.0f; }, {rand_tensor({3}, 12)}},
      {"scalar / x", [](const auto& x) { return 2.0f / x[0]; }, {positive({3}, 13)}},
      {"neg", [](const auto& x) { return -x[0]; }, {rand_tensor({3}, 14)}},
      {"pow 3", [](const auto& x) { return pow(x[0], 3.0f); }, {rand_tensor({4}, 15)}},
      {"pow 0.5", [](const auto& x) { return pow(x[0], 0.5f); }, {positive({4}, 16)}},
      {"square", [](const auto& x) { return square(x[0]); }, {rand_tensor({4}, 17)}},
      {"sqrt", [](const auto& x) { return sqrt(x[0]); }, {positive({4}, 18)}},
      {"exp", [](const auto& x) { return exp(x[0]); }, {rand_tensor({4}, 19)}},
      {"log", [](const auto& x) { return log(x[0]); }, {positive({4}, 20)}},
      {"abs", [](const auto& x) { return abs(x[0]); }, {rand_away_from_zero({6}, 21)}},
      {"relu", [](const auto& x) { return relu(x[0]); }, {rand_away_from_zero({6}, 22)}},
      {"gelu", [](const auto& x) { return gelu(x[0]); }, {rand_tensor({6}, 23, -3, 3)}},
      {"elu", [](const auto& x) { return elu(x[0]); }, {rand_away_from_zero({6}, 24)}},
      {"sigmoid", [](const auto& x) { return sigmoid(x[0]); }, {rand_tensor({6}, 25, -4, 4)}},
      {"tanh", [](const auto& x) { return tanh(x[0]); }, {rand_tensor({6}, 26)}},
      {"sum all", [](const auto& x) { return sum(x[0]); }, {rand_tensor({2, 3}, 27)}},
      {"sum axis 1", [](const auto& x) { return sum(x[0], 1); }, {rand_tensor({2, 3, 2}, 28)}},
      {"sum axis -1 keepdim", [](const auto& x) { return sum(x[0], -1, true); }, {rand_tensor({2, 3}, 29)}},
      {"mean all", [](const auto& x) { return mean(x[0]); }, {rand_tensor({2, 3}, 30)}},
      {"mean axis 0", [](const auto& x) { return mean(x[0], 0); }, {rand_tensor({3, 2}, 31)}},
      {"max all", [](const auto& x) { return max(x[0]); }, {distinct({2, 3}, 32)}},
      {"max axis 1", [](const auto& x) { return max(x[0], 1); }, {distinct({2, 4, 2}, 33)}},
      {"reshape", [](const auto& x) { return reshape(x[0], {3, -1}) * 2.0f; }, {rand_tensor({2, 3}, 34)}},
      {"permute", [](const auto& x) { return permute(x[0], {2, 0, 1}); }, {rand_tensor({2, 3, 4}, 35)}},
      {"transpose", [](const auto& x) { return transpose(x[0], 0, 1); }, {rand_tensor({2, 3}, 36)}},
      {"slice step 2", [](const auto& x) { return slice(x[0], 1, 1, 6, 2); }, {rand_tensor({2, 7}, 37)}},
      {"concat", [](const auto& x) { return concat({x[0], x[1]}, 0); }, {rand_tensor({1, 3}, 38), rand_tensor({2, 3}, 39)}},
      {"stack", [](const auto& x) { return stack({x[0], x[1]}, 1); }, {rand_tensor({2, 3}, 40), rand_tensor({2, 3}, 41)}},
      {"pad", [](const auto& x) { return pad(x[0], 0, 1, 2, 0.5f); }, {rand_tensor({2, 3}, 42)}},
      {"expand", [](const auto& x) { return expand(x[0], {2, 3, 4}); }, {rand_tensor({3, 1}, 43)}},
      {"gather", [gather_idx](const auto& x) { return gather(x[0], 1, gather_idx); }, {rand_tensor({3, 5}, 44)}},
      {"index_select (repeats)", [select_idx](const auto& x) { return index_select(x[0], 0, select_idx); },
       {rand_tensor({3, 2}, 45)}},
      {"scatter_add", [scatter_idx](const auto& x) { return scatter_add(x[0], 1, scatter_idx, x[1]); },
       {rand_tensor({2, 4}, 46), rand_tensor({2, 3}, 47)}},
      {"masked_fill", [mask](const auto& x) { return masked_fill(x[0], mask, -1.0f); }, {rand_tensor({2, 4}, 48)}},
      {"where", [cond](const auto& x) { return where(cond, x[0], x[1]); }, {rand_tensor({2, 3}, 49), rand_tensor({1, 3}, 50)}},
      {"matmul", [](const auto& x) { return matmul(x[0], x[1]); }, {rand_tensor({3, 4}, 51), rand_tensor({4, 2}, 52)}},
      {"matmul ta", [](const auto& x) { return matmul(x[0], x[1], true, false); }, {rand_tensor({4, 3}, 53), rand_tensor({4, 2}, 54)}},
      {"matmul tb", [](const auto& x) { return matmul(x[0], x[1], false, true); }, {rand_tensor({3, 4}, 55), rand_tensor({2, 4}, 56)}},
      {"matmul ta tb", [](const auto& x) { return matmul(x[0], x[1], true, true); }, {rand_tensor({4, 3}, 57), rand_tensor({2, 4}, 58)}},
      {"matmul batch broadcast", [](const auto& x) { return matmul(x[0], x[1]); },
       {rand_tensor({2, 1, 3, 4}, 59), rand_tensor({3, 4, 2}, 60)}},
      {"matmul shared weight", [](const auto& x) { return matmul(x[0], x[1], false, true); },
       {rand_tensor({2, 3, 4}, 61), rand_tensor({5, 4}, 62)}},
      {"softmax", [](const auto& x) { return softmax(x[0], -1); }, {rand_tensor({2, 5}, 63)}},
      {"softmax axis 0", [](const auto& x) { return softmax(x[0], 0); }, {rand_tensor({3, 2, 2}, 64)}},
      {"log_softmax", [](const auto& x) { return log_softmax(x[0], 1); }, {rand_tensor({2, 4, 2}, 65)}},
      {"layer_norm", [](const auto& x) { return layer_norm(x[0], x[1], x[2]); },
       {rand_tensor({3, 5}, 66), rand_tensor({5}, 67), rand_tensor({5}, 68)}},
      {"cross_entropy (ignore)", [targets](const auto& x) { return cross_entropy(x[0], targets); }, {rand_tensor({4, 3}, 69)}},
      {"dropout (replayed mask)", [](const auto& x) { Rng r(5); return dropout(x[0], 0.3f, r); }, {rand_tensor({3, 4}, 70)}},
      {"embedding", [emb_idx](const auto& x) { return embedding(x[0], emb_idx); }, {rand_tensor({4, 3}, 71)}},
      {"cumsum", [](const auto& x) { return cumsum(x[0], 1); }, {rand_tensor({2, 4, 2}, 72)}},
      {"clone", [](const auto& x) { return x[0].clone() * x[0]; }, {rand_tensor({3}, 73)}},
  };
}

}  // namespace

TEST_CASE("gradcheck: every differentiable op") {
  for (const OpCase& c : op_cases()) {
    SUBCASE(c.name) {
      GradcheckOptions opt;
      opt.name = c.name;
      const GradcheckResult r = gradcheck(c.f, c.inputs, opt);
      INFO(r.message);
      CHECK(r.ok);
      CHECK(r.checked > 0);
    }
  }
}

TEST_CASE("gradcheck: catches a wrong gradient") {
  // An op whose backward is deliberately wrong (factor 2 missing): gradcheck must say so, naming the index.
  auto bad_square = [](const std::vector<Tensor>& x) {
    Tensor out = x[0].detach() * x[0].detach();
    return record(out, "bad_square", {x[0]}, [](BackwardContext& c) { c.add_grad(0, c.grad_out * c.inputs[0]); });
  };
  GradcheckOptions opt;
  opt.name = "bad_square";
  const GradcheckResult r = gradcheck(bad_square, {Tensor::from_vector({2}, {1.0f, 2.0f})}, opt);
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("gradcheck bad_square: argument 0 at index (0)") != std::string::npos);
}

// ---- boundary inputs --------------------------------------------------------------------------------------
TEST_CASE("boundary: relu and abs at exactly 0 have gradient 0") {
  Tensor x = Tensor::from_vector({3}, {-1.0f, 0.0f, 2.0f});
  x.set_requires_grad();
  sum(relu(x) + abs(x)).backward();
  CHECK(x.grad().data()[0] == -1.0f);
  CHECK(x.grad().data()[1] == 0.0f);
  CHECK(x.grad().data()[2] == 2.0f);
}

TEST_CASE("boundary: max ties share the gradient equally") {
  Tensor x = Tensor::from_vector({2, 3}, {1, 5, 5, 2, 2, 2});
  x.set_requires_grad();
  sum(max(x, 1)).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{0, 0.5f, 0.5f, 1.0f / 3, 1.0f / 3, 1.0f / 3});
  CHECK(argmax(x, 1).data[0] == 1);  // argmax takes the first of the tied maxima
}

TEST_CASE("boundary: softmax of fully masked rows is 0 with gradient 0, never NaN") {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::from_vector({2, 3}, {-inf, -inf, -inf, 1.0f, -inf, 2.0f});
  x.set_requires_grad();
  Tensor y = softmax(x, -1);
  CHECK(y.to_vector()[0] == 0.0f);
  CHECK(y.to_vector()[1] == 0.0f);
  CHECK(y.at({1, 1}) == 0.0f);
  CHECK(y.at({1, 0}) + y.at({1, 2}) == doctest::Approx(1.0f));
  sum(y * Tensor::from_vector({3}, {1, 2, 3})).backward();
  CHECK(testing::all_finite(x.grad()));
  CHECK(x.grad().at({0, 0}) == 0.0f);

  Tensor ls = log_softmax(x.detach(), -1);
  CHECK(std::isinf(ls.at({0, 0})));
  CHECK_FALSE(std::isnan(ls.at({0, 0})));
}

TEST_CASE("boundary: logits of ±1e4 stay finite in softmax, log_softmax, cross_entropy") {
  Tensor x = Tensor::from_vector({2, 3}, {1e4f, -1e4f, 0.0f, -1e4f, 1e4f, 1e4f});
  x.set_requires_grad();
  Tensor loss = cross_entropy(x, IntTensor::from_vector({2}, {1, 2})) + mean(softmax(x, -1)) + mean(log_softmax(x, -1));
  CHECK(std::isfinite(loss.item()));
  loss.backward();
  CHECK(testing::all_finite(x.grad()));
  // row 1: classes 1 and 2 tie at 1e4, so -log p(2) = log 2
  CHECK(cross_entropy(x.detach(), IntTensor::from_vector({2}, {0, 2})).item() == doctest::Approx(std::log(2.0f) / 2));
}

TEST_CASE("boundary: cross_entropy with every target ignored is 0, not NaN") {
  Tensor x = rand_tensor({2, 3}, 80);
  x.set_requires_grad();
  Tensor loss = cross_entropy(x, IntTensor::from_vector({2}, {-100, -100}));
  CHECK(loss.item() == 0.0f);
  loss.backward();
  CHECK(testing::max_abs(x.grad()) == 0.0f);
}

TEST_CASE("boundary: zero-size tensors pass through shape ops") {
  Tensor e = Tensor::zeros({0, 3});
  CHECK(concat({e, Tensor::ones({2, 3})}, 0).shape() == Shape{2, 3});
  CHECK(sum(e, 0).to_vector() == std::vector<float>{0, 0, 0});
  CHECK(matmul(Tensor::ones({2, 0}), Tensor::ones({0, 3})).to_vector() == std::vector<float>(6, 0.0f));
}

// ---- non-differentiable helpers ---------------------------------------------------------------------------
TEST_CASE("helpers: argmax, topk, argsort, arange, one_hot") {
  Tensor x = Tensor::from_vector({2, 4}, {3, 1, 4, 1, 5, 9, 2, 6});
  CHECK(argmax(x, 1).data[1] == 1);
  CHECK(argmax(x, 0).data[2] == 0);
  TopK t = topk(x, 2, -1);
  CHECK(t.indices.data[0] == 2);
  CHECK(t.indices.data[1] == 0);
  CHECK(t.values.at({1, 0}) == 9.0f);
  CHECK(t.values.at({1, 1}) == 6.0f);
  TopK smallest = topk(x, 2, -1, /*largest=*/false);
  CHECK(smallest.indices.data[0] == 1);  // tie 1,1: lower index first
  CHECK(smallest.indices.data[1] == 3);
  IntTensor s = argsort(x, -1);
  CHECK(std::vector<int64_t>(s.data.begin(), s.data.begin() + 4) == std::vector<int64_t>{1, 3, 0, 2});  // stable
  CHECK(arange(4).to_vector() == std::vector<float>{0, 1, 2, 3});
  CHECK(arange_int(3).data[2] == 2);
  Tensor oh = one_hot(IntTensor::from_vector({2}, {2, 0}), 3);
  CHECK(oh.to_vector() == std::vector<float>{0, 0, 1, 1, 0, 0});
  CHECK_THROWS_WITH_AS(one_hot(IntTensor::from_vector({1}, {3}), 3), doctest::Contains("out of range"), core::Error);
  CHECK_THROWS_WITH_AS(topk(x, 5, -1), doctest::Contains("topk: k = 5"), core::Error);
}

// ---- errors name the op and the shapes ----------------------------------------------------------------------
TEST_CASE("errors: messages name the op and the shapes") {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
  CHECK_THROWS_WITH_AS(matmul(a, b), "matmul: (2,3) @ (4,5): inner dims 3 != 4", core::Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({3}), b), doctest::Contains("at least 2 dims"), core::Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 1})),
                       doctest::Contains("matmul (batch dims): shapes (2) and (3) cannot broadcast"), core::Error);
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("add: shapes (2,3) and (4,5) cannot broadcast"), core::Error);
  CHECK_THROWS_WITH_AS(softmax(a, 2), doctest::Contains("softmax: axis 2 is out of range"), core::Error);
  CHECK_THROWS_WITH_AS(permute(a, {0, 0}), doctest::Contains("appears twice"), core::Error);
  CHECK_THROWS_WITH_AS(slice(a, 1, 2, 5), doctest::Contains("slice: [2, 5) is not inside axis 1 of shape (2,3)"),
                       core::Error);
  CHECK_THROWS_WITH_AS(concat({a, b}, 0), doctest::Contains("concat: shapes (2,3) and (4,5)"), core::Error);
  CHECK_THROWS_WITH_AS(gather(a, 1, IntTensor::from_vector({2, 1}, {0, 3})),
                       doctest::Contains("gather: index value 3 is out of range [0, 3)"), core::Error);
  CHECK_THROWS_WITH_AS(layer_norm(a, Tensor::ones({4}), Tensor()), doctest::Contains("layer_norm: gamma of shape (4)"),
                       core::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(a, IntTensor::from_vector({2}, {0, 7})),
                       doctest::Contains("cross_entropy: target 7 at row 1 is out of range for 3 classes"), core::Error);
  CHECK_THROWS_WITH_AS(embedding(a, IntTensor::from_vector({1}, {2})), doctest::Contains("embedding: token id 2"),
                       core::Error);
  CHECK_THROWS_WITH_AS(masked_fill(a, Tensor::zeros({3, 3}), 0.0f), doctest::Contains("masked_fill"), core::Error);
  Rng rng(1);
  CHECK_THROWS_WITH_AS(dropout(a, 1.0f, rng), doctest::Contains("dropout: p must be in [0, 1)"), core::Error);
  CHECK_THROWS_WITH_AS(expand(a, {3, 3}), doctest::Contains("expand"), core::Error);
}

// ---- the parallel loops give the same bits as one thread --------------------------------------------------------
TEST_CASE("parallel: large ops give identical results with 1 and 2 threads") {
  const Tensor x = rand_tensor({256, 513}, 90);
  const Tensor g = rand_tensor({513}, 91);
  auto run = [&] {
    return std::vector<Tensor>{softmax(x, -1), layer_norm(x, g, g), gelu(x) * x, sum(x, 0), exp(x + g),
                               cumsum(x, 1), permute(reshape(x, {2, 128, 513}), {2, 0, 1})};
  };
  const auto one = testing::with_threads(1, run);
  const auto two = testing::with_threads(2, run);
  for (size_t i = 0; i < one.size(); ++i) CHECK(testing::bit_equal(one[i], two[i]));
}

TEST_CASE("parallel: softmax and layer_norm gradients are identical with 1 and 2 threads") {
  // layer_norm's dgamma, dbeta add every row into the same cells, in a fixed number of row blocks
  const Tensor x0 = rand_tensor({300, 257}, 92), w = rand_tensor({300, 257}, 93);
  auto run = [&] {
    Tensor x = x0.detach(), gamma = rand_tensor({257}, 94), beta = rand_tensor({257}, 95);
    for (Tensor* t : {&x, &gamma, &beta}) t->set_requires_grad();
    sum((layer_norm(x, gamma, beta) + softmax(x, -1)) * w).backward();
    return std::vector<Tensor>{x.grad(), gamma.grad(), beta.grad()};
  };
  const auto one = testing::with_threads(1, run);
  const auto two = testing::with_threads(2, run);
  for (size_t i = 0; i < one.size(); ++i) CHECK(testing::bit_equal(one[i], two[i]));
}

TEST_CASE("row sums: lane_sum, row_max and row_min agree with one plain loop, at every length and tail") {
  using core::detail::lane_sum;
  using core::detail::row_max;
  using core::detail::row_min;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const Tensor t = rand_tensor({67}, 96);
  const float* x = t.data();
  for (int64_t n = 0; n <= 67; ++n) {
    double plain = 0.0, plain_dot = 0.0;
    float plain_max = -kInf, plain_min = kInf;
    for (int64_t j = 0; j < n; ++j) {
      plain += x[j];
      plain_dot += static_cast<double>(x[j]) * x[j];
      plain_max = std::max(plain_max, x[j]);
      plain_min = std::min(plain_min, x[j]);
    }
    CHECK(lane_sum(n, [&](int64_t j) { return static_cast<double>(x[j]); }) == doctest::Approx(plain).epsilon(1e-12));
    CHECK(lane_sum(n, [&](int64_t j) { return static_cast<double>(x[j]) * x[j]; }) ==
          doctest::Approx(plain_dot).epsilon(1e-12));
    CHECK(row_max(x, n) == plain_max);  // -inf for n = 0
    CHECK(row_min(x, n) == plain_min);  // +inf for n = 0
  }
  // the largest element in the tail (past the last full group of 8), a NaN skipped, a row of -inf
  std::vector<float> v(19, -1.0f);
  v[18] = 5.0f;
  v[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK(row_max(v.data(), 19) == 5.0f);
  v[17] = -7.0f;
  CHECK(row_min(v.data(), 19) == -7.0f);
  std::vector<float> masked(16, -kInf);
  CHECK(row_max(masked.data(), 16) == -kInf);
}

TEST_CASE("fast_exp: within 2 ulp of std::exp over its range, and the special values") {
  double worst = 0.0;
  for (float x = -87.0f; x < 88.5f; x += 0.0013f) {
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(core::fast_exp(x) - want) / want);
  }
  CHECK(worst < 2.5 * 5.97e-8);  // 2.5 ulp of float at worst
  CHECK(core::fast_exp(0.0f) == 1.0f);
  CHECK(core::fast_exp(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(std::isinf(core::fast_exp(std::numeric_limits<float>::infinity())));
  CHECK(std::isinf(core::fast_exp(100.0f)));
  CHECK(core::fast_exp(-100.0f) == 0.0f);
  CHECK(std::isnan(core::fast_exp(std::numeric_limits<float>::quiet_NaN())));
  // The same through a value the compiler cannot fold: a NaN once reached the integer conversion inside (undefined
  // behaviour, caught by UBSan in flash's overflow test).
  volatile float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isnan(core::fast_exp(nan)));
}

TEST_CASE("fast_normal_cdf: relative error against erfc in double, in both tails, and the special values") {
  // Φ(x) = erfc(−x/√2)/2. The left tail is where 1 + erf(x) would lose every digit; Φ(−12) ≈ 1.8e-33. There Φ's
  // own condition number is ~x² (one ulp of x moves Φ(−12) by 1e-5 relative), so the error is measured in units of
  // (1 + x²) float epsilons.
  constexpr double kEps = 5.96e-8;
  double worst = 0.0, worst_pdf = 0.0;
  for (float x = -12.0f; x < 12.0f; x += 0.00071f) {
    const double xd = x, scale = (1.0 + xd * xd) * kEps;
    const double want = 0.5 * std::erfc(-xd / std::sqrt(2.0));
    worst = std::max(worst, std::fabs(core::fast_normal_cdf(x) - want) / want / scale);
    const double pdf = std::exp(-0.5 * xd * xd) / std::sqrt(2.0 * M_PI);
    worst_pdf = std::max(worst_pdf, std::fabs(core::fast_normal_pdf(x) - pdf) / pdf / scale);
  }
  MESSAGE("worst relative error in (1 + x²) epsilons: fast_normal_cdf ", worst, ", fast_normal_pdf ", worst_pdf);
  CHECK(worst < 8.0);
  CHECK(worst_pdf < 8.0);
  CHECK(core::fast_normal_cdf(0.0f) == 0.5f);
  CHECK(core::fast_normal_cdf(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(core::fast_normal_cdf(std::numeric_limits<float>::infinity()) == 1.0f);
  CHECK(std::isnan(core::fast_normal_cdf(std::numeric_limits<float>::quiet_NaN())));
}
