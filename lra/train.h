// lra/train.h — training and evaluating a Transformer classifier with any attention scheme on a Long Range
// Arena task: the models, the training loop (AdamW, warmup + cosine, gradient clipping), evaluation every K steps,
// the test score of the BEST validation checkpoint, a progress line, and the run's files (log, curves, result).
//
//   lra::TaskOptions t;  t.task = "listops";  t.max_len = 128;  t.n_train = 4000;
//   lra::Splits data = lra::load_task(t);
//   lra::TrainOptions o;
//   o.model.scheme = "performer";  o.model.set = {"features=64"};  // any registered scheme, any key=value
//   o.steps = 600;  o.eval_every = 100;  o.out_dir = "out/lra/performer_listops";
//   lra::TrainResult r = lra::train(data, o);                    // prints progress, writes out_dir/*
//   std::cout << r.test_acc << " at step " << r.best_step;      // test accuracy of the best-validation checkpoint
//
// The model (lra::Classifier) is the Transformer classifier of attention/transformer.h: for single-sequence tasks an
// attention::SequenceClassifier (token + position embeddings, pre-LN blocks with the chosen scheme, mean pool over
// the real tokens, linear head); for pair tasks (Retrieval) a PairClassifier: both documents go through ONE shared
// attention::Encoder ("two towers" with shared weights), are mean-pooled to X1, X2 (B, d) and classified by an MLP
// on [X1, X2, X1·X2, X1−X2] (B, 4d), as in LRA.
//
// Optimisation: AdamW (betas 0.9/0.98, weight decay on every parameter), learning rate warmed up linearly over
// `warmup` steps then decayed along a cosine to min_lr at `steps`, gradients clipped to a joint L2 norm of
// clip_norm. Evaluation: on the validation split every eval_every steps and at the last step. The parameters at the
// best validation accuracy are copied (a Checkpoint: deep copies of every parameter plus every buffer, the
// non-parameter state that some layers keep, e.g. routing's k-means centroids) and the test split is evaluated with THEM, not with
// the last parameters — the LRA repository evaluated the last checkpoint, a known complaint. Ties keep the
// earlier step. The last model's test accuracy is reported too (test_acc_last), so the difference is visible.
//
// Reproducible: the same data, options and seed give the same losses and accuracies, step by step, on the same
// machine and thread count (the seconds column of course differs).
//
// Files written to out_dir (when it is not empty; the directory is created):
//   log.csv      header "step,loss,train_acc,val_acc,lr,seconds"; one row every log_every steps: the mean training
//                loss and accuracy over the steps since the previous row, the validation accuracy where it was
//                evaluated at that step (empty otherwise), the learning rate of that step, wall seconds since the
//                start. Accuracies are fractions in [0, 1].
//   curves.png   two panels: training loss vs step; training and validation accuracy vs step (best step marked).
//   result.json  the TrainResult's numbers (task, scheme, settings, accuracies, best_step, steps/s, memory, ...).
//   result.md    the same as a small markdown table, for humans.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "attention/transformer.h"
#include "lra/dataset.h"
#include "lra/progress.h"  // ProgressMode
#include "plot/plot.h"
#include "core/nn.h"

namespace lra {

using core::IntTensor;
using core::Tensor;

// ---- models ------------------------------------------------------------------------------------------------

// Masked mean over the sequence: h (B, n, d), mask (B, n) 1 = token -> (B, d). An undefined mask means all tokens.
Tensor masked_mean(const Tensor& h, const Tensor& mask);

// The LRA dual encoder: one shared encoder for both documents, then MLP([X1, X2, X1·X2, X1−X2]) -> classes.
class PairClassifier : public core::nn::Module {
 public:
  // head_hidden: width of the MLP's hidden layer (0 = d_model).
  PairClassifier(const attention::ModelConfig& cfg, int64_t num_classes, int64_t head_hidden = 0);
  // ids1 (B, n1), mask1 (B, n1), ids2 (B, n2), mask2 (B, n2) -> logits (B, num_classes)
  Tensor forward(const IntTensor& ids1, const Tensor& mask1, const IntTensor& ids2, const Tensor& mask2);
  attention::Encoder encoder;
  core::nn::MLP head;  // 4·d_model -> head_hidden -> num_classes
};

// The classifier a dataset needs. cfg.vocab and cfg.max_len are replaced by the dataset's.
class Classifier : public core::nn::Module {
 public:
  Classifier(attention::ModelConfig cfg, const Dataset& data);
  Tensor forward(const Batch& batch);  // logits (B, num_classes)
  bool is_pair() const { return pair != nullptr; }
  attention::Encoder& encoder();       // the (shared) encoder
  attention::ModelConfig config;       // as used (vocab, max_len from the data)
  int64_t num_classes;
  std::unique_ptr<attention::SequenceClassifier> single;  // single-sequence tasks
  std::unique_ptr<PairClassifier> pair;                   // pair tasks
};

// ---- evaluation and checkpoints ----------------------------------------------------------------------------

struct EvalResult {
  double accuracy = 0;  // fraction correct, in [0, 1]
  double loss = 0;      // mean cross-entropy
  int64_t examples = 0;
};
// The model in eval mode, without a graph, over `data` (the first max_examples of it if > 0), in batches.
// Restores the model's training flag afterwards.
EvalResult evaluate(Classifier& model, const Dataset& data, int64_t batch_size = 64, const BatchOptions& batching = {},
                    int64_t max_examples = 0);

// A deep copy of a model's state: every named parameter and every named buffer (the state layers keep besides
// their parameters, e.g. routing's k-means centroids and fitted flag), cloned. restore() writes it back by name
// into the same model (or one of the same architecture): a name missing on either side or a shape that differs is
// a core::Error naming it. Nothing here knows any scheme's layer.
class Checkpoint {
 public:
  static Checkpoint capture(const core::nn::Module& model);
  void restore(core::nn::Module& model) const;  // core::nn::load_exact (core/state.h)
  bool empty() const { return state_.empty(); }

