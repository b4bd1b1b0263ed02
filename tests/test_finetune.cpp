// tests/test_finetune.cpp — core/state.h (exact and partial loading by name) and lm/finetune.h (a pretrained
// byte LM's encoder into a classifier of the byte tasks): what carries over, tensor by tensor, with the byte ids
// shifted by one and the positions copied Longformer's way; what is new and listed; the one-line refusals that
// leave the model unchanged; a short fine-tuning run that beats the majority class; and the suite's scratch vs
// pretrained variants of a task (`attnzoo lra suite --init`).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/core.h"
#include "core/state.h"
#include "lm/finetune.h"
#include "lm/train.h"
#include "lra/suite.h"
#include "lra/text.h"
#include "lra/train.h"
#include "tests/helpers.h"

namespace {

using core::Tensor;
using testing::error_of;
using testing::TempDir;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Two made-up "styles" of text (no text from elsewhere): each a few words, in random order.
const std::vector<std::vector<const char*>> kStyles = {
    {"and", "the", "light", "was", "good", "he", "said", "unto", "them"},
    {"zig", "zag", "quux", "fizz", "buzz", "wok", "yak", "pox", "jib"}};

std::string passage(int style, int64_t words, core::Rng& rng) {
  std::string s;
  for (int64_t w = 0; w < words; ++w) {
    const auto& list = kStyles[static_cast<size_t>(style)];
    s += (w ? " " : "") + std::string(list[static_cast<size_t>(rng.randint(0, static_cast<int64_t>(list.size())))]);
  }
  return s;
}

// A causal (or masked) byte LM trained for a few steps on both styles, saved to dir/NAME.
std::string pretrained_lm(const TempDir& dir, const std::string& name, bool masked, int64_t steps = 3) {
  core::Rng rng(5);
  std::string text;
  for (int i = 0; i < 400; ++i) text += passage(i % 2, 12, rng) + ".\n";
  const corpora::TextSplits splits = corpora::split(text);
  const corpora::Corpus corpus{"styles", "tests/test_finetune.cpp", text};
  lm::TrainOptions o;
  o.lm.masked = masked;
  o.lm.context = 32;
  o.lm.model.scheme = "flash";
  o.lm.model.d_model = 16;
  o.lm.model.n_heads = 2;
  o.lm.model.n_layers = 1;
  o.lm.model.d_ff = 32;
  o.steps = steps;
  o.batch_size = 8;
  o.eval_every = steps;
  o.progress = lra::ProgressMode::Quiet;
  o.out_dir = dir / name;
  lm::train(splits, corpus, o);
  return o.out_dir;
}

// A byte-level two-class task (PAD 0, byte b -> b + 1, as lra/text.h): style 0 or 1, `n` passages per split.
lra::Splits style_task(int64_t n, int64_t max_len, bool pair = false) {
  core::Rng rng(9);
  auto make = [&](int64_t count) {
    lra::Dataset d;
    d.task = pair ? "retrieval" : "text";
    d.vocab = lra::text::kVocab;
    d.num_classes = 2;
    d.max_len = max_len;
    d.pair = pair;
    for (int64_t i = 0; i < count; ++i) {
      const int label = static_cast<int>(rng.randint(0, 2));
      d.inputs.push_back(lra::text::encode_bytes(passage(label, 20, rng), max_len));
      if (pair) d.inputs2.push_back(lra::text::encode_bytes(passage(label, 20, rng), max_len));
      d.labels.push_back(label);
    }
    d.check();
    return d;
  };
  lra::Splits s;
  s.train = make(n);
  s.val = make(n / 4);
  s.test = make(n / 4);
  return s;
}

// The tensor of that name (a handle, by value: `state` may be a temporary such as state_of(model)).
Tensor tensor(const core::nn::NamedTensors& state, const std::string& name) {
  for (const auto& [n, t] : state)
    if (n == name) return t;
  FAIL("no tensor " << name);
  return Tensor();
}

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); }

}  // namespace

