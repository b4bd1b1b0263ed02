// attention/decode_bench.cpp — see decode_bench.h. Legend: H = heads, d = head size, t = context length.
#include "attention/decode_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>

#include "attention/benchmark.h"
#include "attention/decode.h"
#include "core/atomic_file.h"
#include "core/core.h"
#include "core/csv.h"
#include "core/timing.h"
#include "plot/plot.h"

namespace attention {

using namespace core;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// Whether the scheme's state after 1024 tokens is the size it was after 256 (the constant-state schemes).
bool state_is_constant(const Scheme& s, const Config& cfg, int64_t H, int64_t d, uint64_t seed) {
  Rng rng(seed);
  const Shape shape{1, H, 1024, d};
  const Tensor q = randn(shape, rng), k = randn(shape, rng), v = randn(shape, rng);
  const std::unique_ptr<Decoder> dec = make_decoder(s, cfg, 1024);
  dec->prefill(slice(q, 2, 0, 256), slice(k, 2, 0, 256), slice(v, 2, 0, 256));
  const int64_t at_256 = dec->state_floats();
  dec->prefill(slice(q, 2, 256, 1024), slice(k, 2, 256, 1024), slice(v, 2, 256, 1024));
  return dec->state_floats() == at_256;
}

}  // namespace

std::vector<DecodePoint> run_decode_benchmark(const DecodeBenchOptions& o) {
  AZ_CHECK(o.heads >= 1 && o.d_head >= 1 && o.steps >= 1, "bench --decode: heads, d and steps must be >= 1");
  std::vector<const Scheme*> schemes;
  if (o.schemes.empty()) {
    for (const Scheme* s : all_schemes())
      if (s->supports_causal()) schemes.push_back(s);
  } else {
    for (const std::string& name : o.schemes) {
      const Scheme& s = find_scheme(name);
      AZ_CHECK(s.supports_causal(), "bench --decode: ", name, " has no causal variant to decode (",
               s.causal_refusal(), ")");
      schemes.push_back(&s);
    }
  }
  std::vector<DecodePoint> points;
  const int64_t H = o.heads, d = o.d_head;
  for (size_t si = 0; si < schemes.size(); ++si) {
    const Scheme& s = *schemes[si];
    const Config cfg = s.configure(s.info().lm_settings, /*causal=*/true, o.seed);
    const bool constant = state_is_constant(s, cfg, H, d, o.seed);
    std::vector<int64_t> lengths = o.ts;
    if (constant) lengths.insert(lengths.end(), o.long_ts.begin(), o.long_ts.end());
    bool cached_stopped = false, recompute_stopped = false;
    std::string cached_why, recompute_why;
    double last_mib = 0, last_cached_s = 0, last_recompute_s = 0;  // the previous point's, to extrapolate
    int64_t last_t = 0, last_cached_t = 0;
    bool fallback = false;
    // A point is skipped when the previous one, grown as t² (the worst growth here), would take longer than the
    // budget or more memory than max_mib: a recomputation, and a fallback decoder's step (it recomputes).
    auto grown = [](double value, int64_t from, int64_t to) {
      return from > 0 ? value * std::pow(static_cast<double>(to) / from, 2) : 0.0;
    };
    for (const int64_t t : lengths) {
      const std::string where = "[" + std::to_string(si + 1) + "/" + std::to_string(schemes.size()) + "] " +
                                s.name() + " t=" + length_label(t);
      Rng rng(o.seed + static_cast<uint64_t>(t));  // the same q, k, v for every scheme at this t
      const int64_t n = t + o.steps + 1;           // the prefix, a warm-up step and the timed steps
      const Shape shape{1, H, n, d};
      const Tensor q = randn(shape, rng), k = randn(shape, rng), v = randn(shape, rng);

      DecodePoint c;
      c.scheme = s.name();
      c.mode = "cached";
      c.t = t;
      c.constant_state = constant;
      const double cached_s = grown(last_cached_s, last_cached_t, t);
      if (!cached_stopped && cached_s > o.max_seconds_per_point) {
        cached_stopped = true;
        cached_why = "a step would take ~" + format_number("%.0f", cached_s) + " s (budget " +
                     format_number("%.0f", o.max_seconds_per_point) + " s)";
      }
      if (!cached_stopped && fallback && grown(last_mib, last_t, t) > o.max_mib) {
        cached_stopped = true;
        cached_why = "a step (it recomputes) would need ~" + format_number("%.0f", grown(last_mib, last_t, t)) +
                     " MiB (limit " + format_number("%.0f", o.max_mib) + ")";
      }
      if (cached_stopped) {
        c.skipped = cached_why;
      } else {
        try {
          const std::unique_ptr<Decoder> dec = make_decoder(s, cfg, n);
          c.fallback = fallback = dynamic_cast<const RecomputeDecoder*>(dec.get()) != nullptr;
          dec->prefill(slice(q, 2, 0, t), slice(k, 2, 0, t), slice(v, 2, 0, t));
          c.mib = static_cast<double>(dec->state_floats()) * 4 / kMiB;  // the state after t tokens
          std::vector<double> times;  // the warm-up step first
          double spent = 0;
          for (int64_t i = t; i < n && (times.size() < 2 || spent < o.max_seconds_per_point); ++i) {
            const Stopwatch clock;
            dec->step(slice(q, 2, i, i + 1), slice(k, 2, i, i + 1), slice(v, 2, i, i + 1));
            times.push_back(clock.seconds());
            spent += times.back();
          }
          const double warm_up = times.front();
          if (times.size() > 1) times.erase(times.begin());
          c.ms_per_token = median(times) * 1e3;
          last_cached_s = c.ms_per_token / 1e3;
          last_cached_t = t;
          if (warm_up > o.max_seconds_per_point) {
            cached_stopped = true;
            cached_why = "one step at t=" + length_label(t) + " took " + format_number("%.0f", warm_up) + " s";
          }
          if (o.progress)
            o.progress(where + " cached      " + format_number("%9.4f", c.ms_per_token) + " ms/token  state " +
                       format_number("%.2f", c.mib) + " MiB");
        } catch (const core::Error& e) {
          c.skipped = e.what();
          if (o.progress) o.progress(where + " cached failed: " + c.skipped);
        }
      }
      points.push_back(c);

      if (!o.recompute) continue;
      DecodePoint r;
      r.scheme = s.name();
      r.mode = "recomputed";
      r.t = t;
      const double predicted = grown(last_mib, last_t, t), predicted_s = grown(last_recompute_s, last_t, t);
      if (recompute_stopped) {
        r.skipped = recompute_why;
      } else if (predicted > o.max_mib) {
        r.skipped =
            "would need ~" + format_number("%.0f", predicted) + " MiB (limit " + format_number("%.0f", o.max_mib) + ")";
      } else if (predicted_s > o.max_seconds_per_point) {
        r.skipped = "would take ~" + format_number("%.0f", predicted_s) + " s (budget " +
                    format_number("%.0f", o.max_seconds_per_point) + " s)";
      } else {
        try {
          const Tensor qp = slice(q, 2, 0, t + 1), kp = slice(k, 2, 0, t + 1), vp = slice(v, 2, 0, t + 1);
          const Cost cost = measure(
              [&]() {
                NoGradGuard no_grad;
                s.kernel(qp, kp, vp, cfg);  // (1, H, t + 1, d): the last row is token t's output
              },
              3, o.max_seconds_per_point);
          r.ms_per_token = cost.seconds * 1e3;
          r.mib = static_cast<double>(cost.peak_bytes) / kMiB;
          last_mib = r.mib;
          last_recompute_s = cost.seconds;
          last_t = t;
          if (cost.seconds > o.max_seconds_per_point) {
            recompute_stopped = true;
            recompute_why =
                "the recomputation at t=" + length_label(t) + " took " + format_number("%.0f", cost.seconds) + " s";
          }
          if (o.progress)
            o.progress(where + " recomputed  " + format_number("%9.4f", r.ms_per_token) + " ms/token  peak " +
                       format_number("%.2f", r.mib) + " MiB");
        } catch (const core::Error& e) {
          r.skipped = e.what();
          if (o.progress) o.progress(where + " recomputed failed: " + r.skipped);
        }
      }
      points.push_back(r);
    }
  }
  return points;
}

