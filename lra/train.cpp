// lra/train.cpp — see train.h: the LRA models, evaluation, best-checkpoint training, progress and run files.
//
// Legend: B = batch, n = sequence length (n1, n2 for the two documents of a pair), d = d_model, C = classes.
#include "lra/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>

#include "lra/files.h"
#include "core/core.h"
#include "core/state.h"

namespace lra {

using namespace core;
using files::json_num;
using files::json_str;

// ---- models ------------------------------------------------------------------------------------------------

Tensor masked_mean(const Tensor& h, const Tensor& mask) {
  AZ_CHECK(h.dim() == 3, "masked_mean: h must be (B, n, d), got ", h.shape());
  if (!mask.defined()) return mean(h, 1);  // (B, d)
  AZ_CHECK(mask.dim() == 2 && mask.size(0) == h.size(0) && mask.size(1) == h.size(1), "masked_mean: mask ",
           mask.shape(), " does not match h ", h.shape());
  // sum(h * mask) / count, count guarded so that an all-padding row gives 0, not NaN
  const Tensor m = unsqueeze(mask, -1);                             // (B, n, 1)
  return sum(h * m, 1) / add(sum(mask, 1, true), 1e-6f);             // (B, d)
}

PairClassifier::PairClassifier(const attention::ModelConfig& cfg, int64_t num_classes, int64_t head_hidden)
    : encoder(cfg),
      head(4 * cfg.d_model, head_hidden > 0 ? head_hidden : cfg.d_model, num_classes, encoder.rng) {
  register_module("encoder", encoder);
  register_module("head", head);
}

Tensor PairClassifier::forward(const IntTensor& ids1, const Tensor& mask1, const IntTensor& ids2, const Tensor& mask2) {
  AZ_CHECK(ids1.dim() == 2 && ids2.dim() == 2 && ids1.shape[0] == ids2.shape[0],
           "PairClassifier: ids1 and ids2 must be (B, n1) and (B, n2) with the same B, got ", ids1.shape, " and ",
           ids2.shape);
  const Tensor x1 = masked_mean(encoder.forward(ids1, mask1), mask1);  // (B, d) — the same encoder ...
  const Tensor x2 = masked_mean(encoder.forward(ids2, mask2), mask2);  // (B, d) — ... for both towers
  const Tensor features = concat({x1, x2, x1 * x2, x1 - x2}, 1);      // (B, 4d)
  return head.forward(features);                                      // (B, C)
}

namespace {
attention::ModelConfig config_for(attention::ModelConfig cfg, const Dataset& data) {
  AZ_CHECK(data.vocab >= 1 && data.num_classes >= 2 && data.max_len >= 1, "lra model: dataset '", data.task,
           "' needs vocab >= 1, num_classes >= 2 and max_len >= 1, got ", data.vocab, ", ", data.num_classes, ", ",
           data.max_len);
  cfg.vocab = data.vocab;
  cfg.max_len = data.max_len;
  return cfg;
}
}  // namespace

Classifier::Classifier(attention::ModelConfig cfg, const Dataset& data)
    : config(config_for(std::move(cfg), data)), num_classes(data.num_classes) {
  if (data.pair) {
    pair = std::make_unique<PairClassifier>(config, num_classes);
    register_module("pair", *pair);
  } else {
    single = std::make_unique<attention::SequenceClassifier>(config, num_classes);
    register_module("single", *single);
  }
}

Tensor Classifier::forward(const Batch& batch) {
  if (pair) {
    AZ_CHECK(batch.ids2.dim() == 2, "lra model: a pair task needs batches with ids2 (the second documents)");
    return pair->forward(batch.ids, batch.mask, batch.ids2, batch.mask2);
  }
  return single->forward(batch.ids, batch.mask);  // (B, C)
}

attention::Encoder& Classifier::encoder() { return pair ? pair->encoder : single->encoder; }

// ---- evaluation ----------------------------------------------------------------------------------------------

namespace {

// Correct predictions among the rows of logits (B, C): argmax (first maximum) == label.
int64_t count_correct(const Tensor& logits, const IntTensor& labels) {
  const int64_t B = logits.size(0), C = logits.size(1);
  const float* p = logits.data();
  int64_t correct = 0;
  for (int64_t b = 0; b < B; ++b) {
    const float* row = p + b * C;
    const int64_t pred = std::max_element(row, row + C) - row;
    correct += pred == labels.data[static_cast<size_t>(b)];
  }
  return correct;
}

// Sets the model's training flag for a scope and puts the old one back.
class ModeScope {
 public:
  ModeScope(core::nn::Module& m, bool training) : m_(m), old_(m.training()) { m_.train(training); }
  ~ModeScope() { m_.train(old_); }

