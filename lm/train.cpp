// lm/train.cpp — see train.h: the LM training loop, its progress line and its files.
//
// Legend: B = batch, n = context, V = 256 byte values.
#include "lm/train.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>

#include "core/core.h"
#include "core/safetensors.h"
#include "core/state.h"
#include "lra/files.h"

namespace lm {

using namespace core;
using lra::files::json_num;
using lra::files::json_str;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string bpc_text(double bpc) {
  if (!std::isfinite(bpc)) return "  \u2013  ";  // "–" before the first measurement, not "nan"
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", bpc);
  return buf;
}

// "12.3k": tokens per second for the progress line.
std::string rate_text(double per_s) {
  char buf[32];
  if (per_s >= 1e4) std::snprintf(buf, sizeof buf, "%.1fk", per_s / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", per_s);
  return buf;
}

// The LM trainer's progress text (step, training and validation bits per byte, tokens/s, ETA), shown by a
// ProgressLine (lra/progress.h): in place on a terminal; otherwise one line per log row and per evaluation.
class Progress {
 public:
  Progress(const TrainOptions& o, int64_t every)
      : line_(o.progress, o.progress_stream, o.label, o.steps, every), total_(o.steps) {}
  void update(int64_t step, double train_bpc, double valid_bpc, double best, int64_t best_step, double tokens_per_s,
              double eta_s, bool evaluated) {
    if (!line_.shows(step, evaluated)) return;
    std::ostringstream text;
    const int digits = static_cast<int>(std::to_string(total_).size());
    text << "step " << std::setw(digits) << step << "/" << total_ << "  train " << bpc_text(train_bpc)
         << " bpc  valid " << bpc_text(valid_bpc);
    if (best_step > 0) text << " (best " << bpc_text(best) << " @" << best_step << ")";
    text << "  " << rate_text(tokens_per_s) << " tok/s  ETA " << lra::format_duration(eta_s);
    line_.update(step, text.str(), evaluated);
  }
  void note(const std::string& text) { line_.note(text); }

 private:
  lra::ProgressLine line_;
  int64_t total_;
};

std::string objective_name(const LMConfig& c) { return c.masked ? "masked" : "causal"; }

}  // namespace

TrainResult train(const corpora::TextSplits& splits, const corpora::Corpus& corpus, const TrainOptions& options) {
  LMConfig cfg = options.lm;
  cfg.model.seed = options.seed;
  ByteLM model(cfg);
  return train(model, splits, corpus, options);
}

TrainResult train(ByteLM& model, const corpora::TextSplits& splits, const corpora::Corpus& corpus,
                  const TrainOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  const LMConfig& cfg = model.config;
  const int64_t n = cfg.context, need = cfg.masked ? n : n + 1;
  // 1. Everything checked before the first step.
  AZ_CHECK(o.steps >= 1, "lm train: steps must be >= 1, got ", o.steps);
  AZ_CHECK(o.batch_size >= 1, "lm train: the batch size must be >= 1, got ", o.batch_size);
  AZ_CHECK(o.eval_every >= 1, "lm train: eval_every must be >= 1, got ", o.eval_every);
  AZ_CHECK(o.lr > 0 && o.min_lr >= 0 && o.min_lr <= o.lr, "lm train: need 0 <= min_lr <= lr and lr > 0, got lr=",
           o.lr, " min_lr=", o.min_lr);
  AZ_CHECK(o.clip_norm >= 0 && o.weight_decay >= 0, "lm train: clip_norm and weight_decay must be >= 0");
  for (const auto& [name, text] : {std::pair<const char*, const std::string*>{"train", &splits.train},
                                   {"valid", &splits.valid}, {"test", &splits.test}})
    AZ_CHECK(static_cast<int64_t>(text->size()) > need, "lm train: the ", name, " split of ", corpus.name, " has ",
             text->size(), " bytes, fewer than one window of ", need, " bytes; use a shorter --context or a longer text");
  const int64_t warmup = o.warmup >= 0 ? std::min(o.warmup, o.steps) : o.steps / 10;
  const int64_t log_every = o.log_every > 0 ? o.log_every : std::max<int64_t>(1, o.eval_every / 4);

  TrainResult r;
  r.corpus = corpus.name;
  r.scheme = cfg.model.scheme;
  r.settings = cfg.model.set;
  r.objective = objective_name(cfg);
  r.context = n;
  r.steps_requested = o.steps;
  r.parameters = model.num_parameters();

  const std::vector<Tensor> params = model.parameters();
  optim::AdamW opt(params, o.lr, 0.9f, 0.98f, 1e-8f, o.weight_decay);
  const optim::WarmupCosine schedule(o.lr, warmup, o.steps, o.min_lr);
  Rng data_rng(o.seed ^ 0x6c6d2d6461746131ULL);  // batch offsets and masks: apart from the parameters' stream
  Progress progress(o, log_every);

  lra::Checkpoint best;
  double best_valid = std::numeric_limits<double>::infinity();
  double last_valid = NAN, running = NAN;
  double train_seconds = 0, nats_in_row = 0;
  int64_t steps_in_row = 0, tokens = 0;
  size_t peak_first = 0, peak_later = 0;
  const double ln2 = std::log(2.0);

  // 2. Train.
  model.train();
  int64_t step = 0;
  while (step < o.steps) {
    const float lr = schedule.lr(step);
    opt.set_lr(lr);
    ++step;
    const auto t0 = std::chrono::steady_clock::now();
    const Example batch = random_batch(splits.train, cfg, o.batch_size, data_rng);
    double loss_value;
    {
      memory::PeakScope peak;
      const Tensor logits = model.forward(batch.inputs);  // (B, n, V)
      IntTensor targets({o.batch_size * n});              // (B·n), -100 where nothing is predicted
      targets.data = batch.targets.data;
      const Tensor loss = cross_entropy(reshape(logits, {o.batch_size * n, kByteValues}), targets);  // () nats
      loss.backward();
      if (o.clip_norm > 0) optim::clip_grad_norm(params, o.clip_norm);
      opt.step();
      opt.zero_grad();
      loss_value = loss.item();
      if (step == 1) peak_first = peak.peak_above_start();
      else peak_later = std::max(peak_later, peak.peak_above_start());
    }
    train_seconds += seconds_since(t0);
    tokens += o.batch_size * n;
    AZ_CHECK(std::isfinite(loss_value), "lm train: ", r.scheme, ": the loss is ", loss_value, " at step ", step,
             " (try a smaller --lr)");
    nats_in_row += loss_value;
    ++steps_in_row;

    const bool out_of_time = o.time_limit > 0 && seconds_since(t_start) >= o.time_limit && step < o.steps;
    const bool last = step == o.steps || out_of_time;
    const bool do_eval = step % o.eval_every == 0 || last;
    double valid = NAN;
    if (do_eval) {
      valid = evaluate_bpc(model, splits.valid, o.eval_bytes).bpc;
      last_valid = valid;
      if (valid < best_valid) {  // strictly better: ties keep the earlier checkpoint
        best_valid = valid;
        r.best_step = step;
        best = lra::Checkpoint::capture(model);
      }
    }
    if (step % log_every == 0 || do_eval) {
      LogRow row;
      row.step = step;
      row.train_bpc = nats_in_row / steps_in_row / ln2;
      row.valid_bpc = valid;
      row.lr = lr;
      row.tokens = tokens;
      row.seconds = seconds_since(t_start);
      r.log.push_back(row);
      running = row.train_bpc;
      nats_in_row = 0;
      steps_in_row = 0;
    }
    const double elapsed = seconds_since(t_start);
    progress.update(step, running, last_valid, best_valid, r.best_step, tokens / std::max(train_seconds, 1e-9),
                    (o.steps - step) * elapsed / step, do_eval);
    if (out_of_time) {
      r.stopped_by_time_limit = true;
      progress.note("stopped at step " + std::to_string(step) + " of " + std::to_string(o.steps) +
                    ": time limit of " + lra::format_duration(o.time_limit) + " reached");
      break;
    }
  }

  // 3. Test: the last parameters (for comparison), then the best checkpoint's on the whole valid and test splits.
  r.steps = step;
  r.best_valid_bpc = best_valid;
  r.test_bpc_last = evaluate_bpc(model, splits.test).bpc;
  if (r.best_step != step) best.restore(model);
  r.test_bpc = r.best_step == step ? r.test_bpc_last : evaluate_bpc(model, splits.test).bpc;
  r.valid_bpc = evaluate_bpc(model, splits.valid).bpc;
  r.train_seconds = train_seconds;
  r.tokens_per_s = tokens / std::max(train_seconds, 1e-9);
  r.peak_bytes = static_cast<int64_t>(step > 1 ? peak_later : peak_first);  // step 1 also allocates AdamW's moments
  r.seconds = seconds_since(t_start);
  {
    std::ostringstream s;
    s << std::fixed << std::setprecision(3) << "test " << r.test_bpc << " bpc (best valid " << r.best_valid_bpc
      << " at step " << r.best_step << "; last model: test " << r.test_bpc_last << ")  " << std::setprecision(0)
      << r.tokens_per_s << " tok/s  peak " << std::setprecision(1) << r.peak_bytes / (1024.0 * 1024.0)
      << " MiB/step  " << lra::format_duration(r.seconds);
    progress.note(s.str());
  }
  if (!o.out_dir.empty()) {
    const std::string config = config_json(model, corpus, splits, o);
    lra::files::write_atomically(o.out_dir + "/config.json", config, "lm train");  // creates out_dir
    save_model(model, o.out_dir + "/model.safetensors", config);
    lra::files::write_atomically(o.out_dir + "/result.json", result_json(r), "lm train");
    lra::files::write_atomically(o.out_dir + "/log.csv", log_csv(r), "lm train");
    plot::save_png(curves_image(r), o.out_dir + "/curves.png");
  }
  return r;
}

// ---- files -------------------------------------------------------------------------------------------------

std::string config_json(const ByteLM& model, const corpora::Corpus& corpus, const corpora::TextSplits& splits,
                        const TrainOptions& o) {
  const attention::ModelConfig& m = model.config.model;
  std::ostringstream s;
  s << "{\n  \"format\": \"attnzoo-byte-lm-1\",\n";
  s << "  \"scheme\": " << json_str(m.scheme) << ",\n  \"settings\": [";
  for (size_t i = 0; i < m.set.size(); ++i) s << (i ? ", " : "") << json_str(m.set[i]);
  s << "],\n  \"objective\": " << json_str(objective_name(model.config)) << ",\n";
  s << "  \"context\": " << model.config.context << ",\n  \"mask_fraction\": " << json_num(model.config.mask_fraction)
    << ",\n  \"vocab\": " << m.vocab << ",\n  \"d_model\": " << m.d_model << ",\n  \"n_heads\": " << m.n_heads
    << ",\n  \"n_layers\": " << m.n_layers << ",\n  \"d_ff\": " << m.d_ff << ",\n  \"dropout\": " << json_num(m.dropout)
    << ",\n  \"seed\": " << m.seed << ",\n";
  s << "  \"corpus\": " << json_str(corpus.name) << ",\n  \"corpus_source\": " << json_str(corpus.source) << ",\n";
  s << "  \"split\": {\"bytes\": " << corpus.text.size() << ", \"valid_begin\": " << splits.valid_begin
    << ", \"test_begin\": " << splits.test_begin << ", \"rule\": \"contiguous: train 90 %, valid 5 %, test 5 %\"},\n";
  s << "  \"steps\": " << o.steps << ",\n  \"batch_size\": " << o.batch_size << ",\n  \"lr\": " << json_num(o.lr)
    << "\n}\n";
  return s.str();
}

std::string result_json(const TrainResult& r) {
  std::ostringstream s;
  s << "{\n  \"corpus\": " << json_str(r.corpus) << ",\n  \"scheme\": " << json_str(r.scheme) << ",\n  \"settings\": [";
  for (size_t i = 0; i < r.settings.size(); ++i) s << (i ? ", " : "") << json_str(r.settings[i]);
  s << "],\n  \"objective\": " << json_str(r.objective) << ",\n  \"context\": " << r.context
    << ",\n  \"test_bpc\": " << json_num(r.test_bpc) << ",\n  \"valid_bpc\": " << json_num(r.valid_bpc)
    << ",\n  \"best_valid_bpc_during_training\": " << json_num(r.best_valid_bpc) << ",\n  \"best_step\": " << r.best_step
    << ",\n  \"test_bpc_last\": " << json_num(r.test_bpc_last) << ",\n  \"tokens_per_s\": " << json_num(r.tokens_per_s)
    << ",\n  \"peak_bytes\": " << r.peak_bytes << ",\n  \"steps\": " << r.steps << ",\n  \"steps_requested\": "
    << r.steps_requested << ",\n  \"stopped_by_time_limit\": " << (r.stopped_by_time_limit ? "true" : "false")
    << ",\n  \"parameters\": " << r.parameters << ",\n  \"train_seconds\": " << json_num(r.train_seconds)
    << ",\n  \"seconds\": " << json_num(r.seconds)
    << ",\n  \"machine_dependent\": [\"tokens_per_s\", \"train_seconds\", \"seconds\"]\n}\n";
  return s.str();
}

std::string log_csv(const TrainResult& r) {
  std::ostringstream s;
  s << "step,train_bpc,valid_bpc,lr,tokens,seconds\n";
  for (const LogRow& row : r.log)
    s << row.step << "," << json_num(row.train_bpc) << "," << (std::isfinite(row.valid_bpc) ? json_num(row.valid_bpc) : "")
      << "," << json_num(row.lr) << "," << row.tokens << "," << json_num(row.seconds, 4) << "\n";
  return s.str();
}

plot::Image curves_image(const TrainResult& r) {
  plot::Series train{"train (mean since the last row)", {}, {}}, valid{"validation", {}, {}};
  for (const LogRow& row : r.log) {
    train.x.push_back(static_cast<double>(row.step));
    train.y.push_back(row.train_bpc);
    if (std::isfinite(row.valid_bpc)) {
      valid.x.push_back(static_cast<double>(row.step));
      valid.y.push_back(row.valid_bpc);
    }
  }
  std::vector<plot::Series> series = {train, valid};
  if (r.best_step > 0) {
    char name[64];
    std::snprintf(name, sizeof name, "best validation %.3f (step %lld)", r.best_valid_bpc,
                  static_cast<long long>(r.best_step));
    series.push_back(plot::Series{name, {static_cast<double>(r.best_step)}, {r.best_valid_bpc}});
  }
  plot::PlotOptions po;
  po.title = "bits per byte while training";
  po.xlabel = "step";
  po.ylabel = "bits per byte";
  char title[200];
  std::snprintf(title, sizeof title, "%s %s LM on %s, n = %lld: test %.3f bpc", r.scheme.c_str(), r.objective.c_str(),
                r.corpus.c_str(), static_cast<long long>(r.context), r.test_bpc);
  return plot::with_title(plot::line_plot(series, po), title);
}

void save_model(const ByteLM& model, const std::string& path, const std::string& config_json_text) {
  safetensors::File f;
  for (const auto& [name, t] : model.named_parameters()) f.tensors.emplace_back(name, t.detach());
  for (const auto& [name, t] : model.named_buffers()) f.tensors.emplace_back(name, t.detach());
  f.metadata["format"] = "attnzoo-byte-lm-1";
  f.metadata["config"] = config_json_text;
  safetensors::save(path, f);
}

std::unique_ptr<ByteLM> load_model(const std::string& dir) {
  const std::string config_path = dir + "/config.json", weights_path = dir + "/model.safetensors";
  const std::string text = lra::files::read_all(config_path, "lm", 1 << 20);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    AZ_FAIL("lm: ", config_path, " is not valid JSON");
  }
  LMConfig cfg;
  try {
    AZ_CHECK(j.value("format", "") == "attnzoo-byte-lm-1", "lm: ", config_path, " is not an attnzoo byte LM config");
    cfg.model.scheme = j.at("scheme").get<std::string>();
    cfg.model.set = j.at("settings").get<std::vector<std::string>>();
    cfg.masked = j.at("objective").get<std::string>() == "masked";
    cfg.context = j.at("context").get<int64_t>();
    cfg.mask_fraction = j.at("mask_fraction").get<float>();
    cfg.model.d_model = j.at("d_model").get<int64_t>();
    cfg.model.n_heads = j.at("n_heads").get<int64_t>();
    cfg.model.n_layers = j.at("n_layers").get<int64_t>();
    cfg.model.d_ff = j.at("d_ff").get<int64_t>();
    cfg.model.dropout = j.at("dropout").get<float>();
    cfg.model.seed = j.at("seed").get<uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    AZ_FAIL("lm: ", config_path, ": a field is missing or has the wrong type (", printable(e.what()), ")");
  }
  AZ_CHECK(cfg.context >= 2 && cfg.context <= (1 << 20) && cfg.model.d_model >= 1 && cfg.model.d_model <= 65536 &&
               cfg.model.n_layers >= 1 && cfg.model.n_layers <= 1024 && cfg.model.d_ff >= 1 && cfg.model.d_ff <= (1 << 20) &&
               cfg.model.n_heads >= 1,
           "lm: ", config_path, ": sizes out of range (context, d_model, n_layers, d_ff, n_heads)");
  const safetensors::File f = safetensors::load(weights_path);
  auto model = std::make_unique<ByteLM>(cfg);
  core::nn::load_exact(*model, f.tensors, "lm: " + weights_path);
  return model;
}

}  // namespace lm
