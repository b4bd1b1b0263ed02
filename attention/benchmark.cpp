// attention/benchmark.cpp — the efficiency table: time and activation memory of each scheme's kernel.
#include "attention/benchmark.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/autograd.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/timing.h"
#include "plot/plot.h"
#include "core/ops_elementwise.h"
#include "core/ops_reduce.h"

namespace attention {

using namespace core;

namespace {

// Writes `text` to a temporary file beside `path`, then renames it: `path` is complete or absent, never half
// written. Throws core::Error naming the file on failure.
void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    AZ_CHECK(out.good(), "bench: cannot write ", path);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  AZ_CHECK(!ec, "bench: cannot write ", path, " (", ec.message(), ")");
}

}  // namespace

std::string format_number(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string length_label(int64_t n) { return n % 1024 == 0 ? std::to_string(n / 1024) + "K" : std::to_string(n); }

double fit_exponent(const std::vector<double>& x, const std::vector<double>& y) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    if (!(x[i] > 0) || !(y[i] > 0)) continue;
    const double lx = std::log(x[i]), ly = std::log(y[i]);
    sx += lx;
    sy += ly;
    sxx += lx * lx;
    sxy += lx * ly;
    ++m;
  }
  if (m < 2) return std::numeric_limits<double>::quiet_NaN();
  return (m * sxy - sx * sy) / (m * sxx - sx * sx);
}

std::vector<BenchPoint> run_benchmark(const BenchOptions& o) {
  std::vector<BenchCase> cases = o.cases;
  if (cases.empty()) {
    if (o.schemes.empty()) {
      for (const Scheme* s : all_schemes()) cases.emplace_back(s->name());
    } else {
      for (const std::string& name : o.schemes) cases.emplace_back(name);
    }
    for (BenchCase& c : cases) c.causal = o.causal;
  }
  AZ_CHECK(!o.ns.empty(), "bench: no sequence lengths given");
  for (int64_t n : o.ns) AZ_CHECK(n >= 1, "bench: n must be >= 1, got ", n);
  std::vector<BenchPoint> points;
  const size_t total = cases.size() * o.ns.size();
  size_t done = 0;
  for (const BenchCase& c : cases) {
    const Scheme& s = find_scheme(c.scheme);
    const Config cfg = s.configure(c.set, c.causal, o.seed);  // a bad key stops the whole run, with its name
    double last_mib = 0;
    int64_t last_n = 0;
    for (int64_t n : o.ns) {
      ++done;
      BenchPoint p;
      p.scheme = c.name();
      p.n = n;
      const std::string where =
          "[" + std::to_string(done) + "/" + std::to_string(total) + "] " + p.scheme + " n=" + std::to_string(n);
      if (c.max_n > 0 && n > c.max_n) p.skipped = "n > " + std::to_string(c.max_n);
      else if (last_n > 0) {
        // The worst case the course meets is quadratic: predict with n², refuse before allocating.
        const double predicted = last_mib * (static_cast<double>(n) / last_n) * (static_cast<double>(n) / last_n);
        if (predicted > o.max_mib)
          p.skipped = "would need ~" + format_number("%.0f", predicted) + " MiB (limit " +
                      format_number("%.0f", o.max_mib) + ")";
      }
      if (!p.skipped.empty()) {
        if (o.progress) o.progress(where + " skipped (" + p.skipped + ")");
        points.push_back(p);
        continue;
      }
      try {
        Rng rng(o.seed + static_cast<uint64_t>(n));  // the same q, k, v, G for every curve at this n
        const Shape shape{o.batch, o.heads, n, o.d_head};
        Tensor q = randn(shape, rng), k = randn(shape, rng), v = randn(shape, rng);
        const Tensor g = randn(shape, rng);
        if (c.backward)
          for (Tensor* t : {&q, &k, &v}) t->set_requires_grad();
        auto kernel = [&]() { return c.kernel ? c.kernel(q, k, v, cfg) : s.kernel(q, k, v, cfg); };
        const Cost cost = measure(
            [&]() {
              if (c.backward) {
                kernel().backward(g);  // d(sum(out * G))/d(out) = G
                for (Tensor* t : {&q, &k, &v}) t->zero_grad();  // every call starts from the same memory
              } else {
                NoGradGuard no_grad;
                kernel();
              }
            },
            o.repeats, o.max_seconds_per_point);
        p.seconds = cost.seconds;
        p.peak_mib = static_cast<double>(cost.peak_bytes) / (1024.0 * 1024.0);
        p.gflop = (c.backward && !c.kernel ? s.flops(shape, cfg) : std::numeric_limits<double>::quiet_NaN()) / 1e9;
        last_mib = p.peak_mib;
        last_n = n;
        if (o.progress)
          o.progress(where + "  " + format_number("%.2f", p.seconds * 1e3) + " ms  " +
                     format_number("%.1f", p.peak_mib) + " MiB" +
                     (std::isnan(p.gflop) ? "" : "  " + format_number("%.1f", p.gflop / p.seconds) + " GFLOP/s"));
      } catch (const core::Error& e) {
        p.skipped = e.what();
        if (o.progress) o.progress(where + " failed: " + p.skipped);
      }
      points.push_back(p);
    }
  }
  return points;
}

