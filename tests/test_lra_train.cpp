// tests/test_lra_train.cpp — the LRA trainer (lra/train.h) and the mini suite (lra/suite.h): every scheme
// learns a little on a tiny task, the test score comes from the best validation checkpoint, runs are reproducible,
// the pair (two towers) path works on a retrieval fixture, and the files the trainer and the suite write are
// well formed. Every run here is tiny (d_model 16, one layer, sequences <= 32 tokens) so that the file takes a few
// seconds, also under the sanitizers.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "attention/scheme.h"
#include "lra/lra.h"
#include "lra/suite.h"
#include "lra/train.h"
#include "core/core.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;

namespace {

using testing::TempDir;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}
using testing::error_of;

// The "count" task: tokens 1..4 are "low", 5..8 "high"; the label is 1 when a sequence has more high tokens than
// low ones (a tie counts as 0). Lengths vary from max_len/2 to max_len, so batches carry padding. A mean-pooled Transformer of any attention scheme can learn it quickly.
lra::Dataset count_task(int64_t n, int64_t max_len, uint64_t seed) {
  lra::Dataset d;
  d.task = "count";
  d.vocab = 9;
  d.num_classes = 2;
  d.max_len = max_len;
  d.pad_id = 0;
  core::Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = rng.randint(max_len / 2, max_len + 1);
    const bool want_high = i % 2 == 1;
    lra::Sequence s;
    int64_t high = 0;
    for (int64_t t = 0; t < len; ++t) {
      const bool is_high = (rng.uniform01() < 0.7) == want_high;
      s.push_back(static_cast<lra::Token>(is_high ? rng.randint(5, 9) : rng.randint(1, 5)));
      high += is_high;
    }
    d.inputs.push_back(s);
    d.labels.push_back(2 * high > len ? 1 : 0);
  }
  return d;
}

lra::Splits count_splits(int64_t max_len = 32) {
  return {count_task(256, max_len, 1), count_task(64, max_len, 2), count_task(64, max_len, 3)};
}

lra::TrainOptions tiny_options(const std::string& scheme) {
  lra::TrainOptions o;
  o.model.scheme = scheme;
  o.model.d_model = 16;
  o.model.n_heads = 2;
  o.model.n_layers = 1;
  o.model.d_ff = 32;
  o.steps = 20;
  o.batch_size = 16;
  o.lr = 1e-2f;
  o.warmup = 2;
  o.eval_every = 20;
  o.log_every = 1;
  o.eval_batch = 64;
  o.progress = lra::ProgressMode::Quiet;
  return o;
}

double mean_loss(const std::vector<lra::LogRow>& log, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += log[i].loss;
  return s / static_cast<double>(to - from);
}

}  // namespace

TEST_CASE("lra train: a 20-step run of every registered scheme lowers the loss on a tiny task") {
  const lra::Splits data = count_splits();
  for (const attention::Scheme* s : attention::all_schemes()) {
    CAPTURE(s->name());
    const lra::TrainResult r = lra::train(data, tiny_options(s->name()));
    REQUIRE(r.log.size() == 20);
    CHECK(r.steps == 20);
    CHECK(r.scheme == s->name());
    for (const lra::LogRow& row : r.log) CHECK(std::isfinite(row.loss));
    // the last five steps' mean loss is below the first five's
    CHECK(mean_loss(r.log, 15, 20) < mean_loss(r.log, 0, 5));
    CHECK(r.best_step == 20);
    CHECK(r.test_acc >= 0.0);
    CHECK(r.test_acc <= 1.0);
    CHECK(r.steps_per_second > 0);
    CHECK(r.peak_step_mib > 0);
  }
}

