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

// m x 10^k (m = 1..9) written plainly: 2, 50, 0.5, 2000; 2e5 and 5e-4 at the far ends.
std::string log_label(int m, int k) {
  if (m == 1) return pow10_label(k);
  if (k >= 0 && k <= 4) return std::to_string(m) + std::string(size_t(k), '0');
  if (k < 0 && k >= -3) return "0." + std::string(size_t(-k - 1), '0') + std::to_string(m);
  return std::to_string(m) + "e" + std::to_string(k);
}

// The axis ends: the data's [lo, hi] widened so that a margin of `pad` (a fraction of the axis length) stays
// free at each end: points at the ends of the data are drawn inside the frame, not on it.
std::pair<double, double> padded(double lo, double hi, double pad, bool log) {
  if (!(lo <= hi)) return {0.0, 1.0};  // no data: [0, 1] (the decade 1 ... 10 on a log axis)
  if (hi - lo <= 1e-12 * std::max(1.0, std::fabs(lo))) {  // all equal: open a window around the value
    const double w = log ? 0.5 : (lo == 0 ? 1.0 : 0.1 * std::fabs(lo));
    lo -= w;
    hi += w;
  }
  const double total = (hi - lo) / (1 - 2 * pad);
  return {lo - pad * total, hi + pad * total};
}

