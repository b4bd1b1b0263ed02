// plot/scatter.cpp — labelled scatter plots (plot/scatter.h).
#include "plot/scatter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "core/error.h"

namespace plot {

namespace {

constexpr int kLabelScale = 2;                 // label text: stb_easy_font at scale 2
constexpr int kLabelHeight = 7 * kLabelScale;  // capital letters, no descenders (labels are names)
constexpr int kMarkerHalf = 6;                 // a marker is the 13 x 13 square around its point
constexpr Color kLeader{120, 120, 120}, kGrid{230, 230, 230}, kGuide{150, 150, 150}, kGuideText{110, 110, 110};

// v written with as few decimals as `step` needs (step 0.5 -> "1.5", step 1 -> "2").
std::string tick_label(double v, double step) {
  int decimals = 0;
  while (decimals < 6 && std::fabs(step * std::pow(10.0, decimals) - std::round(step * std::pow(10.0, decimals))) > 1e-9)
    ++decimals;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The pixel rows and columns of the plot area, and the data-to-pixel maps.
struct Frame {
  int px0, py0, pw, ph;
  double x_lo, x_hi, y_lo, y_hi;
  int X(double v) const { return px0 + int(std::lround((v - x_lo) / (x_hi - x_lo) * pw)); }
  int Y(double v) const { return py0 + ph - int(std::lround((v - y_lo) / (y_hi - y_lo) * ph)); }
};

Frame frame_of(const std::vector<LabeledPoint>& points, const ScatterOptions& opts) {
  AZ_CHECK(opts.tick > 0 && std::isfinite(opts.tick), "labeled_scatter: tick must be positive, got ", opts.tick);
  AZ_CHECK(opts.x_lo < opts.x_hi && opts.y_lo < opts.y_hi, "labeled_scatter: empty axis range x [", opts.x_lo, ", ",
           opts.x_hi, "], y [", opts.y_lo, ", ", opts.y_hi, "]");
  AZ_CHECK(opts.width >= 500 && opts.height >= 300, "labeled_scatter: image ", opts.width, " x ", opts.height,
           " is too small (at least 500 x 300: the legend takes 300 px at the right)");
  Frame f{100, 110, opts.width - 400, opts.height - 220, opts.x_lo, opts.x_hi, opts.y_lo, opts.y_hi};
  const double t = opts.tick;
  for (const LabeledPoint& p : points) {
    if (std::isfinite(p.x))
      f.x_lo = std::min(f.x_lo, std::floor((p.x - opts.pad) / t) * t), f.x_hi = std::max(f.x_hi, std::ceil((p.x + opts.pad) / t) * t);
    if (std::isfinite(p.y)) {
      double lo = std::floor((p.y - opts.pad) / t) * t;
      if (p.y >= opts.y_floor) lo = std::max(lo, opts.y_floor);  // pad down to the floor, not past it
      f.y_lo = std::min(f.y_lo, lo), f.y_hi = std::max(f.y_hi, std::ceil((p.y + opts.pad) / t) * t);
    }
  }
  return f;
}

bool on_grid(double v, double step) { return std::fabs(v / step - std::round(v / step)) < 1e-9; }

}  // namespace

ScatterLayout scatter_layout(const std::vector<LabeledPoint>& points, const ScatterOptions& opts) {
  const Frame f = frame_of(points, opts);
  ScatterLayout L;
  L.plot = {f.px0, f.py0, f.pw + 1, f.ph + 1};
  L.x_lo = f.x_lo, L.x_hi = f.x_hi, L.y_lo = f.y_lo, L.y_hi = f.y_hi;
  const size_t n = points.size();
  L.centres.assign(n, {-1, -1});
  L.markers.assign(n, Rect{});
  L.labels.assign(n, Rect{});
  L.label_inside.assign(n, false);
  L.leaders.assign(n, {-1, -1, -1, -1});

  // Everything a label must not cover: the names of horizontal guides, then the markers (grown by 1 px), then
  // each label as it is placed.
  std::vector<Rect> taken;
  for (const Guide& g : opts.guides)
    if (!g.vertical && g.at > f.y_lo && g.at < f.y_hi) {
      L.reserved.push_back({f.px0 + 4, f.Y(g.at) - 20, text_width(g.name, kLabelScale) + 4, 18});
      taken.push_back(L.reserved.back());
    }
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(points[i].x) || !std::isfinite(points[i].y)) continue;
    L.centres[i] = {f.X(points[i].x), f.Y(points[i].y)};
    const auto [cx, cy] = L.centres[i];
    L.markers[i] = {cx - kMarkerHalf, cy - kMarkerHalf, 2 * kMarkerHalf + 1, 2 * kMarkerHalf + 1};
    taken.push_back(L.markers[i].grown(1));
  }