TEST_CASE("lra train: the test score comes from the best validation checkpoint, not from the last parameters") {
  // Validation and test are the same examples, so the test accuracy of a checkpoint equals its validation accuracy.
  lra::Splits data = count_splits();
  data.test = data.val;
  lra::TrainOptions o = tiny_options("flash");
  o.steps = 40;
  o.eval_every = 10;
  o.lr = 2e-2f;
  // After step 20 the model is damaged after every step: the head always answers class 0, so validation accuracy
  // drops to the share of class 0 and stays there. The best checkpoint must be one of steps 10 and 20.
  o.after_step = [](int64_t step, lra::Classifier& m) {
    if (step <= 20) return;
    core::NoGradGuard no_grad;
    core::Tensor w = m.single->head.weight, b = m.single->head.bias;
    std::fill(w.data(), w.data() + w.numel(), 0.0f);
    b.data()[0] = 10.0f;
    b.data()[1] = -10.0f;
  };
  std::vector<double> val_by_step(41, NAN);
  o.on_log = [&](const lra::LogRow& row) { val_by_step[static_cast<size_t>(row.step)] = row.val_acc; };

  attention::ModelConfig cfg = o.model;
  lra::Classifier model(cfg, data.train);
  const lra::TrainResult r = lra::train(model, data, o);

  int64_t zeros = 0;
  for (int64_t y : data.val.labels) zeros += y == 0;
  const double constant_acc = static_cast<double>(zeros) / data.val.size();
  for (int64_t step : {30, 40}) CHECK(val_by_step[static_cast<size_t>(step)] == doctest::Approx(constant_acc));
  REQUIRE(std::max(val_by_step[10], val_by_step[20]) > constant_acc + 0.1);  // it learned before the damage
  CHECK(r.best_step == (val_by_step[20] > val_by_step[10] ? 20 : 10));
  CHECK(r.best_val_acc == doctest::Approx(val_by_step[static_cast<size_t>(r.best_step)]));
  CHECK(r.test_acc == doctest::Approx(r.best_val_acc));   // measured with the best checkpoint ...
  CHECK(r.test_acc_last == doctest::Approx(constant_acc)); // ... not with the last parameters
  CHECK(r.last_val_acc == doctest::Approx(constant_acc));
  // and the model is left holding the best checkpoint
  CHECK(lra::evaluate(model, data.val).accuracy == doctest::Approx(r.best_val_acc));
}

TEST_CASE("lra train: same seed, same log; another seed, another log") {
  const lra::Splits data = count_splits();
  auto run = [&](uint64_t seed) {
    lra::TrainOptions o = tiny_options("performer");  // random features: the seed reaches the scheme too
    o.seed = seed;
    o.eval_every = 5;
    return lra::train(data, o);
  };
  const lra::TrainResult a = run(7), b = run(7), c = run(8);
  REQUIRE(a.log.size() == b.log.size());
  for (size_t i = 0; i < a.log.size(); ++i) {
    CAPTURE(i);
    CHECK(a.log[i].step == b.log[i].step);
    CHECK(a.log[i].loss == b.log[i].loss);  // bit for bit
    CHECK(a.log[i].train_acc == b.log[i].train_acc);
    CHECK((a.log[i].val_acc == b.log[i].val_acc || (std::isnan(a.log[i].val_acc) && std::isnan(b.log[i].val_acc))));
    CHECK(a.log[i].lr == b.log[i].lr);
  }
  CHECK(a.test_acc == b.test_acc);
  CHECK(a.best_step == b.best_step);
  bool differs = false;
  for (size_t i = 0; i < a.log.size(); ++i) differs = differs || a.log[i].loss != c.log[i].loss;
  CHECK(differs);
}