namespace {

struct Curve {
  std::string scheme, mode;
  std::vector<double> t, ms, mib;
  bool constant_state = false, fallback = false;
  const double* at(double tt, bool memory) const {
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i] == tt) return memory ? &mib[i] : &ms[i];
    return nullptr;
  }
  // The exponent of the fit over t >= from (the growth once the fixed costs are paid).
  double exponent(bool memory, double from) const {
    std::vector<double> x, y;
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i] >= from) x.push_back(t[i]), y.push_back(memory ? mib[i] : ms[i]);
    return fit_exponent(x, y);
  }
};

std::vector<Curve> curves_of(const std::vector<DecodePoint>& points) {
  std::vector<Curve> curves;
  for (const DecodePoint& p : points) {
    auto it = std::find_if(curves.begin(), curves.end(),
                           [&](const Curve& c) { return c.scheme == p.scheme && c.mode == p.mode; });
    if (it == curves.end()) {
      curves.push_back({p.scheme, p.mode, {}, {}, {}, p.constant_state, p.fallback});
      it = curves.end() - 1;
    }
    it->fallback = it->fallback || p.fallback;
    if (!p.skipped.empty()) continue;
    it->t.push_back(static_cast<double>(p.t));
    it->ms.push_back(p.ms_per_token);
    it->mib.push_back(p.mib);
  }
  return curves;
}

