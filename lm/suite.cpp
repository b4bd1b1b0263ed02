// lm/suite.cpp — see suite.h: the runs of `make lm`, their tables and the context plot.
#include "lm/suite.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include "attention/scheme.h"
#include "core/core.h"
#include "core/csv.h"
#include "lra/files.h"
#include "plot/plot.h"

namespace lm {

using lra::files::json_num;

namespace {

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "–";
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string settings_text(const std::vector<std::string>& set) {
  std::string s;
  for (const std::string& kv : set) s += (s.empty() ? "" : " ") + kv;
  return s.empty() ? "defaults" : s;
}

// One training run; a refusal (core::Error) becomes a row that says why.
SuiteRow run_one(const std::string& experiment, const std::string& scheme, std::vector<std::string> set,
                 bool masked, int64_t context, int64_t budget, const corpora::TextSplits& splits,
                 const corpora::Corpus& corpus,
                 const SuiteOptions& o, const std::string& label, int64_t tokens_per_step = 0,
                 double time_limit = -1) {
  if (tokens_per_step <= 0) tokens_per_step = o.tokens_per_step;
  if (time_limit < 0) time_limit = o.time_limit_per_run;
  SuiteRow row;
  row.experiment = experiment;
  row.scheme = scheme;
  row.objective = masked ? "masked" : "causal";
  row.settings = set;
  row.context = context;
  TrainOptions t;
  t.lm.model = o.model;
  t.lm.model.scheme = scheme;
  t.lm.model.set = set;
  t.lm.masked = masked;
  t.lm.context = context;
  t.batch_size = std::max<int64_t>(1, tokens_per_step / context);
  t.steps = std::max<int64_t>(1, budget / (t.batch_size * context));
  t.eval_every = std::max<int64_t>(1, t.steps / (experiment == "long" ? 12 : 4));
  t.eval_bytes = 1 << 16;
  t.seed = o.seed;
  t.time_limit = time_limit;
  t.progress = o.progress;
  t.label = label;
  t.out_dir = o.out_dir + "/runs/" + experiment + "/" + scheme + (masked ? "_mlm" : "") + "_n" + std::to_string(context);
  row.out_dir = t.out_dir;
  try {
    row.result = train(splits, corpus, t);
    row.ok = true;
  } catch (const core::Error& e) {
    row.error = e.what();
    std::cout << label << "  refused: " << row.error << std::endl;
  } catch (const std::bad_alloc&) {
    row.error = "out of memory";
    std::cout << label << "  refused: out of memory" << std::endl;
  }
  return row;
}

void write(const std::string& path, const std::string& text) { lra::files::write_atomically(path, text, "lm suite"); }

// What the context table shows, computed from it: each scheme's change from its shortest to its longest context
// that ran, against the spread between the schemes at the shortest context (where they see nearly the same keys:
// a scale of how much runs differ at this budget anyway).
std::string context_verdict(const SuiteResult& r, const SuiteOptions& o) {
  const auto bpc = [&](const std::string& scheme, int64_t n) {
    for (const SuiteRow& row : r.rows)
      if (row.experiment == "context" && row.scheme == scheme && row.context == n && row.ok) return row.result.test_bpc;
    return std::numeric_limits<double>::quiet_NaN();
  };
  double lo = INFINITY, hi = -INFINITY, spread = 0;  // per-scheme change; the schemes' spread at the shortest n
  for (const std::string& scheme : o.context_schemes) {
    double first = NAN, last = NAN;
    for (int64_t n : o.contexts) {
      const double b = bpc(scheme, n);
      if (std::isnan(b)) continue;
      if (std::isnan(first)) first = b;
      last = b;
    }
    if (std::isnan(first) || first == last) continue;
    lo = std::min(lo, last - first);
    hi = std::max(hi, last - first);
  }
  for (int64_t n : o.contexts) {  // the shortest context that ran for two schemes or more
    double mn = INFINITY, mx = -INFINITY;
    for (const std::string& scheme : o.context_schemes) {
      const double b = bpc(scheme, n);
      if (!std::isnan(b)) mn = std::min(mn, b), mx = std::max(mx, b);
    }
    if (mx > mn) {
      spread = mx - mn;
      break;
    }
  }
  if (!std::isfinite(lo)) return "";
  std::ostringstream s;
  s << "What the table shows: from each scheme's shortest to its longest context, test bits per byte change by "
    << fixed(lo, 3) << " to " << fixed(hi, 3) << " (negative = the longer context helps); at the shortest context the "
    << "schemes differ by up to " << fixed(spread, 3) << ". ";
  if (std::max(std::fabs(lo), std::fabs(hi)) <= spread)
    s << "The context effect is no larger than the differences between runs: at this budget the models have not "
         "yet learned to use what came long before (a model that has learned little predicts from the last few "
         "bytes, which every context holds). long_run.md shows what the same model reaches with "
      << fixed(double(o.long_budget_tokens) / double(std::max<int64_t>(o.context_budget_tokens, 1)), 0)
      << " times the bytes; the papers' gains from context came after days of training.\n";
  else if (hi < 0)
    s << "Every scheme gains from a longer context, by more than the schemes differ at the shortest context.\n";
  else
    s << "Some schemes gain from a longer context and some lose, by more than the schemes differ at the shortest context.\n";
  return s.str();
}

}  // namespace

std::string context_markdown(const SuiteResult& r, const SuiteOptions& o) {
  std::ostringstream s;
  s << "# Does a longer context help? Test bits per byte vs context, at a fixed budget\n\n";
  s << "Causal byte-level LMs on " << o.corpus << ", " << o.context_budget_tokens
    << " training bytes per run whatever the context (" << o.tokens_per_step << " bytes per step), d_model "
    << o.model.d_model << ", " << o.model.n_layers << " layers. Lower is better; – = refused or failed.\n\n";
  s << "| scheme |";
  for (int64_t n : o.contexts) s << " n = " << n << " |";
  s << "\n|---|";
  for (size_t i = 0; i < o.contexts.size(); ++i) s << "---:|";
  s << "\n";
  for (const std::string& scheme : o.context_schemes) {
    s << "| " << scheme << " (" << settings_text(attention::find_scheme(scheme).info().lm_settings) << ") |";
    for (int64_t n : o.contexts) {
      std::string cell = " ";
      for (const SuiteRow& row : r.rows)
        if (row.experiment == "context" && row.scheme == scheme && row.context == n)
          cell = row.ok ? fixed(row.result.test_bpc, 3) + (row.result.stopped_by_time_limit ? "*" : "") : "–";
      s << " " << cell << " |";
    }
    s << "\n";
  }
  s << "\n" << context_verdict(r, o);
  s << "\nA bpc marked * comes from a run the time limit stopped before its budget.\n\nThe papers' own enwik8 test bits per byte (theirs, "
       "not measured here: models of 12–30 layers and 40–100M parameters, trained for days):\n\n";
  for (const PaperBpc& p : paper_enwik8())
    s << "- " << p.scheme << ": " << fixed(p.bpc, 2) << " (" << p.model << "; " << p.source << ")\n";
  return s.str();
}

namespace {

plot::Image context_image(const SuiteResult& r, const SuiteOptions& o) {
  std::vector<plot::Series> series;
  for (const std::string& scheme : o.context_schemes) {
    plot::Series s{scheme, {}, {}};
    for (const SuiteRow& row : r.rows)
      if (row.experiment == "context" && row.scheme == scheme && row.ok) {
        s.x.push_back(static_cast<double>(row.context));
        s.y.push_back(row.result.test_bpc);
      }
    if (!s.x.empty()) series.push_back(s);
  }
  for (const CompressorResult& c : r.compressors) {
    if (c.name != "xz") continue;
    const double lo = static_cast<double>(o.contexts.front()), hi = static_cast<double>(o.contexts.back());
    series.push_back(plot::Series{"xz -9e on the same split", {lo, hi}, {c.bits_per_byte, c.bits_per_byte}});
  }
  plot::PlotOptions po;
  po.title = "test bits per byte vs context (fixed training budget)";
  po.xlabel = "context n (bytes)";
  po.ylabel = "test bits per byte";
  po.log_x = true;
  return plot::with_title(plot::line_plot(series, po),
                          "Does a longer context help? causal LMs on " + o.corpus + " (this machine's budget)");
}

}  // namespace

std::string long_run_markdown(const SuiteResult& r, const SuiteOptions& o) {
  const SuiteRow* run = nullptr;
  for (const SuiteRow& row : r.rows)
    if (row.experiment == "long") run = &row;
  std::ostringstream s;
  s << "# The long run: can a small language model beat the compressors?\n\n";
  if (!run) return s.str() + "Not run.\n";
  const TrainResult& t = run->result;
  s << "A causal byte-level LM with " << o.long_scheme << " attention (" << settings_text(run->settings)
    << "), context " << o.long_context << ", d_model " << o.model.d_model << ", " << o.model.n_layers
    << " layers, " << t.parameters << " parameters, trained on " << o.long_budget_tokens << " bytes of " << o.corpus
    << "'s train split (" << o.long_tokens_per_step << " per step, " << t.steps << " steps). Its test bits per "
       "byte are the cost of coding the test split byte after byte, as a compressor does; each compressor is "
       "given the train split first (it codes train + test and the train part's cost is taken off).\n\n";
  if (!run->ok) return s.str() + "The run failed: " + run->error + "\n";
  s << "| coder | test bits per byte |\n|---|---:|\n";
  s << "| **" << o.long_scheme << " LM** (step " << t.best_step << ", the best validation)"
    << (t.stopped_by_time_limit ? ", stopped by the time limit" : "") << " | **" << fixed(t.test_bpc, 3) << "** |\n";
  for (const CompressorResult& c : r.compressors) s << "| " << c.setting << " | " << fixed(c.bits_per_byte, 3) << " |\n";
  s << "\n";
  for (const CompressorResult& c : r.compressors)
    s << "- " << (t.test_bpc < c.bits_per_byte ? "beats " : "does not beat ") << c.name << " ("
      << fixed(t.test_bpc, 3) << " vs " << fixed(c.bits_per_byte, 3) << ")\n";
  s << "\nTraining took " << lra::format_duration(t.train_seconds) << " at " << fixed(t.tokens_per_s, 0)
    << " bytes/s on this machine; the bits per byte depend only on the budget, the seed and the thread count. "
       "Curves: runs/long/" << o.long_scheme << "_n" << o.long_context << "/curves.png.\n";
  return s.str();
}

const std::vector<PaperBpc>& paper_enwik8() {
  static const std::vector<PaperBpc> rows = {
      {"sparse", "fixed pattern, 30 layers, 95M parameters", "Child et al. 2019, as quoted in lesson 03", 0.99},
      {"longformer", "small: 12 layers, 41M parameters", "Beltagy et al. 2020, as quoted in lesson 05", 1.00},
      {"longformer", "large: 30 layers, 102M parameters", "Beltagy et al. 2020, as quoted in lesson 05", 0.99},
      {"reformer", "12 layers, \"with further tuning\" (1.19 after 20K steps)", "Kitaev et al. 2020, §5, as quoted in lesson 04", 1.05},
  };
  return rows;
}

std::string results_csv(const SuiteResult& r) {
  std::ostringstream s;
  s << "experiment,scheme,objective,settings,context,ok,test_bpc,valid_bpc,tokens_per_s,peak_bytes,steps,"
       "stopped_by_time_limit,parameters,error\n";
  for (const SuiteRow& row : r.rows) {
    const TrainResult& t = row.result;
    s << row.experiment << "," << row.scheme << "," << row.objective << ","
      << core::csv_field(settings_text(row.settings)) << "," << row.context << "," << (row.ok ? 1 : 0) << ","
      << (row.ok ? json_num(t.test_bpc) : "") << ","
      << (row.ok ? json_num(t.valid_bpc) : "") << "," << (row.ok ? json_num(t.tokens_per_s) : "") << ","
      << (row.ok ? std::to_string(t.peak_bytes) : "") << "," << (row.ok ? std::to_string(t.steps) : "") << ","
      << (t.stopped_by_time_limit ? 1 : 0) << "," << t.parameters << ","
      << core::csv_field(lra::files::clip(row.error)) << "\n";
  }
  for (const CompressorResult& c : r.compressors)
    s << "compressor," << c.name << ",," << c.setting << ",,1," << json_num(c.bits_per_byte) << ",,,,,,,\n";
  return s.str();
}

std::string results_markdown(const SuiteResult& r, const SuiteOptions& o) {
  std::ostringstream s;
  s << "# Every scheme as a language model on " << o.corpus << "\n\n";
  s << "Byte-level LMs, context n = " << o.context << ", " << o.budget_tokens << " training bytes each ("
    << o.tokens_per_step << " per step), d_model " << o.model.d_model << ", " << o.model.n_heads << " heads, "
    << o.model.n_layers << " layers, d_ff " << o.model.d_ff << ", seed " << o.seed
    << ". Test split: the last 5 % of the text (" << r.test_bytes
    << " bytes), never trained on; the score is the checkpoint with the best validation bits per byte.\n\n";
  s << "Causal LM bits per byte and a compressor's are the same quantity (both code the test text byte after byte "
       "from what came before); the masked LM's are not: it predicts 15 % of the bytes from both sides.\n\n";
  s << "| scheme | settings | causal LM test bpc | masked LM test bpc | tokens/s (causal) | peak MiB/step (causal) |\n";
  s << "|---|---|---:|---:|---:|---:|\n";
  std::vector<std::string> schemes;
  for (const SuiteRow& row : r.rows)
    if (row.experiment == "schemes" && std::find(schemes.begin(), schemes.end(), row.scheme) == schemes.end())
      schemes.push_back(row.scheme);
  for (const std::string& scheme : schemes) {
    const SuiteRow *causal = nullptr, *masked = nullptr;
    for (const SuiteRow& row : r.rows)
      if (row.experiment == "schemes" && row.scheme == scheme) (row.objective == "causal" ? causal : masked) = &row;
    const auto bpc = [](const SuiteRow* row) {
      if (!row) return std::string("no causal variant");
      if (!row->ok) return std::string("refused");
      return fixed(row->result.test_bpc, 3) + (row->result.stopped_by_time_limit ? "*" : "");
    };
    s << "| " << scheme << " | " << settings_text((causal ? causal : masked)->settings) << " | " << bpc(causal) << " | "
      << (masked ? bpc(masked) : "–") << " | "
      << (causal && causal->ok ? fixed(causal->result.tokens_per_s, 0) : "–") << " | "
      << (causal && causal->ok ? fixed(causal->result.peak_bytes / (1024.0 * 1024.0), 1) : "–") << " |\n";
  }
  for (const CompressorResult& c : r.compressors)
    s << "| *" << c.setting << "* | the train split read first | " << fixed(c.bits_per_byte, 3) << " | | | |\n";
  s << "\nA bpc marked * comes from a run the time limit stopped before its budget. tokens/s and peak memory depend on "
       "this machine; bits per byte depend on the budget, the seed and the thread count. The peak memory of a step "
       "at this size is mostly the logits and the feed-forward activations, not attention.\n";
  for (const SuiteRow& row : r.rows)
    if (row.experiment == "schemes" && !row.ok) s << "\n- " << row.scheme << " (" << row.objective << "): " << row.error;
  s << "\n";
  return s.str();
}

SuiteResult run_suite(const SuiteOptions& o) {
  SuiteResult r;
  const corpora::Corpus corpus = corpora::load_corpus(o.corpus);
  const corpora::TextSplits splits = corpora::split(corpus.text);
  r.test_bytes = static_cast<int64_t>(splits.test.size());
  const auto has = [&](int e) { return std::find(o.experiments.begin(), o.experiments.end(), e) != o.experiments.end(); };
  std::cout << "lm suite: " << corpus.name << ", " << corpus.text.size() << " bytes (train " << splits.train.size()
            << ", valid " << splits.valid.size() << ", test " << splits.test.size() << ")" << std::endl;
  std::cout << "lm suite: the compressors on the test split, given the train split (xz -9e takes a few seconds)"
            << std::endl;
  r.compressors = compressor_results(splits.train, splits.test);
  for (const CompressorResult& c : r.compressors)
    std::cout << "  " << std::left << std::setw(10) << c.setting << std::right << fixed(c.bits_per_byte, 3)
              << " bits per byte" << std::endl;

  // 1. every scheme at one context, causal and masked
  std::vector<std::string> schemes = o.schemes;
  if (schemes.empty())
    for (const attention::Scheme* s : attention::all_schemes()) schemes.push_back(s->name());
  int index = 0;
  const int total1 = static_cast<int>(schemes.size()) * (o.masked_too ? 2 : 1);
  if (has(1))
    for (const std::string& name : schemes) {
      const attention::Scheme& scheme = attention::find_scheme(name);
      for (const bool masked : {false, true}) {
        if (masked && !o.masked_too) continue;
        ++index;
        if (!masked && !scheme.supports_causal()) continue;  // the table says "no causal variant"
        const std::string label = "[1: " + std::to_string(index) + "/" + std::to_string(total1) + "] " + name +
                                  (masked ? " masked" : " causal");
        r.rows.push_back(run_one("schemes", name, scheme.info().lm_settings, masked, o.context, o.budget_tokens, splits, corpus, o, label));
      }
    }
  if (has(1)) {
    write(o.out_dir + "/results.md", results_markdown(r, o));
    write(o.out_dir + "/results.csv", results_csv(r));
  }

  // 2. context sweep, causal
  if (has(2)) {
    index = 0;
    const int total2 = static_cast<int>(o.context_schemes.size() * o.contexts.size());
    for (const std::string& name : o.context_schemes)
      for (int64_t n : o.contexts) {
        ++index;
        const std::string label = "[2: " + std::to_string(index) + "/" + std::to_string(total2) + "] " + name +
                                  " n=" + std::to_string(n);
        r.rows.push_back(run_one("context", name, attention::find_scheme(name).info().lm_settings, false, n, o.context_budget_tokens, splits, corpus, o, label));
      }
    write(o.out_dir + "/context.md", context_markdown(r, o));
    plot::save_png(context_image(r, o), o.out_dir + "/context.png");
  }

  // 3. Linformer's k, masked LM at n = linformer_n
  if (has(3)) {
    index = 0;
    for (int64_t k : o.linformer_k) {
      ++index;
      const std::string label = "[3: " + std::to_string(index) + "/" + std::to_string(o.linformer_k.size()) +
                                "] linformer k=" + std::to_string(k);
      const auto set = attention::overlay_settings(attention::find_scheme("linformer").info().lm_settings,
                                                   {"k=" + std::to_string(k)});
      r.rows.push_back(run_one("linformer_k", "linformer", set, true, o.linformer_n,
                               o.linformer_budget_tokens, splits, corpus, o, label));
    }
    std::ostringstream s;
    s << "# Linformer: masked-LM test bits per byte vs k at n = " << o.linformer_n << "\n\n";
    s << "Its paper's Figure 3 (perplexity vs k during pretraining), in miniature: " << o.linformer_budget_tokens
      << " training bytes per run. The paper found that k = 128 to 256 came close to the full Transformer at "
         "n = 512.\n\n| k | masked LM test bpc | tokens/s |\n|---:|---:|---:|\n";
    for (const SuiteRow& row : r.rows)
      if (row.experiment == "linformer_k")
        s << "| " << row.settings.back().substr(2)  /* the k=K given last */ << " | " << (row.ok ? fixed(row.result.test_bpc, 3) : "refused") << " | "
          << (row.ok ? fixed(row.result.tokens_per_s, 0) : "–") << " |\n";
    write(o.out_dir + "/linformer_k.md", s.str());
  }
  // 4. the long run
  if (has(4)) {
    const std::string label = "[4: 1/1] " + o.long_scheme + " n=" + std::to_string(o.long_context) + " long";
    r.rows.push_back(run_one("long", o.long_scheme, attention::find_scheme(o.long_scheme).info().lm_settings, false,
                             o.long_context, o.long_budget_tokens, splits, corpus, o, label, o.long_tokens_per_step,
                             o.long_time_limit));
    write(o.out_dir + "/long_run.md", long_run_markdown(r, o));
  }
  write(o.out_dir + "/all_runs.csv", results_csv(r));
  return r;
}

}  // namespace lm