TEST_CASE("lra train: retrieval pairs go through one shared encoder (two towers) on a TSV fixture") {
  // Documents of letters a..d; label 1 when both documents of a pair have the same most frequent letter.
  TempDir dir("retrieval");
  core::Rng rng(5);
  auto make = [&](int64_t n) {
    lra::Dataset d;
    d.task = "retrieval";
    d.vocab = lra::text::kVocab;
    d.num_classes = 2;
    d.max_len = 24;
    d.pair = true;
    for (int64_t i = 0; i < n; ++i) {
      const int a = static_cast<int>(rng.randint(0, 4));
      const int b = i % 2 ? a : (a + 1 + static_cast<int>(rng.randint(0, 3))) % 4;
      auto doc = [&](int major) {
        std::string s;
        const int64_t len = rng.randint(12, 25);
        for (int64_t t = 0; t < len; ++t) s += static_cast<char>('a' + (rng.uniform01() < 0.6 ? major : rng.randint(0, 4)));
        return lra::text::encode_bytes(s);
      };
      d.inputs.push_back(doc(a));
      d.inputs2.push_back(doc(b));
      d.labels.push_back(a == b ? 1 : 0);
    }
    return d;
  };
  lra::retrieval::write_tsv(dir / "new_aan_pairs.train.tsv", make(128));
  lra::retrieval::write_tsv(dir / "new_aan_pairs.eval.tsv", make(32));
  lra::retrieval::write_tsv(dir / "new_aan_pairs.test.tsv", make(32));
  lra::TaskOptions t;
  t.task = "retrieval";
  t.data = dir.path;
  t.max_len = 24;
  const lra::Splits data = lra::load_task(t);
  REQUIRE(data.train.pair);

  lra::TrainOptions o = tiny_options("linear");
  attention::ModelConfig cfg = o.model;
  lra::Classifier model(cfg, data.train);
  REQUIRE(model.is_pair());
  // one encoder for both towers: the parameters are the encoder's plus the head MLP (4d -> d -> 2), nothing else
  const int64_t d = cfg.d_model;
  CHECK(model.num_parameters() ==
        model.pair->encoder.num_parameters() + (4 * d * d + d) + (d * 2 + 2));
  // logits = MLP([X1, X2, X1*X2, X1-X2]) with X1, X2 the same encoder's mean-pooled outputs; swapping the two
  // documents changes the answer (the features are not symmetric)
  lra::Batch b = lra::make_batch(data.val, {0, 1, 2, 3});
  {
    core::NoGradGuard no_grad;
    model.eval();
    attention::Encoder& enc = model.pair->encoder;
    const core::Tensor x1 = lra::masked_mean(enc.forward(b.ids, b.mask), b.mask);     // (4, d)
    const core::Tensor x2 = lra::masked_mean(enc.forward(b.ids2, b.mask2), b.mask2);  // (4, d)
    const core::Tensor by_hand = model.pair->head.forward(core::concat({x1, x2, x1 * x2, x1 - x2}, 1));
    const core::Tensor ab = model.forward(b);
    CHECK(testing::close(ab, by_hand, 1e-6, 1e-6).ok);
    std::swap(b.ids, b.ids2);
    std::swap(b.mask, b.mask2);
    CHECK_FALSE(testing::close(model.forward(b), ab, 1e-4, 1e-5).ok);
    model.train();
  }
  const lra::TrainResult r = lra::train(model, data, o);
  CHECK(r.task == "retrieval");
  CHECK(mean_loss(r.log, 15, 20) < mean_loss(r.log, 0, 5));
  CHECK(r.test_acc >= 0.0);
}

TEST_CASE("lra train: masked_mean ignores padding and a fully padded row gives zeros") {
  const core::Tensor h = core::Tensor::from_vector({2, 3, 1}, {1, 2, 100, 5, 6, 7});
  const core::Tensor mask = core::Tensor::from_vector({2, 3}, {1, 1, 0, 0, 0, 0});
  const core::Tensor m = lra::masked_mean(h, mask);
  CHECK(m.at({0, 0}) == doctest::Approx(1.5));
  CHECK(m.at({1, 0}) == 0.0f);
  CHECK(lra::masked_mean(h, core::Tensor()).at({1, 0}) == doctest::Approx(6.0));
  CHECK(contains(error_of([&] { lra::masked_mean(h, core::Tensor::ones({2, 4})); }), "masked_mean"));
}

namespace {
// The model's buffer `name` as a vector (REQUIREs that it exists).
std::vector<float> buffer_values(const core::nn::Module& model, const std::string& name) {
  for (const auto& [n, t] : model.named_buffers())
    if (n == name) return t.to_vector();
  FAIL("no buffer " << name);
  return {};
}
}  // namespace

