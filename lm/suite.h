// lm/suite.h — the pretraining experiments of `make lm` (`attnzoo lm suite`): every scheme as a language model on
// the same real text with the same budget, as small and as honest as the mini Long Range Arena.
//
//   1. every scheme at one context: test bits per byte of the causal LM (schemes with a causal variant) and of
//      the masked LM (every scheme), training tokens per second, peak memory of a step; the compressors gzip,
//      bzip2 and xz on the same test split as reference rows           -> results.md, results.csv
//   2. does a longer context help, and which schemes can use it? test bits per byte vs context at a fixed token
//      budget (every run reads the same number of training bytes), beside the papers' own enwik8 figures,
//      labelled as theirs                                              -> context.md, context.csv, context.png
//   3. Linformer: masked-LM bits per byte vs its projection size k at a fixed n (its paper's Figure 3 in miniature)
//                                                                       -> linformer_k.md, linformer_k.csv
//   4. the long run: can a small model beat the compressors at all? Exact attention (flash) trained on ~12M bytes
//      (about three passes over the train split, ~10 minutes here), its test bits per byte against gzip, bzip2
//      and xz on the same split                                         -> long_run.md (and runs/long/)
// Every run's own files go to OUT/runs/EXPERIMENT/NAME/ (lm/train.h). A run that fails (a scheme refusing a
// context, say) is a row that says why, not the end of the suite.
//
// Budgets: the defaults aim at `make lm` in about 45 minutes on 2 cores (~17M training bytes for the 79 comparison
// runs, at the 4-20k bytes/s the schemes train at with d_model 128, 2 layers, and ~12M for the long run). That is
// well under a minute of a small model per comparison run: enough to rank the schemes and to see the context
// effect begin, far from the papers' days of training; the long run shows where the same model goes with more.
//
// The numbers depend on this machine (tokens/s, and what fits in the time limits); bits per byte depend only on
// the budget, the seed and the thread count. The files say so.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lm/compressors.h"
#include "lm/train.h"

namespace lm {

struct SuiteOptions {
  std::string corpus = "kjv";
  std::string out_dir = "out/lm";
  attention::ModelConfig model;             // sizes (d_model, heads, layers, d_ff) of every run; scheme set per run
  int64_t tokens_per_step = 8192;           // batch · context: every run reads this many bytes per step
  // 1. every scheme at one context
  std::vector<std::string> schemes;         // empty = every registered scheme
  int64_t context = 512;
  int64_t budget_tokens = 3 << 17;          // training bytes per run (384 KiB)
  bool masked_too = true;                   // also the masked LM of every scheme
  // 2. context sweep
  std::vector<std::string> context_schemes = {"flash", "longformer", "sparse", "bigbird", "linear",
                                              "performer", "reformer", "routing"};
  std::vector<int64_t> contexts = {128, 256, 512, 1024, 2048, 4096};
  int64_t context_budget_tokens = 1 << 17;  // 128 KiB per run: 48 runs
  // 3. Linformer's k
  std::vector<int64_t> linformer_k = {16, 32, 64, 128, 256};
  int64_t linformer_n = 512;
  int64_t linformer_budget_tokens = 1 << 18;
  // 4. the long run
  std::string long_scheme = "flash";
  int64_t long_context = 256;
  int64_t long_budget_tokens = 3000 * 4096;  // 12.3M bytes: 3000 steps of 16 windows of 256
  int64_t long_tokens_per_step = 4096;
  double long_time_limit = 3600;            // seconds, 0 = none (its safety net; time_limit_per_run is too short)
  std::vector<int> experiments = {1, 2, 3, 4};
  double time_limit_per_run = 0;            // seconds, 0 = none: a safety net, said in the row when it cut a run
  uint64_t seed = 0;
  lra::ProgressMode progress = lra::ProgressMode::Auto;
};

// One training run of the suite.
struct SuiteRow {
  std::string experiment, scheme, objective;  // experiment "schemes", "context", "linformer_k"
  std::vector<std::string> settings;
  int64_t context = 0;
  std::string out_dir;                        // the run's own files
  bool ok = false;
  std::string error;                          // why not, when !ok
  TrainResult result;
};

struct SuiteResult {
  std::vector<SuiteRow> rows;
  std::vector<CompressorResult> compressors;  // on the test split, conditioned on the train split
  int64_t test_bytes = 0;
};

// Runs the experiments, printing progress, and writes every file; returns what it measured.
SuiteResult run_suite(const SuiteOptions& options);

// The files' contents (for tests).
std::string results_markdown(const SuiteResult& r, const SuiteOptions& o);
std::string results_csv(const SuiteResult& r);
std::string context_markdown(const SuiteResult& r, const SuiteOptions& o);  // with what the table shows, computed
std::string long_run_markdown(const SuiteResult& r, const SuiteOptions& o);

// The papers' own enwik8 test bits per byte, as quoted in the lessons (labelled theirs wherever shown).
struct PaperBpc {
  std::string scheme, model, source;
  double bpc;
};
const std::vector<PaperBpc>& paper_enwik8();

}  // namespace lm
