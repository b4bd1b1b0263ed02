// attention/benchmark.cpp — the efficiency table: time and activation memory of each scheme's kernel.
#include "attention/benchmark.h"

#include <omp.h>

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
        auto call = [&]() {
          if (c.backward) {
            kernel().backward(g);  // d(sum(out * G))/d(out) = G
            for (Tensor* t : {&q, &k, &v}) t->zero_grad();  // every call starts from the same memory
          } else {
            NoGradGuard no_grad;
            kernel();
          }
        };
        p.threads = omp_get_max_threads();
        if (o.thread_speedup) {
          // 1 thread first, then all of them, back to back: the same load for both (OpenBLAS's OpenMP build
          // follows omp_set_num_threads too). Restored even if the kernel throws.
          struct Restore {
            int threads;
            ~Restore() { omp_set_num_threads(threads); }
          } restore{p.threads};
          omp_set_num_threads(1);
          p.seconds_1thread = measure(call, o.repeats, o.max_seconds_per_point).seconds;
        }
        const Cost cost = measure(call, o.repeats, o.max_seconds_per_point);
        p.seconds = cost.seconds;
        p.peak_mib = static_cast<double>(cost.peak_bytes) / (1024.0 * 1024.0);
        p.gflop = (c.backward && !c.kernel ? s.flops(shape, cfg) : std::numeric_limits<double>::quiet_NaN()) / 1e9;
        p.gbyte = (c.backward && !c.kernel ? s.bytes(shape, cfg) : std::numeric_limits<double>::quiet_NaN()) / 1e9;
        const double roofline = roofline_percent(p, o.machine);
        last_mib = p.peak_mib;
        last_n = n;
        if (o.progress)
          o.progress(where + "  " + format_number("%.2f", p.seconds * 1e3) + " ms  " +
                     format_number("%.1f", p.peak_mib) + " MiB" +
                     (std::isnan(p.gflop) ? "" : "  " + format_number("%.1f", p.gflop / p.seconds) + " GFLOP/s") +
                     (std::isnan(roofline) ? "" : "  " + format_number("%.0f", roofline) + "% of roofline") +
                     (std::isnan(p.seconds_1thread) ? "" : "  1 -> " + std::to_string(p.threads) + " threads " +
                      format_number("%.2f", p.seconds_1thread / p.seconds) + "x"));
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

// attention.csv's columns: the point, its traffic and roofline, this machine's limits (the same on every row),
// and why a point was skipped (empty when measured) last.
const char* const kBenchCsvHeader =
    "scheme,n,batch,heads,d_head,causal,fwd_bwd_ms,peak_mib,useful_gflop,gflops,compulsory_gbyte,gbs,roofline_pct,"
    "machine_peak_gflops,machine_gbs,threads,fwd_bwd_ms_1thread,skipped";

double roofline_percent(const BenchPoint& p, const core::MachineLimits& machine) {
  if (!p.skipped.empty() || !(p.seconds > 0)) return std::numeric_limits<double>::quiet_NaN();
  return 100.0 * machine.roofline_seconds(p.gflop * 1e9, p.gbyte * 1e9) / p.seconds;
}

plot::Image roofline_figure(const std::vector<BenchPoint>& points, const core::MachineLimits& machine, int64_t n,
                            double target) {
  plot::ScatterOptions o;
  o.title = "How close each kernel comes to this machine's limits, n = " + length_label(n);
  o.subtitle = "roofline = max(FLOPs / " + format_number("%.0f", machine.peak_gflops) + " GFLOP/s, bytes / " +
               format_number("%.1f", machine.bandwidth_gbs) + " GB/s); fwd + bwd, this machine";
  o.xlabel = "log10 arithmetic intensity (useful FLOPs per compulsory byte)";
  o.ylabel = "fraction of roofline";
  o.tick = 0.25;
  o.pad = 0.05;
  o.x_lo = std::log10(machine.ridge()) - 0.5;
  o.x_hi = std::log10(machine.ridge()) + 0.5;
  o.y_lo = 0;
  o.y_hi = 1;
  o.y_floor = 0;  // a fraction of the roofline: no negative axis below the slowest kernel
  o.guides = {{true, std::log10(machine.ridge()), "ridge"},
              {false, target / 100, "target " + format_number("%.0f", target) + "%"}};
  std::vector<plot::LabeledPoint> pts;
  for (const BenchPoint& p : points) {
    const double r = roofline_percent(p, machine);
    if (p.n != n || std::isnan(r) || !(p.gbyte > 0)) continue;
    pts.push_back({p.scheme, std::log10(p.gflop / p.gbyte), r / 100,
                   plot::categorical(machine.compute_bound(p.gflop, p.gbyte) ? 0 : 1)});
  }
  o.legend = {{plot::categorical(0), "compute-bound"}, {plot::categorical(1), "memory-bound"}};
  o.legend_title = "which limit binds";
  return plot::labeled_scatter(pts, o);
}