TEST_CASE("lra train: a checkpoint restores parameters and routing's centroids, by name, with no scheme code") {
  const lra::Splits data = count_splits();
  attention::ModelConfig cfg = tiny_options("routing").model;
  lra::Classifier model(cfg, data.train);
  const std::string centroids = "single.encoder.block0.attn.centroids", fitted = "single.encoder.block0.attn.fitted";
  // the layer's state is listed as buffers, under their path in the model
  CHECK(buffer_values(model, fitted) == std::vector<float>{0.0f});
  const lra::Checkpoint unfitted = lra::Checkpoint::capture(model);
  // the first forward pass fits the centroids; take the checkpoint then
  lra::evaluate(model, data.val);
  REQUIRE(buffer_values(model, fitted) == std::vector<float>{1.0f});
  const lra::Checkpoint c = lra::Checkpoint::capture(model);
  const std::vector<float> fitted_centroids = buffer_values(model, centroids);
  const lra::EvalResult before = lra::evaluate(model, data.val);
  // change everything, then restore
  lra::TrainOptions o = tiny_options("routing");
  o.steps = 5;
  lra::train(model, data, o);
  for (const core::Tensor& p : model.parameters()) p.data()[0] += 1.0f;
  CHECK(buffer_values(model, centroids) != fitted_centroids);  // the EMA moved them
  c.restore(model);
  CHECK(buffer_values(model, centroids) == fitted_centroids);
  const lra::EvalResult after = lra::evaluate(model, data.val);
  CHECK(after.accuracy == before.accuracy);
  CHECK(after.loss == doctest::Approx(before.loss).epsilon(1e-6));
  // the flag comes back too: restored before the first fit, the next forward pass fits again
  unfitted.restore(model);
  CHECK(buffer_values(model, fitted) == std::vector<float>{0.0f});
  lra::evaluate(model, data.val);
  CHECK(buffer_values(model, fitted) == std::vector<float>{1.0f});
}

TEST_CASE("lra train: the test score is the best step's model, routing's centroids included") {
  const lra::Splits data = count_splits();
  lra::TrainOptions o = tiny_options("routing");
  o.steps = 24;
  o.eval_every = 2;
  const std::string centroids = "single.encoder.block0.attn.centroids";
  std::vector<std::vector<float>> at_step(1);  // at_step[s]: the centroids after step s
  o.after_step = [&](int64_t, lra::Classifier& m) { at_step.push_back(buffer_values(m, centroids)); };
  lra::Classifier model(o.model, data.train);
  const lra::TrainResult r = lra::train(model, data, o);
  REQUIRE(r.best_step < r.steps);  // else the last model is the best one and nothing is restored
  CHECK(at_step[static_cast<size_t>(r.best_step)] != at_step.back());
  // after train() the model holds the best checkpoint: its centroids are those of the best step
  CHECK(buffer_values(model, centroids) == at_step[static_cast<size_t>(r.best_step)]);
}

TEST_CASE("lra train: a checkpoint refuses a model it does not fit, naming the tensor") {
  const lra::Splits data = count_splits();
  attention::ModelConfig cfg = tiny_options("routing").model;
  lra::Classifier routing(cfg, data.train);
  const lra::Checkpoint c = lra::Checkpoint::capture(routing);
  cfg.set = {"clusters=3"};  // other centroid shapes
  lra::Classifier other_clusters(cfg, data.train);
  CHECK(contains(error_of([&] { c.restore(other_clusters); }),
                 "Checkpoint: tensor 'single.encoder.block0.attn.centroids' has shape"));
  cfg = tiny_options("full").model;  // the same parameters, no routing state
  lra::Classifier full(cfg, data.train);
  CHECK(contains(error_of([&] { c.restore(full); }),
                 "Checkpoint: tensor 'single.encoder.block0.attn.centroids' is not in the model"));
  CHECK(contains(error_of([&] { lra::Checkpoint::capture(full).restore(routing); }),
                 "Checkpoint has no tensor 'single.encoder.block0.attn.centroids', which the model needs"));
  cfg.d_model = 8;
  cfg.n_heads = 2;
  lra::Classifier smaller(cfg, data.train);
  CHECK(contains(error_of([&] { lra::Checkpoint::capture(full).restore(smaller); }), "Checkpoint: tensor '"));
}