// values: the drawable coordinates (already log10 on a log axis); length: the axis in pixels; min_pad_px: the
// least margin in pixels at each end. About 5 ticks (every power of 10 on a long log axis) unless `fits` says
// their labels have no room; then ever coarser ticks are tried.
template <class Fits>
Axis make_axis(const std::vector<double>& values, bool log, int length, int min_pad_px, Fits fits,
               double reserve_top = 0) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double pad = std::min(0.2, std::max(0.04, double(min_pad_px) / std::max(1, length)));
  const auto [a_lo, a_top] = padded(lo, hi, pad, log);
  // reserve_top: this fraction of the axis at its high end is kept free of data (room for the legend).
  const double a_hi = a_lo + (a_top - a_lo) / (1 - reserve_top);
  Axis a;
  if (log) {
    // Candidate tick sets, from the finest that is still readable to the coarsest: mantissas {1, 2, 5} (or all
    // of 1..9 on a very short range) when fewer than two powers of 10 lie inside, else powers of 10 every
    // `stride` decades. The first candidate with at least two ticks whose labels fit wins.
    const int e_lo = int(std::floor(a_lo)), e_hi = int(std::ceil(a_hi));
    auto ticks = [&](const std::vector<int>& mantissas, int stride, Axis& out) {
      out = Axis{};
      out.log = true;
      out.lo = a_lo;
      out.hi = a_hi;
      for (int e = e_lo; e <= e_hi; ++e) {
        for (int m = 1; m <= 9; ++m) {
          const double v = e + std::log10(double(m));
          if (v < a_lo - 1e-9 || v > a_hi + 1e-9) continue;
          const bool major = std::find(mantissas.begin(), mantissas.end(), m) != mantissas.end() &&
                             (m != 1 || ((e % stride) + stride) % stride == 0);
          if (major) {
            out.major.push_back(v);
            out.labels.push_back(log_label(m, e));
          } else if (stride == 1) {
            out.minor.push_back(v);
          }
        }
      }
      return out.major.size() >= 2;
    };
    int decades = 0;
    for (int e = e_lo; e <= e_hi; ++e) decades += (e >= a_lo - 1e-9 && e <= a_hi + 1e-9);
    std::vector<std::pair<std::vector<int>, int>> tries;
    if (decades < 2) {
      tries.push_back({{1, 2, 5}, 1});
      tries.push_back({{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1});
      tries.push_back({{1, 3}, 1});
    }
    for (int stride = 1; stride <= std::max(1, e_hi - e_lo); ++stride) tries.push_back({{1}, stride});
    Axis fallback;
    bool have_fallback = false;
    for (const auto& [mantissas, stride] : tries) {
      if (!ticks(mantissas, stride, a)) continue;
      if (fits(a)) return a;
      if (!have_fallback) fallback = a, have_fallback = true;
    }
    if (have_fallback) return fallback;
    // Not even two ticks (a sliver of a decade): label both ends.
    a = Axis{};
    a.log = true;
    a.lo = a_lo;
    a.hi = a_hi;
    for (double v : {a_lo, a_hi}) {
      a.major.push_back(v);
      a.labels.push_back(fmt3g(std::pow(10.0, v)));
    }
    return a;
  }
  double step = round_up_nice((a_hi - a_lo) / 5);
  for (int attempt = 0; attempt < 8; ++attempt, step = round_up_nice(step * 1.01)) {
    const double k0 = std::ceil(a_lo / step - 1e-9), k1 = std::floor(a_hi / step + 1e-9);
    a = Axis{};
    a.lo = a_lo;
    a.hi = a_hi;
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

// Everything line_plot draws, placed: the public layout, plus the axes and the text positions.
struct Frame {
  LinePlotLayout layout;
  Axis ax, ay;
  int title_scale = 1, ylabel_top = 0;
  bool ylabel_vertical = true;
  std::vector<size_t> named;  // the series shown in the legend, in order
  std::vector<size_t> order;  // the order the series are drawn in: the emphasised ones last
};

constexpr int kMaxMarkedPoints = 60;  // a series with more points is drawn as a bare line
constexpr int kLegendRow = 6, kLegendSample = 28, kLegendPad = 8, kLegendInset = 8, kLegendClear = 3;

// Legend rows: pad, then one row per named series (a line sample with its marker, then the name), then pad.
std::pair<int, int> legend_size(const std::vector<Series>& series, const std::vector<size_t>& named, int s) {
  int name_w = 0;
  for (size_t si : named) name_w = std::max(name_w, text_width(series[si].name, s));
  const int row = kGlyphHeight * s + kLegendRow;
  return {kLegendPad + kLegendSample + 6 + name_w + kLegendPad, kLegendPad + int(named.size()) * row - 6 + kLegendPad};
}

// How many points and segments the box covers (with kLegendClear pixels of clearance around the data).
int data_hits(const LinePlotLayout& L, const Rect& box) {
  int hits = 0;
  for (size_t si = 0; si < L.points.size(); ++si) {
    const auto& pts = L.points[si];
    const int r = L.markers[si] ? L.marker_radius[si] : L.line_width[si] / 2;
    const Rect near = box.grown(kLegendClear + r);
    for (size_t i = 0; i < pts.size(); ++i) {
      if (pts[i].first < 0) continue;
      if (near.contains(pts[i].first, pts[i].second)) ++hits;
      if (i + 1 < pts.size() && pts[i + 1].first >= 0 &&
          segment_hits(box.grown(kLegendClear + L.line_width[si] / 2), pts[i].first, pts[i].second, pts[i + 1].first,
                       pts[i + 1].second))
        ++hits;
    }
  }
  return hits;
}

Frame make_frame(const std::vector<Series>& series, const PlotOptions& opts) {
  AZ_CHECK(opts.width >= 200 && opts.height >= 150, "line_plot: size ", opts.width, "x", opts.height,
           " is too small (at least 200x150)");
  check_scale(opts.text_scale, "line_plot");
  for (const Series& se : series) {
    AZ_CHECK(se.x.size() == se.y.size(), "line_plot: series '", se.name, "' has ", se.x.size(), " x values but ",
             se.y.size(), " y values");
  }
  const int s = opts.text_scale, th = kGlyphHeight * s, M = kMargin;
  const int W = opts.width, H = opts.height;
  Frame f;
  LinePlotLayout& L = f.layout;

  // ---- points in plot coordinates; a point that cannot be drawn is NaN (it breaks the line)
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto coord = [](double v, bool log) { return log ? (v > 0 ? std::log10(v) : NAN) : v; };
  std::vector<std::vector<double>> px(series.size()), py(series.size());
  std::vector<double> all_x, all_y;
  int max_r = 0;
  for (size_t si = 0; si < series.size(); ++si) {
    int drawable = 0;
    for (size_t i = 0; i < series[si].x.size(); ++i) {
      double X = coord(series[si].x[i], opts.log_x), Y = coord(series[si].y[i], opts.log_y);
      if (!std::isfinite(X) || !std::isfinite(Y)) X = Y = nan;
      px[si].push_back(X);
      py[si].push_back(Y);
      if (std::isfinite(X)) {
        all_x.push_back(X);
        all_y.push_back(Y);
        ++drawable;
      }
    }
    const bool emph = series[si].emphasis;
    L.markers.push_back(drawable <= kMaxMarkedPoints);
    L.line_width.push_back(emph ? 4 : 2);
    L.marker_radius.push_back(2 + s + (emph ? 2 : 0));
    max_r = std::max(max_r, L.marker_radius.back());
  }
  for (size_t si = 0; si < series.size(); ++si)
    if (!series[si].emphasis) f.order.push_back(si);
  for (size_t si = 0; si < series.size(); ++si)
    if (series[si].emphasis) f.order.push_back(si);
  for (size_t si = 0; si < series.size(); ++si)
    if (!series[si].name.empty()) f.named.push_back(si);

  // ---- vertical layout: title, plot, x tick labels, x label (it fixes the y axis)
  f.title_scale = (text_width(opts.title, s) + 2 * M <= W) ? s : 1;
  int top = M + (opts.title.empty() ? 4 : th + 12);
  const int bottom = H - M - (opts.xlabel.empty() ? 0 : th + 6) - th - 4 - kTick;
  f.ylabel_vertical = text_width(opts.ylabel, s) <= bottom - top;
  f.ylabel_top = top;
  if (!opts.ylabel.empty() && !f.ylabel_vertical) top += th + 6;
  const int y0 = top, y1 = bottom;
  AZ_CHECK(y1 - y0 >= 40, "line_plot: ", W, "x", H, " leaves no room for the plot at text scale ", s);
  // Tick labels need room: rows of text on the y axis, label widths on the x axis.
  auto min_spacing_px = [](const Axis& a, int length) {
    double gap = 1e9;
    for (size_t i = 1; i < a.major.size(); ++i)
      gap = std::min(gap, length * (a.major[i] - a.major[i - 1]) / (a.hi - a.lo));
    return gap;
  };
  const int pad_px = max_r + 3;
  int x0 = 0;
  // The y axis (with `reserve` of its top kept free of data) fixes the width of the y tick labels, and so x0.
  auto place_y = [&](double reserve) {
    f.ay = make_axis(
        all_y, opts.log_y, y1 - y0, pad_px, [&](const Axis& a) { return min_spacing_px(a, y1 - y0) >= th + 4; },
        reserve);
    int yt_w = 0;
    for (const std::string& l : f.ay.labels) yt_w = std::max(yt_w, text_width(l, s));
    x0 = M + (!opts.ylabel.empty() && f.ylabel_vertical ? th + 8 : 0) + yt_w + 4 + kTick;
  };
  place_y(0);

  // ---- horizontal layout for a given right end; then the pixel position of every point
  auto place_x = [&](int x1_max) {
    f.ax = make_axis(all_x, opts.log_x, x1_max - x0, pad_px, [&](const Axis& a) {
      int widest = 0;
      for (const std::string& l : a.labels) widest = std::max(widest, text_width(l, s));
      return min_spacing_px(a, x1_max - x0 - widest / 2) >= widest + 6 * s;
    });
    // The last x label may overhang the frame by half its width.
    const int x1 = x1_max - (f.ax.labels.empty() ? 0 : text_width(f.ax.labels.back(), s) / 2);
    L.plot = {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
    auto to_px = [&](double X) { return x0 + int(std::lround((X - f.ax.lo) / (f.ax.hi - f.ax.lo) * (x1 - x0))); };
    auto to_py = [&](double Y) { return y1 - int(std::lround((Y - f.ay.lo) / (f.ay.hi - f.ay.lo) * (y1 - y0))); };
    L.points.assign(series.size(), {});
    for (size_t si = 0; si < series.size(); ++si)
      for (size_t i = 0; i < px[si].size(); ++i)
        L.points[si].push_back(std::isnan(px[si][i]) ? std::make_pair(-1, -1)
                                                     : std::make_pair(to_px(px[si][i]), to_py(py[si][i])));
  };
  const int x1_max = W - M - 2;
  AZ_CHECK(x1_max - x0 >= 60, "line_plot: ", W, "x", H, " leaves no room for the plot at text scale ", s);
  place_x(x1_max);

  // ---- the legend: the first place inside the plot area that covers no data, else outside on the right
  if (!f.named.empty()) {
    const auto [lw, lh] = legend_size(series, f.named, s);
    auto inside = [&]() {
      const Rect& P = L.plot;
      const int left = P.x + kLegendInset, right = P.x + P.w - kLegendInset - lw;
      const int upper = P.y + kLegendInset, lower = P.y + P.h - kLegendInset - lh;
      const int mid_x = P.x + (P.w - lw) / 2, mid_y = P.y + (P.h - lh) / 2;
      return std::vector<Rect>{{right, upper, lw, lh}, {left, upper, lw, lh}, {left, lower, lw, lh},
                               {right, lower, lw, lh}, {mid_x, upper, lw, lh}, {mid_x, lower, lw, lh},
                               {left, mid_y, lw, lh},  {right, mid_y, lw, lh}};
    };
    auto fits_inside = [&](const Rect& r) {
      return r.x >= L.plot.x && r.y >= L.plot.y && r.x + r.w <= L.plot.x + L.plot.w && r.y + r.h <= L.plot.y + L.plot.h;
    };
    bool placed = false;
    for (const Rect& r : inside()) {
      if (fits_inside(r) && data_hits(L, r) == 0) {
        L.legend = r;
        placed = true;
        break;
      }
    }
    // Room above the data: the y axis reaches higher, leaving a band at the top of the plot for the legend
    // (when that band takes at most 45% of the plot's height).
    const double band = double(lh + kLegendInset + kLegendClear + 4) / (y1 - y0);
    if (!placed && band <= 0.45) {
      place_y(band);
      place_x(x1_max);
      for (const Rect& r : inside()) {
        if (fits_inside(r) && data_hits(L, r) == 0) {
          L.legend = r;
          placed = true;
          break;
        }
      }
      if (!placed) {  // undo
        place_y(0);
        place_x(x1_max);
      }
    }
    // Outside: the plot area narrows to leave a column for the legend at its right, top-aligned with it.
    const int out_x1_max = W - M - lw - 12;
    if (!placed && out_x1_max - x0 >= 60) {
      place_x(out_x1_max);
      L.legend = {out_x1_max + 10, y0, lw, lh};
      L.legend_outside = true;
      placed = true;
    }
    if (!placed) {  // no room outside either (a narrow figure): the place inside that covers the least data
      int best_hits = std::numeric_limits<int>::max();
      for (const Rect& r : inside()) {
        const int hits = data_hits(L, r);
        if (hits < best_hits) best_hits = hits, L.legend = r;
      }
    }
  }
  auto unlog = [](double v, bool log) { return log ? std::pow(10.0, v) : v; };
  L.x_lo = unlog(f.ax.lo, opts.log_x);
  L.x_hi = unlog(f.ax.hi, opts.log_x);
  L.y_lo = unlog(f.ay.lo, opts.log_y);
  L.y_hi = unlog(f.ay.hi, opts.log_y);
  return f;
}

}  // namespace

LinePlotLayout line_plot_layout(const std::vector<Series>& series, const PlotOptions& opts) {
  return make_frame(series, opts).layout;
}

Image line_plot(const std::vector<Series>& series, const PlotOptions& opts, LinePlotLayout* layout) {
  const Frame f = make_frame(series, opts);
  const LinePlotLayout& L = f.layout;
  const int s = opts.text_scale, th = kGlyphHeight * s, cap = 7 * s, M = kMargin;
  const int W = opts.width, H = opts.height;
  const int x0 = L.plot.x, y0 = L.plot.y, x1 = L.plot.x + L.plot.w - 1, y1 = L.plot.y + L.plot.h - 1;
  const Axis &ax = f.ax, &ay = f.ay;
  auto to_px = [&](double X) { return x0 + int(std::lround((X - ax.lo) / (ax.hi - ax.lo) * (x1 - x0))); };
  auto to_py = [&](double Y) { return y1 - int(std::lround((Y - ay.lo) / (ay.hi - ay.lo) * (y1 - y0))); };

  Image img(W, H);
  // ---- light grid at the major ticks, then the data (the emphasised series last), then the frame on top
  for (double X : ax.major) img.fill_rect(to_px(X), y0, 1, y1 - y0 + 1, kGridLine);
  for (double Y : ay.major) img.fill_rect(x0, to_py(Y), x1 - x0 + 1, 1, kGridLine);
  for (size_t si : f.order) {
    const Color c = categorical(int(si));
    const auto& pts = L.points[si];
    for (size_t i = 0; i + 1 < pts.size(); ++i) {
      if (pts[i].first < 0 || pts[i + 1].first < 0) continue;
      img.draw_line(pts[i].first, pts[i].second, pts[i + 1].first, pts[i + 1].second, c, L.line_width[si]);
    }
    for (size_t i = 0; i < pts.size(); ++i) {
      if (pts[i].first < 0) continue;
      // An isolated point (no drawable neighbour) has no line through it: it always gets its marker.
      const bool alone = (i == 0 || pts[i - 1].first < 0) && (i + 1 == pts.size() || pts[i + 1].first < 0);
      if (L.markers[si] || alone) draw_marker(img, pts[i].first, pts[i].second, int(si), L.marker_radius[si], c);
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
    if (f.ylabel_vertical) {
      img.draw_text_vertical(M, (y0 + y1) / 2 - len / 2, opts.ylabel, kBlack, s);
    } else {
      img.draw_text(M, f.ylabel_top, opts.ylabel, kBlack, s);
    }
  }
  if (!opts.title.empty()) {
    const int w = text_width(opts.title, f.title_scale);
    draw_bold(img, clampi((x0 + x1) / 2 - w / 2, M, std::max(M, W - M - w)), M, opts.title, kBlack, f.title_scale);
  }

  // ---- legend: a white box with a line sample (and marker) and the name of each named series
  if (!f.named.empty()) {
    const Rect& R = L.legend;
    img.fill_rect(R.x, R.y, R.w, R.h, kWhite);
    img.draw_rect(R.x, R.y, R.w, R.h, kBlack);
    const int row = th + kLegendRow;
    for (size_t e = 0; e < f.named.size(); ++e) {
      const size_t si = f.named[e];
      const Color c = categorical(int(si));
      const int cy = R.y + kLegendPad + int(e) * row + cap / 2;
      img.draw_line(R.x + kLegendPad, cy, R.x + kLegendPad + kLegendSample, cy, c, L.line_width[si]);
      if (L.markers[si]) draw_marker(img, R.x + kLegendPad + kLegendSample / 2, cy, int(si), L.marker_radius[si], c);
      img.draw_text(R.x + kLegendPad + kLegendSample + 6, cy - cap / 2, series[si].name, kBlack, s);
    }
  }
  if (layout) *layout = L;
  return img;
}

}  // namespace plot