  // A leader line must not cross another point or label (its own point's box excepted).
  auto leader_free = [&](int cx, int cy, int ax, int ay) {
    for (const Rect& t : taken)
      if (!t.contains(cx, cy) && segment_hits(t, cx, cy, ax, ay)) return false;
    return true;
  };
  std::vector<std::array<int, 4>> drawn;  // leader lines so far: later labels stay off them
  int spill_y = f.py0 + 26 + 24 * int(opts.legend.size()) + 40;
  const double kPi = 3.14159265358979;
  for (size_t i = 0; i < n; ++i) {
    if (L.markers[i].empty()) continue;  // not drawn: NaN or infinite
    const auto [cx, cy] = L.centres[i];
    const int tw = text_width(points[i].label, kLabelScale), th = kLabelHeight;
    bool placed = false;
    double best_score = std::numeric_limits<double>::infinity();
    Rect best_box;
    for (int r = 10; r <= 160; r += 6)
      for (int a = 0; a < 16; ++a) {
        const double ux = std::cos(a * kPi / 8), uy = -std::sin(a * kPi / 8);
        // the text's side nearest the point sits r px away from it in direction (ux, uy)
        const int x = cx + int(std::lround(ux * r - (1.0 - ux) * 0.5 * tw));
        const int y = cy + int(std::lround(uy * r - (1.0 - uy) * 0.5 * th));
        const Rect box{x - 2, y - 2, tw + 4, th + 4};
        if (box.x < f.px0 + 2 || box.y < f.py0 + 2 || box.x + box.w > f.px0 + f.pw - 2 || box.y + box.h > f.py0 + f.ph - 2)
          continue;
        bool free = true;
        for (const Rect& t : taken) free = free && !box.overlaps(t);
        if (!free) continue;
        const int ax = std::clamp(cx, box.x, box.x + box.w), ay = std::clamp(cy, box.y, box.y + box.h);
        int crossings = 0;
        for (const auto& l : drawn) crossings += segment_hits(box, l[0], l[1], l[2], l[3]);
        if (r > 10 && !leader_free(cx, cy, ax, ay)) ++crossings;
        const double score = std::hypot(double(ax - cx), double(ay - cy)) + 1000.0 * crossings;
        if (score < best_score) best_score = score, best_box = box, placed = true;
      }
    if (placed) {
      const int ax = std::clamp(cx, best_box.x, best_box.x + best_box.w), ay = std::clamp(cy, best_box.y, best_box.y + best_box.h);
      if (std::hypot(double(ax - cx), double(ay - cy)) > 9.0) {  // nearer: the label visibly belongs to its point
        L.leaders[i] = {cx, cy, ax, ay};
        drawn.push_back(L.leaders[i]);
      }
      L.labels[i] = best_box;
      L.label_inside[i] = true;
    } else {  // outside the plot, right of it, below the legend, joined to its point by a leader line
      const int x = f.px0 + f.pw + 24;
      L.labels[i] = {x - 2, spill_y - 2, tw + 4, th + 4};
      L.leaders[i] = {cx, cy, x - 4, spill_y + th / 2};
      spill_y += 24;
    }
    taken.push_back(L.labels[i]);
  }
  return L;
}

