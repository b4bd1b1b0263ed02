// attention/benchmark.cpp — the efficiency table: time and activation memory of each scheme's kernel.
#include "attention/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "core/error.h"
#include "plot/plot.h"
#include "core/memory.h"
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

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
}  // namespace

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
  std::vector<const Scheme*> schemes;
  if (o.schemes.empty()) {
    schemes = all_schemes();
  } else {
    for (const std::string& name : o.schemes) schemes.push_back(&find_scheme(name));
  }
  AZ_CHECK(!o.ns.empty(), "bench: no sequence lengths given");
  for (int64_t n : o.ns) AZ_CHECK(n >= 1, "bench: n must be >= 1, got ", n);
  std::vector<BenchPoint> points;
  const size_t total = schemes.size() * o.ns.size();
  size_t done = 0;
  for (const Scheme* s : schemes) {
    double last_mib = 0;
    int64_t last_n = 0;
    for (int64_t n : o.ns) {
      ++done;
      BenchPoint p;
      p.scheme = s->name();
      p.n = n;
      const std::string where = "[" + std::to_string(done) + "/" + std::to_string(total) + "] " + s->name() +
                                " n=" + std::to_string(n);
      if (o.causal && !s->supports_causal()) p.skipped = "not causal";
      else if (last_n > 0) {
        // The worst case the course meets is quadratic: predict with n², refuse before allocating.
        const double predicted = last_mib * (static_cast<double>(n) / last_n) * (static_cast<double>(n) / last_n);
        if (predicted > o.max_mib)
          p.skipped = "would need ~" + fmt("%.0f", predicted) + " MiB (limit " + fmt("%.0f", o.max_mib) + ")";
      }
      if (!p.skipped.empty()) {
        if (o.progress) o.progress(where + " skipped (" + p.skipped + ")");
        points.push_back(p);
        continue;
      }
      try {
        const Config cfg = s->configure({}, o.causal, o.seed);
        Rng rng(o.seed + static_cast<uint64_t>(n));
        const Shape shape{o.batch, o.heads, n, o.d_head};
        Tensor q = randn(shape, rng), k = randn(shape, rng), v = randn(shape, rng);
        const Tensor g = randn(shape, rng);
        for (Tensor* t : {&q, &k, &v}) t->set_requires_grad();
        auto once = [&]() {
          for (Tensor* t : {&q, &k, &v}) t->zero_grad();
          memory::PeakScope scope;
          const double t0 = now();
          {
            Tensor out = s->kernel(q, k, v, cfg);
            sum(out * g).backward();
          }
          const double dt = now() - t0;
          // the gradients of q, k, v are outputs, not activations: count what else was alive at the peak
          return std::make_pair(dt, scope.peak_above_start());
        };
        const auto warm = once();
        std::vector<double> times;
        size_t peak = warm.second;
        if (warm.first < o.max_seconds_per_point) {
          for (int r = 0; r < o.repeats; ++r) {
            const auto m = once();
            times.push_back(m.first);
            peak = std::max(peak, m.second);
          }
        } else {
          times.push_back(warm.first);
        }
        std::sort(times.begin(), times.end());
        p.seconds = times[times.size() / 2];
        p.peak_mib = static_cast<double>(peak) / (1024.0 * 1024.0);
        p.gflop = s->flops(shape, cfg) / 1e9;
        last_mib = p.peak_mib;
        last_n = n;
        if (o.progress)
          o.progress(where + "  " + fmt("%.2f", p.seconds * 1e3) + " ms  " + fmt("%.1f", p.peak_mib) + " MiB" +
                     (std::isnan(p.gflop) ? "" : "  " + fmt("%.1f", p.gflop / p.seconds) + " GFLOP/s"));
      } catch (const core::Error& e) {
        p.skipped = e.what();
        if (o.progress) o.progress(where + " failed: " + p.skipped);
      }
      points.push_back(p);
    }
  }
  return points;
}

