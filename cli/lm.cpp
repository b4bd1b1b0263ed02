// cli/lm.cpp — `attnzoo lm`: pretrain a byte-level language model with any scheme on real text (lm/train.h),
// and measure a trained model's bits per byte on any file.
//
//   attnzoo lm train --corpus kjv --scheme longformer --set window=32 --context 512 --steps 2000 --out DIR
//   attnzoo lm eval --model DIR --text FILE [--logits OUT.npy]
#include <cstdint>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "attention/scheme.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/files.h"
#include "core/core.h"
#include "lm/attention_maps.h"
#include "lm/compressors.h"
#include "corpora/corpus.h"
#include "lm/suite.h"
#include "lm/train.h"
#include "plot/png.h"

namespace cli {

namespace {

const std::vector<OptionSpec> kLmOptions = {
    {"corpus", true, false}, {"scheme", true, false},  {"set", true, true},         {"mlm", false, false},
    {"context", true, false}, {"steps", true, false},  {"batch", true, false},      {"lr", true, false},
    {"warmup", true, false}, {"eval-every", true, false}, {"eval-bytes", true, false}, {"d-model", true, false},
    {"heads", true, false},  {"layers", true, false},  {"d-ff", true, false},       {"seed", true, false},
    {"time-limit", true, false}, {"progress", true, false}, {"out", true, false}, {"model", true, true},
    {"text", true, false},   {"no-compressors", false, false}, {"logits", true, false},
    // lm suite
    {"schemes", true, false}, {"budget", true, false}, {"contexts", true, false}, {"experiments", true, false},
    {"quick", false, false},
    // lm attention
    {"offset", true, false}, {"length", true, false}, {"layer", true, false}, {"head", true, false}};


// attnzoo lm train ...
int lm_train(const Args& args) {
  only_options(args, {"corpus", "scheme", "set", "mlm", "context", "steps", "batch", "lr", "warmup", "eval-every",
                      "eval-bytes", "d-model", "heads", "layers", "d-ff", "seed", "time-limit", "progress", "out",
                      "no-compressors"}, "lm train");
  AZ_CHECK(args.positional.size() == 1, "lm train: unexpected argument '", args.positional.back(), "'");
  // 1. Every option checked before anything is read or trained.
  AZ_CHECK(args.has("scheme"), "lm train: which scheme? (--scheme S; `attnzoo list` shows them)");
  const attention::Scheme& scheme = attention::find_scheme(args.get("scheme"));
  const bool masked = args.has("mlm");
  // The scheme's LM preset (SchemeInfo::lm_settings), each --set replacing the preset's value of its key.
  const std::vector<std::string> sets = attention::overlay_settings(scheme.info().lm_settings, args.all("set"));
  AZ_CHECK(masked || scheme.supports_causal(), "lm train: ", scheme.name(), " has no causal variant (",
           scheme.causal_refusal(), "); train it as a masked LM with --mlm");
  scheme.configure(sets, !masked);

  lm::TrainOptions o;
  o.lm.masked = masked;
  o.lm.model.scheme = scheme.name();
  o.lm.model.set = sets;
  o.lm.context = parse_int(args, "context", 256, 2, 1 << 16);
  o.lm.model.d_model = parse_int(args, "d-model", 128, 1, 8192);
  o.lm.model.n_heads = parse_int(args, "heads", 4, 1, 256);
  AZ_CHECK(o.lm.model.d_model % o.lm.model.n_heads == 0, "lm train: --d-model ", o.lm.model.d_model,
           " is not divisible by --heads ", o.lm.model.n_heads);
  o.lm.model.n_layers = parse_int(args, "layers", 2, 1, 64);
  o.lm.model.d_ff = parse_int(args, "d-ff", 4 * o.lm.model.d_model, 1, 65536);
  o.steps = parse_int(args, "steps", 1000, 1, 100000000);
  o.batch_size = parse_int(args, "batch", 16, 1, 65536);
  o.lr = static_cast<float>(parse_float(args, "lr", o.lr, 1e-8, 10));
  o.min_lr = std::min(o.min_lr, o.lr);
  o.warmup = parse_int(args, "warmup", -1, 0, o.steps);
  o.eval_every = parse_int(args, "eval-every", std::min<int64_t>(200, o.steps), 1, 100000000);
  o.eval_bytes = parse_int(args, "eval-bytes", o.eval_bytes, 1, INT64_MAX);
  o.seed = parse_seed(args);
  o.time_limit = parse_float(args, "time-limit", 0, 0, 1e7);
  o.progress = parse_progress(args, "lm");
  AZ_CHECK(args.has("corpus"), "lm train: which text? (--corpus kjv, fortunes, gcide or a file's path)");
  o.out_dir = args.get("out", "out/lm/runs/" + scheme.name() + (masked ? "_mlm" : ""));
  check_output_dir(o.out_dir, "lm train");

  // 2. The text and its splits.
  const corpora::Corpus corpus = corpora::load_corpus(args.get("corpus"));
  const corpora::TextSplits splits = corpora::split(corpus.text);
  std::cout << "lm train: " << corpus.name << ", " << corpus.text.size() << " bytes: train " << splits.train.size()
            << ", valid " << splits.valid.size() << ", test " << splits.test.size() << " (contiguous 90/5/5 %); "
            << scheme.name() << " (" << (sets.empty() ? std::string("defaults") : "");  // preset + --set
  for (size_t i = 0; i < sets.size(); ++i) std::cout << (i ? " " : "") << sets[i];
  std::cout << "), " << (masked ? "masked" : "causal") << " LM, context " << o.lm.context << ", " << o.steps
            << " steps of " << o.batch_size << " windows" << std::endl;

  // 3. Training, then the compressors on the same test split as reference points.
  const lm::TrainResult r = lm::train(splits, corpus, o);
  std::cout << std::fixed << std::setprecision(3) << "test " << r.test_bpc << " bits per byte ("
            << (masked ? "masked LM: predicts 15 % of the bytes from both sides, not comparable with a compressor"
                       : "causal LM")
            << "; checkpoint of step " << r.best_step << ")\n";
  if (!args.has("no-compressors")) {
    for (const lm::CompressorResult& c : lm::compressor_results(splits.train, splits.test))
      std::cout << "  " << std::left << std::setw(10) << c.name << std::right << c.bits_per_byte
                << " bits per byte on the same test split, given the training text\n";
  }
  std::cout << "wrote " << o.out_dir << "/model.safetensors, config.json, result.json, log.csv, curves.png\n";
  return kExitOk;
}

// attnzoo lm eval --model DIR --text FILE [--logits OUT.npy]
int lm_eval(const Args& args) {
  only_options(args, {"model", "text", "logits"}, "lm eval");
  AZ_CHECK(args.positional.size() == 1, "lm eval: unexpected argument '", args.positional.back(), "'");
  AZ_CHECK(args.has("model"), "lm eval: which model? (--model DIR, a directory written by attnzoo lm train)");
  AZ_CHECK(args.all("model").size() == 1, "lm eval: one --model only");
  AZ_CHECK(args.has("text"), "lm eval: which text? (--text FILE)");
  if (args.has("logits")) check_output_file(args.get("logits"), "logits");  // before any work
  std::unique_ptr<lm::ByteLM> model = lm::load_model(args.get("model"));
  const corpora::Corpus text = corpora::load_file(args.get("text"));
  const lm::BpcResult r = lm::evaluate_bpc(*model, text.text);
  if (args.has("logits")) {
    // The logits of the text's first window (1, n, 256): what tests/reference/lm_parity.py compares with PyTorch.
    const std::string out = args.get("logits");
    core::Rng mask_rng(1234);
    const lm::Example first = lm::window(text.text, 0, model->config, mask_rng);
    model->eval();
    core::NoGradGuard no_grad;
    core::npy::save(out, model->forward(first.inputs));
    core::npy::save(out + ".inputs.npy", first.inputs);
  }
  std::cout << std::fixed << std::setprecision(4) << "bpc=" << r.bpc << "\n";
  return kExitOk;
}

// attnzoo lm suite ...: the experiments of `make lm`
int lm_suite(const Args& args) {
  only_options(args, {"corpus", "schemes", "context", "budget", "contexts", "experiments", "time-limit", "quick",
                      "d-model", "heads", "layers", "seed", "progress", "out"}, "lm suite");
  AZ_CHECK(args.positional.size() == 1, "lm suite: unexpected argument '", args.positional.back(), "'");
  lm::SuiteOptions o;
  o.model.d_model = parse_int(args, "d-model", 128, 1, 8192);
  o.model.n_heads = parse_int(args, "heads", 4, 1, 256);
  AZ_CHECK(o.model.d_model % o.model.n_heads == 0, "lm suite: --d-model ", o.model.d_model,
           " is not divisible by --heads ", o.model.n_heads);
  o.model.n_layers = parse_int(args, "layers", 2, 1, 64);
  o.model.d_ff = 4 * o.model.d_model;
  if (args.has("quick")) {  // minutes, not the better part of an hour: for trying the pipeline, not for the numbers
    o.budget_tokens = 1 << 18;
    o.context_budget_tokens = 1 << 17;
    o.linformer_budget_tokens = 1 << 17;
    o.contexts = {128, 512, 2048};
    o.tokens_per_step = 4096;
    o.linformer_k = {16, 64, 256};
    o.long_budget_tokens = 1 << 20;
  }
  o.corpus = args.get("corpus", "kjv");
  if (args.has("schemes")) {
    std::stringstream ss(args.get("schemes"));
    o.schemes.clear();
    for (std::string name; std::getline(ss, name, ',');) o.schemes.push_back(attention::find_scheme(name).name());
    // the context sweep keeps the schemes of its list that were asked for
    std::vector<std::string> kept;
    for (const std::string& name : o.context_schemes)
      if (std::find(o.schemes.begin(), o.schemes.end(), name) != o.schemes.end()) kept.push_back(name);
    o.context_schemes = kept;
  }
  o.context = parse_int(args, "context", o.context, 2, 1 << 16);
  const int64_t budget = parse_int(args, "budget", 0, 0, int64_t(1) << 40);
  if (budget > 0) o.budget_tokens = o.context_budget_tokens = o.linformer_budget_tokens = budget;
  o.contexts = parse_int_list(args, "contexts", o.contexts, 2, 1 << 16);
  // --schemes without flash leaves out the long run (flash's), unless --experiments asks for it.
  const bool long_run_wanted =
      !args.has("schemes") || std::find(o.schemes.begin(), o.schemes.end(), o.long_scheme) != o.schemes.end();
  const std::vector<int64_t> experiments =
      parse_int_list(args, "experiments", long_run_wanted ? std::vector<int64_t>{1, 2, 3, 4} : std::vector<int64_t>{1, 2, 3}, 1, 4);
  o.experiments.assign(experiments.begin(), experiments.end());
  o.time_limit_per_run = parse_float(args, "time-limit", 300, 0, 1e7);  // a safety net: 0 = none
  o.seed = parse_seed(args);
  o.progress = parse_progress(args, "lm");
  o.out_dir = args.get("out", "out/lm");
  check_output_dir(o.out_dir, "lm suite");
  const lm::SuiteResult r = lm::run_suite(o);
  std::cout << "\n" << lm::results_markdown(r, o) << "\nwrote " << o.out_dir
            << "/results.md, results.csv, context.md, context.png, linformer_k.md, long_run.md, all_runs.csv and " << o.out_dir
            << "/runs/\n";
  return kExitOk;
}

// attnzoo lm attention --model DIR [--model DIR2 ...] --text FILE|--corpus C [--offset N] [--length N]
//                      [--layer L] [--head H] --out DIR
// Every model reads the same passage; writes DIR/heatmaps.png (layer L, head H of every model, default the last
// layer's head 0), DIR/distance.png (every head's mean attention distance) and DIR/attention.html.
int lm_attention(const Args& args) {
  only_options(args, {"model", "text", "corpus", "offset", "length", "layer", "head", "out"}, "lm attention");
  AZ_CHECK(args.positional.size() == 1, "lm attention: unexpected argument '", args.positional.back(), "'");
  // 1. Every option checked, every model loaded and the passage cut before anything is written.
  AZ_CHECK(args.has("model"), "lm attention: which model? (--model DIR, a directory written by attnzoo lm train)");
  AZ_CHECK(args.has("text") != args.has("corpus"),
           "lm attention: which text? (--text FILE or --corpus NAME, one of them)");
  AZ_CHECK(args.has("out"), "lm attention: where? (--out DIR)");
  const std::string out_dir = args.get("out");
  check_output_dir(out_dir, "lm attention");
  std::vector<std::unique_ptr<lm::ByteLM>> models;
  int64_t context = INT64_MAX, layers = INT64_MAX, heads = INT64_MAX;
  for (const std::string& dir : args.all("model")) {
    models.push_back(lm::load_model(dir));
    const lm::LMConfig& c = models.back()->config;
    context = std::min(context, c.context);
    layers = std::min(layers, c.model.n_layers);
    heads = std::min(heads, c.model.n_heads);
  }
  // The passage: --text FILE from its start, or --corpus's test split (text no model was trained on).
  std::string text;
  if (args.has("text")) {
    text = corpora::load_file(args.get("text")).text;
  } else {
    text = corpora::split(corpora::load_corpus(args.get("corpus")).text).test;
  }
  const int64_t length = parse_int(args, "length", std::min<int64_t>(context, 128), 1, context);
  const int64_t size = static_cast<int64_t>(text.size());
  const int64_t offset = parse_int(args, "offset", 0, 0, INT64_MAX);
  AZ_CHECK(offset + length <= size, "lm attention: --offset ", offset, " + --length ", length, " is past the text's ",
           size, " bytes");
  const std::string passage = text.substr(static_cast<size_t>(offset), static_cast<size_t>(length));
  const int64_t layer = parse_int(args, "layer", layers - 1, 0, layers - 1);
  const int64_t head = parse_int(args, "head", 0, 0, heads - 1);

  // 2. The maps and the figures, in memory.
  // Each model is labelled by its scheme, settings and objective, and its directory's name (two runs of one scheme
  // would look alike otherwise).
  std::vector<lm::AttentionMaps> maps;
  for (size_t k = 0; k < models.size(); ++k) {
    std::filesystem::path p = std::filesystem::path(args.all("model")[k]).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "runs/full/" -> "runs/full"
    const std::string dir = p.filename().string();
    const std::string label = lm::model_label(*models[k]) + (dir.empty() ? "" : " (" + dir + ")");
    maps.push_back(lm::capture_attention(*models[k], passage, label));
  }
  const plot::Image heatmaps = lm::compare_heatmaps(maps, layer, head);
  const plot::Image distance = lm::distance_figure(maps);

  // 3. The files.
  std::filesystem::create_directories(out_dir);
  plot::save_png(heatmaps, out_dir + "/heatmaps.png");
  plot::save_png(distance, out_dir + "/distance.png");
  lm::write_attention_page(out_dir + "/attention.html", maps, "attnzoo: where byte-level language models look");
  std::cout << "lm attention: " << passage.size() << " bytes at offset " << offset << "; mean attention distance "
               "(bytes) per layer, head:\n";
  for (const lm::AttentionMaps& m : maps) {
    const core::Tensor d = lm::distance_grid(m);
    std::cout << "  " << m.label << ":";
    for (int64_t l = 0; l < m.layers(); ++l) {
      std::cout << (l ? " |" : "");
      for (int64_t h = 0; h < m.heads(); ++h)
        std::cout << " " << std::fixed << std::setprecision(1) << d.data()[l * m.heads() + h];
    }
    std::cout << "\n";
  }
  std::cout << "wrote " << out_dir << "/heatmaps.png, distance.png, attention.html\n";
  return kExitOk;
}

}  // namespace

int cmd_lm(const std::vector<std::string>& words) {
  const Args args = parse_args("lm", words, kLmOptions);
  AZ_CHECK(!args.positional.empty(), "lm: what to do? (attnzoo lm train, eval, suite or attention ...)");
  const std::string mode = args.positional[0];
  if (mode == "train") return lm_train(args);
  if (mode == "eval") return lm_eval(args);
  if (mode == "suite") return lm_suite(args);
  if (mode == "attention") return lm_attention(args);
  AZ_FAIL("lm: unknown mode '", mode, "' (train, eval, suite or attention)");
}

}  // namespace cli