TEST_CASE("state: load_exact copies every tensor by name and refuses a state that does not fit, unchanged") {
  attention::ModelConfig cfg;
  cfg.scheme = "full";
  cfg.vocab = 11;
  cfg.max_len = 8;
  cfg.d_model = 8;
  cfg.n_heads = 2;
  cfg.n_layers = 1;
  cfg.d_ff = 16;
  cfg.seed = 1;
  attention::SequenceClassifier a(cfg, 3);
  cfg.seed = 2;
  attention::SequenceClassifier b(cfg, 3);
  const core::nn::NamedTensors sa = core::nn::state_of(a);
  core::nn::load_exact(b, core::nn::copy_of(sa), "test");
  for (const auto& [name, t] : core::nn::state_of(b)) CHECK(values(t) == values(tensor(sa, name)));

  attention::SequenceClassifier c(cfg, 4);  // another head: (4, 8) instead of (3, 8)
  const std::vector<float> before = values(tensor(core::nn::state_of(c), "encoder.tokens.weight"));
  const std::string e = error_of([&] { core::nn::load_exact(c, sa, "test"); });
  CHECK(contains(e, "test: tensor 'head.weight' has shape (3,8), the model needs (4,8)"));
  CHECK(values(tensor(core::nn::state_of(c), "encoder.tokens.weight")) == before);  // nothing written
  core::nn::NamedTensors fewer(sa.begin() + 1, sa.end());
  CHECK(contains(error_of([&] { core::nn::load_exact(b, fewer, "ckpt"); }), "ckpt has no tensor '"));
  core::nn::NamedTensors more = core::nn::copy_of(sa);
  more.emplace_back("extra", Tensor::zeros({1}));
  CHECK(contains(error_of([&] { core::nn::load_exact(b, more, "ckpt"); }), "ckpt: tensor 'extra' is not in the model"));
  more.emplace_back("extra", Tensor::zeros({1}));
  CHECK(contains(error_of([&] { core::nn::load_exact(b, more, "ckpt"); }), "'extra' appears twice"));
}

TEST_CASE("finetune: a pretrained LM's encoder carries into a text classifier — blocks equal, byte b's row at "
          "b + 1, positions repeated Longformer's way, a new head") {
  TempDir dir("finetune");
  const std::string lm_dir = pretrained_lm(dir, "causal", /*masked=*/false);
  const std::unique_ptr<lm::ByteLM> lm = lm::load_model(lm_dir);
  const core::nn::NamedTensors src = core::nn::state_of(*lm);

  attention::ModelConfig cfg = lm::pretrained_config(lm_dir);
  CHECK(cfg.d_model == 16);
  CHECK(cfg.n_layers == 1);
  CHECK(!cfg.causal);
  cfg.scheme = "longformer";  // another scheme with the same parameters: its window is a setting, not a tensor
  cfg.set = {"window=4"};
  const lra::Splits data = style_task(8, 80);  // max_len 80 > the LM's context 32
  lra::Classifier model(cfg, data.train);
  const std::vector<float> pad_row_before =
      std::vector<float>(tensor(core::nn::state_of(model), "single.encoder.tokens.weight").data(),
                         tensor(core::nn::state_of(model), "single.encoder.tokens.weight").data() + 16);
  const lm::InitReport r = lm::init_classifier(model, lm_dir);
  const core::nn::NamedTensors dst = core::nn::state_of(model);

  // every block tensor and the final LN: equal to the LM's
  int64_t blocks = 0;
  for (const auto& [name, t] : src) {
    if (name.rfind("net.encoder.block0.", 0) != 0 && name.rfind("net.encoder.ln_final.", 0) != 0) continue;
    CAPTURE(name);
    CHECK(values(tensor(dst, "single.encoder." + name.substr(12))) == values(t));
    ++blocks;
  }
  CHECK(blocks >= 12);
  // tokens: row b of the LM is row b + 1 here; row 0 (PAD) keeps its initial values
  const Tensor tok_src = tensor(src, "net.encoder.tokens.weight");
  const Tensor tok_dst = tensor(dst, "single.encoder.tokens.weight");
  REQUIRE(tok_dst.size(0) == 257);
  for (int64_t b : {0, 1, 65, 255})
    for (int64_t j = 0; j < 16; ++j) CHECK(tok_dst.data()[(b + 1) * 16 + j] == tok_src.data()[b * 16 + j]);
  CHECK(std::vector<float>(tok_dst.data(), tok_dst.data() + 16) == pad_row_before);
  // positions: row t is the LM's row t mod 32
  const Tensor pos_src = tensor(src, "net.encoder.positions.weight");
  const Tensor pos_dst = tensor(dst, "single.encoder.positions.weight");
  REQUIRE(pos_dst.size(0) == 80);
  for (int64_t t : {0, 31, 32, 45, 79})
    for (int64_t j = 0; j < 16; ++j) CHECK(pos_dst.data()[t * 16 + j] == pos_src.data()[(t % 32) * 16 + j]);
  CHECK(contains(r.positions, "copied 3 times to fill 80"));
  // the report: the head is new, the LM's head unused, nothing reshaped
  CHECK(std::find(r.fresh.begin(), r.fresh.end(), "single.head.weight") != r.fresh.end());
  CHECK(std::find(r.unused.begin(), r.unused.end(), "net.head.weight") != r.unused.end());
  CHECK(std::find(r.carried.begin(), r.carried.end(), "single.encoder.block0.attn.w_q.weight") != r.carried.end());
  CHECK(r.reshaped.empty());
  const std::string text = lm::describe(r);
  CHECK(contains(text, "Longformer's recipe"));
  CHECK(contains(text, "freshly initialised (2): single.head.weight, single.head.bias"));
}

