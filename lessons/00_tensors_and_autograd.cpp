// %% [markdown]
// # 00 · Tensors and autograd: the engine under every lesson
//
// Every attention scheme in this course is built from a few dozen operations on float32 arrays ("tensors")
// and trained by gradient descent. This lesson tours that engine (`core/`) before we use it:
//
// 1. tensors and their shapes,
// 2. broadcasting: how a (3,1) column and a (4) row add up to a (3,4) table,
// 3. the computation graph each operation records,
// 4. backward: the chain rule by hand, then by autograd — the same numbers,
// 5. gradcheck: finite differences that catch a wrong backward,
// 6. a small neural network that learns to separate two interleaved spirals.
//
// Reverse-mode automatic differentiation is old (Linnainmaa 1970; Rumelhart, Hinton & Williams 1986,
// Learning representations by back-propagating errors). The engine here follows Karpathy's micrograd
// (2020): a node knows its inputs and how to push a gradient back to them; `backward()` visits the nodes in
// reverse topological order. Ours works on whole arrays instead of single numbers.
// %%
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "lessons/lesson.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;

// Two interleaved spirals, `per_class` points each: class 0 starts at angle 0, class 1 half a turn later.
// x: (N, 2) points in about [-1, 1]², y: (N) labels 0 or 1.
struct Spirals {
  Tensor x;
  IntTensor y;
};

Spirals make_spirals(int64_t per_class, core::Rng& rng) {
  const int64_t N = 2 * per_class;
  Spirals s{Tensor::zeros({N, 2}), IntTensor({N})};
  const double pi = 3.14159265358979323846;
  for (int64_t c = 0; c < 2; ++c) {
    for (int64_t i = 0; i < per_class; ++i) {
      const double t = (i + 0.5) / per_class;                            // 0..1 along the arm
      const double radius = 0.1 + 0.9 * t;
      const double angle = 3.0 * pi * t + c * pi + rng.normal(0.0f, 0.12f);  // 1.5 turns, a little noise
      const int64_t row = c * per_class + i;
      s.x.at({row, 0}) = static_cast<float>(radius * std::cos(angle));
      s.x.at({row, 1}) = static_cast<float>(radius * std::sin(angle));
      s.y.data[row] = c;
    }
  }
  return s;
}

// Share of rows whose largest logit is the label. logits: (N, C), labels: (N).
double accuracy(const Tensor& logits, const IntTensor& labels) {
  const IntTensor predicted = core::argmax(logits, 1);  // (N)
  int64_t right = 0;
  for (int64_t i = 0; i < labels.numel(); ++i) right += predicted.data[i] == labels.data[i];
  return static_cast<double>(right) / static_cast<double>(labels.numel());
}

// The graph behind t, one node per line, inputs indented under the op that used them.
void print_graph(const Tensor& t, const std::string& indent = "  ") {
  std::cout << indent << t.op_name() << "  " << core::shape_str(t.shape());
  if (t.is_leaf()) std::cout << "  value " << lesson::sig(t.item(), 4);
  std::cout << "\n";
  if (t.impl()->grad_fn)
    for (const Tensor& input : t.impl()->grad_fn->inputs) print_graph(input, indent + "    ");
}

// A filled disc with a 1-pixel ring around it: how a data point is drawn on top of a heatmap.
void draw_point(img::Image& image, int cx, int cy, img::Color fill, img::Color ring) {
  for (int dy = -5; dy <= 5; ++dy)
    for (int dx = -5; dx <= 5; ++dx) {
      const int r2 = dx * dx + dy * dy;
      if (r2 <= 12) image.set(cx + dx, cy + dy, fill);
      else if (r2 <= 22) image.set(cx + dx, cy + dy, ring);
    }
}