int Scaling::index_of(double n_value) const {
  for (size_t i = 0; i < n.size(); ++i)
    if (n[i] == n_value) return static_cast<int>(i);
  return -1;
}

std::vector<Scaling> fit_scaling(const std::vector<BenchPoint>& points) {
  std::vector<Scaling> curves;
  for (const BenchPoint& p : points) {
    auto it = std::find_if(curves.begin(), curves.end(), [&](const Scaling& c) { return c.scheme == p.scheme; });
    if (it == curves.end()) {
      curves.emplace_back();
      curves.back().scheme = p.scheme;
      it = curves.end() - 1;
    }
    if (!p.skipped.empty()) continue;
    it->n.push_back(static_cast<double>(p.n));
    it->ms.push_back(p.seconds * 1e3);
    it->mib.push_back(p.peak_mib);
  }
  for (Scaling& c : curves) {
    c.time_exponent = fit_exponent(c.n, c.ms);
    c.memory_exponent = fit_exponent(c.n, c.mib);
  }
  return curves;
}

std::vector<plot::Series> cost_series(const std::vector<Scaling>& curves, bool memory, bool exponent_in_name) {
  std::vector<plot::Series> series;
  for (const Scaling& c : curves) {
    if (c.n.empty()) continue;
    const double e = memory ? c.memory_exponent : c.time_exponent;
    const std::string name =
        exponent_in_name && !std::isnan(e) ? c.scheme + " (n^" + format_number("%.2f", e) + ")" : c.scheme;
    series.push_back({name, c.n, memory ? c.mib : c.ms});
  }
  return series;
}

plot::Image cost_figure(const std::vector<Scaling>& curves, const std::string& title, const std::string& subtitle,
                        const std::string& time_statistic) {
  plot::PlotOptions pt;
  pt.title = "time (" + time_statistic + ", this machine)";
  pt.xlabel = "sequence length n";
  pt.ylabel = "time (ms)";
  pt.log_x = pt.log_y = true;
  plot::PlotOptions pm = pt;
  pm.title = "peak memory (exact)";
  pm.ylabel = "peak memory (MiB)";
  return plot::with_title(plot::hstack({plot::line_plot(cost_series(curves, false, true), pt),
                                          plot::line_plot(cost_series(curves, true, true), pm)}),
                           subtitle.empty() ? title : title + " (" + subtitle + ")");
}

