// %% [markdown]
// # 14 · Long Range Arena: one benchmark for every efficient Transformer
//
// By 2020 every efficient-attention paper of this course had measured itself on its own tasks, lengths and
// budgets: Reformer on enwik8 and image generation, Linformer on GLUE after pretraining, Longformer on long
// documents, the Sparse Transformer on CIFAR-10 and audio. No two could be compared. Tay, Dehghani, Abnar, Shen,
// Bahri, Pham, Rao, Yang, Ruder and Metzler built one yardstick — "Long Range Arena: A Benchmark for Efficient
// Transformers" (ICLR 2021) — with a few rules:
//
// - **long**: inputs of 1K to 16K tokens, where the n × n matrix hurts;
// - **no pretraining**: every model is trained from scratch with the same small budget, so the benchmark
//   measures the attention mechanism, not the data or the compute behind it;
// - **different kinds of reasoning**: hierarchical structure (ListOps), composition of characters into meaning
//   (Text), compressing a document into one vector (Retrieval), 2-D structure seen as 1-D (Image, Pathfinder);
// - **efficiency beside accuracy**: the same models, timed and measured at 1K–4K tokens on the same hardware.
//
// This lesson looks at the tasks the way a model sees them — a ListOps expression as a tree and as the token
// sequence, Pathfinder images and their pixels — then trains two schemes on a tiny ListOps with the course's
// trainer (`lra::train`), and measures the efficiency table at small scale on our engine.
//
// Legend: B = batch, n = sequence length (tokens), d = d_model. A batch of token ids is (B, n).
// %%
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "attention/scheme.h"
#include "attention/transformer.h"
#include "lra/lra.h"
#include "lra/train.h"
#include "lessons/lesson.h"

using core::IntTensor;
using core::Tensor;
namespace img = plot;
namespace lo = lra::listops;
namespace pf = lra::pathfinder;

// ---- ListOps as a tree ----------------------------------------------------------------------------------------

// The tree drawn with box-drawing characters, one node per line:
//   MAX
//   ├── 4
//   └── MIN
//       ├── 2
//       └── 3
void draw_tree(const lo::Tree& t, const std::string& prefix, bool last, bool root, std::vector<std::string>& lines) {
  const std::string label =
      t.is_op ? std::string(lo::op_name(t.op)) + "  (= " + std::to_string(lo::evaluate(t)) + ")" : std::to_string(t.value);
  lines.push_back(root ? label : prefix + (last ? "└── " : "├── ") + label);
  const std::string child_prefix = root ? "" : prefix + (last ? "    " : "│   ");
  for (size_t a = 0; a < t.args.size(); ++a) draw_tree(t.args[a], child_prefix, a + 1 == t.args.size(), false, lines);
}

std::string ids_str(const lra::Sequence& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s;
}

// Nesting depth at each token: how many lists enclose it ("[OP" opens a list, "]" closes it; both count as
// inside their own list). Also the longest distance from an operator to its "]".
struct Nesting {
  std::vector<double> depth;
  int64_t longest_span = 0;
};
Nesting nesting(const lra::Sequence& ids) {
  Nesting r;
  std::vector<int64_t> open;
  for (int64_t t = 0; t < int64_t(ids.size()); ++t) {
    const lra::Token id = ids[size_t(t)];
    if (id >= lo::kMin && id <= lo::kSumMod) open.push_back(t);
    r.depth.push_back(double(open.size()));
    if (id == lo::kEnd && !open.empty()) {
      r.longest_span = std::max(r.longest_span, t - open.back());
      open.pop_back();
    }
  }
  return r;
}

// Which operator of an exercise's `apply` is wrong: each of MIN, MAX, MED, SM alone on 400 argument lists of 2..5
// digits (drawn from Rng(seed), the same lists for every operator), against the library's evaluate. The first
// disagreement of each becomes part of the reason, with the operator's rule; if there is none, a hint that the
// fault is in how nested values reach `apply`.
std::string which_operator_is_wrong(const std::function<int(lo::Op, std::vector<int>)>& apply, uint64_t seed) {
  std::string why;
  for (lo::Op op : {lo::Op::Min, lo::Op::Max, lo::Op::Med, lo::Op::SumMod}) {
    core::Rng arng(seed);
    for (int trial = 0; trial < 400; ++trial) {
      std::vector<int> values(static_cast<size_t>(2 + trial % 4));
      std::vector<lo::Tree> leaves;
      for (int& x : values) x = static_cast<int>(arng.randint(0, 10)), leaves.push_back(lo::Tree::digit(x));
      const int want = lo::evaluate(lo::Tree::apply(op, leaves)), got = apply(op, values);
      if (got == want) continue;
      std::string args;
      for (int x : values) args += (args.empty() ? "" : " ") + std::to_string(x);
      const char* rule = op == lo::Op::Min   ? "MIN is the smallest argument"
                         : op == lo::Op::Max ? "MAX is the largest argument"
                         : op == lo::Op::Med ? "MED is the median: the middle value of the sorted arguments, and for "
                                               "an even count the mean of the two middle ones rounded down (the "
                                               "original's int(np.median(v)))"
                                             : "SM is the sum of the arguments modulo 10, so that every value is "
                                               "one digit 0..9";
      why += std::string(why.empty() ? "" : "; ") + "[" + lo::op_name(op) + " " + args + " ] is " +
             std::to_string(want) + ", yours gives " + std::to_string(got) + ": " + rule;
      break;
    }
  }
  if (why.empty()) why = "every operator alone is right on short lists: look at how the values of nested lists reach it";
  return why;
}