std::string write_benchmark_report(const std::vector<BenchPoint>& points, const BenchOptions& o,
                                   const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ostringstream csv;
  csv << "scheme,n,batch,heads,d_head,causal,fwd_bwd_ms,peak_mib,useful_gflop,gflops,skipped\n";
  for (const BenchPoint& p : points) {
    const bool ok = p.skipped.empty(), rate = ok && !std::isnan(p.gflop);
    csv << p.scheme << "," << p.n << "," << o.batch << "," << o.heads << "," << o.d_head << "," << o.causal << ","
        << (ok ? fmt("%.4f", p.seconds * 1e3) : "") << "," << (ok ? fmt("%.3f", p.peak_mib) : "") << ","
        << (rate ? fmt("%.4f", p.gflop) : "") << "," << (rate ? fmt("%.2f", p.gflop / p.seconds) : "") << ",\""
        << p.skipped << "\"\n";
  }

  // One row per scheme: time and memory at each n, then the fitted exponents and the ratio to full.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const BenchPoint*>> by_scheme;
  for (const BenchPoint& p : points) {
    if (!by_scheme.count(p.scheme)) order.push_back(p.scheme);
    by_scheme[p.scheme].push_back(&p);
  }
  std::ostringstream md;
  md << "Forward + backward of the kernel alone, B=" << o.batch << ", H=" << o.heads << ", d=" << o.d_head
     << (o.causal ? ", causal" : "") << "; per n: time in ms (median), activation memory in MiB, and GFLOP/s of "
     << "the scheme's own useful work; exponents fitted on log-log over the measured n.\n\n";
  md << "| scheme |";
  for (int64_t n : o.ns) md << " n=" << n << " |";
  md << " time exponent | memory exponent |\n|---|";
  for (size_t i = 0; i < o.ns.size(); ++i) md << "---|";
  md << "---|---|\n";
  std::vector<plot::Series> time_series, mem_series;
  for (const std::string& name : order) {
    md << "| " << name << " |";
    std::vector<double> xs, ts, ms;
    for (const BenchPoint* p : by_scheme[name]) {
      if (!p->skipped.empty()) {
        md << " – |";
        continue;
      }
      md << " " << fmt("%.1f", p->seconds * 1e3) << " ms, " << fmt("%.1f", p->peak_mib) << " MiB"
         << (std::isnan(p->gflop) ? "" : ", " + fmt("%.1f", p->gflop / p->seconds) + " GFLOP/s") << " |";
      xs.push_back(static_cast<double>(p->n));
      ts.push_back(p->seconds * 1e3);
      ms.push_back(p->peak_mib);
    }
    const double et = fit_exponent(xs, ts), em = fit_exponent(xs, ms);
    md << " " << (std::isnan(et) ? "–" : fmt("%.2f", et)) << " | " << (std::isnan(em) ? "–" : fmt("%.2f", em))
       << " |\n";
    if (!xs.empty()) {
      time_series.push_back({name, xs, ts});
      mem_series.push_back({name, xs, ms});
    }
  }
  write_text(dir + "/attention.csv", csv.str());
  write_text(dir + "/attention.md", md.str());

  plot::PlotOptions pt;
  pt.title = "kernel forward+backward time";
  pt.xlabel = "sequence length n";
  pt.ylabel = "time (ms)";
  pt.log_x = pt.log_y = true;
  plot::PlotOptions pm = pt;
  pm.title = "kernel activation memory (peak)";
  pm.ylabel = "memory (MiB)";
  const std::string subtitle = "B=" + std::to_string(o.batch) + " H=" + std::to_string(o.heads) +
                               " d=" + std::to_string(o.d_head) + (o.causal ? " causal" : "") +
                               ", measured on this machine";
  plot::save_png(plot::with_title(plot::hstack({plot::line_plot(time_series, pt), plot::line_plot(mem_series, pm)}),
                                    "attention schemes: cost vs n (" + subtitle + ")"),
                  dir + "/attention.png");
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
    std::vector<std::string> f;  // 10 plain fields, then the quoted reason a point was skipped
    size_t start = 0;
    for (int i = 0; i < 10; ++i) {
      const size_t comma = line.find(',', start);
      AZ_CHECK(comma != std::string::npos, "bench: ", path, ":", line_no, ": expected 11 comma-separated fields");
      f.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
    const std::string last = line.substr(start);
    AZ_CHECK(last.size() >= 2 && last.front() == '"' && last.back() == '"', "bench: ", path, ":", line_no,
             ": the last field (why a point was skipped) must be quoted");
    BenchPoint p;
    p.scheme = f[0];
    p.n = static_cast<int64_t>(number(f[1], "n"));
    r.options.batch = static_cast<int64_t>(number(f[2], "batch"));
    r.options.heads = static_cast<int64_t>(number(f[3], "heads"));
    r.options.d_head = static_cast<int64_t>(number(f[4], "d_head"));
    r.options.causal = number(f[5], "causal") != 0;
    p.skipped = last.substr(1, last.size() - 2);
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