std::string write_benchmark_report(const std::vector<BenchPoint>& points, const BenchOptions& o,
                                   const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ostringstream csv;
  csv << "scheme,n,batch,heads,d_head,causal,fwd_bwd_ms,peak_mib,useful_gflop,gflops,skipped\n";
  for (const BenchPoint& p : points) {
    const bool ok = p.skipped.empty(), rate = ok && !std::isnan(p.gflop);
    csv << p.scheme << "," << p.n << "," << o.batch << "," << o.heads << "," << o.d_head << "," << o.causal << ","
        << (ok ? format_number("%.4f", p.seconds * 1e3) : "") << "," << (ok ? format_number("%.3f", p.peak_mib) : "")
        << "," << (rate ? format_number("%.4f", p.gflop) : "") << ","
        << (rate ? format_number("%.2f", p.gflop / p.seconds) : "") << "," << core::csv_field(p.skipped) << "\n";
  }

  // One row per scheme: time and memory at each n, then the fitted exponents.
  const std::vector<Scaling> curves = fit_scaling(points);
  std::ostringstream md;
  md << "Forward + backward of the kernel alone, B=" << o.batch << ", H=" << o.heads << ", d=" << o.d_head
     << (o.causal ? ", causal" : "") << "; per n: time in ms (median), activation memory in MiB, and GFLOP/s of "
     << "the scheme's own useful work; exponents fitted on log-log over the measured n.\n\n";
  md << "| scheme |";
  for (int64_t n : o.ns) md << " n=" << n << " |";
  md << " time exponent | memory exponent |\n|---|";
  for (size_t i = 0; i < o.ns.size(); ++i) md << "---|";
  md << "---|---|\n";
  for (const Scaling& c : curves) {
    md << "| " << c.scheme << " |";
    for (const BenchPoint& p : points) {
      if (p.scheme != c.scheme) continue;
      if (!p.skipped.empty()) {
        md << " – |";
        continue;
      }
      md << " " << format_number("%.1f", p.seconds * 1e3) << " ms, " << format_number("%.1f", p.peak_mib) << " MiB"
         << (std::isnan(p.gflop) ? "" : ", " + format_number("%.1f", p.gflop / p.seconds) + " GFLOP/s") << " |";
    }
    md << " " << (std::isnan(c.time_exponent) ? "–" : format_number("%.2f", c.time_exponent)) << " | "
       << (std::isnan(c.memory_exponent) ? "–" : format_number("%.2f", c.memory_exponent)) << " |\n";
  }
  write_text(dir + "/attention.csv", csv.str());
  write_text(dir + "/attention.md", md.str());

  const bool all_backward =
      std::all_of(o.cases.begin(), o.cases.end(), [](const BenchCase& c) { return c.backward; });
  const std::string subtitle = "B=" + std::to_string(o.batch) + " H=" + std::to_string(o.heads) +
                               " d=" + std::to_string(o.d_head) + (o.causal ? " causal" : "") +
                               (all_backward ? ", forward + backward" : ", forward only or forward + backward") +
                               ", measured on this machine";
  plot::save_png(cost_figure(curves, "attention schemes: cost vs n", subtitle), dir + "/attention.png");
  return md.str();
}

BenchReport read_benchmark_csv(const std::string& path) {
  std::ifstream in(path);
  AZ_CHECK(in.good(), "bench: cannot open ", path);
  const std::string header = "scheme,n,batch,heads,d_head,causal,fwd_bwd_ms,peak_mib,useful_gflop,gflops,skipped";
  BenchReport r;
  r.options.ns.clear();
  std::string line;
  int line_no = 0;
  auto number = [&](const std::string& f, const char* what) {
    char* end = nullptr;
    const double v = std::strtod(f.c_str(), &end);
    AZ_CHECK(!f.empty() && *end == '\0', "bench: ", path, ":", line_no, ": ", what, " '", f, "' is not a number");
    return v;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1) {
      AZ_CHECK(line == header, "bench: ", path, ":1: expected the header '", header, "'");
      continue;
    }
    if (line.empty()) continue;
    const std::vector<std::string> f = core::csv_fields(line);  // the last: why a point was skipped, or empty
    AZ_CHECK(f.size() == 11, "bench: ", path, ":", line_no, ": expected 11 comma-separated fields, got ", f.size());
    BenchPoint p;
    p.scheme = f[0];
    p.n = static_cast<int64_t>(number(f[1], "n"));
    r.options.batch = static_cast<int64_t>(number(f[2], "batch"));
    r.options.heads = static_cast<int64_t>(number(f[3], "heads"));
    r.options.d_head = static_cast<int64_t>(number(f[4], "d_head"));
    r.options.causal = number(f[5], "causal") != 0;
    p.skipped = f[10];
    if (p.skipped.empty()) {
      p.seconds = number(f[6], "fwd_bwd_ms") / 1e3;
      p.peak_mib = number(f[7], "peak_mib");
      p.gflop = f[8].empty() ? std::numeric_limits<double>::quiet_NaN() : number(f[8], "useful_gflop");
    }
    if (std::find(r.options.ns.begin(), r.options.ns.end(), p.n) == r.options.ns.end()) r.options.ns.push_back(p.n);
    r.points.push_back(p);
  }
  AZ_CHECK(line_no >= 1, "bench: ", path, " is empty");
  return r;
}

}  // namespace attention