const Curve* find_curve(const std::vector<Curve>& curves, const std::string& scheme, const std::string& mode) {
  for (const Curve& c : curves)
    if (c.scheme == scheme && c.mode == mode) return &c;
  return nullptr;
}

std::string exponent_cell(double e) { return std::isnan(e) ? "–" : format_number("%.2f", e); }

}  // namespace

plot::Image decode_cost_figure(const std::vector<DecodePoint>& points, const DecodeBenchOptions& o) {
  const std::vector<Curve> curves = curves_of(points);
  std::vector<plot::Series> cached_series, recomputed_series, memory_series;
  for (const Curve& c : curves) {
    if (c.mode != "cached") continue;
    const Curve* r = find_curve(curves, c.scheme, "recomputed");
    const bool emphasis = c.scheme == "full";
    cached_series.push_back({c.scheme + (c.fallback ? " (fallback)" : ""), c.t, c.ms, emphasis});
    recomputed_series.push_back({c.scheme, r ? r->t : std::vector<double>{}, r ? r->ms : std::vector<double>{},
                                 emphasis});
    memory_series.push_back({c.scheme, c.t, c.mib, emphasis});
  }
  plot::PlotOptions pt;
  pt.title = "cached: time per token";
  pt.xlabel = "context length t";
  pt.ylabel = "time per token (ms, median)";
  pt.log_x = pt.log_y = true;
  pt.width = 760;
  pt.height = 560;
  plot::PlotOptions pr = pt;
  pr.title = "recomputed: time per token";
  plot::PlotOptions pm = pt;
  pm.title = "cached: the state (exact)";
  pm.ylabel = "state memory (MiB)";
  const std::string subtitle = "batch 1, H=" + std::to_string(o.heads) + ", d=" + std::to_string(o.d_head) +
                               ", LM presets; times measured on this machine";
  return plot::with_title(plot::hstack({plot::line_plot(cached_series, pt), plot::line_plot(recomputed_series, pr),
                                        plot::line_plot(memory_series, pm)}),
                          "decoding one token: cost vs context (" + subtitle + ")");
}

