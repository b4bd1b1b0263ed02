// %% [markdown]
// # Tensor playground: the engine's ops and autograd, one cell at a time
//
// A scratchpad for `core/`, the engine under every lesson: make tensors, combine them, reduce them, index
// them, and differentiate through all of it. Each cell is small and prints what it did, so that you can change
// a number, rerun, and watch. Lesson 00 tells the story of the engine; this notebook is the place to poke at
// it. Every cell also checks itself (PASS/FAIL), so an edit that breaks an assumption says so.
//
// Three facts to keep in mind (core/tensor.h): a `Tensor` is a handle — copies are shallow; storage is
// contiguous row-major float32; and an op records a graph node only when an input requires grad.
// %%
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lessons/lesson.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;

// The graph behind `root` as a tape: every node once, inputs before the ops that use them (a topological order,
// found without recursion, as the engine's own backward does), one line each:
//   %2 = matmul(%0, %1)   (4,2)
// Leaves print with their name from `names` (or "const"), and whether they require grad.
void print_tape(const Tensor& root, const std::map<const core::TensorImpl*, std::string>& names) {
  std::map<const core::TensorImpl*, int> id;
  std::vector<Tensor> order;
  std::vector<std::pair<Tensor, size_t>> stack = {{root, 0}};  // (node, next input to visit)
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    if (id.count(t.impl())) {
      stack.pop_back();
      continue;
    }
    const core::Node* node = t.impl()->grad_fn.get();
    if (node && next < node->inputs.size()) {
      const Tensor input = node->inputs[next++];
      if (input.defined() && !id.count(input.impl())) stack.push_back({input, 0});
      continue;
    }
    id[t.impl()] = static_cast<int>(order.size());
    order.push_back(t);
    stack.pop_back();
  }
  for (const Tensor& t : order) {
    std::string line = "  %" + std::to_string(id[t.impl()]) + " = ";
    if (const core::Node* node = t.impl()->grad_fn.get()) {
      line += std::string(node->op) + "(";
      for (size_t i = 0; i < node->inputs.size(); ++i)
        line += (i ? ", %" : "%") + std::to_string(id[node->inputs[i].impl()]);
      line += ")";
    } else {
      auto it = names.find(t.impl());
      line += it != names.end() ? it->second : std::string("const");
      if (t.requires_grad()) line += " (requires grad)";
    }
    line += std::string(static_cast<size_t>(std::max(1, 34 - lesson::display_width(line))), ' ') + core::shape_str(t.shape());
    std::cout << line << "\n";
  }
  std::cout.flush();
}

// The message of the core::Error that f throws ("" if it does not throw).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.what();
  }
  return "";
}

// n evenly spaced points from lo to hi, as a (n) tensor.
Tensor linspace(float lo, float hi, int64_t n) {
  Tensor t = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = lo + (hi - lo) * float(i) / float(n - 1);
  return t;
}