TEST_CASE("finetune: a pair task's shared encoder, a shorter input, a masked LM and a scheme with tensors of its "
          "own") {
  TempDir dir("finetune_pair");
  const std::string lm_dir = pretrained_lm(dir, "masked", /*masked=*/true);
  attention::ModelConfig cfg = lm::pretrained_config(lm_dir);
  cfg.scheme = "routing";  // adds k-means centroids (buffers) that the flash LM does not have
  const lra::Splits data = style_task(8, 24, /*pair=*/true);  // max_len 24 < context 32
  lra::Classifier model(cfg, data.train);
  const lm::InitReport r = lm::init_classifier(model, lm_dir);
  CHECK(contains(r.positions, "the first 24 of the 32 learned rows"));
  CHECK(contains(r.tokens, "[MASK] row is not used"));
  CHECK(std::find(r.carried.begin(), r.carried.end(), "pair.encoder.block0.mlp.fc1.weight") != r.carried.end());
  bool centroids_fresh = false;
  for (const std::string& f : r.fresh) centroids_fresh |= contains(f, "pair.encoder.block0.attn.") && contains(f, "centroids");
  CHECK(centroids_fresh);
  const std::unique_ptr<lm::ByteLM> lm = lm::load_model(lm_dir);
  const Tensor pos_src = tensor(core::nn::state_of(*lm), "net.encoder.positions.weight");
  const Tensor pos_dst = tensor(core::nn::state_of(model), "pair.encoder.positions.weight");
  CHECK(std::vector<float>(pos_dst.data(), pos_dst.data() + pos_dst.numel()) ==
        std::vector<float>(pos_src.data(), pos_src.data() + 24 * 16));
}

TEST_CASE("finetune: star has no w_q of its own — the scheme's carry_names puts the dense layer's w_q, w_k, w_v, "
          "w_o into every cycle's satellite and relay projections; its LayerNorms start fresh") {
  TempDir dir("finetune_star");
  const std::string lm_dir = pretrained_lm(dir, "causal", /*masked=*/false);
  const std::unique_ptr<lm::ByteLM> lm = lm::load_model(lm_dir);
  const core::nn::NamedTensors src = core::nn::state_of(*lm);
  attention::ModelConfig cfg = lm::pretrained_config(lm_dir);
  cfg.scheme = "star";
  cfg.set = {"cycles=3"};
  const lra::Splits data = style_task(8, 24);
  lra::Classifier model(cfg, data.train);
  const lm::InitReport r = lm::init_classifier(model, lm_dir);
  const core::nn::NamedTensors dst = core::nn::state_of(model);
  const std::string at = "single.encoder.block0.attn.";
  for (const char* p : {"q", "k", "v", "o"}) {
    for (const char* part : {".weight", ".bias"}) {
      const std::vector<float> dense = values(tensor(src, std::string("net.encoder.block0.attn.w_") + p + part));
      for (int t = 0; t < 3; ++t) {
        const std::string cycle = at + "cycle" + std::to_string(t) + ".";
        CAPTURE(cycle);
        CHECK(values(tensor(dst, cycle + "w_" + p + part)) == dense);
        if (t < 2) CHECK(values(tensor(dst, cycle + "r_" + p + part)) == dense);  // the last cycle has no relay
      }
    }
  }
  for (const auto& name : r.unused) CHECK(name.find(".attn.") == std::string::npos);  // every attention tensor used
  int64_t fresh_attention = 0;
  for (const auto& name : r.fresh) {
    if (name.find(".attn.") == std::string::npos) continue;
    CAPTURE(name);
    CHECK(contains(name, "_norm."));  // satellite_norm, relay_norm: no counterpart in the dense layer
    ++fresh_attention;
  }
  CHECK(fresh_attention == 2 * (3 + 2));  // gamma and beta of 3 satellite norms and 2 relay norms
  CHECK(attention::find_scheme("star").carry_names("cycle0.w_q.weight", attention::Config{}).empty());
}