std::string write_decode_report(const std::vector<DecodePoint>& points, const DecodeBenchOptions& o,
                                const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ostringstream csv;
  // mode: cached, fallback (a decoder that recomputes) or recomputed
  csv << "scheme,mode,t,heads,d_head,ms_per_token,mib,constant_state,skipped\n";
  for (const DecodePoint& p : points) {
    const bool ok = p.skipped.empty();
    csv << p.scheme << "," << (p.fallback ? "fallback" : p.mode) << "," << p.t << "," << o.heads << "," << o.d_head
        << ","
        << (ok ? format_number("%.6f", p.ms_per_token) : "") << "," << (ok ? format_number("%.4f", p.mib) : "") << ","
        << (p.constant_state ? 1 : 0) << "," << core::csv_field(p.skipped) << "\n";
  }

  std::vector<int64_t> all_t = o.ts;
  for (int64_t t : o.long_ts)
    if (std::any_of(points.begin(), points.end(), [&](const DecodePoint& p) { return p.t == t; })) all_t.push_back(t);
  const std::vector<Curve> curves = curves_of(points);
  const double fit_from = 1024;
  std::ostringstream md;
  md << "# What inference costs: one token at a time\n\n"
     << "Measured on this machine (times depend on it; memory does not): batch 1, H=" << o.heads << ", d=" << o.d_head
     << ", each scheme with its LM preset. *cached*: the scheme's decoder (attention/decode.h) after a prefill of t "
     << "tokens; time = median of up to " << o.steps << " steps; memory = its state. *recomputed*: the causal kernel, "
     << "forward only, over all t + 1 tokens (what a generate() without a cache does for one token); memory = the "
     << "peak of that pass. *cached (fallback: recomputes)*: a scheme with no cheaper state than its inputs "
     << "(attention/decode.h), so its decoder costs what recomputing does. Exponents: least-squares slope of log "
     << "cost on log t over t >= " << fit_from << ".\n\n";
  md << "Time per token (ms) and memory (MiB):\n\n| scheme | mode |";
  for (int64_t t : all_t) md << " t=" << length_label(t) << " |";
  md << " time exponent | memory exponent |\n|---|---|";
  for (size_t i = 0; i < all_t.size(); ++i) md << "---:|";
  md << "---:|---:|\n";
  for (const Curve& c : curves) {
    md << "| " << c.scheme << " | " << (c.fallback ? "cached (fallback: recomputes)" : c.mode) << " |";
    for (int64_t t : all_t) {
      const double* ms = c.at(static_cast<double>(t), false);
      const double* mib = c.at(static_cast<double>(t), true);
      md << (ms ? " " + format_number(*ms < 0.1 ? "%.4f" : "%.3f", *ms) + " ms, " + format_number("%.2f", *mib) +
                      " MiB |"
                : " – |");
    }
    md << " " << exponent_cell(c.exponent(false, fit_from)) << " | " << exponent_cell(c.exponent(true, fit_from))
       << " |\n";
  }

  // The cache's speed-up, and the crossover against exact attention with a KV cache (full, cached).
  const Curve* exact = find_curve(curves, "full", "cached");
  md << "\nSpeed-up of the cache (recomputed / cached time per token):\n\n| scheme |";
  for (int64_t t : o.ts) md << " t=" << length_label(t) << " |";
  md << "\n|---|";
  for (size_t i = 0; i < o.ts.size(); ++i) md << "---:|";
  md << "\n";
  for (const Curve& c : curves) {
    if (c.mode != "cached") continue;
    const Curve* r = find_curve(curves, c.scheme, "recomputed");
    md << "| " << c.scheme << " |";
    for (int64_t t : o.ts) {
      const double* a = c.at(static_cast<double>(t), false);
      const double* b = r ? r->at(static_cast<double>(t), false) : nullptr;
      md << (a && b ? " " + format_number("%.1f", *b / *a) + "× |" : " – |");
    }
    md << "\n";
  }
  md << "\nCrossover: from which context length each scheme's cached decoding is faster per token than exact "
     << "attention with a KV cache (full, cached) — and stays faster at every longer t measured:\n\n"
     << "| scheme | faster from | at the longest t both reached |\n|---|---|---|\n";
  for (const Curve& c : curves) {
    // flash decodes with the same KV cache as full: their difference is noise
    if (c.mode != "cached" || c.scheme == "full" || c.scheme == "flash" || !exact) continue;
    int64_t from = -1;
    double last_ratio = std::numeric_limits<double>::quiet_NaN();
    int64_t last_t = 0;
    for (int64_t t : all_t) {
      const double* a = c.at(static_cast<double>(t), false);
      const double* b = exact->at(static_cast<double>(t), false);
      if (!a || !b) continue;
      if (*a < *b) {
        if (from < 0) from = t;
      } else {
        from = -1;
      }
      last_ratio = *b / *a;
      last_t = t;
    }
    md << "| " << c.scheme << " | "
       << (from > 0 ? "t = " + length_label(from) : last_t > 0 ? "not within t ≤ " + length_label(last_t) : "–")
       << " | " << (last_t > 0 ? format_number("%.2f", last_ratio) + "× at t=" + length_label(last_t) : "–")
       << " |\n";
  }

  // The targets, checked on these measurements.
  md << "\nTargets:\n\n";
  for (const char* name : {"full", "flash"}) {
    const Curve* a = find_curve(curves, name, "cached");
    const Curve* b = find_curve(curves, name, "recomputed");
    const double* x = a ? a->at(2048, false) : nullptr;
    const double* y = b ? b->at(2048, false) : nullptr;
    md << "- " << name << ": cached at t=2K at least 10× faster per token than recomputing: "
       << (x && y ? format_number("%.1f", *y / *x) + "× — " + (*y / *x >= 10 ? "met" : "**not met**") : "not measured")
       << "\n";
  }
  for (const char* name : {"linear", "performer"}) {
    const Curve* a = find_curve(curves, name, "cached");
    const double te = a ? a->exponent(false, fit_from) : std::numeric_limits<double>::quiet_NaN();
    const double me = a ? a->exponent(true, fit_from) : std::numeric_limits<double>::quiet_NaN();
    md << "- " << name << ": time per token and state flat in t (exponents ≤ 0.1 over t ≥ 1K, up to "
       << (a && !a->t.empty() ? length_label(static_cast<int64_t>(a->t.back())) : "–") << "): time "
       << exponent_cell(te) << ", memory " << exponent_cell(me) << " — "
       << (std::isnan(te) || std::isnan(me) ? "not measured" : te <= 0.1 && me <= 0.1 ? "met" : "**not met**") << "\n";
  }
  core::write_file_atomically(dir + "/decode.csv", csv.str(), "bench --decode");
  core::write_file_atomically(dir + "/decode.md", md.str(), "bench --decode");

  plot::save_png(decode_cost_figure(points, o), dir + "/decode.png");
  return md.str();
}

}  // namespace attention