// %%
int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "tensor_playground");

  // %% [markdown]
  // ## 1 · Tensors are handles
  // `Tensor b = a;` is a second name for the same numbers. `reshape` of contiguous data is a view that shares
  // them too; `clone()` copies.
  // %%
  L.step("1 · tensors are handles");
  Tensor a = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor alias = a;                                   // same storage
  Tensor view = core::reshape(a, {3, 2});             // same storage, another shape
  Tensor copy = a.clone();                            // new storage
  alias.at({0, 0}) = 100.0f;
  L.print("a after alias[0,0] = 100", a);
  L.print("reshape(a, {3,2}) sees it too", view);
  L.print("a.clone() made before does not", copy);
  L.check("alias and view share a's storage, the clone does not",
          a.at({0, 0}) == 100.0f && view.at({0, 0}) == 100.0f && copy.at({0, 0}) == 1.0f);
  a.at({0, 0}) = 1.0f;

  // %% [markdown]
  // ## 2 · Broadcasting
  // Shapes are compared from the right; a size-1 axis (or a missing one) stretches to match. A (3, 1) column
  // plus a (4) row is a (3, 4) table. Mismatched shapes throw an error that names the op and both shapes.
  // %%
  L.step("2 · broadcasting");
  const Tensor col = Tensor::from_vector({3, 1}, {0, 10, 20});
  const Tensor row = Tensor::from_vector({4}, {1, 2, 3, 4});
  const Tensor table = col + row;  // (3,1) + (4) -> (3,4)
  L.print("col (3,1) + row (4)", table);
  bool table_ok = table.shape() == core::Shape({3, 4});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) table_ok = table_ok && table.at({i, j}) == col.at({i, 0}) + row.at({j});
  L.check("table[i, j] == col[i] + row[j]", table_ok);
  const std::string message = error_of([&] { core::add(a, row); });  // (2,3) + (4): no way to match
  L.say("(2,3) + (4) throws: ", message);
  L.check("the error names the shapes", message.find("(2,3)") != std::string::npos && message.find("(4)") != std::string::npos);

  // %% [markdown]
  // ## 3 · Reductions and matmul
  // `sum`, `mean`, `max` over all elements or one axis (keepdim keeps it as size 1, handy for broadcasting
  // back). `matmul` multiplies the last two axes and broadcasts the rest; its transpose flags multiply by Bᵀ
  // without copying B.
  // %%
  L.step("3 · reductions and matmul");
  L.print("sum(a, axis 0)", core::sum(a, 0));
  L.print("mean(a, axis 1, keepdim)", core::mean(a, 1, true));
  L.print("max(a, axis 1)", core::max(a, 1));
  const Tensor b = Tensor::from_vector({4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  const Tensor ab = core::matmul(a, b, false, true);  // (2,3) @ (4,3)ᵀ -> (2,4)
  L.print("matmul(a, b, false, true): (2,3) @ (4,3)ᵀ", ab);
  bool matmul_ok = ab.shape() == core::Shape({2, 4});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      float s = 0.0f;
      for (int64_t c = 0; c < 3; ++c) s += a.at({i, c}) * b.at({j, c});
      matmul_ok = matmul_ok && std::fabs(ab.at({i, j}) - s) < 1e-5f;
    }
  L.check("matmul equals the triple loop", matmul_ok);
  const Tensor p = core::softmax(ab, -1);
  L.print("softmax(ab, -1): every row sums to 1", p);
  L.check("softmax rows sum to 1", std::fabs(core::sum(p).item() - 2.0f) < 1e-5f);

  // %% [markdown]
  // ## 4 · Indexing
  // Attention schemes pick keys by index all the time: `index_select` takes whole rows, `gather` one entry per
  // position, `masked_fill` blocks entries (with -∞ before a softmax), `topk` finds the largest.
  // %%
  L.step("4 · indexing");
  const IntTensor rows = IntTensor::from_vector({2}, {1, 0});
  L.print("index_select(a, 0, {1, 0}): rows swapped", core::index_select(a, 0, rows));
  const IntTensor pick = IntTensor::from_vector({2, 1}, {2, 0});
  const Tensor picked = core::gather(a, 1, pick);  // out[i][0] = a[i][pick[i][0]]
  L.print("gather(a, 1, {{2}, {0}})", picked);
  L.check("gather picks a[0,2] and a[1,0]", picked.at({0, 0}) == 3.0f && picked.at({1, 0}) == 4.0f);
  const Tensor upper = Tensor::from_vector({1, 3}, {0, 0, 1});  // broadcasts over rows
  L.print("masked_fill(a, last column, -inf), then softmax", core::softmax(core::masked_fill(a, upper, -INFINITY), -1));
  const core::TopK top = core::topk(a, 2, -1);
  L.print("topk(a, 2) values", top.values);

  // %% [markdown]
  // ## 5 · A small expression and its graph
  // With `x` and `w` marked as requiring grad, every op records a node. Here is
  //     loss = sum(tanh(x @ w + bias)²)
  // as the tape autograd will walk backwards, then the gradients it finds — and the same gradient of x written
  // out by the chain rule:
  //     dloss/dx = (2 tanh(h) (1 - tanh(h)²)) @ wᵀ    with h = x @ w + bias
  // %%
  L.step("5 · a small expression and its graph");
  core::Rng rng = L.rng(0);
  Tensor x = core::randn({4, 3}, rng).set_requires_grad();
  Tensor w = core::randn({3, 2}, rng).set_requires_grad();
  const Tensor bias = Tensor::from_vector({2}, {0.5f, -0.5f});  // a constant: no gradient wanted
  const Tensor h = core::matmul(x, w) + bias;                    // (4,3) @ (3,2) + (2) -> (4,2)
  const Tensor loss = core::sum(core::square(core::tanh(h)));   // ()
  print_tape(loss, {{x.impl(), "x"}, {w.impl(), "w"}, {bias.impl(), "bias"}});
  loss.backward();
  L.print("dloss/dx", x.grad());
  L.print("dloss/dw", w.grad());
  Tensor by_hand;
  {
    core::NoGradGuard no_grad;
    const Tensor t = core::tanh(h.detach());
    by_hand = core::matmul(2.0f * t * (1.0f - t * t), w.detach(), false, true);  // (4,2) @ (3,2)ᵀ -> (4,3)
  }
  L.check_close("autograd's dloss/dx equals the chain rule by hand", x.grad(), by_hand, 1e-5f);
  const core::GradcheckResult gc = core::gradcheck(
      [&](const std::vector<Tensor>& in) { return core::sum(core::square(core::tanh(core::matmul(in[0], in[1]) + bias))); },
      {x.detach(), w.detach()});
  L.check("gradcheck agrees with finite differences", gc.ok, gc.ok ? "max |diff| " + lesson::sig(gc.max_abs_diff, 2) : gc.message);

  // %% [markdown]
  // ## 6 · What autograd users trip over
  // Three classics from micrograd's issue tracker: gradients accumulate (+=) across backward calls until you
  // zero them; a value used twice gets both contributions; and a graph is freed after backward, so a second
  // backward through it is an error. `NoGradGuard` records nothing at all.
  // %%
  L.step("6 · what autograd users trip over");
  {
    Tensor s = Tensor::scalar(3.0f).set_requires_grad();
    (s * s).backward();
    (s * s).backward();  // a new graph, the same leaf: 6 + 6
    L.say("d(s²)/ds at s = 3, after two backward calls: ", s.grad().item());
    L.check("gradients accumulate until zero_grad()", s.grad().item() == 12.0f);
    s.zero_grad();
    const Tensor twice = s * s + s;  // s is used by mul (twice) and by add
    twice.backward();
    L.check("a reused value gets every contribution: d(s² + s)/ds = 2s + 1 = 7", s.grad().item() == 7.0f);
    const std::string again = error_of([&] { twice.backward(); });
    L.say("second backward through the same graph: ", again);
    L.check("backward through a freed graph is an error, not a silent wrong gradient", !again.empty());
    core::NoGradGuard no_grad;
    const Tensor quiet = s * s;
    L.check("under NoGradGuard nothing is recorded", !quiet.requires_grad() && quiet.is_leaf());
  }

  // %% [markdown]
  // ## 7 · Activations and their derivatives, by autograd
  // One backward pass through y = f(x) at 161 points gives f'(x) at all of them (sum(y) has gradient 1 for each
  // y). The picture shows the activations of the course and the derivatives autograd found.
  // %%
  L.step("7 · activations and their derivatives");
  {
    const int64_t n = 161;
    const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> fs = {
        {"relu", [](const Tensor& t) { return core::relu(t); }},
        {"gelu", [](const Tensor& t) { return core::gelu(t); }},
        {"elu", [](const Tensor& t) { return core::elu(t); }},
        {"tanh", [](const Tensor& t) { return core::tanh(t); }},
    };
    std::vector<img::Series> values, slopes;
    bool tanh_ok = false;
    for (const auto& [name, f] : fs) {
      Tensor xs = linspace(-4.0f, 4.0f, n).set_requires_grad();
      const Tensor ys = f(xs);
      core::sum(ys).backward();
      img::Series v{name, {}, {}}, s{name + "'", {}, {}};
      double worst = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        v.x.push_back(xs.data()[i]);
        v.y.push_back(ys.data()[i]);
        s.x.push_back(xs.data()[i]);
        s.y.push_back(xs.grad().data()[i]);
        if (name == "tanh") worst = std::max(worst, std::fabs(double(xs.grad().data()[i]) - (1.0 - double(ys.data()[i]) * ys.data()[i])));
      }
      if (name == "tanh") tanh_ok = worst < 1e-5;
      values.push_back(v);
      slopes.push_back(s);
    }
    L.check("tanh'(x) from autograd equals 1 - tanh(x)²", tanh_ok);
    img::PlotOptions vo;
    vo.title = "activations f(x)";
    vo.xlabel = "x";
    vo.ylabel = "f(x)";
    img::PlotOptions so = vo;
    so.title = "their derivatives f'(x), by autograd";
    so.ylabel = "f'(x)";
    L.show(img::hstack({img::line_plot(values, vo), img::line_plot(slopes, so)}), "activations.png",
           "left: relu, gelu, elu and tanh on [-4, 4]; right: the derivatives one backward pass found — relu' "
           "jumps from 0 to 1 at 0, gelu' dips slightly below 0 left of 0, tanh' is the bell 1 - tanh²");
  }

  // %% [markdown]
  // ## Your turn
  // 1. In section 5, add `+ core::sum(x)` to the loss. Predict the new lines of the tape and how dloss/dx changes
  //    (and which check then fails, and why), before you rerun.
  // 2. Make section 2 throw with another pair of shapes and read the message.
  // 3. Add `core::sigmoid` to the list in section 7.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
