// tests/test_reference.cpp — our ops against golden values from PyTorch (tests/reference/make_reference.py).
//
// Each case loads the inputs the script saved, runs our op, and compares the output and the gradients of
// sum(out * gout) with what torch.autograd computed. Tolerance: 1e-5 relative, plus an absolute floor of
// 1e-6 x the largest |value| of the case: float32 sums in a different order (our double accumulators, BLAS's
// blocking vs PyTorch's kernels) differ by a few ulps of the *largest* terms, which is large relative to
// entries that cancel to near zero.
#include <functional>
#include <map>

#include "attention/dense.h"
#include "tests/helpers.h"

using namespace core;
using testing::source_dir;

namespace {

struct GoldenCase {
  std::function<Tensor(const std::vector<Tensor>&, const std::vector<IntTensor>&)> f;
  std::vector<int> differentiable;  // which x_k have gradients to compare
};

std::map<std::string, GoldenCase> golden_cases() {
  using V = std::vector<Tensor>;
  using I = std::vector<IntTensor>;
  std::map<std::string, GoldenCase> c;
  c["add_broadcast"] = {[](const V& x, const I&) { return x[0] + x[1]; }, {0, 1}};
  c["sub_broadcast"] = {[](const V& x, const I&) { return x[0] - x[1]; }, {0, 1}};
  c["mul_broadcast"] = {[](const V& x, const I&) { return x[0] * x[1]; }, {0, 1}};
  c["div_broadcast"] = {[](const V& x, const I&) { return x[0] / x[1]; }, {0, 1}};
  c["pow3"] = {[](const V& x, const I&) { return pow(x[0], 3.0f); }, {0}};
  c["sqrt"] = {[](const V& x, const I&) { return sqrt(x[0]); }, {0}};
  c["exp"] = {[](const V& x, const I&) { return exp(x[0]); }, {0}};
  c["log"] = {[](const V& x, const I&) { return log(x[0]); }, {0}};
  c["abs"] = {[](const V& x, const I&) { return abs(x[0]); }, {0}};
  c["relu"] = {[](const V& x, const I&) { return relu(x[0]); }, {0}};
  c["gelu"] = {[](const V& x, const I&) { return gelu(x[0]); }, {0}};
  c["elu"] = {[](const V& x, const I&) { return elu(x[0]); }, {0}};
  c["sigmoid"] = {[](const V& x, const I&) { return sigmoid(x[0]); }, {0}};
  c["tanh"] = {[](const V& x, const I&) { return tanh(x[0]); }, {0}};
  c["relu_at_zero"] = {[](const V& x, const I&) { return relu(x[0]); }, {0}};
  c["abs_at_zero"] = {[](const V& x, const I&) { return abs(x[0]); }, {0}};
  c["sum_axis1"] = {[](const V& x, const I&) { return sum(x[0], 1); }, {0}};
  c["sum_axis0_keepdim"] = {[](const V& x, const I&) { return sum(x[0], 0, true); }, {0}};
  c["mean_axis2"] = {[](const V& x, const I&) { return mean(x[0], 2); }, {0}};
  c["mean_all"] = {[](const V& x, const I&) { return mean(x[0]); }, {0}};
  c["max_axis1"] = {[](const V& x, const I&) { return max(x[0], 1); }, {0}};
  c["max_ties"] = {[](const V& x, const I&) { return max(x[0], 1); }, {0}};
  c["permute"] = {[](const V& x, const I&) { return permute(x[0], {2, 0, 1}); }, {0}};
  c["slice_step2"] = {[](const V& x, const I&) { return slice(x[0], 1, 1, 6, 2); }, {0}};
  c["concat_axis1"] = {[](const V& x, const I&) { return concat({x[0], x[1]}, 1); }, {0, 1}};
  c["stack_axis0"] = {[](const V& x, const I&) { return stack({x[0], x[1]}, 0); }, {0, 1}};
  c["pad_axis1"] = {[](const V& x, const I&) { return pad(x[0], 1, 2, 1, 0.5f); }, {0}};
  c["expand"] = {[](const V& x, const I&) { return expand(x[0], {2, 3, 4}); }, {0}};
  c["gather_axis1"] = {[](const V& x, const I& i) { return gather(x[0], 1, i[0]); }, {0}};
  c["index_select_axis0"] = {[](const V& x, const I& i) { return index_select(x[0], 0, i[0]); }, {0}};
  c["scatter_add_axis1"] = {[](const V& x, const I& i) { return scatter_add(x[0], 1, i[0], x[1]); }, {0, 1}};
  c["masked_fill"] = {[](const V& x, const I&) { return masked_fill(x[0], x[1], -3.0f); }, {0}};
  c["where"] = {[](const V& x, const I&) { return where(x[0], x[1], x[2]); }, {1, 2}};
  c["embedding"] = {[](const V& x, const I& i) { return embedding(x[0], i[0]); }, {0}};
  c["matmul"] = {[](const V& x, const I&) { return matmul(x[0], x[1]); }, {0, 1}};
  c["matmul_ta"] = {[](const V& x, const I&) { return matmul(x[0], x[1], true, false); }, {0, 1}};
  c["matmul_tb"] = {[](const V& x, const I&) { return matmul(x[0], x[1], false, true); }, {0, 1}};
  c["matmul_ta_tb"] = {[](const V& x, const I&) { return matmul(x[0], x[1], true, true); }, {0, 1}};
  c["matmul_batch_broadcast"] = {[](const V& x, const I&) { return matmul(x[0], x[1]); }, {0, 1}};
  c["matmul_shared_weight"] = {[](const V& x, const I&) { return matmul(x[0], x[1], false, true); }, {0, 1}};
  c["softmax_last"] = {[](const V& x, const I&) { return softmax(x[0], -1); }, {0}};
  c["softmax_axis0"] = {[](const V& x, const I&) { return softmax(x[0], 0); }, {0}};
  c["softmax_large_logits"] = {[](const V& x, const I&) { return softmax(x[0], -1); }, {0}};
  c["log_softmax_last"] = {[](const V& x, const I&) { return log_softmax(x[0], -1); }, {0}};
  c["layer_norm"] = {[](const V& x, const I&) { return layer_norm(x[0], x[1], x[2], 1e-5f); }, {0, 1, 2}};
  c["cross_entropy_ignore"] = {[](const V& x, const I& i) { return cross_entropy(x[0], i[0]); }, {0}};
  c["cross_entropy_large_logits"] = {[](const V& x, const I& i) { return cross_entropy(x[0], i[0]); }, {0}};
  c["cumsum_axis1"] = {[](const V& x, const I&) { return cumsum(x[0], 1); }, {0}};
  c["attention_full"] = {[](const V& x, const I&) { return attention::dense_attention(x[0], x[1], x[2]); },
                         {0, 1, 2}};
  c["attention_causal"] = {
      [](const V& x, const I&) { return attention::dense_attention(x[0], x[1], x[2], {/*causal=*/true, Tensor()}); },
      {0, 1, 2}};
  return c;
}

}  // namespace

