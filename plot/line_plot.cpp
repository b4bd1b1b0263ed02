// plot/line_plot.cpp — line plots (plot/line_plot.h).
#include "plot/line_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"
#include "plot/style.h"

namespace plot {

using namespace style;  // plot/style.h: margins, tick length, title weight

// ============================================================================================================
// Line plots
// ============================================================================================================

namespace {

// One axis in "plot coordinates": the data value itself, or log10 of it on a log axis.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;             // the ends of the axis
  std::vector<double> major, minor;  // tick positions (minor: 2..9 x 10^k on log axes)
  std::vector<std::string> labels;   // one per major tick
};

// 10^k written the way a reader expects: 0.01, 0.1, 1, 10, ..., 10000, then 1e5; 1e-4 below.
std::string pow10_label(int k) {
  if (k >= 0 && k <= 4) return "1" + std::string(size_t(k), '0');
  if (k < 0 && k >= -3) return "0." + std::string(size_t(-k - 1), '0') + "1";
  return "1e" + std::to_string(k);
}

// The smallest round number (1, 2 or 5 times a power of ten) that is >= x.
double round_up_nice(double x) {
  const double p = std::pow(10.0, std::floor(std::log10(x)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * p >= x * 0.999) return m * p;
  return 10 * p;
}

std::string linear_label(double v, double step) {
  if (std::fabs(v) < step * 1e-6) return "0";
  const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  char buf[48];
  if (std::fabs(v) >= 1e6 || decimals > 5) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

// values: the drawable coordinates (already log10 on a log axis). About 5 ticks (every decade on a log axis)
// unless `fits` says their labels have no room; then ever coarser ticks are tried.
template <class Fits>
Axis make_axis(const std::vector<double>& values, bool log, Fits fits) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  Axis a;
  if (log) {
    int e0 = 0, e1 = 1;  // no data: the decade [1, 10]
    if (lo <= hi) {
      e0 = int(std::floor(lo + 1e-9));
      e1 = int(std::ceil(hi - 1e-9));
      if (e1 <= e0) e1 = e0 + 1;
    }
    for (int stride = 1; stride <= e1 - e0; ++stride) {
      const int end = e0 + (e1 - e0 + stride - 1) / stride * stride;  // the axis ends on a labelled decade
      a = Axis{};
      a.log = true;
      a.lo = e0;
      a.hi = end;
      for (int e = e0; e <= end; ++e) {
        if ((e - e0) % stride == 0) {
          a.major.push_back(e);
          a.labels.push_back(pow10_label(e));
        }
        if (e < end && stride == 1)  // minor ticks at 2..9 x 10^e, only when every decade is labelled
          for (int m = 2; m <= 9; ++m) a.minor.push_back(e + std::log10(double(m)));
      }
      if (fits(a)) break;
    }
    return a;
  }
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi - lo <= 1e-12 * std::max(1.0, std::fabs(lo))) {  // all equal: open a window around the value
    const double pad = lo == 0 ? 1.0 : 0.1 * std::fabs(lo);
    lo -= pad;
    hi += pad;
  }
  double step = round_up_nice((hi - lo) / 5);
  for (int attempt = 0; attempt < 8; ++attempt, step = round_up_nice(step * 1.01)) {
    const double k0 = std::floor(lo / step + 1e-9), k1 = std::ceil(hi / step - 1e-9);
    a = Axis{};
    a.lo = k0 * step;  // the axis ends on ticks, so the data fills the box
    a.hi = k1 * step;
    for (double k = k0; k <= k1 + 0.5; k += 1) {
      a.major.push_back(k * step);
      a.labels.push_back(linear_label(k * step, step));
    }
    if (fits(a)) break;
  }
  return a;
}

// Marker shapes, so that series stay apart in greyscale too: circle, square, triangle, diamond.
void draw_marker(Image& img, int cx, int cy, int shape, int r, Color c) {
  for (int dy = -r; dy <= r; ++dy) {
    for (int dx = -r; dx <= r; ++dx) {
      bool in = false;
      switch (shape % 4) {
        case 0: in = dx * dx + dy * dy <= r * r + r; break;
        case 1: in = std::abs(dx) < r && std::abs(dy) < r; break;
        case 2: in = 2 * std::abs(dx) <= dy + r; break;
        default: in = std::abs(dx) + std::abs(dy) <= r; break;
      }
      if (in) img.set(cx + dx, cy + dy, c);
    }
  }
}

}  // namespace