// ---- the efficiency measurement ----------------------------------------------------------------------------------

// One training step of the classifier: forward, cross-entropy, backward, AdamW step, gradients dropped. Timed by
// core::measure. A whole training step, not lesson::cost_step's kernel alone: LRA's table is about models, projections and MLP included.
struct StepBench {
  attention::SequenceClassifier model;
  core::optim::AdamW opt;
  IntTensor ids, labels;  // (B, n), (B,)
  StepBench(const attention::ModelConfig& cfg, int64_t batch, int64_t n, core::Rng& rng)
      : model(cfg, lo::kNumClasses),
        opt(model.parameters(), 1e-3f),
        ids(core::randint({batch, n}, rng, 1, lo::kVocab)),
        labels(core::randint({batch}, rng, 0, lo::kNumClasses)) {
    step();  // AdamW allocates its moments on the first step: outside the measurement
  }
  void step() {
    const Tensor logits = model.forward(ids);                   // (B, 10)
    core::cross_entropy(logits, labels).backward();             // ()
    opt.step();
    opt.zero_grad();
  }
};

// A dot plot of ratios to full attention: one row per scheme, one dot per sequence length, on a log axis with a
// line at 1 (= the Transformer). `value(row, col)` is the ratio for scheme `row` at length `ns[col]`.
img::Image ratio_dots(const std::vector<std::string>& names, const std::vector<int64_t>& ns,
                      const std::function<double(size_t, size_t)>& value, const std::string& title,
                      const std::string& xlabel) {
  double lo = 1.0, hi = 1.0;
  for (size_t r = 0; r < names.size(); ++r)
    for (size_t c = 0; c < ns.size(); ++c) lo = std::min(lo, value(r, c)), hi = std::max(hi, value(r, c));
  lo /= 1.25, hi *= 1.25;
  const int label_w = 150, pw = 460, row_h = 26, top = 56, left = 16;
  const int px0 = left + label_w, py0 = top + 8, ph = int(names.size()) * row_h;
  const int width = std::max(px0 + pw + 30, px0 + img::text_width(xlabel, 2) + 20), height = py0 + ph + 110;
  img::Image im(width, height, img::kWhite);
  im.draw_text((width - img::text_width(title, 2)) / 2, 14, title, img::kBlack, 2);
  auto X = [&](double v) { return px0 + int(std::lround((std::log(v) - std::log(lo)) / (std::log(hi) - std::log(lo)) * pw)); };
  for (double t : {0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0}) {
    if (t < lo || t > hi) continue;
    im.draw_line(X(t), py0, X(t), py0 + ph, t == 1.0 ? img::Color{90, 90, 90} : img::Color{225, 225, 225}, t == 1.0 ? 2 : 1);
    const std::string lab = lesson::sig(t, 2) + "x";
    im.draw_text(X(t) - img::text_width(lab, 2) / 2, py0 + ph + 8, lab, img::kBlack, 2);
  }
  const std::string ref = "1x = full";
  im.draw_text(std::min(X(1.0) - img::text_width(ref, 2) / 2, px0 + pw - img::text_width(ref, 2)), py0 - 18, ref,
               img::Color{90, 90, 90}, 2);
  im.draw_rect(px0, py0, pw + 1, ph + 1, img::kBlack);
  im.draw_text(std::max(px0 - 40, px0 + (pw - img::text_width(xlabel, 2)) / 2), py0 + ph + 32, xlabel, img::kBlack, 2);
  for (size_t r = 0; r < names.size(); ++r) {
    const int y = py0 + int(r) * row_h + row_h / 2;
    im.draw_text(left, y - 7, names[r], img::kBlack, 2);
    im.draw_line(px0 + 1, y, px0 + pw - 1, y, img::Color{242, 242, 242});
    for (size_t c = 0; c < ns.size(); ++c) {
      const int x = X(value(r, c));
      im.fill_rect(x - 5, y - 5, 11, 11, img::categorical(int(c)));
      im.draw_rect(x - 5, y - 5, 11, 11, img::kBlack);
    }
  }
  int lx = px0;
  const int ly = py0 + ph + 62;
  for (size_t c = 0; c < ns.size(); ++c) {
    im.fill_rect(lx, ly, 11, 11, img::categorical(int(c)));
    im.draw_rect(lx, ly, 11, 11, img::kBlack);
    lx += 18 + im.draw_text(lx + 18, ly - 1, "n = " + std::to_string(ns[c]), img::kBlack, 2) + 22;
  }
  return im;
}