Image labeled_scatter(const std::vector<LabeledPoint>& points, const ScatterOptions& opts, ScatterLayout* layout) {
  const ScatterLayout L = scatter_layout(points, opts);
  const Frame f = frame_of(points, opts);
  const int W = opts.width;
  Image im(W, opts.height, kWhite);
  im.draw_text((W - text_width(opts.title, 3)) / 2, 14, opts.title, kBlack, 3);
  im.draw_text((W - text_width(opts.subtitle, 2)) / 2, 52, opts.subtitle, Color{80, 80, 80}, 2);

  // grid lines every tick (darker on a guide), a tick label every 2 ticks
  const double t = opts.tick;
  auto is_guide = [&](bool vertical, double v) {
    for (const Guide& g : opts.guides)
      if (g.vertical == vertical && std::fabs(g.at - v) < 1e-9 * std::max(1.0, std::fabs(v))) return true;
    return false;
  };
  for (double v = std::ceil(f.x_lo / t) * t; v <= f.x_hi + 1e-9; v += t) {
    im.draw_line(f.X(v), f.py0, f.X(v), f.py0 + f.ph, is_guide(true, v) ? kGuide : kGrid);
    if (on_grid(v, 2 * t)) {
      const std::string s = tick_label(v, 2 * t);
      im.draw_text(f.X(v) - text_width(s, 2) / 2, f.py0 + f.ph + 8, s, kBlack, 2);
    }
  }
  for (double v = std::ceil(f.y_lo / t) * t; v <= f.y_hi + 1e-9; v += t) {
    im.draw_line(f.px0, f.Y(v), f.px0 + f.pw, f.Y(v), is_guide(false, v) ? kGuide : kGrid);
    if (on_grid(v, 2 * t)) {
      const std::string s = tick_label(v, 2 * t);
      im.draw_text(f.px0 - 10 - text_width(s, 2), f.Y(v) - 7, s, kBlack, 2);
    }
  }
  // guides between ticks (those on a tick were drawn with the grid), and the guides' names
  for (const Guide& g : opts.guides) {
    const double lo = g.vertical ? f.x_lo : f.y_lo, hi = g.vertical ? f.x_hi : f.y_hi;
    if (!(g.at > lo && g.at < hi)) continue;
    if (!on_grid(g.at, t)) {
      if (g.vertical) im.draw_line(f.X(g.at), f.py0, f.X(g.at), f.py0 + f.ph, kGuide);
      else im.draw_line(f.px0, f.Y(g.at), f.px0 + f.pw, f.Y(g.at), kGuide);
    }
    if (g.vertical) im.draw_text(f.X(g.at) - text_width(g.name, 2) / 2, f.py0 - 20, g.name, kGuideText, 2);
    else im.draw_text(f.px0 + 6, f.Y(g.at) - 18, g.name, kGuideText, 2);
  }
  im.draw_rect(f.px0, f.py0, f.pw + 1, f.ph + 1, kBlack);
  im.draw_text(f.px0 + (f.pw - text_width(opts.xlabel, 2)) / 2, f.py0 + f.ph + 34, opts.xlabel, kBlack, 2);
  im.draw_text_vertical(24, f.py0 + (f.ph - text_width(opts.ylabel, 2)) / 2, opts.ylabel, kBlack, 2);

  // leader lines first, then the points over them (a leader starts at its marker's edge, and one that has to pass
  // a marker goes under it), then the labels in their white boxes (which cover no marker)
  for (const auto& l : L.leaders)
    if (l[0] >= 0) im.draw_line(l[0], l[1], l[2], l[3], kLeader);
  for (size_t i = 0; i < points.size(); ++i) {
    const Rect& m = L.markers[i];
    if (m.empty()) continue;
    im.fill_rect(m.x, m.y, m.w, m.h, points[i].color);
    im.draw_rect(m.x, m.y, m.w, m.h, kBlack);
  }
  for (size_t i = 0; i < points.size(); ++i) {
    const Rect& b = L.labels[i];
    if (b.empty()) continue;
    if (L.label_inside[i]) im.fill_rect(b.x, b.y, b.w, b.h, kWhite);
    im.draw_text(b.x + 2, b.y + 2, points[i].label, kBlack, kLabelScale);
  }

  // legend, right of the plot area
  int ly = f.py0;
  const int lx = f.px0 + f.pw + 24;
  if (!opts.legend_title.empty()) im.draw_text(lx, ly, opts.legend_title, kBlack, 2);
  ly += 26;
  for (const auto& [c, name] : opts.legend) {
    im.fill_rect(lx, ly, 13, 13, c);
    im.draw_rect(lx, ly, 13, 13, kBlack);
    im.draw_text(lx + 22, ly, name, kBlack, 2);
    ly += 24;
  }
  if (layout) *layout = L;
  return im;
}

}  // namespace plot