 private:
  std::vector<std::pair<std::string, Tensor>> state_;  // parameters, then buffers (core::nn::state_of)
};

// ---- training ----------------------------------------------------------------------------------------------

// One row of the log (see log.csv above). val_acc is NaN where the validation split was not evaluated.
struct LogRow {
  int64_t step = 0;  // 1-based: the row after the step-th optimiser step
  double loss = 0, train_acc = 0, val_acc = 0, lr = 0, seconds = 0;
};

struct TrainOptions {
  attention::ModelConfig model;  // scheme, set (key=value), d_model, n_heads, n_layers, d_ff, dropout;
                                 // vocab/max_len come from the data, seed from `seed` below
  int64_t steps = 1000;          // optimiser steps
  int64_t batch_size = 32;
  float lr = 1e-3f;              // peak learning rate
  float min_lr = 0.0f;           // at the end of the cosine
  int64_t warmup = -1;           // steps of linear warmup; -1 = steps / 10
  float weight_decay = 0.01f;
  float beta1 = 0.9f, beta2 = 0.98f;
  float clip_norm = 1.0f;        // joint gradient L2 norm cap; 0 = no clipping
  int64_t eval_every = 100;      // validation every K steps and at the last step
  int64_t eval_batch = 64;
  int64_t max_eval = 0;          // > 0: evaluate validation on its first max_eval examples only (test: all)
  int64_t log_every = 0;         // a log row every N steps; 0 = max(1, eval_every / 4)
  BatchOptions batching;         // padding of every batch (e.g. multiple_of for block schemes)
  uint64_t seed = 0;             // parameters, scheme randomness, dropout, batch order
  double time_limit = 0;         // seconds; > 0: stop training after the step that crosses it (then evaluate)

  std::string init;              // for the record (result.json "init"): the pretrained model the caller loaded
                                 // into the encoder before training (lm::init_classifier); empty = from scratch

  // Output.
  std::string out_dir;           // log.csv, curves.png, result.json, result.md; empty = write nothing
  std::string label;             // what the progress line starts with, e.g. "[3/28] linear listops"
  ProgressMode progress = ProgressMode::Auto;
  std::ostream* progress_stream = nullptr;  // default std::cout
  int64_t progress_every = 0;    // Lines mode: a line every N steps; 0 = every log row (log_every)

  // Hooks (lessons, tests). after_step runs after each optimiser step (and before that step's evaluation):
  // a test can, e.g., damage the parameters after step k to make validation accuracy drop.
  std::function<void(int64_t step, Classifier& model)> after_step;
  std::function<void(const LogRow& row)> on_log;  // each log row as it is made
};

struct TrainResult {
  std::string task, scheme;
  std::vector<std::string> settings;  // the scheme's key=value settings as given
  std::string init;                   // TrainOptions::init: the pretrained model's directory, or empty (scratch)
  int64_t steps = 0;                  // optimiser steps done (< requested when time_limit stopped it)
  int64_t steps_requested = 0;
  bool stopped_by_time_limit = false;
  int64_t parameters = 0;
  double best_val_acc = 0;            // best validation accuracy seen
  int64_t best_step = 0;              // the step it was seen at (the checkpoint test_acc comes from)
  double test_acc = 0;                // test accuracy of the best-validation checkpoint: THE score
  double test_acc_last = 0;           // test accuracy of the last parameters (for comparison only)
  double last_val_acc = 0;            // validation accuracy at the last step
  double majority_test_acc = 0;       // baseline: always the most frequent training label, on the test split
  double final_train_loss = 0;        // mean training loss over the last log interval
  double steps_per_second = 0;        // optimiser steps per second of training time (evaluation excluded)
  double peak_step_mib = 0;           // peak memory of a training step above what was live before it: activations,
                                      // gradients and optimiser temporaries (MiB, counting allocator), max over steps
  double train_seconds = 0;           // training steps only
  double seconds = 0;                 // everything: training, evaluations, test
  std::vector<LogRow> log;
};

// Trains a new Classifier for data.train, evaluating on data.val and data.test. Throws core::Error with one line
// on bad options (unknown scheme or setting, empty splits, steps < 1, ...), before any training.
TrainResult train(const Splits& data, const TrainOptions& options);

// The same, on a model the caller built (e.g. to inspect it afterwards). The model ends with the BEST checkpoint's
// parameters loaded (the ones test_acc was measured with).
TrainResult train(Classifier& model, const Splits& data, const TrainOptions& options);

// ---- files -------------------------------------------------------------------------------------------------

std::string log_csv(const TrainResult& r);     // the contents of log.csv
std::string result_json(const TrainResult& r); // the contents of result.json
std::string result_markdown(const TrainResult& r);
// Loss and accuracy curves side by side, titled with the task and scheme.
plot::Image curves_image(const TrainResult& r);
// Writes DIR/log.csv, DIR/curves.png, DIR/result.json and DIR/result.md (creating DIR).
void write_run_files(const TrainResult& r, const std::string& dir);

// "1h02m", "3m05s", "12s": for ETAs and reports.
std::string format_duration(double seconds);

}  // namespace lra
