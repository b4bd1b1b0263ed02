// cli/lra.cpp — `attnzoo lra`: train the Transformer classifier with any scheme on a Long Range Arena task
// (lra/train.h), generate task data, or run the mini suite of `make lra` (lra/suite.h).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "attention/scheme.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "core/core.h"
#include "lm/finetune.h"
#include "lm/train.h"
#include "lra/lra.h"
#include "lra/suite.h"
#include "lra/train.h"

namespace cli {

namespace fs = std::filesystem;
using attention::Scheme;

namespace {

// Every option of every lra mode; each mode then says which of them it takes.
const std::vector<OptionSpec> kLraOptions = {
    {"scheme", true, false},     {"set", true, true},         {"steps", true, false},    {"seq-len", true, false},
    {"seed", true, false},       {"data", true, false},       {"out", true, false},      {"batch", true, false},
    {"eval-every", true, false}, {"lr", true, false},         {"warmup", true, false},   {"d-model", true, false},
    {"heads", true, false},      {"layers", true, false},     {"d-ff", true, false},     {"train", true, false},
    {"val", true, false},        {"test", true, false},       {"data-seed", true, false}, {"size", true, false},
    {"time-limit", true, false}, {"progress", true, false},   {"generate", true, false}, {"parens", false, false},
    {"no-parens", false, false}, {"schemes", true, false},    {"no-efficiency", false, false},
    {"lengths", true, false},    {"init", true, false},       {"tasks", true, false},    {"seq-lens", true, false},
    {"no-scratch", false, false}, {"self-pretrain", true, false}};


// attnzoo lra listops --generate N --out FILE.tsv
int lra_generate_listops(const Args& args) {
  only_options(args, {"generate", "out", "seq-len", "seed", "parens", "no-parens"}, "lra listops --generate");
  const int64_t n = parse_int(args, "generate", 0, 1, 10000000);
  AZ_CHECK(args.has("out"), "lra listops --generate: missing --out FILE.tsv");
  AZ_CHECK(!(args.has("parens") && args.has("no-parens")), "lra listops: --parens and --no-parens contradict each other");
  const std::string out = args.get("out");
  check_output_file(out, "out", /*make_parent=*/true);  // write_tsv makes the directory
  lra::listops::Options o;
  const int64_t L = parse_int(args, "seq-len", 2000, 3, 1000000);
  if (L != 2000) {  // as lra::load_task: L/4 < length <= L
    o.max_length = L + 1;
    o.min_length = L / 4;
  }
  const bool parens = !args.has("no-parens");  // the original generator's printed form is the default
  // Streamed: one example at a time goes to a temporary file beside `out`, renamed into place at the end, so
  // memory does not grow with N (10 million examples are a few GB of text, not of RAM).
  const lra::listops::GenerateStats stats = lra::listops::generate_tsv(out, n, o, parse_seed(args), parens);
  const int64_t shortest = stats.shortest, longest = stats.longest;
  const std::vector<int64_t>& counts = stats.per_label;
  std::cout << "wrote " << n << " ListOps example" << (n == 1 ? "" : "s") << " to " << out << " (Source<TAB>Target; "
            << (parens ? "with parentheses, as the original generator prints them" : "without parentheses")
            << "); lengths " << shortest << ".." << longest << " tokens; how many of each label 0..9:";
  for (int64_t c : counts) std::cout << " " << c;
  std::cout << "\n";
  return kExitOk;
}

// attnzoo lra pathfinder --generate N --size S --out DIR
int lra_generate_pathfinder(const Args& args) {
  only_options(args, {"generate", "out", "size", "seed"}, "lra pathfinder --generate");
  const int64_t n = parse_int(args, "generate", 0, 1, 1000000);
  const int64_t size = parse_int(args, "size", 32, 16, 128);
  AZ_CHECK(size == 16 || size == 32 || size == 64 || size == 128, "lra pathfinder: --size ", size,
           " is not one of 16, 32, 64, 128");
  AZ_CHECK(args.has("out"), "lra pathfinder --generate: missing --out DIR");
  const std::string dir = args.get("out");
  check_output_dir(dir, "lra pathfinder");
  const auto samples = lra::pathfinder::write_samples(dir, n, static_cast<int>(size), parse_seed(args));
  int64_t positives = 0;
  for (const auto& s : samples) positives += s.label;
  std::cout << "wrote " << n << " Pathfinder image" << (n == 1 ? "" : "s") << " (" << size << "x" << size << ", "
            << positives << " joined, " << n - positives << " apart) and labels.csv to " << dir << "\n";
  return kExitOk;
}

// lra suite --init DIR[,DIR2]: pretraining vs scratch. Each byte task from scratch, with the sizes of the language
// model(s), and fine-tuned from each model with every scheme, same budget (the attention swapped where the scheme
// is not the LM's). A DIR with "{scheme}" in it names one model per scheme, each pretrained with that scheme's own
// attention (task "text+own"); one without, a model for all (task "text+pretrained"). --no-scratch leaves the
// scratch runs out (an earlier run at the same sizes has them). Every model is read into `pretrained` (model dir ->
// model) before any data, and o.init reads from there.
void add_init_runs(const Args& args, lra::SuiteOptions& o,
                   std::map<std::string, std::unique_ptr<lm::ByteLM>>& pretrained) {
  AZ_CHECK(!args.has("lengths") && !args.has("no-efficiency"), "lra suite: --init measures no efficiency, so ",
           args.has("lengths") ? "--lengths" : "--no-efficiency", " does not apply");
  for (const lra::SuiteTask& t : o.tasks)  // the tasks first: reading the models is the expensive part
    AZ_CHECK(t.data.task == "text" || t.data.task == "retrieval", "lra suite: --init starts from a byte language ",
             "model, so it needs byte tasks (text, retrieval); ", t.key, "'s tokens are not bytes");
  std::vector<std::string> dirs(1);  // split on commas, empty pieces kept (and refused)
  for (char c : args.get("init")) {
    if (c == ',') {
      dirs.emplace_back();
    } else {
      dirs.back() += c;
    }
  }
  for (const std::string& dir : dirs) AZ_CHECK(!dir.empty(), "lra suite: --init names an empty model directory");
  AZ_CHECK(!dirs.empty() && dirs.size() <= 2, "lra suite: --init takes one or two model directories (one shared, ",
           "one with {scheme}), not ", dirs.size());
  AZ_CHECK(dirs.size() == 1 || (dirs[0].find("{scheme}") == std::string::npos) !=
                                   (dirs[1].find("{scheme}") == std::string::npos),
           "lra suite: --init's two directories must be one shared model and one with {scheme}");
  std::vector<std::string> schemes = o.schemes;
  if (schemes.empty())
    for (const attention::Scheme* s : attention::all_schemes()) schemes.push_back(s->name());
  // Every model the runs will start from, read and checked before any data is loaded: one line for a missing
  // model or sizes that differ from the first's (scratch and fine-tuned runs must have the same model).
  std::string first;
  attention::ModelConfig pre;
  for (const std::string& dir : dirs)
    for (const std::string& s : schemes) {
      const std::string d = lra::model_dir_for(dir, s);
      if (pretrained.count(d)) continue;
      try {
        pretrained[d] = lm::load_model(d);
      } catch (const core::Error& e) {
        AZ_FAIL("lra suite: --init for ", s, ": ", e.what());
      }
      const attention::ModelConfig c = lm::pretrained_config(*pretrained[d]);
      if (first.empty()) {
        first = d;
        pre = c;
      }
      AZ_CHECK(c.d_model == pre.d_model && c.n_heads == pre.n_heads && c.n_layers == pre.n_layers &&
                   c.d_ff == pre.d_ff,
               "lra suite: --init models differ in size: ", d, " is d_model ", c.d_model, ", ", c.n_heads,
               " heads, ", c.n_layers, " layers, d_ff ", c.d_ff, "; ", first, " is ", pre.d_model, ", ", pre.n_heads,
               ", ", pre.n_layers, ", ", pre.d_ff);
    }
  std::vector<lra::SuiteTask> runs;
  for (lra::SuiteTask t : o.tasks) {
    lm::use_pretrained_sizes(t.train.model, pre);
    const std::string title = t.title, key = t.key;
    if (!args.has("no-scratch")) {
      t.title = title + ", scratch";
      runs.push_back(t);
    }
    for (const std::string& dir : dirs) {
      const bool own = dir.find("{scheme}") != std::string::npos;
      lra::SuiteTask f = t;
      f.title = title + (own ? ", pretrained with its own attention" : ", pretrained");
      f.key = key + (own ? "+own" : "+pretrained");
      f.pretrained = true;
      f.train.init = dir;
      runs.push_back(f);
    }
  }
  o.tasks = runs;
  o.run_efficiency = false;
  o.init = [&pretrained](lra::Classifier& model, const std::string& dir) {
    return lm::describe(lm::init_classifier(model, *pretrained.at(dir), dir));
  };
}

// lra suite --self-pretrain N: "never train from scratch". Each task twice, same budget: from scratch, and after
// N steps of a causal LM on the task's own training inputs (task "pathfinder16+self"; lm::self_pretrain).
void add_self_pretrain_runs(const Args& args, lra::SuiteOptions& o) {
  AZ_CHECK(!args.has("lengths"), "lra suite: --self-pretrain measures no efficiency, so --lengths does not apply");
  const int64_t steps = parse_int(args, "self-pretrain", 0, 1, 100000000);
  std::vector<lra::SuiteTask> runs;
  for (lra::SuiteTask t : o.tasks) {
    const std::string title = t.title;
    if (!args.has("no-scratch")) {
      t.title = title + ", scratch";
      runs.push_back(t);
    }
    t.title = title + ", self-pretrained";
    t.key += "+self";
    t.self_pretrain_steps = steps;
    runs.push_back(t);
  }
  o.tasks = runs;
  o.run_efficiency = false;
  o.self_pretrain = [](lra::Classifier& model, const lra::Dataset& train, const lra::TrainOptions& run,
                       int64_t n) {
    lm::SelfPretrainOptions so;
    so.steps = n;
    so.batch_size = run.batch_size;
    so.seed = run.seed;
    so.out_dir = run.init;  // the suite's choice: RUN_DIR/self_lm
    so.label = run.label + " self-pretraining";
    so.progress = run.progress;
    so.progress_stream = run.progress_stream;
    const std::unique_ptr<lm::ByteLM> lm = lm::self_pretrain(train, model.config, so);
    return lm::describe(lm::init_classifier(model, *lm, so.out_dir, lm::self_token_map(train)));
  };
}

// attnzoo lra suite ...
int lra_suite(const Args& args) {
  only_options(args, {"out", "schemes", "time-limit", "no-efficiency", "progress", "lengths", "tasks", "init",
                      "seq-lens", "no-scratch", "self-pretrain"}, "lra suite");
  AZ_CHECK(args.positional.size() == 1, "lra suite: unexpected argument '",
           args.positional.size() > 1 ? args.positional[1] : "", "'");
  lra::SuiteOptions o;
  if (args.has("schemes")) {
    std::stringstream ss(args.get("schemes"));
    for (std::string name; std::getline(ss, name, ',');) o.schemes.push_back(attention::find_scheme(name).name());
  }
  if (args.has("tasks")) {
    o.tasks.clear();
    std::stringstream ss(args.get("tasks"));
    for (std::string name; std::getline(ss, name, ',');) {
      AZ_CHECK(name != "five" || args.get("tasks") == "five", "lra suite: --tasks five stands alone");
      if (name == "five") {
        o.tasks = lra::five_tasks();
      } else {
        o.tasks.push_back(lra::mini_task(name));  // one line for a task without a preset
      }
    }
    AZ_CHECK(!o.tasks.empty(), "lra suite: --tasks names no task");
  }
  // The experiments below default to which book? alone.
  if (!args.has("tasks") && (args.has("seq-lens") || args.has("init"))) o.tasks = {lra::mini_task("text")};
  if (!args.has("tasks") && args.has("self-pretrain")) o.tasks = {lra::mini_task("pathfinder")};
  AZ_CHECK(!(args.has("self-pretrain") && args.has("init")), "lra suite: --self-pretrain and --init both say where ",
           "the encoder starts; give one");
  AZ_CHECK(!args.has("no-scratch") || args.has("init") || args.has("self-pretrain"),
           "lra suite: --no-scratch goes with --init or --self-pretrain");
  // --seq-lens L1,L2,...: accuracy vs input length. Each task once per length (key "text@1024"): bytes per passage
  // for text and retrieval, the longest expression for ListOps; the image tasks have their pixel count.
  if (args.has("seq-lens")) {
    const std::vector<int64_t> lens = parse_int_list(args, "seq-lens", {}, 16, 1 << 16);
    std::vector<lra::SuiteTask> each;
    for (const lra::SuiteTask& t : o.tasks) {
      AZ_CHECK(t.key == "text" || t.key == "retrieval" || t.key == "listops", "lra suite: --seq-lens applies to ",
               "text, retrieval and listops; ", t.key, " has a fixed length (its pixels)");
      for (int64_t L : lens) {
        lra::SuiteTask v = t;
        v.data.max_len = L;
        v.key = t.key + "@" + std::to_string(L);
        v.title = t.title + " at " + std::to_string(L);
        each.push_back(v);
      }
    }
    o.tasks = each;
  }
  std::map<std::string, std::unique_ptr<lm::ByteLM>> pretrained;  // --init: model dir -> model
  o.run_efficiency = !args.has("no-efficiency");
  if (args.has("init")) add_init_runs(args, o, pretrained);
  if (args.has("self-pretrain")) add_self_pretrain_runs(args, o);
  // The experiments keep their own directories, so that they never replace make lra's five-task results.
  o.out_dir = args.get("out", args.has("init")            ? "out/lra-pretrained"
                              : args.has("self-pretrain") ? "out/lra-self-pretrained"
                              : args.has("seq-lens")      ? "out/lra-lengths"
                                                          : "out/lra");
  check_output_dir(o.out_dir, "lra suite");
  o.time_limit_per_run = parse_float(args, "time-limit", 420, 0, 1e7);  // a safety net: 0 = none
  o.efficiency.lengths = parse_int_list(args, "lengths", o.efficiency.lengths, 1, 1 << 16);
  o.efficiency.model = o.tasks[0].train.model;
  o.progress = parse_progress(args, "lra");
  const lra::SuiteResult r = lra::run_suite(o);
  std::cout << "\n" << lra::results_markdown(r);
  if (!r.efficiency.empty()) std::cout << "\n" << lra::efficiency_markdown(r.efficiency, o.efficiency);
  std::cout << "\nwrote " << o.out_dir << "/results.md, results.csv, results.json"
            << (r.efficiency.empty() ? "" : ", efficiency.md, efficiency.csv, bubbles.png") << " and " << o.out_dir
            << "/runs/TASK/SCHEME/\n";
  return kExitOk;
}

// attnzoo lra TASK --scheme S ...
int lra_train(const Args& args, std::string task) {
  only_options(args, {"scheme", "set", "steps", "seq-len", "seed", "data", "out", "batch", "eval-every", "lr",
                      "warmup", "d-model", "heads", "layers", "d-ff", "train", "val", "test", "data-seed", "size",
                      "time-limit", "progress", "init", "self-pretrain"}, "lra " + task + " (training)");
  AZ_CHECK(args.positional.size() == 1, "lra: unexpected argument '", args.positional.size() > 1 ? args.positional[1] : "",
           "' (one task per run)");
  // 1. What to train: the scheme and its settings, checked first.
  AZ_CHECK(args.has("scheme"), "lra ", task, ": which scheme? (--scheme S; `attnzoo list` shows them)");
  const attention::Scheme& scheme = attention::find_scheme(args.get("scheme"));
  const std::vector<std::string> sets = args.all("set");
  scheme.configure(sets);

  // 2. The task's preset: the mini suite's for the generated tasks, a small default for the downloaded ones.
  const bool is_pathfinder = task == "pathx" || task.rfind("pathfinder", 0) == 0;
  if (task == "pathfinder") {
    const int64_t size = parse_int(args, "size", 16, 16, 128);
    AZ_CHECK(size == 16 || size == 32 || size == 64 || size == 128, "lra pathfinder: --size ", size,
             " is not one of 16, 32, 64, 128");
    task = "pathfinder" + std::to_string(size);
  } else {
    AZ_CHECK(!args.has("size"), "lra ", task, ": --size applies to the task 'pathfinder' only");
  }
  const bool generated = task == "listops" || is_pathfinder;
  lra::SuiteTask preset = lra::mini_task(is_pathfinder ? "pathfinder" : "listops");
  lra::TaskOptions& t = preset.data;
  lra::TrainOptions& o = preset.train;
  t.task = task;
  if (!generated) t.max_len = 0;  // the task's own default (text, retrieval: 4000 bytes; image: 1024 pixels)

  // 3. Data options.
  if (args.has("data")) {
    AZ_CHECK(!is_pathfinder, "lra ", task, ": --data does not apply (the images are generated)");
    t.data = args.get("data");
    std::error_code ec;
    AZ_CHECK(fs::exists(t.data, ec), "lra ", task, ": --data ", t.data, " does not exist");
  }  // without --data: text, retrieval and image read the offline data of Debian packages (lra/tasks.h)
  if (args.has("seq-len")) t.max_len = parse_int(args, "seq-len", 0, 3, 1 << 20);
  if (t.data.empty()) {  // generated or offline: the split sizes and their seed are ours to choose
    // Fashion-MNIST (image): all of each split unless --train, --val or --test ask for fewer (load_task takes the
    // first n of each).
    const bool whole = task == "image";
    const int64_t all = std::numeric_limits<int64_t>::max();
    t.n_train = parse_int(args, "train", whole ? all : t.n_train, 1, 10000000);
    t.n_val = parse_int(args, "val", whole ? all : t.n_val, 1, 10000000);
    t.n_test = parse_int(args, "test", whole ? all : t.n_test, 1, 10000000);
    t.seed = static_cast<uint64_t>(parse_int(args, "data-seed", static_cast<int64_t>(t.seed), 0, INT64_MAX));
  } else {
    for (const char* opt : {"train", "val", "test", "data-seed"})
      AZ_CHECK(!args.has(opt), "lra ", task, ": --", opt, " applies to generated and offline data only (not --data)");
  }

  // 4. Model and training options.
  o.model.scheme = scheme.name();
  o.model.set = sets;
  o.steps = parse_int(args, "steps", o.steps, 1, 100000000);
  o.batch_size = parse_int(args, "batch", o.batch_size, 1, 65536);
  o.eval_every = parse_int(args, "eval-every", std::min(o.eval_every, o.steps), 1, 100000000);
  o.lr = static_cast<float>(parse_float(args, "lr", o.lr, 1e-8, 10));
  o.warmup = parse_int(args, "warmup", -1, 0, o.steps);
  o.model.d_model = parse_int(args, "d-model", o.model.d_model, 1, 8192);
  o.model.n_heads = parse_int(args, "heads", o.model.n_heads, 1, 256);
  AZ_CHECK(o.model.d_model % o.model.n_heads == 0, "lra: --d-model ", o.model.d_model,
           " is not divisible by --heads ", o.model.n_heads);
  o.model.n_layers = parse_int(args, "layers", o.model.n_layers, 1, 64);
  o.model.d_ff = parse_int(args, "d-ff", o.model.d_ff, 1, 65536);
  // --self-pretrain STEPS: a causal LM on the task's own training inputs first (lm::self_pretrain), any task.
  const int64_t self_steps = parse_int(args, "self-pretrain", 0, 1, 100000000);
  AZ_CHECK(!(args.has("self-pretrain") && args.has("init")), "lra ", task, ": --self-pretrain and --init both say ",
           "where the encoder starts; give one");
  std::unique_ptr<lm::ByteLM> pretrained;  // --init: the model the encoder starts from
  if (args.has("init")) {
    // Fine-tuning: the encoder's sizes are the pretrained model's; the scheme is --scheme (it may differ).
    AZ_CHECK(task == "text" || task == "retrieval", "lra ", task, ": --init starts from a byte language model, so it ",
             "needs a byte task (text or retrieval); ", task, "'s tokens are not bytes");
    o.init = args.get("init");
    pretrained = lm::load_model(o.init);  // read once, checked before any data is loaded
    const attention::ModelConfig pre = lm::pretrained_config(*pretrained);
    const std::pair<const char*, std::pair<int64_t, int64_t>> sizes[] = {
        {"d-model", {o.model.d_model, pre.d_model}}, {"heads", {o.model.n_heads, pre.n_heads}},
        {"layers", {o.model.n_layers, pre.n_layers}}, {"d-ff", {o.model.d_ff, pre.d_ff}}};
    for (const auto& [opt, given_and_pretrained] : sizes)
      AZ_CHECK(!args.has(opt) || given_and_pretrained.first == given_and_pretrained.second, "lra ", task, ": --", opt,
               " ", given_and_pretrained.first, " contradicts the pretrained model's ", given_and_pretrained.second,
               " (", o.init, "); leave it out with --init");
    lm::use_pretrained_sizes(o.model, pre);
  }
  o.seed = parse_seed(args);
  o.time_limit = parse_float(args, "time-limit", 0, 0, 1e7);
  o.progress = parse_progress(args, "lra");
  o.out_dir = args.get("out", "out/lra/runs/" + task + "/" + scheme.name());
  check_output_dir(o.out_dir, "lra " + task);

  // 5. Data, training, files.
  const std::string source = !t.data.empty() ? " from " + t.data
                             : generated      ? " (generated, seed " + std::to_string(t.seed) + ")"
                                              : " (" + lra::offline_source(task) + ")";
  std::cout << "lra " << task << ": loading data" << source << std::endl;
  lra::Splits data = lra::load_task(t);
  // Evaluation batches of about 16K tokens: at 4 000 bytes a batch of 64 would make 16 GB of attention scores.
  const int64_t longest = std::max({data.train.longest(), data.val.longest(), data.test.longest()});
  o.eval_batch = std::clamp<int64_t>(16384 / std::max<int64_t>(longest, 1), 1, o.eval_batch);
  std::cout << "lra " << task << ": " << data.train.size() << " train, " << data.val.size() << " val, "
            << data.test.size() << " test; longest sequence " << std::max({data.train.longest(), data.val.longest(),
                                                                           data.test.longest()})
            << " tokens; " << scheme.name() << " (" << (sets.empty() ? std::string("defaults") : "") ;
  for (size_t i = 0; i < sets.size(); ++i) std::cout << (i ? " " : "") << sets[i];
  std::cout << "), " << o.steps << " steps of batch " << o.batch_size << std::endl;
  attention::ModelConfig cfg = o.model;
  cfg.seed = o.seed;
  lra::Classifier model(cfg, data.train);
  if (pretrained) std::cout << lm::describe(lm::init_classifier(model, *pretrained, o.init)) << std::flush;
  if (self_steps > 0) {  // "never train from scratch": a causal LM on the training inputs first, then fine-tuning
    lm::SelfPretrainOptions so;
    so.steps = self_steps;
    so.batch_size = o.batch_size;
    so.seed = o.seed;
    so.out_dir = o.out_dir + "/self_lm";
    so.label = "self-pretraining";
    so.progress = o.progress;
    std::cout << "self-pretraining: a causal LM on the " << data.train.size() << " training inputs of " << task
              << " (no labels), " << self_steps << " steps, then fine-tuning" << std::endl;
    const std::unique_ptr<lm::ByteLM> self = lm::self_pretrain(data.train, model.config, so);
    o.init = so.out_dir;
    std::cout << lm::describe(lm::init_classifier(model, *self, so.out_dir, lm::self_token_map(data.train)))
              << std::flush;
  }
  const lra::TrainResult r = lra::train(model, data, o);
  std::cout << std::fixed << std::setprecision(2) << "test accuracy " << 100 * r.test_acc
            << "% (checkpoint of step " << r.best_step << ", best validation " << 100 * r.best_val_acc
            << "%; always the majority class: " << 100 * r.majority_test_acc << "%); wrote " << o.out_dir << "/log.csv, curves.png, result.json, result.md\n";
  return kExitOk;
}

}  // namespace

int cmd_lra(const std::vector<std::string>& words) {
  const Args args = parse_args("lra", words, kLraOptions);
  std::string names;
  for (const std::string& n : lra::task_names()) names += n + ", ";
  AZ_CHECK(!args.positional.empty(), "lra: which task? (usage: attnzoo lra TASK --scheme S ...; tasks: ", names,
           "or suite)");
  const std::string task = args.positional[0];
  const auto& known = lra::task_names();
  AZ_CHECK(task == "suite" || std::find(known.begin(), known.end(), task) != known.end(), "lra: unknown task '",
           task, "' (tasks: ", names, "or suite)");
  if (task == "suite") return lra_suite(args);
  if (args.has("generate")) {
    AZ_CHECK(args.positional.size() == 1, "lra: unexpected argument '", args.positional[1], "'");
    if (task == "listops") return lra_generate_listops(args);
    if (task == "pathfinder") return lra_generate_pathfinder(args);
    AZ_FAIL("lra ", task, ": --generate applies to listops and pathfinder only");
  }
  return lra_train(args, task);
}

}  // namespace cli