TEST_CASE("lra train: evaluate counts argmax hits, batch size does not matter") {
  const lra::Splits data = count_splits();
  attention::ModelConfig cfg = tiny_options("full").model;
  lra::Classifier model(cfg, data.train);
  const lra::EvalResult a = lra::evaluate(model, data.val, 64), b = lra::evaluate(model, data.val, 7);
  CHECK(a.examples == 64);
  CHECK(a.accuracy == b.accuracy);
  CHECK(a.loss == doctest::Approx(b.loss).epsilon(1e-5));
  CHECK(lra::evaluate(model, data.val, 64, {}, 10).examples == 10);
  CHECK(model.training());  // the flag is restored
  // by hand: argmax of the logits of the whole split at once
  core::NoGradGuard no_grad;
  model.eval();
  std::vector<int64_t> all(64);
  for (int64_t i = 0; i < 64; ++i) all[i] = i;
  const lra::Batch batch = lra::make_batch(data.val, all);
  const core::Tensor logits = model.forward(batch);
  int64_t hits = 0;
  for (int64_t i = 0; i < 64; ++i) hits += (logits.at({i, 1}) > logits.at({i, 0}) ? 1 : 0) == batch.labels.data[i];
  CHECK(a.accuracy == doctest::Approx(hits / 64.0));
}

TEST_CASE("lra train: progress lines, the time limit, and bad options") {
  const lra::Splits data = count_splits();
  std::ostringstream out;
  lra::TrainOptions o = tiny_options("linear");
  o.progress = lra::ProgressMode::Lines;
  o.progress_stream = &out;
  o.progress_every = 10;
  o.label = "[1/1] linear count";
  lra::train(data, o);
  const std::vector<std::string> lines = lines_of(out.str());
  REQUIRE(lines.size() == 3);  // steps 10 and 20, then the summary
  CHECK(lines[0].rfind("[1/1] linear count  step 10/20  loss ", 0) == 0);
  CHECK(contains(lines[1], "step 20/20"));
  for (const char* part : {"acc ", "val ", "steps/s", "ETA "}) CHECK(contains(lines[1], part));
  CHECK(contains(lines[2], "test "));

  std::ostringstream bar;
  o.progress = lra::ProgressMode::Bar;
  o.progress_stream = &bar;
  lra::train(data, o);
  CHECK(contains(bar.str(), "\r[1/1] linear count  [####"));
  CHECK(lines_of(bar.str()).size() == 2);  // the bar's one line, then the summary

  o.progress = lra::ProgressMode::Quiet;
  o.time_limit = 1e-9;
  const lra::TrainResult r = lra::train(data, o);
  CHECK(r.stopped_by_time_limit);
  CHECK(r.steps == 1);
  CHECK(r.best_step == 1);
  CHECK(r.steps_requested == 20);

  lra::TrainOptions bad = tiny_options("linear");
  bad.steps = 0;
  CHECK(contains(error_of([&] { lra::train(data, bad); }), "steps must be >= 1"));
  bad = tiny_options("nope");
  CHECK(contains(error_of([&] { lra::train(data, bad); }), "unknown scheme 'nope'"));
  bad = tiny_options("longformer");
  bad.model.set = {"windw=3"};
  CHECK(contains(error_of([&] { lra::train(data, bad); }), "windw"));
  lra::Splits empty = data;
  empty.val = lra::take(data.val, 0);
  CHECK(contains(error_of([&] { lra::train(empty, tiny_options("full")); }), "the val split"));
}