 private:
  core::nn::Module& m_;
  bool old_;
};

}  // namespace

EvalResult evaluate(Classifier& model, const Dataset& data, int64_t batch_size, const BatchOptions& batching,
                    int64_t max_examples) {
  AZ_CHECK(batch_size >= 1, "evaluate: batch_size must be >= 1, got ", batch_size);
  const int64_t n = max_examples > 0 ? std::min(max_examples, data.size()) : data.size();
  AZ_CHECK(n > 0, "evaluate: dataset '", data.task, "' is empty");
  ModeScope eval_mode(model, false);
  NoGradGuard no_grad;
  EvalResult r;
  double loss_sum = 0;
  int64_t correct = 0;
  for (const std::vector<int64_t>& idx : batch_indices(n, batch_size)) {
    const Batch b = make_batch(data, idx, batching);
    const Tensor logits = model.forward(b);  // (B, C)
    loss_sum += static_cast<double>(cross_entropy(logits, b.labels).item()) * b.size();
    correct += count_correct(logits, b.labels);
  }
  r.examples = n;
  r.accuracy = static_cast<double>(correct) / n;
  r.loss = loss_sum / n;
  return r;
}

// ---- checkpoints ---------------------------------------------------------------------------------------------

Checkpoint Checkpoint::capture(const core::nn::Module& model) {
  Checkpoint c;
  c.state_ = core::nn::copy_of(core::nn::state_of(model));
  return c;
}

void Checkpoint::restore(core::nn::Module& model) const { core::nn::load_exact(model, state_, "Checkpoint"); }

// ---- progress ------------------------------------------------------------------------------------------------

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

namespace {

std::string percent(double fraction) {
  if (!std::isfinite(fraction)) return "  -  ";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%5.1f%%", 100.0 * fraction);
  return buf;
}

// The running loss, or a dash before the first log row has measured one (not "nan").
std::string loss_text(double loss) {
  if (!std::isfinite(loss)) return "  \u2013  ";  // "–", as wide as "0.693"
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", loss);
  return buf;
}

// The trainer's progress text (step, loss, accuracy, validation, rate, ETA, and a bar when it is drawn in place),
// shown by a ProgressLine (lra/progress.h).
class ProgressPrinter {
 public:
  ProgressPrinter(const TrainOptions& o)
      : line_(o.progress, o.progress_stream, o.label, o.steps,
              // Lines (a file, a pipe, CI): one line per log row, so the file shows the run as the log.csv does.
              o.progress_every > 0 ? o.progress_every
              : o.log_every > 0    ? o.log_every
                                   : std::max<int64_t>(1, o.eval_every / 4)),
        total_(o.steps) {}

  // step: steps done; loss/acc: running means; val: the last validation accuracy (NaN before the first);
  // rate: steps per wall second so far (evaluations included, for the ETA).
  void update(int64_t step, double loss, double acc, double val, double best, int64_t best_step, double rate,
              bool evaluated) {
    if (!line_.shows(step, evaluated)) return;
    std::ostringstream text;
    if (line_.mode() == ProgressMode::Bar) {
      const int width = 20;
      const int filled = static_cast<int>(width * step / std::max<int64_t>(total_, 1));
      text << "[" << std::string(filled, '#') << std::string(width - filled, '.') << "] ";
    }
    const int digits = static_cast<int>(std::to_string(total_).size());
    text << "step " << std::setw(digits) << step << "/" << total_ << std::fixed << std::setprecision(3)
         << "  loss " << loss_text(loss) << "  acc " << percent(acc) << "  val " << percent(val);
    if (best_step > 0) text << " (best " << percent(best) << " @" << best_step << ")";
    text << std::setprecision(1) << "  " << rate << " steps/s  ETA "
         << format_duration(rate > 0 ? (total_ - step) / rate : NAN);
    line_.update(step, text.str(), evaluated);
  }
  void note(const std::string& text) { line_.note(text); }
  void finish_bar() { line_.finish(); }