Image line_plot(const std::vector<Series>& series, const PlotOptions& opts) {
  AZ_CHECK(opts.width >= 200 && opts.height >= 150, "line_plot: size ", opts.width, "x", opts.height,
           " is too small (at least 200x150)");
  check_scale(opts.text_scale, "line_plot");
  for (const Series& se : series) {
    AZ_CHECK(se.x.size() == se.y.size(), "line_plot: series '", se.name, "' has ", se.x.size(), " x values but ",
             se.y.size(), " y values");
  }
  const int s = opts.text_scale, th = kGlyphHeight * s, cap = 7 * s, M = kMargin;
  const int W = opts.width, H = opts.height;

  // ---- points in plot coordinates; a point that cannot be drawn is NaN (it breaks the line)
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto coord = [](double v, bool log) { return log ? (v > 0 ? std::log10(v) : NAN) : v; };
  std::vector<std::vector<double>> px(series.size()), py(series.size());
  std::vector<double> all_x, all_y;
  for (size_t si = 0; si < series.size(); ++si) {
    for (size_t i = 0; i < series[si].x.size(); ++i) {
      double X = coord(series[si].x[i], opts.log_x), Y = coord(series[si].y[i], opts.log_y);
      if (!std::isfinite(X) || !std::isfinite(Y)) X = Y = nan;
      px[si].push_back(X);
      py[si].push_back(Y);
      if (std::isfinite(X)) {
        all_x.push_back(X);
        all_y.push_back(Y);
      }
    }
  }

  // ---- layout: vertical first (it fixes the y axis), then the y labels' width fixes the x axis
  const std::string title = opts.title;
  const int title_scale = (text_width(title, s) + 2 * M <= W) ? s : 1;
  int top = M + (title.empty() ? 4 : th + 12);
  const int bottom = H - M - (opts.xlabel.empty() ? 0 : th + 6) - th - 4 - kTick;
  const bool ylabel_vertical = text_width(opts.ylabel, s) <= bottom - top;
  const int ylabel_top = top;
  if (!opts.ylabel.empty() && !ylabel_vertical) top += th + 6;
  const int y0 = top, y1 = bottom;
  AZ_CHECK(y1 - y0 >= 40, "line_plot: ", W, "x", H, " leaves no room for the plot at text scale ", s);
  // Tick labels need room: rows of text on the y axis, label widths on the x axis.
  auto spacing_px = [](const Axis& a, int length) {
    return a.major.size() < 2 ? 1e9 : length * (a.major[1] - a.major[0]) / (a.hi - a.lo);
  };
  const Axis ay = make_axis(all_y, opts.log_y, [&](const Axis& a) { return spacing_px(a, y1 - y0) >= th + 4; });
  int yt_w = 0;
  for (const std::string& l : ay.labels) yt_w = std::max(yt_w, text_width(l, s));
  const int x0 = M + (!opts.ylabel.empty() && ylabel_vertical ? th + 8 : 0) + yt_w + 4 + kTick;
  const int x1_max = W - M - 2;  // the last x label overhangs the box by half its width
  AZ_CHECK(x1_max - x0 >= 60, "line_plot: ", W, "x", H, " leaves no room for the plot at text scale ", s);
  const Axis ax = make_axis(all_x, opts.log_x, [&](const Axis& a) {
    int widest = 0;
    for (const std::string& l : a.labels) widest = std::max(widest, text_width(l, s));
    return spacing_px(a, x1_max - x0 - widest / 2) >= widest + 6 * s;
  });
  const int x1 = x1_max - (ax.labels.empty() ? 0 : text_width(ax.labels.back(), s) / 2);
  // plot coordinates -> pixels (y grows downwards)
  auto to_px = [&](double X) { return x0 + int(std::lround((X - ax.lo) / (ax.hi - ax.lo) * (x1 - x0))); };
  auto to_py = [&](double Y) { return y1 - int(std::lround((Y - ay.lo) / (ay.hi - ay.lo) * (y1 - y0))); };

  Image img(W, H);
  // ---- light grid at the major ticks, then the data, then the frame on top
  for (double X : ax.major) img.fill_rect(to_px(X), y0, 1, y1 - y0 + 1, kGridLine);
  for (double Y : ay.major) img.fill_rect(x0, to_py(Y), x1 - x0 + 1, 1, kGridLine);
  const int marker_r = 2 + s;
  std::vector<std::pair<int, int>> drawn;  // pixels covered by data, to place the legend away from them
  for (size_t si = 0; si < series.size(); ++si) {
    const Color c = categorical(int(si));
    for (size_t i = 0; i + 1 < px[si].size(); ++i) {
      if (std::isnan(px[si][i]) || std::isnan(px[si][i + 1])) continue;
      const int ax0 = to_px(px[si][i]), ay0 = to_py(py[si][i]);
      const int ax1 = to_px(px[si][i + 1]), ay1 = to_py(py[si][i + 1]);
      img.draw_line(ax0, ay0, ax1, ay1, c, 2);
      const int steps = std::max(std::abs(ax1 - ax0), std::abs(ay1 - ay0)) / 4 + 1;
      for (int k = 0; k <= steps; ++k)
        drawn.push_back({ax0 + (ax1 - ax0) * k / steps, ay0 + (ay1 - ay0) * k / steps});
    }
    for (size_t i = 0; i < px[si].size(); ++i) {
      if (std::isnan(px[si][i])) continue;
      const int cx = to_px(px[si][i]), cy = to_py(py[si][i]);
      draw_marker(img, cx, cy, int(si), marker_r, c);
      drawn.push_back({cx, cy});
    }
  }
  img.draw_rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1, kBlack);

  // ---- ticks and their labels (outside the frame)
  for (size_t i = 0; i < ax.major.size(); ++i) {
    const int x = to_px(ax.major[i]);
    img.fill_rect(x, y1 + 1, 1, kTick, kBlack);
    img.draw_text(x - text_width(ax.labels[i], s) / 2, y1 + 1 + kTick + 4, ax.labels[i], kBlack, s);
  }
  for (double X : ax.minor) img.fill_rect(to_px(X), y1 + 1, 1, 3, kBlack);
  for (size_t i = 0; i < ay.major.size(); ++i) {
    const int y = to_py(ay.major[i]);
    img.fill_rect(x0 - kTick, y, kTick, 1, kBlack);
    img.draw_text(x0 - kTick - 4 - text_width(ay.labels[i], s), y - cap / 2, ay.labels[i], kBlack, s);
  }
  for (double Y : ay.minor) img.fill_rect(x0 - 3, to_py(Y), 3, 1, kBlack);

  // ---- axis names and title
  if (!opts.xlabel.empty()) {
    const int w = text_width(opts.xlabel, s);
    img.draw_text(clampi((x0 + x1) / 2 - w / 2, M, W - M - w), H - M - th, opts.xlabel, kBlack, s);
  }
  if (!opts.ylabel.empty()) {
    const int len = text_width(opts.ylabel, s);
    if (ylabel_vertical) {
      img.draw_text_vertical(M, (y0 + y1) / 2 - len / 2, opts.ylabel, kBlack, s);
    } else {
      img.draw_text(M, ylabel_top, opts.ylabel, kBlack, s);
    }
  }
  if (!title.empty()) {
    const int w = text_width(title, title_scale);
    draw_bold(img, clampi((x0 + x1) / 2 - w / 2, M, std::max(M, W - M - w)), M, title, kBlack, title_scale);
  }

  // ---- legend: in the corner of the plot that covers the fewest drawn data pixels
  std::vector<size_t> named;
  int name_w = 0;
  for (size_t si = 0; si < series.size(); ++si) {
    if (series[si].name.empty()) continue;
    named.push_back(si);
    name_w = std::max(name_w, text_width(series[si].name, s));
  }
  if (!named.empty()) {
    const int row = th + 6, sample = 28, pad = 8;
    const int lw = pad + sample + 6 + name_w + pad, lh = pad + int(named.size()) * row - 6 + pad;
    const int inset = 8;
    const std::pair<int, int> corners[4] = {{x1 - inset - lw, y0 + inset},   // upper right
                                            {x0 + inset, y0 + inset},        // upper left
                                            {x0 + inset, y1 - inset - lh},   // lower left
                                            {x1 - inset - lw, y1 - inset - lh}};  // lower right
    int best = 0;
    size_t best_hits = std::numeric_limits<size_t>::max();
    for (int k = 0; k < 4; ++k) {
      const auto [lx, ly] = corners[k];
      size_t hits = 0;
      for (const auto& [x, y] : drawn)
        hits += (x >= lx - 4 && x <= lx + lw + 4 && y >= ly - 4 && y <= ly + lh + 4);
      if (hits < best_hits) best_hits = hits, best = k;
    }
    const auto [lx, ly] = corners[best];
    img.fill_rect(lx, ly, lw, lh, kWhite);
    img.draw_rect(lx, ly, lw, lh, kBlack);
    for (size_t e = 0; e < named.size(); ++e) {
      const size_t si = named[e];
      const Color c = categorical(int(si));
      const int cy = ly + pad + int(e) * row + cap / 2;
      img.draw_line(lx + pad, cy, lx + pad + sample, cy, c, 2);
      draw_marker(img, lx + pad + sample / 2, cy, int(si), marker_r, c);
      img.draw_text(lx + pad + sample + 6, cy - cap / 2, series[si].name, kBlack, s);
    }
  }
  return img;
}

}  // namespace plot