// The rest of a markdown table whose header line was started with "| scheme |": one column per n, one row per
// curve, each cell cell(point) ("" is shown as –).
template <class Cell>
void point_table(std::ostream& md, const std::vector<Scaling>& curves, const std::vector<BenchPoint>& points,
                 const std::vector<int64_t>& ns, Cell cell) {
  for (int64_t n : ns) md << " n=" << n << " |";
  md << "\n|---|";
  for (size_t i = 0; i < ns.size(); ++i) md << "---|";
  md << "\n";
  for (const Scaling& c : curves) {
    md << "| " << c.scheme << " |";
    for (const BenchPoint& p : points) {
      if (p.scheme != c.scheme) continue;
      const std::string text = cell(p);
      md << " " << (text.empty() ? "–" : text) << " |";
    }
    md << "\n";
  }
}

std::string write_benchmark_report(const std::vector<BenchPoint>& points, const BenchOptions& o,
                                   const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ostringstream csv;
  csv << kBenchCsvHeader << "\n";
  const core::MachineLimits& m = o.machine;
  auto maybe = [](bool known, const char* format, double v) { return known ? format_number(format, v) : ""; };
  for (const BenchPoint& p : points) {
    const bool ok = p.skipped.empty(), rate = ok && !std::isnan(p.gflop), traffic = ok && !std::isnan(p.gbyte);
    const double roofline = roofline_percent(p, m);
    csv << p.scheme << "," << p.n << "," << o.batch << "," << o.heads << "," << o.d_head << "," << o.causal << ","
        << maybe(ok, "%.4f", p.seconds * 1e3) << "," << maybe(ok, "%.3f", p.peak_mib) << ","
        << maybe(rate, "%.4f", p.gflop) << "," << maybe(rate, "%.2f", p.gflop / p.seconds) << ","
        << maybe(traffic, "%.6f", p.gbyte) << "," << maybe(traffic, "%.3f", p.gbyte / p.seconds) << ","
        << maybe(!std::isnan(roofline), "%.2f", roofline) << "," << maybe(m.measured(), "%.2f", m.peak_gflops) << ","
        << maybe(m.measured(), "%.3f", m.bandwidth_gbs) << "," << (ok ? std::to_string(p.threads) : "") << ","
        << maybe(ok && !std::isnan(p.seconds_1thread), "%.4f", p.seconds_1thread * 1e3) << ","
        << core::csv_field(p.skipped) << "\n";
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
  if (m.measured()) {
    // The same points against this machine's limits.
    md << "\nAgainst this machine's limits (measured in this run, " << m.threads << " threads): sgemm peak "
       << format_number("%.1f", m.peak_gflops) << " GFLOP/s, STREAM triad " << format_number("%.1f", m.bandwidth_gbs)
       << " GB/s. Per n: % of roofline = max(FLOPs / peak, compulsory bytes / bandwidth) / time measured, and "
       << "which limit binds for the scheme's algorithm (c: compute, m: memory); the achieved GB/s of its "
       << "compulsory traffic beside it.\n\n| scheme |";
    point_table(md, curves, points, o.ns, [&](const BenchPoint& p) -> std::string {
      const double r = roofline_percent(p, m);
      if (std::isnan(r)) return "";
      return format_number("%.0f", r) + "% (" + (m.compute_bound(p.gflop, p.gbyte) ? "c" : "m") + "), " +
             format_number("%.1f", p.gbyte / p.seconds) + " GB/s";
    });
  }
  const bool threads_measured =
      std::any_of(points.begin(), points.end(), [](const BenchPoint& p) { return !std::isnan(p.seconds_1thread); });
  if (threads_measured) {
    // Every kernel with 1 thread and with all of them, in the same run: how well it uses the cores.
    int threads = 0;
    for (const BenchPoint& p : points) threads = std::max(threads, p.threads);
    md << "\nThreads: the speed-up from 1 to " << threads << " OpenMP threads (time with 1 / time with " << threads
       << "), each point timed both ways back to back; the time with 1 thread in brackets.\n\n| scheme |";
    point_table(md, curves, points, o.ns, [&](const BenchPoint& p) -> std::string {
      if (!p.skipped.empty() || std::isnan(p.seconds_1thread)) return "";
      return format_number("%.2f", p.seconds_1thread / p.seconds) + "x (" +
             format_number("%.1f", p.seconds_1thread * 1e3) + " ms)";
    });
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
  int64_t largest = 0;  // the largest n where some point has a roofline
  for (const BenchPoint& p : points)
    if (!std::isnan(roofline_percent(p, m))) largest = std::max(largest, p.n);
  if (largest > 0) plot::save_png(roofline_figure(points, m, largest), dir + "/roofline.png");
  return md.str();
}

BenchReport read_benchmark_csv(const std::string& path) {
  std::ifstream in(path);
  AZ_CHECK(in.good(), "bench: cannot open ", path);
  // Files of earlier versions have no traffic, roofline or machine columns; they still read.
  const std::string old_header = "scheme,n,batch,heads,d_head,causal,fwd_bwd_ms,peak_mib,useful_gflop,gflops,skipped";
  const std::string header = kBenchCsvHeader;
  size_t fields = 18;
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
      AZ_CHECK(line == header || line == old_header, "bench: ", path, ":1: expected the header '", header, "'");
      if (line == old_header) fields = 11;
      continue;
    }
    if (line.empty()) continue;
    const std::vector<std::string> f = core::csv_fields(line);  // the last: why a point was skipped, or empty
    AZ_CHECK(f.size() == fields, "bench: ", path, ":", line_no, ": expected ", fields, " comma-separated fields, got ",
             f.size());
    BenchPoint p;
    p.scheme = f[0];
    p.n = static_cast<int64_t>(number(f[1], "n"));
    r.options.batch = static_cast<int64_t>(number(f[2], "batch"));
    r.options.heads = static_cast<int64_t>(number(f[3], "heads"));
    r.options.d_head = static_cast<int64_t>(number(f[4], "d_head"));
    r.options.causal = number(f[5], "causal") != 0;
    p.skipped = f.back();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (p.skipped.empty()) {
      p.seconds = number(f[6], "fwd_bwd_ms") / 1e3;
      p.peak_mib = number(f[7], "peak_mib");
      p.gflop = f[8].empty() ? nan : number(f[8], "useful_gflop");
      p.gbyte = fields < 18 || f[10].empty() ? nan : number(f[10], "compulsory_gbyte");
      if (fields == 18) {
        p.threads = static_cast<int>(number(f[15], "threads"));
        p.seconds_1thread = f[16].empty() ? nan : number(f[16], "fwd_bwd_ms_1thread") / 1e3;
      }
    }
    if (fields == 18 && !f[13].empty()) {
      r.options.machine.peak_gflops = number(f[13], "machine_peak_gflops");
      r.options.machine.bandwidth_gbs = number(f[14], "machine_gbs");
    }
    if (std::find(r.options.ns.begin(), r.options.ns.end(), p.n) == r.options.ns.end()) r.options.ns.push_back(p.n);
    r.points.push_back(p);
  }
  AZ_CHECK(line_no >= 1, "bench: ", path, " is empty");
  return r;
}

}  // namespace attention