TEST_CASE("finetune: sizes, a non-byte task, a missing or damaged model are one line, and the model is unchanged") {
  TempDir dir("finetune_bad");
  const std::string lm_dir = pretrained_lm(dir, "causal", false);
  const lra::Splits data = style_task(8, 40);
  attention::ModelConfig cfg = lm::pretrained_config(lm_dir);
  auto unchanged = [](lra::Classifier& m, const std::function<void()>& f) {
    const core::nn::NamedTensors before = core::nn::copy_of(core::nn::state_of(m));
    const std::string e = error_of(f);
    for (const auto& [name, t] : core::nn::state_of(m)) CHECK(values(t) == values(tensor(before, name)));
    CHECK(e.find('\n') == std::string::npos);
    return e;
  };
  cfg.d_model = 8;
  {
    lra::Classifier m(cfg, data.train);
    CHECK(contains(unchanged(m, [&] { lm::init_classifier(m, lm_dir); }), "d_model 16, this one 8"));
  }
  cfg = lm::pretrained_config(lm_dir);
  cfg.n_layers = 2;
  {
    lra::Classifier m(cfg, data.train);
    CHECK(contains(unchanged(m, [&] { lm::init_classifier(m, lm_dir); }), "n_layers 1, this one 2"));
  }
  cfg = lm::pretrained_config(lm_dir);
  {
    lra::Dataset listops = data.train;  // the same sequences under another vocabulary: not the bytes' 257
    listops.vocab = 300;
    lra::Classifier m(cfg, listops);
    CHECK(contains(unchanged(m, [&] { lm::init_classifier(m, lm_dir); }), "this task's tokens are not bytes"));
  }
  lra::Classifier m(cfg, data.train);
  CHECK(contains(unchanged(m, [&] { lm::init_classifier(m, dir / "nowhere"); }), "nowhere/config.json"));
  // a damaged weights file: cut in half
  const std::string weights = lm_dir + "/model.safetensors";
  const auto size = std::filesystem::file_size(weights);
  std::filesystem::resize_file(weights, size / 2);
  const std::string e = unchanged(m, [&] { lm::init_classifier(m, lm_dir); });
  CHECK(contains(e, "model.safetensors"));
}

TEST_CASE("finetune: a short fine-tuning run from a pretrained model beats the majority class") {
  TempDir dir("finetune_run");
  const std::string lm_dir = pretrained_lm(dir, "causal", false, /*steps=*/40);
  const lra::Splits data = style_task(160, 64);
  lra::TrainOptions o;
  o.model = lm::pretrained_config(lm_dir);
  o.model.scheme = "linear";  // fine-tuned with another scheme than it was pretrained with
  o.steps = 40;
  o.batch_size = 16;
  o.eval_every = 20;
  o.lr = 3e-3f;
  o.progress = lra::ProgressMode::Quiet;
  o.init = lm_dir;
  attention::ModelConfig cfg = o.model;
  cfg.seed = o.seed;
  lra::Classifier model(cfg, data.train);
  lm::init_classifier(model, lm_dir);
  const lra::TrainResult r = lra::train(model, data, o);
  INFO("test accuracy ", r.test_acc, ", majority ", r.majority_test_acc);
  CHECK(r.test_acc > r.majority_test_acc + 0.2);  // the two styles share no word: measured 1.0 vs about 0.5
  CHECK(r.init == lm_dir);
  CHECK(contains(lra::result_json(r), "\"init\": \"" + lm_dir + "\""));
}

