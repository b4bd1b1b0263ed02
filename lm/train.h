// lm/train.h — pretraining a byte-level language model (lm/model.h) on real text, with the habits of the Long
// Range Arena's trainer (lra/train.h): AdamW, linear warmup + cosine decay, gradient clipping, validation every K
// steps, the best checkpoint kept for the test, a progress line with tokens/s and an ETA, and the run's files.
//
//   corpora::Corpus c = corpora::load_corpus("kjv");
//   corpora::TextSplits s = corpora::split(c.text);
//   lm::TrainOptions o;
//   o.lm.model.scheme = "longformer";  o.lm.model.set = {"window=32"};  o.lm.context = 512;
//   o.steps = 2000;  o.out_dir = "out/lm/longformer";
//   lm::TrainResult r = lm::train(s, c, o);    // prints progress, writes out_dir/*
//   std::cout << r.test_bpc;                    // bits per byte on the test split, best-validation checkpoint
//
// Files written to out_dir (when not empty):
//   model.safetensors  the best-validation parameters (and buffers), float32, named as in named_parameters()
//   config.json        what rebuilds the model: scheme, settings, sizes, objective, context, corpus and split
//   result.json        test_bpc, valid_bpc, tokens_per_s, peak_bytes, steps, ... (see TrainResult)
//   log.csv            "step,train_bpc,valid_bpc,lr,tokens,seconds": a row every log_every steps
//   curves.png         training and validation bits per byte vs step, the best step marked
//
// Reproducible: the same text, options and seed give the same losses step by step on the same machine.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "corpora/corpus.h"
#include "lm/model.h"
#include "lra/train.h"  // ProgressMode, format_duration, Checkpoint

namespace lm {

struct TrainOptions {
  LMConfig lm;                   // the model and its objective (causal or masked), context n
  int64_t steps = 1000;
  int64_t batch_size = 16;       // windows per step: batch_size · n bytes
  float lr = 2e-3f;              // peak learning rate
  float min_lr = 1e-4f;
  int64_t warmup = -1;           // -1 = steps / 10
  float weight_decay = 0.01f;
  float clip_norm = 1.0f;
  int64_t eval_every = 200;      // validation every K steps and at the last step
  int64_t eval_bytes = 1 << 17;  // validation during training reads the first eval_bytes of valid (test: all)
  int64_t log_every = 0;         // 0 = max(1, eval_every / 4)
  uint64_t seed = 0;
  double time_limit = 0;         // seconds; > 0 stops after the step that crosses it

  std::string out_dir;
  std::string label;             // what the progress line starts with
  lra::ProgressMode progress = lra::ProgressMode::Auto;
  std::ostream* progress_stream = nullptr;
};

struct LogRow {
  int64_t step = 0;
  double train_bpc = 0, valid_bpc = 0, lr = 0, seconds = 0;  // valid_bpc NaN where not evaluated
  int64_t tokens = 0;                                       // bytes read by training so far
};

struct TrainResult {
  std::string corpus, scheme, objective;  // objective: "causal" or "masked"
  std::vector<std::string> settings;
  int64_t context = 0, steps = 0, steps_requested = 0, parameters = 0;
  bool stopped_by_time_limit = false;
  double best_valid_bpc = 0;    // on the first eval_bytes of valid
  int64_t best_step = 0;
  double valid_bpc = 0;         // best checkpoint, the whole valid split
  double test_bpc = 0;          // best checkpoint, the whole test split: THE score
  double test_bpc_last = 0;     // last parameters, test split
  double tokens_per_s = 0;      // training bytes per second of training time
  int64_t peak_bytes = 0;       // peak memory of a training step above what was live before it
  double train_seconds = 0, seconds = 0;
  std::vector<LogRow> log;
};

// Trains a new ByteLM on splits.train; validates on splits.valid; tests on splits.test. `corpus` names the text in
// config.json and the reports. Throws core::Error (one line) on bad options before any training.
TrainResult train(const corpora::TextSplits& splits, const corpora::Corpus& corpus, const TrainOptions& options);
TrainResult train(ByteLM& model, const corpora::TextSplits& splits, const corpora::Corpus& corpus,
                  const TrainOptions& options);

// Files.
std::string config_json(const ByteLM& model, const corpora::Corpus& corpus, const corpora::TextSplits& splits,
                        const TrainOptions& o);
std::string result_json(const TrainResult& r);
std::string log_csv(const TrainResult& r);
plot::Image curves_image(const TrainResult& r);
// model.safetensors: the parameters and buffers of `model`, with config.json's text in the metadata.
void save_model(const ByteLM& model, const std::string& path, const std::string& config_json_text);
// Rebuilds the model config.json describes and loads model.safetensors into it (DIR = the run's out_dir).
// Throws core::Error (one line) on a missing file, a malformed config or a tensor that does not match.
std::unique_ptr<ByteLM> load_model(const std::string& dir);

}  // namespace lm