TEST_CASE("lra train: run files: log.csv, curves.png, result.json and result.md") {
  TempDir dir("files");
  const lra::Splits data = count_splits();
  lra::TrainOptions o = tiny_options("sparse");
  o.eval_every = 10;
  o.log_every = 5;
  o.out_dir = dir / "run";
  const lra::TrainResult r = lra::train(data, o);
  const std::vector<std::string> csv = lines_of(read_file(dir / "run/log.csv"));
  REQUIRE(csv.size() == 5);  // header + steps 5, 10, 15, 20
  CHECK(csv[0] == "step,loss,train_acc,val_acc,lr,seconds");
  CHECK(csv[1].rfind("5,", 0) == 0);
  CHECK(contains(csv[1], ",,"));         // no validation at step 5
  CHECK_FALSE(contains(csv[2], ",,"));   // validation at step 10
  const std::string json = read_file(dir / "run/result.json");
  for (const char* key : {"\"task\": \"count\"", "\"scheme\": \"sparse\"", "\"test_acc\": ", "\"best_step\": ",
                          "\"steps_per_second\": ", "\"peak_step_mib\": "})
    CHECK(contains(json, key));
  CHECK(contains(read_file(dir / "run/result.md"), "best-validation checkpoint"));
  const plot::Image img = plot::load_png(dir / "run/curves.png");
  CHECK(img.width > 1000);
  CHECK(img.height > 400);
  CHECK(lra::format_duration(3725) == "1h02m");
  CHECK(lra::format_duration(185) == "3m05s");
  CHECK(lra::format_duration(12.4) == "12s");
  (void)r;
}

namespace {
// The suite's ListOps preset cut to a few seconds: 16 tokens, 64 examples, 4 steps of the tiny model.
lra::SuiteTask tiny_listops_task() {
  lra::SuiteTask a = lra::mini_task("listops");
  a.data.max_len = 16;
  a.data.n_train = 64;
  a.data.n_val = 16;
  a.data.n_test = 16;
  a.train = tiny_options("");
  a.train.steps = 4;
  a.train.eval_every = 2;
  return a;
}
}  // namespace

TEST_CASE("lra train: the suite loads every task's data before the first run and stops at once if one cannot load") {
  TempDir dir("suite_no_data");
  lra::SuiteOptions o;
  o.schemes = {"linear"};
  const lra::SuiteTask a = tiny_listops_task();
  lra::SuiteTask b = lra::mini_task("text");
  b.data.data = dir / "no-aclImdb-here";  // IMDb asked for where there is none
  o.tasks = {a, b};
  o.run_efficiency = false;
  o.out_dir = dir / "lra";
  o.progress = lra::ProgressMode::Quiet;
  std::ostringstream log;
  o.log = &log;
  const std::string error = error_of([&] { lra::run_suite(o); });
  CHECK(contains(error, "lra suite: Text (which book?): "));
  CHECK(contains(error, "no-aclImdb-here"));
  CHECK(error.find('\n') == std::string::npos);
  CHECK_FALSE(contains(log.str(), "[1/2]"));  // ListOps, first in line, was not trained
  CHECK_FALSE(fs::exists(dir / "lra/runs"));
}

TEST_CASE("lra train: the paper's table has one column per benchmark task, however many lengths of it ran") {
  // text at two lengths (--seq-lens) stands in for the paper's one Text column: one column, not two copies
  lra::SuiteResult r;
  r.schemes = {"full"};
  lra::SuiteTask a = tiny_listops_task();
  lra::SuiteTask t256 = a, t512 = a;
  t256.title = "Text 256 B";
  t512.title = "Text 512 B";
  t256.data.task = t512.data.task = "text";
  t256.key = "text@256";
  t512.key = "text@512";
  r.tasks = {a, t256, t512};
  const std::string md = lra::results_markdown(r);
  const size_t from = md.find("The paper's numbers"), to = md.find("Training speed");
  REQUIRE(from < to);
  const std::string paper = md.substr(from, to - from);
  const attention::PaperLraRow& row = attention::find_scheme("full").info().lra_paper;
  auto two = [](double v) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(2) << v;
    return s.str();
  };
  CHECK(contains(paper, "| scheme | model | " + a.title + " | Text | Avg (their five tasks) |"));
  CHECK(contains(paper, "| full | Transformer | " + two(row.listops) + " | " + two(row.text) + " | " +
                            two(row.average) + " |\n"));
  CHECK_FALSE(contains(paper, "Text 256 B"));
}