TEST_CASE("finetune: the suite trains a task from scratch and fine-tuned from a pretrained model, side by side") {
  TempDir dir("finetune_suite");
  const std::string lm_dir = pretrained_lm(dir, "causal", false);
  const std::unique_ptr<lm::ByteLM> lm = lm::load_model(lm_dir);
  lra::SuiteTask scratch = lra::mini_task("text");  // which book? on the KJV, cut to seconds
  scratch.data.max_len = 48;  // longer than the LM's context 32: the position copy
  scratch.data.n_train = 36;
  scratch.data.n_val = 18;
  scratch.data.n_test = 18;
  scratch.train.model = lm::pretrained_config(*lm);
  scratch.train.steps = 3;
  scratch.train.eval_every = 3;
  scratch.train.batch_size = 4;
  lra::SuiteTask fine = scratch;
  fine.key = "text+pretrained";
  fine.pretrained = true;
  fine.train.init = lm_dir;
  lra::SuiteOptions o;
  o.schemes = {"linear"};  // pretrained with flash: the attention is swapped
  o.tasks = {scratch, fine};
  o.run_efficiency = false;
  o.out_dir = dir / "suite";
  o.progress = lra::ProgressMode::Quiet;
  std::ostringstream log;
  o.log = &log;
  int inits = 0;
  o.init = [&](lra::Classifier& model, const std::string& from) {
    ++inits;
    CHECK(from == lm_dir);
    return lm::describe(lm::init_classifier(model, *lm, from));
  };
  const lra::SuiteResult r = lra::run_suite(o);
  REQUIRE(r.runs.size() == 2);
  CHECK(inits == 1);  // only the pretrained variant
  CHECK(r.find("linear", "text")->status == "ok");
  CHECK(r.find("linear", "text")->result.init.empty());
  REQUIRE(r.find("linear", "text+pretrained") != nullptr);
  CHECK(r.find("linear", "text+pretrained")->status == "ok");
  CHECK(r.find("linear", "text+pretrained")->result.init == lm_dir);
  CHECK(contains(log.str(), "position"));  // describe()'s account of the copied positions
  std::ifstream csv(dir / "suite/results.csv");
  CHECK(contains(std::string(std::istreambuf_iterator<char>(csv), {}), "linear,text+pretrained,ok,"));
  CHECK(std::filesystem::exists(dir / "suite/runs/text+pretrained/linear/result.json"));

  // "{scheme}" in the model directory: each scheme starts from its own model (here linear's is a copy)
  std::filesystem::copy(lm_dir, dir / "linear_lm", std::filesystem::copy_options::recursive);
  CHECK(lra::model_dir_for((dir / "{scheme}_lm"), "linear") == (dir / "linear_lm"));
  CHECK(lra::model_dir_for("a/{scheme}/{scheme}_x", "bigbird") == "a/bigbird/bigbird_x");
  CHECK(lra::model_dir_for("a/b", "bigbird") == "a/b");
  lra::SuiteTask own = fine;
  own.key = "text+own";
  own.train.init = (dir / "{scheme}_lm");
  o.tasks = {own};
  o.out_dir = dir / "suite_self";
  std::vector<std::string> asked;
  o.init = [&](lra::Classifier& model, const std::string& from) {
    asked.push_back(from);
    return lm::describe(lm::init_classifier(model, *lm, from));
  };
  const lra::SuiteResult self = lra::run_suite(o);
  REQUIRE(self.runs.size() == 1);
  CHECK(asked == std::vector<std::string>{(dir / "linear_lm")});
  CHECK(self.find("linear", "text+own")->result.init == (dir / "linear_lm"));  // the one it started from

  // self-pretraining in the suite: the hook gets the run's training split; which book? is a byte task, so the LM
  // reads its passages as bytes and maps back with the byte rule
  lra::SuiteTask selfp = scratch;
  selfp.key = "text+self";
  selfp.self_pretrain_steps = 2;
  o.tasks = {selfp};
  o.out_dir = dir / "suite_sp";
  int calls = 0;
  o.self_pretrain = [&](lra::Classifier& model, const lra::Dataset& train, const lra::TrainOptions& run,
                        int64_t steps) {
    ++calls;
    CHECK(steps == 2);
    CHECK(lm::self_token_map(train) == lm::TokenMap::bytes);
    lm::SelfPretrainOptions so;
    so.steps = steps;
    so.batch_size = 2;
    so.progress = lra::ProgressMode::Quiet;
    CHECK(run.init == run.out_dir + "/self_lm");  // the suite says where the LM goes
    so.out_dir = run.init;
    const std::unique_ptr<lm::ByteLM> own = lm::self_pretrain(train, model.config, so);
    return lm::describe(lm::init_classifier(model, *own, so.out_dir, lm::self_token_map(train)));
  };
  const lra::SuiteResult sp = lra::run_suite(o);
  CHECK(calls == 1);
  REQUIRE(sp.find("linear", "text+self") != nullptr);
  CHECK(sp.find("linear", "text+self")->status == "ok");
  CHECK(std::filesystem::exists(dir / "suite_sp/runs/text+self/linear/self_lm/model.safetensors"));
  CHECK(contains(log.str(), "LM row b (byte b) -> row b + 1"));
  o.self_pretrain = nullptr;
  CHECK(contains(error_of([&] { lra::run_suite(o); }), "self-pretrains, but no self_pretrain was given"));

  // a pretrained task with no model to start from, and two tasks of one name, are refused before any run
  o.tasks = {scratch, fine};
  o.init = nullptr;
  CHECK(contains(error_of([&] { lra::run_suite(o); }), "starts from a pretrained model, but none was given"));
  o.tasks = {scratch, scratch};
  CHECK(contains(error_of([&] { lra::run_suite(o); }), "two tasks are called 'text'"));
}

