// lra/suite.h — the mini Long Range Arena suite behind `make lra` (`attnzoo lra suite`): every registered
// scheme trained on the benchmark's five tasks at sizes a 2-core machine finishes in about an hour, the
// efficiency of a training step at 1K–4K tokens, and the tables and the bubble chart of Tay et al. 2021.
//
// "Mini" means (the presets of mini_task(); the paper's setting in brackets):
//   model        d_model 64, 4 heads, 2 layers, d_ff 128, mean pool     [ListOps: 512, 8, 6, 2048; Pathfinder: 128, 8, 4, 128]
//   ListOps      generated, 25 < length <= 100 tokens (the benchmark's tree distribution, cut to short trees),
//                20 000 train / 1 000 val / 1 000 test; 1 000 steps of batch 32, lr 2e-3
//                [500 < length < 2000, 96 000 train, 5 000 steps]
//   Text         which book? (lra/books.h): a KJV passage of 512 bytes -> one of 9 book groups, 1 575 / 198 / 198;
//                200 steps of batch 16                                     [IMDb reviews at up to 4K bytes]
//   Retrieval    same book? (lra/books.h): two KJV passages of 512 bytes each, two towers; 2 000 / 400 / 400 pairs;
//                150 steps of batch 8                                      [AAN citation pairs, 2 x 4K bytes]
//   Image        Fashion-MNIST (lra/fashion.h), 784 pixels as intensity tokens, 10 classes; the first 10 000 / 500
//                / 500 images of the package's splits; 200 steps of batch 8  [grayscale CIFAR-10, 1 024 pixels]
//   Pathfinder   our generator at 16×16 pixels = 256 tokens, 8 000 train / 1 000 val / 1 000 test;
//                600 steps of batch 16, lr 2e-3                            [32×32 = 1 024 tokens, 200 epochs]
//   all          AdamW (0.9, 0.98, weight decay 0.01), lr 2e-3, 10% linear warmup then cosine to 0, gradient norm
//                clipped at 1; validation every 200 (ListOps) / 150 (Pathfinder) / 50 (the others) steps; the test
//                score of the best validation checkpoint (evaluated in batches of 100; 16 for text, retrieval and
//                image, whose long inputs make large score tensors). Schemes run with their defaults except
//                bigbird block=8 (with block=16 a query block would see 7 blocks = 112 tokens: all of a ListOps
//                sequence).
//                Text, retrieval and image need the Debian packages bible-kjv, bible-kjv-text and
//                dataset-fashion-mnist (`make lra` installs them); every task's data are loaded before the first
//                run, so a missing one stops the suite at once with one line.
//   efficiency   one training step (forward, backward, AdamW) of the same model on random tokens at n = 1024, 2048,
//                3072, 4096, batch 1: median of 5 timed steps after a warm-up, and the peak bytes of the step
//                (counting allocator: activations + gradients + temporaries; parameters excluded), relative to
//                "full" (the Transformer of the paper: materialised softmax attention).
//
// Files (DIR = out/lra by default):
//   DIR/results.md       Table 1 style: test accuracy (%) per task and their average, one row per scheme, with the
//                        reason where a scheme could not run a task
//   DIR/results.csv      the same for programs (lesson 15 reads it), header:
//                          scheme,task,status,test_acc,best_val_acc,best_step,steps,steps_per_second,peak_step_mib,seconds
//                        one row per (scheme, task); task is the SuiteTask's key: "listops", "text", "retrieval",
//                        "image", "pathfinder16" (or "text@1024", "text+pretrained" for the experiments' variants);
//                        accuracies are percentages with 2 decimals; status is "ok" or the reason the run failed
//                        (one line, quoted as core/csv.h does when it holds a comma); the numbers are empty when
//                        status is not "ok". Read it with read_results_csv().
//   DIR/results.json     {"suite": "...", "tasks": [...], "runs": [{"scheme", "task", "status", "test_acc", ...}],
//                         "efficiency": [{"scheme", "n", "status", "steps_per_second", "peak_mib"}], "seconds": ...}
//   DIR/efficiency.md    Table 2 style: steps/s and peak memory at 1K..4K, relative to full, with absolute values
//   DIR/efficiency.csv   scheme,n,status,steps_per_second,peak_mib
//   DIR/bubbles.png      x: training steps/s at n = 4096, y: average mini-suite accuracy, bubble area: peak memory
//   DIR/runs/TASK/SCHEME/{log.csv,curves.png,result.json,result.md}   every training run (see train.h)
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "lra/tasks.h"
#include "lra/train.h"
#include "plot/plot.h"