 private:
  ProgressLine line_;
  int64_t total_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void check_split(const Dataset& d, const char* which) {
  AZ_CHECK(d.size() > 0, "lra train: the ", which, " split of '", d.task, "' is empty");
  d.check();
}

}  // namespace

// ---- training --------------------------------------------------------------------------------------------------

TrainResult train(const Splits& data, const TrainOptions& options) {
  check_split(data.train, "train");
  attention::ModelConfig cfg = options.model;
  cfg.seed = options.seed;
  Classifier model(cfg, data.train);
  return train(model, data, options);
}

TrainResult train(Classifier& model, const Splits& data, const TrainOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  // 1. Check everything before the first step.
  AZ_CHECK(o.steps >= 1, "lra train: steps must be >= 1, got ", o.steps);
  AZ_CHECK(o.batch_size >= 1 && o.eval_batch >= 1, "lra train: batch sizes must be >= 1, got ", o.batch_size,
           " and ", o.eval_batch);
  AZ_CHECK(o.eval_every >= 1, "lra train: eval_every must be >= 1, got ", o.eval_every);
  AZ_CHECK(o.lr > 0 && o.min_lr >= 0 && o.min_lr <= o.lr, "lra train: need 0 <= min_lr <= lr and lr > 0, got lr=",
           o.lr, " min_lr=", o.min_lr);
  AZ_CHECK(o.clip_norm >= 0 && o.weight_decay >= 0, "lra train: clip_norm and weight_decay must be >= 0");
  check_split(data.train, "train");
  check_split(data.val, "val");
  check_split(data.test, "test");
  AZ_CHECK(data.train.pair == data.val.pair && data.train.pair == data.test.pair && data.train.pair == model.is_pair(),
           "lra train: the splits and the model disagree on whether the task is a pair task");
  for (const Dataset* d : {&data.val, &data.test})
    AZ_CHECK(d->longest() <= model.config.max_len, "lra train: split '", d->task, "' has a sequence of ",
             d->longest(), " tokens, longer than the model's max_len ", model.config.max_len);
  const int64_t warmup = o.warmup >= 0 ? std::min(o.warmup, o.steps) : o.steps / 10;
  const int64_t log_every = o.log_every > 0 ? o.log_every : std::max<int64_t>(1, o.eval_every / 4);

  TrainResult r;
  r.task = data.train.task;
  r.scheme = model.config.scheme;
  r.settings = model.config.set;
  r.init = o.init;
  r.steps_requested = o.steps;
  r.parameters = model.num_parameters();
  {
    const std::vector<int64_t> counts = data.train.label_counts();
    const int64_t majority = std::max_element(counts.begin(), counts.end()) - counts.begin();
    r.majority_test_acc = static_cast<double>(std::count(data.test.labels.begin(), data.test.labels.end(), majority)) /
                          data.test.size();
  }

  const std::vector<Tensor> params = model.parameters();
  optim::AdamW opt(params, o.lr, o.beta1, o.beta2, 1e-8f, o.weight_decay);
  const optim::WarmupCosine schedule(o.lr, warmup, o.steps, o.min_lr);
  BatchStream stream(data.train, o.batch_size, o.seed ^ 0x6261746368ULL, o.batching);
  ProgressPrinter progress(o);

  Checkpoint best;
  double best_val = -1;
  double last_val = std::numeric_limits<double>::quiet_NaN();
  double train_seconds = 0;
  double peak_first_step = 0, peak_later = 0;
  double loss_sum = 0;  // since the last log row
  int64_t correct = 0, seen = 0, steps_in_row = 0;
  double running_loss = NAN, running_acc = NAN;  // over the last log interval, for the progress line

  // 2. Train.
  model.train();
  int64_t step = 0;
  while (step < o.steps) {
    const float lr = schedule.lr(step);
    opt.set_lr(lr);
    ++step;
    const auto t0 = std::chrono::steady_clock::now();
    const Batch batch = stream.next();
    double loss_value;
    {
      memory::PeakScope peak;
      const Tensor logits = model.forward(batch);                // (B, C)
      const Tensor loss = cross_entropy(logits, batch.labels);   // ()
      loss.backward();
      if (o.clip_norm > 0) optim::clip_grad_norm(params, o.clip_norm);
      opt.step();
      const double mib = static_cast<double>(peak.peak_above_start()) / (1024.0 * 1024.0);
      if (step == 1) peak_first_step = mib;
      else peak_later = std::max(peak_later, mib);
      opt.zero_grad();
      loss_value = loss.item();
      correct += count_correct(logits, batch.labels);
    }
    train_seconds += seconds_since(t0);
    AZ_CHECK(std::isfinite(loss_value), "lra train: ", r.scheme, " on ", r.task, ": the loss is ", loss_value,
             " at step ", step, " (try a smaller --lr)");
    loss_sum += loss_value;
    seen += batch.size();
    ++steps_in_row;
    if (o.after_step) o.after_step(step, model);

    const bool out_of_time = o.time_limit > 0 && seconds_since(t_start) >= o.time_limit && step < o.steps;
    const bool last = step == o.steps || out_of_time;
    const bool do_eval = step % o.eval_every == 0 || last;
    double val = std::numeric_limits<double>::quiet_NaN();
    if (do_eval) {
      val = evaluate(model, data.val, o.eval_batch, o.batching, o.max_eval).accuracy;
      last_val = val;
      if (val > best_val) {  // strictly better: ties keep the earlier checkpoint
        best_val = val;
        r.best_step = step;
        best = Checkpoint::capture(model);
      }
    }
    if (step % log_every == 0 || do_eval || last) {
      LogRow row;
      row.step = step;
      row.loss = loss_sum / steps_in_row;
      row.train_acc = static_cast<double>(correct) / std::max<int64_t>(seen, 1);
      row.val_acc = val;
      row.lr = lr;
      row.seconds = seconds_since(t_start);
      r.log.push_back(row);
      if (o.on_log) o.on_log(row);
      running_loss = row.loss;
      running_acc = row.train_acc;
      loss_sum = 0;
      correct = seen = steps_in_row = 0;
    }
    progress.update(step, running_loss, running_acc, last_val, best_val, r.best_step,
                    step / std::max(seconds_since(t_start), 1e-9), do_eval);
    if (out_of_time) {
      r.stopped_by_time_limit = true;
      progress.note("stopped at step " + std::to_string(step) + " of " + std::to_string(o.steps) +
                    ": time limit of " + format_duration(o.time_limit) + " reached");
      break;
    }
  }
  progress.finish_bar();

  // 3. Test: the last parameters (for comparison), then the best checkpoint's (the score).
  r.steps = step;
  r.last_val_acc = last_val;
  r.best_val_acc = best_val;
  r.final_train_loss = r.log.empty() ? NAN : r.log.back().loss;
  r.test_acc_last = evaluate(model, data.test, o.eval_batch, o.batching).accuracy;
  if (r.best_step == step) {
    r.test_acc = r.test_acc_last;
  } else {
    best.restore(model);
    r.test_acc = evaluate(model, data.test, o.eval_batch, o.batching).accuracy;
  }
  r.train_seconds = train_seconds;
  r.steps_per_second = step / std::max(train_seconds, 1e-9);
  r.peak_step_mib = step > 1 ? peak_later : peak_first_step;  // step 1 also allocates AdamW's moments
  r.seconds = seconds_since(t_start);
  if (o.progress != ProgressMode::Quiet) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << "test " << 100 * r.test_acc << "% (best val " << 100 * r.best_val_acc
      << "% at step " << r.best_step << "; last model: test " << 100 * r.test_acc_last << "%)  "
      << r.steps_per_second << " steps/s  peak " << r.peak_step_mib << " MiB/step  " << format_duration(r.seconds);
    progress.note(s.str());
  }
  if (!o.out_dir.empty()) write_run_files(r, o.out_dir);
  return r;
}

// ---- files -----------------------------------------------------------------------------------------------------

namespace {

std::string num(double v, int precision = 6) {
  if (!std::isfinite(v)) return "";
  std::ostringstream s;
  s << std::setprecision(precision) << v;
  return s.str();
}

std::string settings_text(const std::vector<std::string>& set) {
  std::string s;
  for (const std::string& kv : set) s += (s.empty() ? "" : " ") + kv;
  return s.empty() ? "defaults" : s;
}

}  // namespace

std::string log_csv(const TrainResult& r) {
  std::ostringstream s;
  s << "step,loss,train_acc,val_acc,lr,seconds\n";
  for (const LogRow& row : r.log)
    s << row.step << "," << num(row.loss) << "," << num(row.train_acc) << "," << num(row.val_acc) << ","
      << num(row.lr) << "," << num(row.seconds, 4) << "\n";
  return s.str();
}

std::string result_json(const TrainResult& r) {
  std::ostringstream s;
  s << "{\n";
  s << "  \"task\": " << json_str(r.task) << ",\n";
  s << "  \"scheme\": " << json_str(r.scheme) << ",\n";
  s << "  \"settings\": [";
  for (size_t i = 0; i < r.settings.size(); ++i) s << (i ? ", " : "") << json_str(r.settings[i]);
  s << "],\n";
  s << "  \"init\": " << (r.init.empty() ? std::string("null") : json_str(r.init)) << ",\n";
  s << "  \"steps\": " << r.steps << ",\n";
  s << "  \"steps_requested\": " << r.steps_requested << ",\n";
  s << "  \"stopped_by_time_limit\": " << (r.stopped_by_time_limit ? "true" : "false") << ",\n";
  s << "  \"parameters\": " << r.parameters << ",\n";
  s << "  \"test_acc\": " << json_num(r.test_acc) << ",\n";
  s << "  \"best_val_acc\": " << json_num(r.best_val_acc) << ",\n";
  s << "  \"best_step\": " << r.best_step << ",\n";
  s << "  \"test_acc_last\": " << json_num(r.test_acc_last) << ",\n";
  s << "  \"last_val_acc\": " << json_num(r.last_val_acc) << ",\n";
  s << "  \"majority_test_acc\": " << json_num(r.majority_test_acc) << ",\n";
  s << "  \"final_train_loss\": " << json_num(r.final_train_loss) << ",\n";
  s << "  \"steps_per_second\": " << json_num(r.steps_per_second) << ",\n";
  s << "  \"peak_step_mib\": " << json_num(r.peak_step_mib) << ",\n";
  s << "  \"train_seconds\": " << json_num(r.train_seconds) << ",\n";
  s << "  \"seconds\": " << json_num(r.seconds) << "\n";
  s << "}\n";
  return s.str();
}

std::string result_markdown(const TrainResult& r) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2);
  s << "# " << r.task << " with " << r.scheme << " (" << settings_text(r.settings) << ")\n\n";
  s << "| quantity | value |\n|---|---|\n";
  s << "| encoder started from | " << (r.init.empty() ? std::string("scratch (random initialisation)") : r.init)
    << " |\n";
  s << "| test accuracy (best-validation checkpoint) | " << 100 * r.test_acc << "% |\n";
  s << "| best validation accuracy | " << 100 * r.best_val_acc << "% at step " << r.best_step << " |\n";
  s << "| test accuracy of the last parameters | " << 100 * r.test_acc_last << "% |\n";
  s << "| steps | " << r.steps << (r.stopped_by_time_limit ? " (stopped by the time limit)" : "") << " of "
    << r.steps_requested << " |\n";
  s << "| parameters | " << r.parameters << " |\n";
  s << "| training speed | " << r.steps_per_second << " steps/s |\n";
  s << "| peak memory of a training step | " << r.peak_step_mib << " MiB |\n";
  s << "| wall time | " << format_duration(r.seconds) << " |\n";
  return s.str();
}