// %%
// Step 6's exercise: how the spiral network is built and trained. Your version is the EXERCISE block in main;
// the reference solution and a known-wrong answer are in lessons/solutions/00_tensors_and_autograd.h.
struct Recipe {
  int64_t hidden = 32;          // width of the two hidden layers
  float learning_rate = 0.02f;  // AdamW's step size
  int steps = 600;              // full-batch updates
  std::function<Tensor(const Tensor&)> activation;  // applied after each hidden layer
};
#include "lessons/solutions/00_tensors_and_autograd.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "00_tensors_and_autograd");

  // %% [markdown]
  // ## Step 1 · tensors and shapes
  // A tensor is a block of float32 numbers plus a shape. The data sits row-major in one contiguous buffer:
  // element (i, j) of a (2, 3) tensor is number i*3 + j. `reshape` reinterprets the same buffer (no copy);
  // `transpose` and `matmul` make new tensors. Matrix product shapes: (2,3) @ (3,2) -> (2,2).
  // %%
  L.step("Step 1 · tensors and shapes");
  Tensor m = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});  // (2, 3)
  L.print("m", m);
  Tensor m_flat = core::reshape(m, {3, 2});                     // (3, 2), the same six numbers
  L.print("reshape(m, (3,2))", m_flat);
  m_flat.at({0, 0}) = 100.0f;  // writes into the buffer that m and m_flat share
  L.say("after reshape(m)[0][0] = 100, m[0][0] is ", m.at({0, 0}), ": a reshape is a view (use clone() to copy)");
  m_flat.at({0, 0}) = 1.0f;
  Tensor m_t = core::transpose(m, 0, 1);                        // (3, 2), rows and columns swapped
  L.print("transpose(m)", m_t);
  Tensor gram = core::matmul(m, m_t);                           // (2,3) @ (3,2) -> (2,2)
  L.print("m @ transpose(m)", gram);
  L.check("matmul gives the dot products of the rows", gram.at({0, 0}) == 14.0f && gram.at({0, 1}) == 32.0f &&
                                                           gram.at({1, 1}) == 77.0f,
          "1·1+2·2+3·3 = 14, 1·4+2·5+3·6 = 32, 4·4+5·5+6·6 = 77");

  // %% [markdown]
  // ## Step 2 · broadcasting
  // Shapes are lined up from the right; a dimension of size 1 (or a missing one) is stretched to match.
  // A (3,1) column plus a (4) row gives a (3,4) table of every sum — no loop, no copies of the inputs.
  // In backward, a stretched input receives the *sum* of the gradients of all the places it was copied to.
  // %%
  L.step("Step 2 · broadcasting");
  Tensor column = Tensor::from_vector({3, 1}, {0, 10, 20});  // (3, 1)
  Tensor row = Tensor::from_vector({4}, {0, 1, 2, 3});        // (4)
  column.set_requires_grad();
  row.set_requires_grad();
  Tensor table = column + row;                                // (3,1) + (4) -> (3,4)
  L.say("(3,1) + (4) -> ", table.shape());
  L.print("column + row", table);
  for (const auto& [sa, sb] : std::vector<std::pair<core::Shape, core::Shape>>{
           {{4, 1, 3}, {5, 3}}, {{2, 3}, {3}}, {{8, 1, 6, 1}, {7, 1, 5}}}) {
    L.say("  ", sa, " + ", sb, " -> ", core::broadcast_shapes(sa, sb, "add"));
  }
  core::sum(table).backward();  // d(sum)/d(table) is all ones
  L.print("column.grad (each entry was copied to 4 places)", column.grad());
  L.print("row.grad (each entry was copied to 3 places)", row.grad());
  L.check("broadcast gradients are summed back to the input shapes",
          column.grad().shape() == core::Shape({3, 1}) && column.grad().at({1, 0}) == 4.0f &&
              row.grad().shape() == core::Shape({4}) && row.grad().at({2}) == 3.0f,
          "column.grad = 4, row.grad = 3 everywhere");

  // %% [markdown]
  // ## Step 3 · a computation graph
  // Take two numbers and the expression  y = tanh(a·b + b).  Each operation records a node: its name, its
  // inputs, and the function that sends a gradient back to them. Nothing is recorded unless some input
  // `requires_grad` — plain arithmetic stays cheap. Note that b is used twice: it appears in two places.
  // %%
  L.step("Step 3 · a computation graph");
  Tensor a = Tensor::scalar(0.5f).set_requires_grad();   // a leaf: its gradient will be kept
  Tensor b = Tensor::scalar(-0.4f).set_requires_grad();
  auto expression = [](const Tensor& a, const Tensor& b) { return core::tanh(a * b + b); };
  Tensor y = expression(a, b);
  L.say("y = tanh(a·b + b) with a = 0.5, b = -0.4 gives y = ", lesson::sig(y.item(), 6), "; its graph:");
  print_graph(y);

  // %% [markdown]
  // ## Step 4 · backward by hand and by autograd
  // The chain rule, one node at a time, from the output back (write f = a·b + b, so y = tanh f):
  //
  //     dy/df = 1 - tanh²(f) = 1 - y²
  //     dy/da = dy/df · b
  //     dy/db = dy/df · a  +  dy/df · 1      (b reaches f along two paths: the gradients add up)
  //
  // `y.backward()` does exactly this walk, accumulating each leaf's gradient with +=. Because it adds,
  // calling backward a second time without `zero_grad()` doubles the gradients — the classic bug of a
  // training loop that forgets to reset them.
  // %%
  L.step("Step 4 · backward by hand vs autograd");
  const double av = 0.5, bv = -0.4, yv = std::tanh(av * bv + bv);
  const double dy_df = 1.0 - yv * yv;
  const double hand_da = dy_df * bv, hand_db = dy_df * av + dy_df;
  y.backward();
  lesson::Table grads({"leaf", "by hand", "autograd", "|diff|"}, 12);
  grads.row({"dy/da", lesson::sig(hand_da, 7), lesson::sig(a.grad().item(), 7),
             lesson::sig(std::fabs(hand_da - a.grad().item()), 2)});
  grads.row({"dy/db", lesson::sig(hand_db, 7), lesson::sig(b.grad().item(), 7),
             lesson::sig(std::fabs(hand_db - b.grad().item()), 2)});
  L.check("autograd equals the chain rule by hand",
          std::fabs(hand_da - a.grad().item()) < 1e-6 && std::fabs(hand_db - b.grad().item()) < 1e-6,
          "float32: within 1e-6");
  const float first_db = b.grad().item();
  expression(a, b).backward();  // a new graph, same leaves, no zero_grad in between
  L.say("backward again without zero_grad: dy/db = ", lesson::sig(b.grad().item(), 7), " (twice ",
        lesson::sig(first_db, 7), ")");
  L.check("gradients accumulate with +=", std::fabs(b.grad().item() - 2.0f * first_db) < 1e-6);
  a.zero_grad();
  b.zero_grad();

  // %% [markdown]
  // ## Step 5 · gradcheck
  // A hand-written backward can be wrong in ways that still train, slowly. gradcheck compares it with the
  // definition of a derivative: nudge one input element by ±eps and watch a weighted sum of the output,
  //
  //     dL/dx_j  ≈  (L(x_j + eps) - L(x_j - eps)) / (2 eps),
  //
  // for every element of every input. float32 forces eps = 1e-2, so agreement is to about 1e-3.
  // The course runs this on every op and every attention scheme (tests/).
  // %%
  L.step("Step 5 · gradcheck");
  core::Rng check_rng = L.rng(1);
  struct Case {
    std::string name;
    std::function<Tensor(const std::vector<Tensor>&)> f;
    std::vector<Tensor> inputs;
  };
  std::vector<Case> cases = {
      {"matmul (3,4) @ (4,2)", [](const std::vector<Tensor>& t) { return core::matmul(t[0], t[1]); },
       {core::randn({3, 4}, check_rng), core::randn({4, 2}, check_rng)}},
      {"softmax (3,5) over the last axis", [](const std::vector<Tensor>& t) { return core::softmax(t[0], -1); },
       {core::randn({3, 5}, check_rng)}},
      {"layer_norm (4,6)",
       [](const std::vector<Tensor>& t) { return core::layer_norm(t[0], t[1], t[2]); },
       {core::randn({4, 6}, check_rng), core::randn({6}, check_rng), core::randn({6}, check_rng)}},
      {"tanh(a·b + b) broadcast (3,1)·(4)",
       [](const std::vector<Tensor>& t) { return core::tanh(t[0] * t[1] + t[1]); },
       {core::randn({3, 1}, check_rng), core::randn({4}, check_rng)}},
  };
  lesson::Table gc({"op", "elements", "max |diff|", "result"}, 10);
  std::vector<core::GradcheckResult> gc_results;
  for (const Case& c : cases) {
    core::GradcheckOptions opts;
    opts.name = c.name;
    const core::GradcheckResult r = core::gradcheck(c.f, c.inputs, opts);
    gc.add({c.name, std::to_string(r.checked), lesson::sig(r.max_abs_diff, 2), r.ok ? "ok" : "WRONG"});
    gc_results.push_back(r);
  }
  gc.print();
  for (size_t i = 0; i < cases.size(); ++i)
    L.check("gradcheck " + cases[i].name, gc_results[i].ok, gc_results[i].ok ? "" : gc_results[i].message);

  // %% [markdown]
  // ## Step 6 · a small network learns two spirals
  // Two classes of points wind around each other; no straight line separates them. A multi-layer perceptron
  //
  //     logits = W3 · act(W2 · act(W1 · x + b1) + b2) + b3
  //
  // bends the plane until they fall apart. Training repeats four lines: forward, loss (cross-entropy),
  // backward, optimiser step (AdamW: Loshchilov & Hutter 2019, Decoupled Weight Decay Regularization).
  // We train on one sample of spiral points and measure accuracy on a second, fresh sample.
  // %%
  L.step("Step 6 · a small network learns two spirals");
  core::Rng data_rng = L.rng(2);
  const Spirals train = make_spirals(150, data_rng);  // x: (300, 2)
  const Spirals test = make_spirals(150, data_rng);   // a second draw: points the network never saw
  L.say("train x ", train.x.shape(), ", labels ", train.y.shape, "; test x ", test.x.shape());

  // EXERCISE ---------------------------------------------------------------------------------------------------
  // How narrow can the network be and still learn the spirals? Shrink `hidden` until the self-check fails, then
  // go back one. Also try: activation = core::relu (kinked boundaries) or core::sigmoid (slow), learning_rate =
  // 0.3 (unstable) or 1e-4 (too slow for `steps`). The check wants test accuracy >= 90% and the loss to drop
  // to under a quarter of its start.
  Recipe mine;
  mine.hidden = 32;
  mine.learning_rate = 0.02f;
  mine.steps = 600;
  mine.activation = [](const Tensor& x) { return core::tanh(x); };
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const Recipe recipe = L.exercise(mine, solution::recipe(), solution::wrong_recipe());
  const int64_t hidden = recipe.hidden;
  const float learning_rate = recipe.learning_rate;
  const int steps = recipe.steps;
  const auto& activation = recipe.activation;
  AZ_CHECK(hidden >= 1 && steps >= 1 && learning_rate > 0.0f && activation,
           "the EXERCISE block wants hidden >= 1, steps >= 1, learning_rate > 0 and an activation; got hidden = ",
           hidden, ", steps = ", steps, ", learning_rate = ", learning_rate);

  core::Rng weight_rng = L.rng(3);
  core::nn::Linear fc1(2, hidden, weight_rng), fc2(hidden, hidden, weight_rng), fc3(hidden, 2, weight_rng);
  auto network = [&](const Tensor& x) {                               // x: (N, 2)
    return fc3.forward(activation(fc2.forward(activation(fc1.forward(x)))));  // logits: (N, 2)
  };
  std::vector<Tensor> params;
  for (const core::nn::Linear* layer : {&fc1, &fc2, &fc3})
    for (const Tensor& p : layer->parameters()) params.push_back(p);
  int64_t n_params = 0;
  for (const Tensor& p : params) n_params += p.numel();
  L.say("network 2 -> ", hidden, " -> ", hidden, " -> 2: ", n_params, " parameters");

  // %% [markdown]
  // **Decision regions.** What the network has learnt is easiest to see as a map: P(class 1) at every point
  // of a 96×96 grid over the square [-1.25, 1.25]², with the training points drawn on top. We draw the map
  // once now, before the first optimiser step, so that Step 7 can set it beside the trained one.
  // %%
  // Decision regions: P(class 1) on a grid of the plane, before training and after.
  const int G = 96;
  const float lo = -1.25f, hi = 1.25f;
  Tensor grid_points = Tensor::zeros({G * G, 2});  // row r*G + c: x1 grows with c, x2 shrinks with r (up is up)
  for (int r = 0; r < G; ++r)
    for (int c = 0; c < G; ++c) {
      grid_points.at({r * G + c, 0}) = lo + (hi - lo) * (c + 0.5f) / G;
      grid_points.at({r * G + c, 1}) = hi - (hi - lo) * (r + 0.5f) / G;
    }
  auto regions = [&](const std::string& title) {
    core::NoGradGuard no_grad;
    const Tensor p1 = core::reshape(core::slice(core::softmax(network(grid_points), -1), 1, 1, 2), {G, G});
    img::HeatmapOptions o;
    o.title = title;
    o.xlabel = "x1 (from -1.25 to 1.25)";
    o.ylabel = "x2 (from 1.25 down to -1.25)";
    o.value_label = "P(class 1)";
    o.vmin = 0.0f;
    o.vmax = 1.0f;
    o.target_px = 384;
    img::HeatmapLayout layout;
    img::Image picture = img::heatmap(p1, o, &layout);
    for (int64_t i = 0; i < train.x.size(0); ++i) {  // class 0: white dots, class 1: black dots
      const float px = (train.x.at({i, 0}) - lo) / (hi - lo), py = (hi - train.x.at({i, 1})) / (hi - lo);
      const bool one = train.y.data[i] == 1;
      draw_point(picture, layout.plot_x + static_cast<int>(px * layout.plot_w),
                 layout.plot_y + static_cast<int>(py * layout.plot_h), one ? img::kBlack : img::kWhite,
                 one ? img::kWhite : img::kBlack);
    }
    return picture;
  };
  const img::Image before = regions("before training");

  // %%
  core::optim::AdamW optimizer(params, learning_rate, 0.9f, 0.999f, 1e-8f, /*weight_decay=*/0.0f);
  img::Series loss_curve{"training loss", {}, {}};
  lesson::Table progress({"step", "loss (nats)", "train acc (%)"}, 10);
  double first_loss = 0.0, last_loss = 0.0;
  for (int step = 0; step <= steps; ++step) {
    const Tensor logits = network(train.x);                       // (300, 2)
    const Tensor loss = core::cross_entropy(logits, train.y);     // ()
    if (step == 0) first_loss = loss.item();
    last_loss = loss.item();
    if (step % 5 == 0) {
      loss_curve.x.push_back(step);
      loss_curve.y.push_back(loss.item());
    }
    if (step % std::max(1, steps / 6) == 0 || step == steps)
      progress.row({std::to_string(step), lesson::fixed(loss.item(), 4), lesson::fixed(100 * accuracy(logits, train.y), 1)});
    if (step == steps) break;  // the last row only measures
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  double test_acc = 0.0;
  {
    core::NoGradGuard no_grad;
    test_acc = accuracy(network(test.x), test.y);
  }
  L.say("test accuracy on ", test.x.size(0), " unseen points: ", lesson::fixed(100 * test_acc, 1), " %");
  L.exercise_check("the loss went down to under a quarter of its start", last_loss < 0.25 * first_loss,
                   "from " + lesson::sig(first_loss, 3) + " to " + lesson::sig(last_loss, 3) + " nats",
                   "the network did not learn: too narrow, a step size too large (the loss jumps) or too small "
                   "(it crawls), or too few steps");
  L.exercise_check("test accuracy is at least 90%", test_acc >= 0.90, lesson::fixed(100 * test_acc, 1) + " %",
                   "the boundary does not follow the spirals (look at regions.png): with " + std::to_string(hidden) +
                       " hidden units and " + std::to_string(steps) + " steps the network is too small or too "
                       "briefly trained to wind around them");

  // %% [markdown]
  // ## Step 7 · pictures
  // The loss curve should fall fast, then flatten; the decision regions should wind with the spirals.
  // %%
  L.step("Step 7 · pictures");
  img::PlotOptions po;
  po.title = "training loss (cross-entropy)";
  po.xlabel = "step";
  po.ylabel = "loss (nats)";
  L.show(img::line_plot({loss_curve}, po), "loss.png",
         "training loss vs step — it starts near ln 2 = 0.69 (a coin flip between two classes) and falls "
         "towards 0 once the boundary winds around the spirals; a plateau on the way is common");
  L.show(img::hstack({before, regions("after " + std::to_string(steps) + " steps")}), "regions.png",
         "P(class 1) over the plane with the training points (white = class 0, black = class 1) — before "
         "training the network is a smooth tilt; after, a yellow band follows the black spiral and a purple "
         "band the white one");

  // %% [markdown]
  // ## Exercises
  // 1. In the EXERCISE block, shrink `hidden` until the self-check fails. How narrow can the network be?
  // 2. Swap tanh for core::relu: the boundary becomes piecewise straight. Look at regions.png.
  // 3. Add `print_graph(loss)` inside the loop once: how many nodes does one training step record?
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