namespace lra {

// One task of the suite: where its data come from and how a model is trained on it.
struct SuiteTask {
  std::string title;     // the column header: "ListOps", "Pathfinder"
  std::string key;       // its name in results.csv/json and runs/KEY/SCHEME/: data.task ("listops",
                         // "pathfinder16"), or e.g. "text+pretrained" for a fine-tuned variant of a task
  TaskOptions data;
  TrainOptions train;    // model size and optimisation; model.scheme/set are filled in per scheme
  int64_t self_pretrain_steps = 0;  // > 0: every run first self-pretrains (SuiteOptions::self_pretrain) that long
  int64_t loaded[3] = {-1, -1, -1};  // train/val/test examples the suite actually loaded (-1: not yet); fewer
                                     // than data.n_* asked when a task keeps its classes balanced
  bool pretrained = false;  // every run starts from SuiteOptions::init's model (fine-tuning; byte tasks only):
                            // the one in train.init, where "{scheme}" stands for the run's scheme (each scheme
                            // fine-tuned from a model pretrained with its own attention)
};

// The mini presets: "listops", "pathfinder" (= "pathfinder16"), "pathfinder32" (the benchmark's 32x32 = 1 024
// tokens, same budget as 16x16: for the schemes that afford it), and the offline real-data tasks "text" (which
// book? at 512 bytes), "retrieval" (same book? at 2 x 512 bytes) and "image" (Fashion-MNIST, 784 pixels, 10 000
// train images). Throws core::Error for other tasks.
SuiteTask mini_task(const std::string& task);

// The pretrained model a run of `scheme` starts from: `pattern` with every "{scheme}" replaced by the scheme's
// name ("out/lm/runs/schemes/{scheme}_mlm_n512" -> ".../linear_mlm_n512"); a pattern without one is one model for all.
std::string model_dir_for(const std::string& pattern, const std::string& scheme);
std::vector<SuiteTask> mini_tasks();  // listops, pathfinder16: the two generated tasks (`lra suite --tasks
                                      // listops,pathfinder`; what `make lra` ran before the offline data)
std::vector<SuiteTask> five_tasks();  // the benchmark's five: listops, text, retrieval, image, pathfinder16 —
                                      // what `make lra` runs
// The settings the mini suite gives a scheme (e.g. {"block=8"} for bigbird); empty = its defaults.
// The scheme's preset for the mini suite: SchemeInfo::lra_settings, declared in the scheme's own file.
std::vector<std::string> mini_settings(const std::string& scheme);

// ---- efficiency (Table 2) -----------------------------------------------------------------------------------

struct EfficiencyOptions {
  std::vector<std::string> schemes;              // empty = every registered scheme
  std::vector<int64_t> lengths = {1024, 2048, 3072, 4096};
  attention::ModelConfig model;                  // scheme/set are filled in per scheme; vocab 256
  int64_t batch = 1;
  int repeats = 5;                               // timed steps (median), after one warm-up step
  bool use_mini_settings = true;                 // give each scheme mini_settings(scheme)
  uint64_t seed = 0;
  std::ostream* progress = nullptr;              // one line per point (nullptr: quiet)
};

struct EfficiencyPoint {
  std::string scheme;
  int64_t n = 0;
  std::string status = "ok";   // or why the point was not measured
  double steps_per_second = 0;
  double peak_mib = 0;         // peak bytes of one training step above what was live before it, MiB
};

// One training step of EfficiencyOptions::model per (scheme, n), timed; a scheme that throws gets its message
// as the status, the others go on.
std::vector<EfficiencyPoint> measure_efficiency(const EfficiencyOptions& options);

// ---- the suite ---------------------------------------------------------------------------------------------

struct SuiteOptions {
  std::vector<std::string> schemes;   // empty = every registered scheme (attention::all_schemes())
  std::vector<SuiteTask> tasks = five_tasks();
  EfficiencyOptions efficiency;       // efficiency.schemes is set to `schemes`
  bool run_efficiency = true;
  std::string out_dir = "out/lra";    // empty = write nothing
  double time_limit_per_run = 0;      // seconds; > 0: TrainOptions::time_limit of every run
  ProgressMode progress = ProgressMode::Auto;  // of each training run
  std::ostream* log = nullptr;        // suite progress lines (which run, ETA); default std::cout
  // Fine-tuning: for a task with `pretrained`, each run's fresh classifier is handed to `init` with the model
  // directory (train.init, "{scheme}" replaced) before training; it loads the pretrained encoder into the
  // classifier and returns a few lines for the log. lra/ sits below lm/, so the caller supplies it
  // (`attnzoo lra suite --init DIR`: lm::init_classifier; see lm/finetune.h).
  std::function<std::string(Classifier& model, const std::string& dir)> init;
  // Self-pretraining ("never train from scratch"): for a task with self_pretrain_steps > 0, each run's fresh
  // classifier is handed to `self_pretrain` with the training split, the run's options (run.init: where the LM is
  // to be written, RUN_DIR/self_lm, or empty; seed, batch) and the steps to use; it trains an LM on the training
  // inputs, loads it into the classifier and returns lines for the log
  // (`attnzoo lra suite --self-pretrain N`: lm::self_pretrain; see lm/finetune.h).
  std::function<std::string(Classifier& model, const Dataset& train, const TrainOptions& run, int64_t steps)>
      self_pretrain;
};

struct SuiteRun {
  std::string scheme, task, title;  // task: SuiteTask::key
  std::string status = "ok";  // or the one-line reason the scheme could not run the task
  TrainResult result;         // valid when status == "ok"
};

struct SuiteResult {
  std::vector<std::string> schemes;          // in course order
  std::vector<SuiteTask> tasks;
  std::vector<SuiteRun> runs;                // task-major: every scheme on task 0, then on task 1
  std::vector<EfficiencyPoint> efficiency;
  double seconds = 0;
  const SuiteRun* find(const std::string& scheme, const std::string& task) const;
  // Mean test accuracy (fraction) over the tasks the scheme ran; NaN if it ran none.
  double average(const std::string& scheme) const;
};

SuiteResult run_suite(const SuiteOptions& options);

// What "mini" means, one paragraph of markdown (written above the tables).
std::string suite_description(const std::vector<SuiteTask>& tasks);
std::string results_markdown(const SuiteResult& r);
std::string results_csv(const SuiteResult& r);
std::string results_json(const SuiteResult& r);
std::string efficiency_markdown(const std::vector<EfficiencyPoint>& points, const EfficiencyOptions& options);
std::string efficiency_csv(const std::vector<EfficiencyPoint>& points);
// Speed–accuracy–memory: one circle per scheme that has both an accuracy and a measurement at the largest n;
// area proportional to peak memory; labelled; axes, title and a legend of bubble sizes.
plot::Image bubble_chart(const SuiteResult& r);
// Writes every file listed at the top (except the per-run files, written as the runs finish).
void write_suite_files(const SuiteResult& r, const SuiteOptions& options);

// ---- reading results back (lesson 15) -----------------------------------------------------------------------

struct ResultRow {
  std::string scheme, task, status;
  double test_acc = 0, best_val_acc = 0;  // percent
  int64_t best_step = 0, steps = 0;
  double steps_per_second = 0, peak_step_mib = 0, seconds = 0;
};
// Parses results.csv. Throws core::Error "lra: PATH:LINE: ..." on a malformed file, "lra: missing PATH" if absent.
std::vector<ResultRow> read_results_csv(const std::string& path);

}  // namespace lra