plot::Image curves_image(const TrainResult& r) {
  using plot::Series;
  Series loss{"train loss", {}, {}}, train_acc{"train", {}, {}}, val_acc{"validation", {}, {}};
  for (const LogRow& row : r.log) {
    loss.x.push_back(static_cast<double>(row.step));
    loss.y.push_back(row.loss);
    train_acc.x.push_back(static_cast<double>(row.step));
    train_acc.y.push_back(100 * row.train_acc);
    if (std::isfinite(row.val_acc)) {
      val_acc.x.push_back(static_cast<double>(row.step));
      val_acc.y.push_back(100 * row.val_acc);
    }
  }
  plot::PlotOptions lo;
  lo.title = "training loss";
  lo.xlabel = "step";
  lo.ylabel = "cross-entropy";
  plot::PlotOptions ao;
  ao.title = "accuracy";
  ao.xlabel = "step";
  ao.ylabel = "accuracy (%)";
  std::vector<Series> acc = {train_acc, val_acc};
  if (r.best_step > 0) {
    char name[64];
    std::snprintf(name, sizeof name, "best val %.1f%% (step %lld)", 100 * r.best_val_acc,
                  static_cast<long long>(r.best_step));
    acc.push_back(Series{name, {static_cast<double>(r.best_step)}, {100 * r.best_val_acc}});
  }
  char title[160];
  std::snprintf(title, sizeof title, "%s - %s%s: test %.1f%% at the best validation step", r.task.c_str(),
                r.scheme.c_str(), r.init.empty() ? "" : " (pretrained)", 100 * r.test_acc);
  return plot::with_title(plot::hstack({plot::line_plot({loss}, lo), plot::line_plot(acc, ao)}),
                                 title);
}

void write_run_files(const TrainResult& r, const std::string& dir) {
  files::write_atomically(dir + "/log.csv", log_csv(r), "lra train");
  files::write_atomically(dir + "/result.json", result_json(r), "lra train");
  files::write_atomically(dir + "/result.md", result_markdown(r), "lra train");
  plot::save_png(curves_image(r), dir + "/curves.png");
}

}  // namespace lra