TEST_CASE("golden: every op matches PyTorch, forward and backward") {
  const std::string root = source_dir() + "/tests/reference/golden/";
  const auto cases = golden_cases();
  // The script and this table must name the same cases: a golden directory without a C++ case, or the reverse,
  // fails here instead of being silently skipped.
  int dirs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    ++dirs;
    INFO("golden directory without a C++ case: " << entry.path().filename().string());
    CHECK(cases.count(entry.path().filename().string()) == 1);
  }
  CHECK(dirs == static_cast<int>(cases.size()));

  for (const auto& [name, gc] : cases) {
    SUBCASE(name.c_str()) {
      const std::string dir = root + name + "/";
      REQUIRE_MESSAGE(std::filesystem::exists(dir + "out.npy"), "missing golden files for " << name);
      std::vector<Tensor> xs;
      std::vector<IntTensor> is;
      for (int k = 0; std::filesystem::exists(dir + "x" + std::to_string(k) + ".npy"); ++k)
        xs.push_back(npy::load(dir + "x" + std::to_string(k) + ".npy"));
      for (int k = 0; std::filesystem::exists(dir + "i" + std::to_string(k) + ".npy"); ++k)
        is.push_back(npy::load_int(dir + "i" + std::to_string(k) + ".npy"));
      for (int k : gc.differentiable) xs[static_cast<size_t>(k)].set_requires_grad(true);

      const Tensor want = npy::load(dir + "out.npy");
      Tensor out = gc.f(xs, is);
      const double floor = 1e-6 * std::max(1.0f, testing::max_abs(want));
      INFO("case " << name << ", output");
      CHECK_CLOSE(out, want, 1e-5, floor);

      out.backward(npy::load(dir + "gout.npy"));
      for (int k : gc.differentiable) {
        const Tensor g_want = npy::load(dir + "g" + std::to_string(k) + ".npy");
        const Tensor g_got = xs[static_cast<size_t>(k)].grad();
        INFO("case " << name << ", gradient of x" << k);
        REQUIRE(g_got.defined());
        CHECK_CLOSE(g_got, g_want, 1e-5, 1e-6 * std::max(1.0f, testing::max_abs(g_want)));
      }
    }
  }
}