TEST_CASE("lra train: the suite writes both tables, the CSV lesson 15 reads, and the bubble chart") {
  TempDir dir("suite");
  lra::SuiteOptions o;
  // two tiny tasks; linformer's default k=32 exceeds max_len 16, so it cannot run and must say why
  o.schemes = {"full", "linear", "linformer"};
  const lra::SuiteTask a = tiny_listops_task();
  lra::SuiteTask b = a;
  b.title = "Pathfinder 16x16";
  b.key = b.data.task = "pathfinder16";
  b.data.max_len = 0;  // the image's 256 pixels
  o.tasks = {a, b};
  o.efficiency.lengths = {16, 32};
  o.efficiency.repeats = 1;
  o.efficiency.model = a.train.model;
  o.out_dir = dir / "lra";
  o.progress = lra::ProgressMode::Quiet;
  std::ostringstream log;
  o.log = &log;
  const lra::SuiteResult r = lra::run_suite(o);

  REQUIRE(r.runs.size() == 6);
  CHECK(r.find("full", "listops")->status == "ok");
  CHECK(contains(r.find("linformer", "listops")->status, "linformer"));
  CHECK(r.find("linear", "pathfinder16")->status == "ok");
  CHECK(contains(log.str(), "[2/6] linear listops"));
  CHECK(contains(log.str(), "ETA"));

  const std::string md = read_file(dir / "lra/results.md");
  CHECK(contains(md, "Measured on this machine, mini suite"));
  CHECK(contains(md, "| full | Transformer |"));
  CHECK(contains(md, "| linformer | Linformer | cannot run: "));
  CHECK(contains(md, "majority class"));
  // the paper's Table 1 beside ours, in the same columns (ListOps, Pathfinder), with its five-task average
  CHECK(contains(md, "| full | Transformer | 36.37 | 71.40 | 54.39 |"));
  CHECK(contains(md, "| linear | Linear Trans. | 16.13 | 75.30 | 50.55 |"));
  // the sizes are those loaded; a task that gave fewer than asked says so
  CHECK(r.tasks[0].loaded[0] == a.data.n_train);
  CHECK(contains(md, std::to_string(a.data.n_train) + "/" + std::to_string(a.data.n_val) + "/" +
                         std::to_string(a.data.n_test) + " train/val/test, "));
  lra::SuiteTask fewer = r.tasks[0];
  fewer.loaded[0] = a.data.n_train - 1;
  CHECK(contains(lra::suite_description({fewer}), std::to_string(a.data.n_train - 1) + "/"));
  CHECK(contains(lra::suite_description({fewer}), std::to_string(a.data.n_train) + "/" +
                                                       std::to_string(a.data.n_val) + "/" +
                                                       std::to_string(a.data.n_test) + " asked"));
  const std::vector<lra::ResultRow> rows = lra::read_results_csv(dir / "lra/results.csv");
  REQUIRE(rows.size() == 6);
  CHECK(rows[0].scheme == "full");
  CHECK(rows[0].task == "listops");
  CHECK(rows[0].status == "ok");
  CHECK(rows[0].steps == 4);
  CHECK(rows[0].test_acc == doctest::Approx(100 * r.runs[0].result.test_acc).epsilon(1e-3));
  CHECK(rows[2].status != "ok");
  CHECK(contains(read_file(dir / "lra/results.json"), "\"efficiency\": ["));
  const std::string eff = read_file(dir / "lra/efficiency.md");
  CHECK(contains(eff, "| linear | Linear Trans. |"));
  CHECK(contains(eff, "x) |"));  // ratios to full
  CHECK(contains(eff, "Not measured"));  // linformer at n = 16
  CHECK(lines_of(read_file(dir / "lra/efficiency.csv")).size() == 1 + 3 * 2);
  const plot::Image bubbles = plot::load_png(dir / "lra/bubbles.png");
  CHECK(bubbles.width > 800);
  CHECK(fs::exists(dir / "lra/runs/listops/full/curves.png"));

  // a malformed results.csv is refused with the file and the line
  std::ofstream(dir / "bad.csv") << "scheme,task,status,test_acc,best_val_acc,best_step,steps,steps_per_second,"
                                    "peak_step_mib,seconds\nfull,listops,ok,abc,1,1,1,1,1,1\n";
  CHECK(contains(error_of([&] { lra::read_results_csv(dir / "bad.csv"); }), "bad.csv:2: test_acc 'abc'"));
  CHECK(contains(error_of([&] { lra::read_results_csv(dir / "none.csv"); }), "none.csv"));
}