// %%
// Step 6's exercise: the value of one ListOps operator on its arguments' values. Your version is the EXERCISE
// block in main; the reference solution and a known-wrong answer are in lessons/solutions/14_long_range_arena.h.
struct MyEvaluator {
  std::function<int(lo::Op op, std::vector<int> values)> apply;  // MIN, MAX, MED or SM of the values -> 0..9
};
#include "lessons/solutions/14_long_range_arena.h"

int main(int argc, char** argv) try {
  lesson::Lesson L(argc, argv, "14_long_range_arena");

  // %% [markdown]
  // ## Step 1 · the six tasks
  // Each task is a sequence classification: tokens in, one label out. The lengths are the point — long enough that
  // a Transformer's n × n attention is the bottleneck, and the answer depends on tokens far apart. The last column
  // is the Transformer's test accuracy in the paper's Table 1 (Tay et al. 2021): their numbers, on the full tasks,
  // not measured here.
  // %%
  L.step("Step 1 · what Long Range Arena measures");
  struct Task {
    std::string name, input, length, classes, chance, hard, transformer;
  };
  const std::vector<Task> tasks = {
      {"ListOps", "nested MIN/MAX/MED/SM over digits", "up to 2K", "10", "10 %",
       "hierarchy: the value depends on brackets far apart", "36.37"},
      {"Text", "IMDb reviews, byte by byte", "up to 4K", "2", "50 %", "compose characters into words, then sentiment",
       "64.27"},
      {"Retrieval", "two documents (ACL papers), bytes", "4K + 4K", "2", "50 %",
       "squeeze each document into one vector, then compare", "57.46"},
      {"Image", "CIFAR-10, grayscale pixels", "1K (32x32)", "10", "10 %", "2-D structure flattened to 1-D, no conv prior",
       "42.44"},
      {"Pathfinder", "are two dots joined by a dashed curve?", "1K (32x32)", "2", "50 %",
       "follow a contour pixel by pixel among distractors", "71.40"},
      {"Path-X", "the same, 128 x 128", "16K", "2", "50 %", "the same over 16384 tokens", "FAIL"},
  };
  {
    lesson::Table t({"task", "input", "length", "classes", "chance", "what makes it hard", "Transformer (%, paper)"}, 6);
    for (const Task& k : tasks) t.add({k.name, k.input, k.length, k.classes, k.chance, k.hard, k.transformer});
    t.print();
  }
  const double paper_row[5] = {36.37, 64.27, 57.46, 42.44, 71.40};
  double mean = 0;
  for (double v : paper_row) mean += v / 5;
  L.say("The paper's Transformer row (Table 1): ListOps 36.37, Text 64.27, Retrieval 57.46, Image 42.44, Pathfinder 71.40,");
  L.say("Path-X FAIL (no model beat chance), average 54.39. Ten efficient Transformers were in the table; none was better");
  L.say("on every task, the best average (BigBird, 55.01) was barely above the Transformer's, and the kernel models");
  L.say("(Linear Transformer, Performer) fell to 16-18 % on ListOps.");
  L.check("the paper's average 54.39 is the mean of the Transformer's five scores", std::fabs(mean - 54.39) < 0.005,
          "mean = " + lesson::fixed(mean, 3));

  // %% [markdown]
  // ## Step 2 · ListOps: a tree, and what the model sees of it
  // An example is an expression; its label is its value (a digit, so 10 classes). The generator follows the
  // original script: a node is an operator with probability 0.25 (below the maximum depth), with 2…max_args
  // arguments; MED is `int(np.median(...))`, SM the sum modulo 10. Here a short one (lengths 12–24) so that it
  // fits on the screen. The model never sees the tree, only the flattened tokens: "[MAX" is one token,
  // "]" another (16 ids in all: PAD 0, digits 1–10, MIN 11, MAX 12, MED 13, SM 14, "]" 15).
  // %%
  L.step("Step 2 · a ListOps tree and its tokens");
  {
    lo::Options small;
    small.max_depth = 4;
    small.max_args = 4;
    small.min_length = 12;
    small.max_length = 24;
    const lo::Example ex = lo::generate(1, small, L.seed() + 3)[0];
    const lo::Tree tree = lo::parse(ex.text);
    std::vector<std::string> lines;
    draw_tree(tree, "", true, true, lines);
    L.say("the tree (each operator shows its value):");
    for (const std::string& l : lines) L.say("    ", l);
    const lra::Sequence ids = lo::tokenize(ex.text);
    L.say("as text:            ", ex.text);
    L.say("as the original generator printed it (parentheses around every pair):");
    L.say("                    ", lo::to_string(tree, true));
    L.say("token ids (", ids.size(), "):     ", ids_str(ids));
    L.say("length ", lo::length(tree), " tokens, depth ", lo::depth(tree), ", value ", lo::evaluate(tree), ", label ",
          ex.label);
    L.check("the evaluator's value of the example equals its label", lo::evaluate(tree) == ex.label,
            "value " + std::to_string(lo::evaluate(tree)));
    L.check("tokens -> tree -> text gives back the same expression", lo::to_string(lo::parse(ids)) == ex.text);
  }

  // %% [markdown]
  // ### The bracket bug
  // The LRA release's input pipeline kept alphanumeric tokens only, which silently dropped "]": the model never
  // saw where a list ends. Then two different expressions can give the same tokens and different answers:
  //
  //     [MAX 1 [MIN 2 3 ] 4 ]  = MAX(1, 2, 4) = 4        [MAX 1 [MIN 2 3 4 ] ]  = MAX(1, 2) = 2
  //
  // Both read "MAX 1 MIN 2 3 4" without brackets. Our tokenizer keeps "]" (as the fixed benchmark does).
  // %%
  {
    const std::string a = "[MAX 1 [MIN 2 3 ] 4 ]", b = "[MAX 1 [MIN 2 3 4 ] ]";
    auto without_brackets = [](lra::Sequence ids) {
      ids.erase(std::remove(ids.begin(), ids.end(), lo::kEnd), ids.end());
      return ids;
    };
    const lra::Sequence ta = lo::tokenize(a), tb = lo::tokenize(b);
    L.say(a, "  -> ", ids_str(ta), "  value ", lo::evaluate(a));
    L.say(b, "  -> ", ids_str(tb), "  value ", lo::evaluate(b));
    L.say("without \"]\": ", ids_str(without_brackets(ta)), "  and  ", ids_str(without_brackets(tb)));
    L.check("without ']' the two inputs are identical but their labels differ",
            without_brackets(ta) == without_brackets(tb) && ta != tb && lo::evaluate(a) != lo::evaluate(b));
  }

  // %% [markdown]
  // ### How long is "long"?
  // At the benchmark's lengths (500 < n < 2000), the answer depends on tokens hundreds of positions apart: the root
  // operator comes first, its "]" last, and every nested list between them must be reduced to one digit first.
  // The figure follows the nesting depth along one such sequence.
  // %%
  {
    const lo::Example ex = lo::generate(1, lo::Options{}, L.seed() + 5)[0];
    const lra::Sequence ids = lo::tokenize(ex.text);
    const Nesting nest = nesting(ids);
    std::vector<double> pos(ids.size());
    for (size_t t = 0; t < pos.size(); ++t) pos[t] = double(t);
    const double max_depth = *std::max_element(nest.depth.begin(), nest.depth.end());
    L.say("one example at the benchmark's bounds: ", ids.size(), " tokens, depth ", lo::depth(lo::parse(ex.text)),
          " (", max_depth, " nested lists), label ", ex.label, "; the longest operator-to-']' span is ", nest.longest_span,
          " tokens");
    img::PlotOptions o;
    o.title = "ListOps: nesting depth along one sequence (" + std::to_string(ids.size()) + " tokens)";
    o.xlabel = "token position";
    o.ylabel = "open lists (depth)";
    o.width = 900;
    o.height = 360;
    L.show(img::line_plot({{"depth", pos, nest.depth}}, o), "listops_depth.png",
           "the nesting depth at every token of one benchmark-length example — the root list spans the whole "
           "sequence, and deep excursions (nested lists) must each be reduced to one digit before the root's "
           "operator can use it: the answer needs tokens hundreds of positions apart");
    L.check("the root operator's list spans the whole sequence", nest.longest_span == int64_t(ids.size()) - 1,
            std::to_string(nest.longest_span) + " of " + std::to_string(ids.size() - 1));
  }

  // %% [markdown]
  // ## Step 3 · Pathfinder: are the two dots joined?
  // Each image holds two dots, two long dashed contours and short distractor contours. Positive: one contour joins
  // the dots; negative: each dot sits on a different contour. Both classes have the same amount of ink and the same
  // dot distance, so the only way to answer is to follow the dashes — a long-range dependency in 2-D that becomes
  // a very long one when the image is read row by row (a dot at pixel 40 and one at pixel 900 of a 1024-token
  // sequence). Path-X asks the same at 128 × 128 = 16384 tokens. The LRA repository ships no generator for these
  // images; ours (`lra/pathfinder.h`) draws them.
  // %%
  L.step("Step 3 · Pathfinder images");
  {
    const pf::Options opts = pf::options_for_size(32);
    const std::vector<pf::Sample> samples = pf::generate(8, opts, L.seed() + 7);
    int positives = 0;
    for (const pf::Sample& s : samples) positives += s.label;
    L.show(img::with_title(pf::grid_image(samples, 4, 6, "green: one dashed curve joins the dots; red: the dots are on "
                                                         "different curves"),
                           "Pathfinder 32x32 (1024 tokens): positive and negative samples", 2),
           "pathfinder_grid.png",
           "eight 32x32 Pathfinder images, magnified 6x, each labelled under it — try to answer before reading the "
           "label: find one dot and follow its dashed curve; in the positives it ends at the other dot, in the "
           "negatives it ends somewhere else");
    L.check("the grid holds 4 positive and 4 negative samples", positives == 4, std::to_string(positives) + " positive");
    // the same task at the four sizes
    std::vector<img::Image> panels;
    bool lengths_ok = true;
    for (int size : {16, 32, 64, 128}) {
      const pf::Sample s = pf::generate_one(pf::options_for_size(size), 1, L.seed() + 11);
      const lra::Dataset d = pf::to_dataset({s});
      lengths_ok = lengths_ok && d.inputs[0].size() == size_t(size) * size_t(size);
      panels.push_back(img::with_title(pf::to_image(s, 256 / size),
                                       std::to_string(size) + "x" + std::to_string(size) + " = " +
                                           std::to_string(size * size) + " tokens" + (size == 128 ? " (Path-X)" : ""),
                                       2));
    }
    L.show(img::with_title(img::hstack(panels), "Pathfinder at sizes 16, 32, 64, 128 (positives, shown at 256 px)", 2),
           "pathfinder_sizes.png",
           "one positive image at each size, all drawn 256 pixels wide — the contours get longer and the distractors "
           "more numerous as the image grows; row by row, the 128x128 image is a sequence of 16384 gray values");
    L.check("an image of side S is S*S tokens at every size", lengths_ok);
  }

  // %% [markdown]
  // ## Step 4 · a short training run
  // `lra::train` (lra/train.h) trains the Transformer classifier of `attention/transformer.h` — token and
  // position embeddings, pre-LN blocks with the chosen attention scheme, mean-pooling, a linear head — with AdamW,
  // warmup + cosine and gradient clipping, evaluates on the validation split every K steps, and reports the test
  // accuracy of the *best* validation checkpoint. `make lra` runs it at benchmark-like sizes for every scheme; here
  // a tiny version for two schemes, exact attention (flash) and kernel attention (linear): ListOps with lengths
  // up to 32, 2000 training examples, labels balanced so that chance is exactly 10 %, a 2-layer model with
  // d_model = 64. One progress line every few steps.
  // %%
  L.step("Step 4 · training two schemes on a tiny ListOps");
  const int64_t steps = L.quick() ? 80 : 150;
  lra::Splits data;
  {
    lo::Options o;
    o.max_args = 5;
    o.min_length = 8;
    o.max_length = 33;  // 8 < length < 33
    o.balance_labels = true;
    // All examples at once, balanced, then shuffled and cut (cutting the generator's stream in order would put
    // the classes that fill up last into the test split).
    const lra::Dataset all = lo::to_dataset(lo::generate(2400, o, L.seed() + 13), 32);
    data = lra::split(all, 200.0 / 2400, 200.0 / 2400, L.seed() + 13);
    std::string counts;
    for (int64_t c : data.test.label_counts()) counts += (counts.empty() ? "" : " ") + std::to_string(c);
    L.say("train ", data.train.size(), ", val ", data.val.size(), ", test ", data.test.size(), " examples; longest ",
          data.train.longest(), " tokens; test labels per class: ", counts);
  }
  std::vector<lra::TrainResult> runs;
  const std::vector<std::string> train_schemes = {"flash", "linear"};
  for (size_t i = 0; i < train_schemes.size(); ++i) {
    lra::TrainOptions t;
    t.model.scheme = train_schemes[i];
    t.model.d_model = 64;
    t.model.n_heads = 4;
    t.model.n_layers = 2;
    t.model.d_ff = 128;
    t.steps = steps;
    t.batch_size = 32;
    t.lr = 3e-3f;
    t.eval_every = steps / 5;
    t.seed = L.seed() + 17;
    t.progress = lra::ProgressMode::Lines;
    t.progress_every = steps / 10;
    t.label = "[" + std::to_string(i + 1) + "/2] " + train_schemes[i];
    runs.push_back(lra::train(data, t));
  }

  // %% [markdown]
  // **Reading the runs.** One row per scheme: the final training loss, the best validation accuracy and the step
  // it came at, and the test accuracy of that checkpoint and of the last one. The test split is small, so the
  // checks ask only that each model beats a guesser by three standard errors and that its loss fell below
  // guessing's ln(10). The figure puts both runs' loss and validation accuracy side by side.
  // %%
  {
    const double n_test = double(data.test.size());
    const double chance = 0.1, se = std::sqrt(chance * (1 - chance) / n_test), bar = chance + 3 * se;
    lesson::Table t({"scheme", "steps", "final loss", "best val (%)", "at step", "test (%, best ckpt)",
                     "test (%, last)", "steps/s", "peak MiB/step"},
                    8);
    for (const auto& r : runs)
      t.add({r.scheme, std::to_string(r.steps), lesson::fixed(r.final_train_loss, 3), lesson::fixed(100 * r.best_val_acc, 1),
             std::to_string(r.best_step), lesson::fixed(100 * r.test_acc, 1), lesson::fixed(100 * r.test_acc_last, 1),
             lesson::fixed(r.steps_per_second, 1), lesson::fixed(r.peak_step_mib, 1)});
    t.print();
    L.say("Chance is 10 %; with ", int64_t(n_test), " test examples a guesser's accuracy has a standard error of ",
          lesson::fixed(100 * se, 1), " points,");
    L.say("so anything above ", lesson::fixed(100 * bar, 1), " % is learning, not luck. The check is against chance, not");
    L.say("against the paper's 36.37 %: a tiny model, sequences of at most 32 tokens, ", steps, " steps — these numbers");
    L.say("show the pipeline working, not which scheme is better. (The two loss curves nearly coincide: at 32 tokens");
    L.say("how attention is computed matters little. LRA's point is that the differences appear at long lengths.)");
    for (const auto& r : runs) {
      L.check(r.scheme + ": test accuracy (best checkpoint) is above chance by 3 standard errors", r.test_acc > bar,
              lesson::fixed(100 * r.test_acc, 1) + " % > " + lesson::fixed(100 * bar, 1) + " %");
      L.check(r.scheme + ": the training loss fell below ln(10) = 2.303 (guessing)", r.final_train_loss < 2.2,
              "final loss " + lesson::fixed(r.final_train_loss, 3));
    }
    // one figure, both runs: loss and validation accuracy against the step
    std::vector<img::Series> loss, acc;
    for (const auto& r : runs) {
      img::Series l{r.scheme + " train loss", {}, {}}, v{r.scheme + " val acc", {}, {}};
      for (const lra::LogRow& row : r.log) {
        l.x.push_back(double(row.step)), l.y.push_back(row.loss);
        if (std::isfinite(row.val_acc)) v.x.push_back(double(row.step)), v.y.push_back(100 * row.val_acc);
      }
      loss.push_back(l);
      acc.push_back(v);
    }
    acc.push_back({"chance (10 %)", {0.0, double(steps)}, {10.0, 10.0}});
    img::PlotOptions po;
    po.title = "training loss (cross-entropy)";
    po.xlabel = "step";
    po.ylabel = "loss";
    img::PlotOptions pa = po;
    pa.title = "validation accuracy";
    pa.ylabel = "accuracy (%)";
    L.show(img::with_title(img::hstack({img::line_plot(loss, po), img::line_plot(acc, pa)}),
                           "tiny ListOps (length <= 32): flash vs linear attention", 2),
           "training.png",
           "left: the training loss of both schemes from ln(10) = 2.3 downwards; right: validation accuracy at each "
           "evaluation, above the 10 % chance line — and far from solving the task");
  }

  // %% [markdown]
  // ## Step 5 · the efficiency table, at small scale
  // The paper's Table 2 timed a training step of each model at 1K–4K tokens: Performer, Linear Transformer and
  // Linformer about 5.5× faster than the Transformer at 4K with about a tenth of its memory, Reformer slower than
  // the Transformer (their numbers, on their accelerators). We measure the same quantity on
  // our engine, for every scheme of the course — one training step of a 1-layer classifier (d_model = 64, 4 heads,
  // batch 2): forward, backward, AdamW — at lengths that take seconds, not hours, and report it relative to full
  // attention (the Transformer).
  // Memory is the allocator's peak during the step (exact, the same on every machine); time is the median of a few
  // steps and moves with the machine's load.
  // %%
  L.step("Step 5 · steps/s and peak memory relative to the Transformer");
  const std::vector<int64_t> lengths = L.quick() ? std::vector<int64_t>{128, 256} : std::vector<int64_t>{256, 512, 1024};
  std::vector<std::string> eff_schemes;  // every registered scheme, in course order (full first: the reference)
  for (const attention::Scheme* s : attention::all_schemes()) eff_schemes.push_back(s->name());
  std::map<std::string, std::map<int64_t, core::Cost>> cost;
  {
    core::Rng rng = L.rng(5);
    std::vector<std::string> headers = {"scheme"};
    for (int64_t n : lengths) headers.push_back("steps/s n=" + std::to_string(n));
    for (int64_t n : lengths) headers.push_back("MiB n=" + std::to_string(n));
    L.say("each cell: the measurement (its ratio to full's); one row per scheme as it is measured");
    lesson::Table t(headers, 13);
    for (const std::string& s : eff_schemes) {
      std::vector<std::string> speed_cells, mem_cells;
      for (int64_t n : lengths) {
        attention::ModelConfig cfg;
        cfg.scheme = s;
        cfg.vocab = lo::kVocab;
        cfg.max_len = n;
        cfg.d_model = 64;
        cfg.n_heads = 4;
        cfg.n_layers = 1;
        cfg.d_ff = 128;
        cfg.seed = L.seed();
        StepBench bench(cfg, 2, n, rng);
        const core::Cost c = core::measure([&] { bench.step(); }, L.quick() ? 2 : 3, L.quick() ? 0.1 : 0.3);
        cost[s][n] = c;
        const core::Cost& f = cost["full"][n];
        speed_cells.push_back(lesson::fixed(1.0 / c.seconds, 1) + " (" + lesson::fixed(f.seconds / c.seconds, 2) + "x)");
        mem_cells.push_back(lesson::fixed(lesson::mib(c.peak_bytes), 1) + " (" +
                            lesson::fixed(double(c.peak_bytes) / double(f.peak_bytes), 2) + "x)");
      }
      std::vector<std::string> row = {s};
      row.insert(row.end(), speed_cells.begin(), speed_cells.end());
      row.insert(row.end(), mem_cells.begin(), mem_cells.end());
      t.row(row);
    }
  }

  // %% [markdown]
  // **What the table says.** The memory columns are exact, so they carry the checks: from the shortest length to
  // the longest, the step memory of flash, Linformer and Linear attention should fall as a share of the
  // Transformer's, and over the last doubling of n the Transformer's should grow faster than linear attention's.
  // The time columns move with the machine's load; the figure draws both kinds of ratio, one dot per length.
  // %%
  {
    const int64_t n = lengths.back();
    const double full_mib = double(cost["full"][n].peak_bytes);
    std::string ratios;
    bool lower = true;
    const int64_t n0 = lengths.front();
    for (const std::string s : {"flash", "linformer", "linear"}) {
      const double r = double(cost[s][n].peak_bytes) / full_mib;
      const double r0 = double(cost[s][n0].peak_bytes) / double(cost["full"][n0].peak_bytes);
      lower = lower && r < 0.6 && r < r0;  // well below full's, and a shrinking share as n doubles
      ratios += (ratios.empty() ? "" : ", ") + s + " " + lesson::fixed(r0, 2) + " -> " + lesson::fixed(r, 2);
    }
    L.check("from n = " + std::to_string(n0) + " to " + std::to_string(n) +
                " the step memory of flash, Linformer and Linear falls as a share of the Transformer's, to under 0.6",
            lower, ratios);
    std::string perf;
    for (int64_t m : lengths)
      perf += (perf.empty() ? "" : ", ") +
              lesson::fixed(double(cost["performer"][m].peak_bytes) / double(cost["full"][m].peak_bytes), 2) + " at " +
              std::to_string(m);
    L.say("Performer is left out of that check on purpose: its 128 random features cost about as much as 128 keys, so it");
    L.say("only saves once n is several times larger (memory / full's: ", perf, "); LRA measured it at 1K-4K.");
    const double growth = double(cost["full"][n].peak_bytes) / double(cost["full"][lengths[lengths.size() - 2]].peak_bytes);
    const double growth_lin = double(cost["linear"][n].peak_bytes) / double(cost["linear"][lengths[lengths.size() - 2]].peak_bytes);
    L.say("Memory per doubling of n, last doubling: full x", lesson::fixed(growth, 2), ", linear x",
          lesson::fixed(growth_lin, 2), " (the step also holds n-linear activations: embeddings, MLP, layer norms).");
    L.check("the Transformer's step memory grows faster than linear attention's", growth > growth_lin + 0.5,
            "x" + lesson::fixed(growth, 2) + " vs x" + lesson::fixed(growth_lin, 2));
  }
  {
    // the ratios as dot plots: one row per scheme, one dot per n (a timing figure)
    auto speed = [&](size_t r, size_t c) {
      return cost["full"][lengths[c]].seconds / cost[eff_schemes[r]][lengths[c]].seconds;
    };
    auto memory = [&](size_t r, size_t c) {
      return double(cost[eff_schemes[r]][lengths[c]].peak_bytes) / double(cost["full"][lengths[c]].peak_bytes);
    };
    L.show(img::with_title(img::hstack({ratio_dots(eff_schemes, lengths, speed, "training speed relative to full",
                                                   "scheme's steps/s / full's (log scale)"),
                                        ratio_dots(eff_schemes, lengths, memory, "step memory relative to full",
                                                   "scheme's peak MiB / full's (log scale)")}),
                           "one training step of each scheme (1 layer, d=64, batch 2), measured on this machine", 2),
           "efficiency.png",
           "each scheme's training speed (left) and step memory (right) as a multiple of full attention's, one dot "
           "per sequence length — right of the grey line is faster (left panel) or hungrier (right panel) than the "
           "Transformer; watch the dots move as n doubles: the O(n) schemes pull ahead in speed and drop in memory, "
           "synthesizer stays near full (times vary between runs, memory does not)",
           lesson::Figure::timing);
  }

  // %% [markdown]
  // ## Step 6 · your turn: evaluate ListOps yourself
  // The label of a ListOps example is its value. The EXERCISE block holds `apply`, the value of one operator on
  // its arguments' values; `my_evaluate` (below it) applies it bottom-up over the tree. The self-check runs it
  // on 1000 generated examples and compares with their labels; when some disagree, it tries your `apply` on
  // each operator alone and says which one is wrong. Things to try:
  // - MED with an even number of arguments: the original takes `int(np.median(v))`, the mean of the two middle
  //   values truncated. Replace it by the lower middle value: how many labels change?
  // - SM: sum modulo 10. Drop the modulo and watch the check fail (and why can a label never be 10?).
  // Your version is the EXERCISE block; the reference solution and a known-wrong answer are in
  // lessons/solutions/14_long_range_arena.h.
  // %%
  L.step("Step 6 · your turn: a ListOps evaluator");
  // EXERCISE ---------------------------------------------------------------------------------------------------
  MyEvaluator my_evaluator;
  my_evaluator.apply = [](lo::Op op, std::vector<int> v) -> int {
    std::sort(v.begin(), v.end());
    switch (op) {
      case lo::Op::Min: return v.front();
      case lo::Op::Max: return v.back();
      case lo::Op::Med: return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
      case lo::Op::SumMod: {
        int s = 0;
        for (int x : v) s += x;
        return s % 10;
      }
    }
    return -1;
  };
  // END EXERCISE -----------------------------------------------------------------------------------------------
  const MyEvaluator answer = L.exercise(my_evaluator, solution::evaluator(), solution::wrong_evaluator());

  // %% [markdown]
  // **Checking your evaluator.** `my_evaluate` walks a parsed tree bottom-up: a digit is its own value, a list is
  // your `apply` on the values of its arguments. It runs on 1000 generated examples of 10 to 200 tokens and is
  // compared with their labels. If some disagree, you see the first one and the count per root operator, and
  // each operator is then tried alone on short lists of digits to say which of them is wrong.
  // %%
  {
    std::function<int(const lo::Tree&)> my_evaluate = [&](const lo::Tree& t) -> int {
      if (!t.is_op) return t.value;
      std::vector<int> values;
      for (const lo::Tree& a : t.args) values.push_back(my_evaluate(a));
      return answer.apply(t.op, values);
    };
    lo::Options o;
    o.min_length = 10;
    o.max_length = 200;
    const std::vector<lo::Example> examples = lo::generate(1000, o, L.seed() + 19);
    int agree = 0;
    std::map<std::string, int> wrong_by_root;
    std::string first_wrong;
    for (const lo::Example& e : examples) {
      const lo::Tree t = lo::parse(e.text);
      const int mine = my_evaluate(t);
      if (mine == e.label) {
        ++agree;
      } else {
        ++wrong_by_root[lo::op_name(t.op)];
        if (first_wrong.empty())
          first_wrong = e.text.size() < 80 ? e.text + " -> yours " + std::to_string(mine) + ", label " + std::to_string(e.label)
                                           : "an example of " + std::to_string(lo::length(t)) + " tokens";
      }
    }
    L.say("your evaluator agrees with ", agree, " of ", examples.size(), " labels (lengths 10..200)");
    if (!first_wrong.empty()) {
      std::string roots;
      for (const auto& [op, k] : wrong_by_root) roots += " " + op + ":" + std::to_string(k);
      L.say("  first disagreement: ", first_wrong, "; disagreements by root operator:", roots);
    }
    const std::string why = which_operator_is_wrong(answer.apply, L.seed() + 23);
    L.exercise_check("your evaluator gives every example its label", agree == int(examples.size()),
                     std::to_string(agree) + "/" + std::to_string(examples.size()), why);
  }

  // %% [markdown]
  // ## Exercises
  // 1. In step 4, train `performer` or `longformer` instead of `linear` (change `train_schemes`). The paper found
  //    the kernel models weakest on ListOps; do 150 steps on length-32 expressions show it? Why might they not?
  // 2. Raise the ListOps lengths in step 4 to 128 (`max_length = 129`, `to_dataset(..., 128)`). What happens to
  //    the steps/s of flash and linear, and to the accuracy after the same number of steps?
  // 3. From the efficiency table, extrapolate full attention's step memory to n = 4096 with 16 heads and 6 layers.
  // 4. `build/attnzoo lra pathfinder --generate 16 --size 64 --out pf64` writes images and labels.csv: open a few
  //    and time yourself answering. Then run `make lra` and look at out/lra/results.md.
  // %%
  return L.finish();
} catch (const std::exception& e) {
  return lesson::report_error(e);
}