TEST_CASE("finetune: self-pretraining — the task's own inputs as a corpus, an LM on them, its token rows kept") {
  // ListOps (variable length): each input's ids, then PAD; Pathfinder (fixed length, 0 = black): no separator.
  lra::TaskOptions lo;
  lo.task = "listops";
  lo.max_len = 40;
  lo.n_train = 200;
  lo.n_val = lo.n_test = 4;
  const lra::Splits listops = lra::load_task(lo);
  const corpora::Corpus c = lm::task_corpus(listops.train);
  int64_t tokens = 0;
  for (const lra::Sequence& s : listops.train.inputs) tokens += static_cast<int64_t>(s.size());
  CHECK(static_cast<int64_t>(c.text.size()) == tokens + listops.train.size());  // one PAD after each
  CHECK(std::count(c.text.begin(), c.text.end(), '\0') == listops.train.size());  // ids 1..15 are never 0
  CHECK(static_cast<unsigned char>(c.text[0]) == static_cast<unsigned char>(listops.train.inputs[0][0]));
  CHECK(c.name == "self:listops");

  lra::TaskOptions po;
  po.task = "pathfinder16";
  po.n_train = 6;
  po.n_val = po.n_test = 2;
  const lra::Splits pf = lra::load_task(po);
  CHECK(lm::task_corpus(pf.train).text.size() == 6u * 256u);

  lra::Dataset wide = listops.train;  // an id that is not one byte is refused, naming it
  wide.inputs[0][0] = 300;
  CHECK(contains(error_of([&] { lm::task_corpus(wide); }), "token id 300"));

  // An LM on ListOps' own tokens, then the classifier: token row i is the LM's row i (no shift, unlike bytes).
  attention::ModelConfig cfg;
  cfg.scheme = "linear";
  cfg.d_model = 16;
  cfg.n_heads = 2;
  cfg.n_layers = 1;
  cfg.d_ff = 32;
  lm::SelfPretrainOptions so;
  so.steps = 3;
  so.batch_size = 4;
  so.progress = lra::ProgressMode::Quiet;
  lm::TrainResult tr;
  const std::unique_ptr<lm::ByteLM> self = lm::self_pretrain(listops.train, cfg, so, &tr);
  CHECK(tr.steps == 3);
  CHECK(self->config.context == listops.train.longest());
  CHECK_FALSE(self->config.masked);
  lra::Classifier model(cfg, listops.train);
  // the byte mapping refuses ListOps; the same-ids mapping takes it
  CHECK(contains(error_of([&] { lm::init_classifier(model, *self, "self"); }), "tokens are not bytes"));
  const lm::InitReport r = lm::init_classifier(model, *self, "self", lm::TokenMap::same_ids);
  CHECK(contains(r.tokens, "row i -> row i for the task's 16 token ids"));
  const Tensor* lm_rows = nullptr;
  const Tensor* cls_rows = nullptr;
  const core::nn::NamedTensors lm_state = core::nn::state_of(*self), cls_state = core::nn::state_of(model);
  for (const auto& [n, t] : lm_state)
    if (n == "net.encoder.tokens.weight") lm_rows = &t;
  for (const auto& [n, t] : cls_state)
    if (n == "single.encoder.tokens.weight") cls_rows = &t;
  REQUIRE(lm_rows != nullptr);
  REQUIRE(cls_rows != nullptr);
  REQUIRE(cls_rows->size(0) == 16);
  const int64_t d = cls_rows->size(1);
  CHECK(std::equal(cls_rows->data(), cls_rows->data() + 16 * d, lm_rows->data()));
}
