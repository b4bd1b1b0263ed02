// plot/heatmap.cpp — heatmaps (plot/heatmap.h).
//
// Layout is done by hand in pixels. The recurring sizes: s = text scale, th = 9*s = height of one line of text
// (with descenders), M = outer margin. A figure is assembled from parts drawn separately (the plot area, the
// colorbar or legend) and then placed around the axes, so each part can be read on its own.
#include "plot/heatmap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/tensor.h"
#include "plot/style.h"

namespace plot {

using namespace style;  // plot/style.h: margins, tick length, title weight

// ============================================================================================================
// Heatmaps
// ============================================================================================================

namespace {

// How the matrix is shown: `block` x `block` cells averaged into one displayed cell, each displayed cell
// drawn as cell_w x cell_h pixels.
struct CellGeometry {
  int rows = 0, cols = 0;          // of the data
  int block = 1;                   // data cells per displayed cell along each axis
  int out_rows = 0, out_cols = 0;  // displayed cells
  int cell_w = 1, cell_h = 1;      // pixels per displayed cell
  int plot_w() const { return out_cols * cell_w; }
  int plot_h() const { return out_rows * cell_h; }
  // Pixel centre (relative to the plot area) of data row i / column j.
  int row_centre(int i) const { return (i / block) * cell_h + cell_h / 2; }
  int col_centre(int j) const { return (j / block) * cell_w + cell_w / 2; }
};

constexpr int kMinPlotSide = 32;  // a 1 x n matrix still gets a visible strip

CellGeometry cell_geometry(int rows, int cols, int target_px) {
  CellGeometry g;
  g.rows = rows;
  g.cols = cols;
  const int longest = std::max(rows, cols);
  g.block = (longest + target_px - 1) / target_px;  // 1 unless the matrix is larger than the plot
  g.out_rows = (rows + g.block - 1) / g.block;
  g.out_cols = (cols + g.block - 1) / g.block;
  const int cell = std::max(1, target_px / std::max(g.out_rows, g.out_cols));
  g.cell_w = g.cell_h = cell;
  // Square cells of a very thin matrix would leave a line one pixel thick: stretch the short side.
  if (g.out_rows * g.cell_h < kMinPlotSide) g.cell_h = (kMinPlotSide + g.out_rows - 1) / g.out_rows;
  if (g.out_cols * g.cell_w < kMinPlotSide) g.cell_w = (kMinPlotSide + g.out_cols - 1) / g.out_cols;
  return g;
}

std::string downsample_note(const CellGeometry& g, const char* how) {
  if (g.block == 1) return "";
  const char* unit = (g.cell_w == 1 && g.cell_h == 1) ? "pixel" : "square";
  return "(each " + std::string(unit) + " = " + std::to_string(g.block) + "x" + std::to_string(g.block) +
         " cells, " + how + ")";
}

// Index ticks for an axis of n cells: 0, n-1 and round steps in between (1, 2, 5 x 10^k or a power of two,
// so that n = 512 gets 0 128 256 384 511).
std::vector<int> index_ticks(int n) {
  std::vector<int> ticks{0};
  if (n <= 1) return ticks;
  const double raw = (n - 1) / 5.0;
  int step = std::numeric_limits<int>::max();  // the smallest round number >= raw
  for (int p = 1; p <= (1 << 30) / 10; p *= 10)
    for (int m : {1, 2, 5})
      if (m * p >= raw) step = std::min(step, m * p);
  for (int p = 1; p <= (1 << 29); p *= 2)
    if (p >= raw) step = std::min(step, p);
  for (int v = step; v < n - 1 - step / 2; v += step) ticks.push_back(v);
  ticks.push_back(n - 1);
  return ticks;
}

// Drops labels that would overlap: `centre` and `half` are the label positions and half-extents along the
// axis (sorted by position). The first and last are kept; inner ones only where they fit.
std::vector<bool> fit_labels(const std::vector<int>& centre, const std::vector<int>& half, int gap) {
  const size_t n = centre.size();
  std::vector<bool> keep(n, false);
  if (n == 0) return keep;
  keep[0] = true;
  int prev_end = centre[0] + half[0];
  for (size_t i = 1; i < n; ++i) {
    const bool last = (i + 1 == n);
    const int start = centre[i] - half[i];
    if (start < prev_end + gap) continue;
    if (!last && centre[i] + half[i] + gap > centre[n - 1] - half[n - 1]) continue;  // leave room for the last
    keep[i] = true;
    prev_end = centre[i] + half[i];
  }
  // Inner labels never crowd the last one, so the last is dropped only when it collides with the first
  // (e.g. ticks 0 and 1 of a narrow 2-cell axis).
  return keep;
}

// The part to the right of the plot: a colorbar or a legend. `align_top` is its row that lines up with the
// top of the plot area (labels centred on the colorbar's top edge stick out above it).
struct SidePanel {
  Image img;
  int align_top = 0;
};

SidePanel colorbar_panel(float lo, float hi, bool is_diverging, int plot_h, const HeatmapOptions& opts) {
  const int s = opts.text_scale, th = kGlyphHeight * s, cap = 7 * s;
  const int bar_w = 18, bar_h = std::max(plot_h, 120);
  const int pad = cap / 2 + 2;
  std::vector<double> values{hi};
  if (bar_h >= 5 * th) values.push_back(is_diverging ? 0.0 : (double(lo) + double(hi)) / 2);
  values.push_back(lo);
  std::vector<std::string> labels;
  int label_w = 0;
  for (double v : values) {
    labels.push_back(fmt3g(v));
    label_w = std::max(label_w, text_width(labels.back(), s));
  }
  const int vl_len = text_width(opts.value_label, s);
  const int width = bar_w + kTick + 4 + label_w + (opts.value_label.empty() ? 0 : 10 + th);
  const int height = std::max(bar_h, vl_len) + 2 * pad;
  SidePanel p{Image(width, height), pad};
  Image& img = p.img;
  // The bar: top row is the largest value, bottom row the smallest.
  for (int j = 0; j < bar_h; ++j) {
    const float t = bar_h > 1 ? 1.0f - float(j) / float(bar_h - 1) : 0.5f;
    img.fill_rect(0, pad + j, bar_w, 1, is_diverging ? diverging(t) : viridis(t));
  }
  img.draw_rect(0, pad, bar_w, bar_h, kBlack);
  for (size_t k = 0; k < values.size(); ++k) {
    int y = pad + (k == 0 ? 0 : (k + 1 == values.size() ? bar_h - 1 : (bar_h - 1) / 2));
    img.fill_rect(bar_w, y, kTick, 1, kBlack);
    img.draw_text(bar_w + kTick + 4, y - cap / 2, labels[k], kBlack, s);
  }
  if (!opts.value_label.empty()) {
    const int x = bar_w + kTick + 4 + label_w + 10;
    img.draw_text_vertical(x, pad + std::max(0, (bar_h - vl_len) / 2), opts.value_label, kBlack, s);
  }
  return p;
}

// One swatch and label per entry; `header` (optional) is written above them, e.g. the name of the values.
SidePanel legend_panel(const std::vector<std::string>& labels, const std::vector<Color>& colors, int scale,
                       const std::string& header = "") {
  const int th = kGlyphHeight * scale, row = th + 8;
  const int head_h = header.empty() ? 0 : th + 8;
  int label_w = 0;
  for (const std::string& l : labels) label_w = std::max(label_w, text_width(l, scale));
  const int width = std::max(th + 8 + label_w, text_width(header, scale));
  SidePanel p{Image(width, head_h + std::max(1, int(labels.size()) * row - 8)), 0};
  if (!header.empty()) p.img.draw_text(0, 0, header, kBlack, scale);
  for (size_t i = 0; i < labels.size(); ++i) {
    const int y = head_h + int(i) * row;
    p.img.fill_rect(0, y, th, th, colors[i]);
    p.img.draw_rect(0, y, th, th, kBlack);
    p.img.draw_text(th + 8, y + (th - 7 * scale) / 2, labels[i], kBlack, scale);
  }
  return p;
}

// The values of a matrix made of a few small integers (at most 6 distinct ones, all whole numbers of size
// <= 1000, every entry finite), sorted; empty for any other matrix.
std::vector<float> integer_levels(const float* data, int64_t n) {
  constexpr size_t kMaxLevels = 6;
  std::vector<float> levels;
  for (int64_t i = 0; i < n; ++i) {
    const float v = data[i];
    if (!std::isfinite(v) || v != std::round(v) || std::fabs(v) > 1000) return {};
    if (std::find(levels.begin(), levels.end(), v) != levels.end()) continue;
    if (levels.size() == kMaxLevels) return {};
    levels.push_back(v == 0 ? 0.0f : v);  // -0 and 0 are one level
  }
  std::sort(levels.begin(), levels.end());
  return levels;
}

// Lines every k data cells; drawn by shifting the pixels under them towards `towards`.
void draw_block_grid(Image& plot, const CellGeometry& g, int k, Color towards, float alpha) {
  if (k <= 0) return;
  // Skip when lines would be closer than 3 pixels: they would hide the data.
  if (int64_t(k) * g.cell_w < 3LL * g.block || int64_t(k) * g.cell_h < 3LL * g.block) return;
  for (int i = k; i < g.rows; i += k) {
    const int y = int(int64_t(i) * g.cell_h / g.block);
    for (int x = 0; x < plot.width; ++x) plot.set(x, y, blend(plot.get(x, y), towards, alpha));
  }
  for (int j = k; j < g.cols; j += k) {
    const int x = int(int64_t(j) * g.cell_w / g.block);
    for (int y = 0; y < plot.height; ++y) plot.set(x, y, blend(plot.get(x, y), towards, alpha));
  }
}

// Ticks for text labels: every cell when a label of `need` pixels fits in the `pitch` pixels between cells,
// otherwise every k-th cell with the smallest k that gives it room.
std::vector<int> every_kth(int n, int pitch, int need) {
  const int k = std::max(1, (need + std::max(pitch, 1) - 1) / std::max(pitch, 1));
  std::vector<int> ticks;
  for (int v = 0; v < n; v += k) ticks.push_back(v);
  return ticks;
}

// Places the title, subtitle lines, axes with tick labels, the plot area and the side panel on one canvas.
Image compose_matrix_figure(const Image& plot, const CellGeometry& g, const SidePanel& side,
                            const HeatmapOptions& opts, const std::vector<std::string>& notes,
                            HeatmapLayout* layout) {
  const int s = opts.text_scale, th = kGlyphHeight * s, cap = 7 * s, M = kMargin;
  const int pw = plot.width, ph = plot.height;

  std::vector<std::string> sub_lines;
  if (!opts.subtitle.empty()) sub_lines.push_back(opts.subtitle);
  std::string joined;
  for (const std::string& n : notes) {
    if (n.empty()) continue;
    joined += (joined.empty() ? "" : "  ") + n;
  }
  if (!joined.empty()) sub_lines.push_back(joined);

  // ---- vertical layout: title, subtitle lines, (horizontal y label), plot, x ticks, x label
  int y = M;
  const int title_y = y;
  if (!opts.title.empty()) y += th + 8;
  std::vector<int> sub_y;
  for (size_t i = 0; i < sub_lines.size(); ++i) {
    sub_y.push_back(y);
    y += th + 6;
  }
  const int ylabel_len = text_width(opts.ylabel, s);
  const bool ylabel_vertical = ylabel_len <= ph;  // else it goes horizontally above the plot
  int ylabel_h_y = 0;  // where a horizontal y label goes
  if (!opts.ylabel.empty() && !ylabel_vertical) {
    y += 4;
    ylabel_h_y = y;
    y += th + 4;
  }
  const int plot_y = y + std::max(8, side.align_top + 2);

  // ---- horizontal layout: y label, y tick labels, ticks, plot, side panel
  AZ_CHECK(opts.row_labels.empty() || static_cast<int>(opts.row_labels.size()) == g.rows, "heatmap: ",
           opts.row_labels.size(), " row labels for ", g.rows, " rows");
  AZ_CHECK(opts.col_labels.empty() || static_cast<int>(opts.col_labels.size()) == g.cols, "heatmap: ",
           opts.col_labels.size(), " column labels for ", g.cols, " columns");
  const int row_pitch = g.rows > 1 ? g.row_centre(1) - g.row_centre(0) : th;  // pixels between row centres
  const int col_pitch = g.cols > 1 ? g.col_centre(1) - g.col_centre(0) : th;
  int label_w = 0;
  for (const std::string& l : opts.col_labels) label_w = std::max(label_w, text_width(l, s));
  std::vector<int> yt = opts.row_labels.empty() ? index_ticks(g.rows) : every_kth(g.rows, row_pitch, cap + 3 * s);
  std::vector<std::string> yt_text;
  int yt_w = 0;
  for (int v : yt) {
    yt_text.push_back(opts.row_labels.empty() ? std::to_string(v) : opts.row_labels[static_cast<size_t>(v)]);
    yt_w = std::max(yt_w, text_width(yt_text.back(), s));
  }
  int x = M;
  const int ylabel_x = x;
  if (!opts.ylabel.empty() && ylabel_vertical) x += th + 8;
  const int plot_x = x + yt_w + 4 + kTick + 1;

  std::vector<int> xt = opts.col_labels.empty() ? index_ticks(g.cols) : every_kth(g.cols, col_pitch, label_w + 4 * s);
  std::vector<std::string> xt_text;
  std::vector<int> xt_centre, xt_half;
  for (int v : xt) {
    xt_text.push_back(opts.col_labels.empty() ? std::to_string(v) : opts.col_labels[static_cast<size_t>(v)]);
    xt_centre.push_back(plot_x + g.col_centre(v));
    xt_half.push_back(text_width(xt_text.back(), s) / 2);
  }
  const int last_overhang = xt_centre.back() + xt_half.back() - (plot_x + pw);
  const int side_x = plot_x + pw + std::max(20, last_overhang + 12);
  const int side_y = plot_y - side.align_top;
  const int side_bottom = side_y + side.img.height;

  const int xt_y = plot_y + ph + 1 + kTick + 3;
  const int xlabel_w = text_width(opts.xlabel, s);
  int xlabel_x = std::max(M, plot_x + pw / 2 - xlabel_w / 2);
  int xlabel_y = xt_y + th + 6;
  if (xlabel_x + xlabel_w + 4 > side_x && xlabel_y < side_bottom + 6) xlabel_y = side_bottom + 6;

  // ---- canvas size: everything must fit
  int width = side_x + side.img.width + M;
  width = std::max(width, xlabel_x + xlabel_w + M);
  width = std::max(width, text_width(opts.title, s) + 2 * M + 1);
  for (const std::string& l : sub_lines) width = std::max(width, text_width(l, s) + 2 * M);
  const int height = std::max({xlabel_y + (opts.xlabel.empty() ? 0 : th), side_bottom, plot_y + ph + 1}) + M;
  Image img(width, height);

  // ---- draw
  auto centred_x = [&](int w) { return clampi(plot_x + pw / 2 - w / 2, M, width - M - w); };
  if (!opts.title.empty()) draw_bold(img, centred_x(text_width(opts.title, s)), title_y, opts.title, kBlack, s);
  for (size_t i = 0; i < sub_lines.size(); ++i)
    img.draw_text(centred_x(text_width(sub_lines[i], s)), sub_y[i], sub_lines[i], kSubtleText, s);

  img.blit(plot, plot_x, plot_y);
  img.draw_rect(plot_x - 1, plot_y - 1, pw + 2, ph + 2, kBlack);

  // y ticks: right-aligned labels, centred on their row
  std::vector<int> yt_centre, yt_half;
  for (int v : yt) {
    yt_centre.push_back(plot_y + g.row_centre(v));
    yt_half.push_back(cap / 2);
  }
  std::vector<bool> keep_y = fit_labels(yt_centre, yt_half, 3 * s);
  for (size_t i = 0; i < yt.size(); ++i) {
    if (!keep_y[i]) continue;
    img.fill_rect(plot_x - 1 - kTick, yt_centre[i], kTick, 1, kBlack);
    const int w = text_width(yt_text[i], s);
    img.draw_text(plot_x - 1 - kTick - 4 - w, yt_centre[i] - cap / 2, yt_text[i], kBlack, s);
  }
  // x ticks: labels centred under their column
  std::vector<bool> keep_x = fit_labels(xt_centre, xt_half, 4 * s);
  for (size_t i = 0; i < xt.size(); ++i) {
    if (!keep_x[i]) continue;
    img.fill_rect(xt_centre[i], plot_y + ph + 1, 1, kTick, kBlack);
    img.draw_text(xt_centre[i] - xt_half[i], xt_y, xt_text[i], kBlack, s);
  }
  if (!opts.xlabel.empty()) img.draw_text(xlabel_x, xlabel_y, opts.xlabel, kBlack, s);
  if (!opts.ylabel.empty()) {
    if (ylabel_vertical) {
      img.draw_text_vertical(ylabel_x, plot_y + std::max(0, (ph - ylabel_len) / 2), opts.ylabel, kBlack, s);
    } else {
      img.draw_text(M, ylabel_h_y, opts.ylabel, kBlack, s);
    }
  }
  img.blit(side.img, side_x, side_y);
  if (layout) *layout = {plot_x, plot_y, pw, ph, g.cell_w, g.cell_h, g.block};
  return img;
}

void check_heatmap_args(const char* op, const void* data, int rows, int cols, const HeatmapOptions& opts) {
  AZ_CHECK(rows > 0 && cols > 0, op, ": empty matrix (", rows, "x", cols, ")");
  AZ_CHECK(data != nullptr, op, ": data is null for a ", rows, "x", cols, " matrix");
  AZ_CHECK(opts.target_px >= 16, op, ": target_px must be at least 16, got ", opts.target_px);
  AZ_CHECK(opts.grid_every >= 0, op, ": grid_every must be >= 0, got ", opts.grid_every);
  check_scale(opts.text_scale, op);
}

}  // namespace

Image heatmap(const float* data, int rows, int cols, const HeatmapOptions& opts, HeatmapLayout* layout) {
  check_heatmap_args("heatmap", data, rows, cols, opts);
  const int64_t n = int64_t(rows) * cols;

  // ---- the colour range: from the finite values unless given
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  int64_t nan_count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = data[i];
    if (std::isnan(v)) ++nan_count;
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const bool any_finite = lo <= hi;
  if (!any_finite) lo = 0, hi = 1;
  if (opts.vmin) lo = *opts.vmin;
  if (opts.vmax) hi = *opts.vmax;
  AZ_CHECK(std::isfinite(lo) && std::isfinite(hi), "heatmap: vmin and vmax must be finite, got ", lo, " and ", hi);
  AZ_CHECK(lo <= hi, "heatmap: vmin ", lo, " > vmax ", hi);
  // Signed data get the diverging map on a range symmetric around 0, so that 0 is white and a negative entry
  // is as visible as a positive one (on viridis from the minimum, -0.3 and 0 would both look "small").
  // Non-negative data, e.g. probabilities, keep viridis.
  const bool is_diverging = opts.diverging || lo < 0;
  if (is_diverging) {
    const float a = std::max(std::fabs(lo), std::fabs(hi));  // symmetric, so 0 sits in the white middle
    lo = -a;
    hi = a;
  }

  // value -> t in [0, 1]. Work in double: hi - lo may overflow a float.
  auto to_t = [lo, hi](float v) -> float {
    if (std::isnan(v)) return v;
    if (std::isinf(v)) return v > 0 ? 1.0f : 0.0f;
    if (!(hi > lo)) return 0.5f;  // constant matrix: the middle colour, no division by zero
    const double t = (double(v) - lo) / (double(hi) - double(lo));
    return float(std::max(0.0, std::min(1.0, t)));
  };

  // ---- displayed cells: the data itself, or the mean of each block when the matrix is larger than the plot
  const CellGeometry g = cell_geometry(rows, cols, opts.target_px);
  std::vector<float> shown(size_t(g.out_rows) * g.out_cols);  // (out_rows, out_cols)
  for (int bi = 0; bi < g.out_rows; ++bi) {
    for (int bj = 0; bj < g.out_cols; ++bj) {
      double sum = 0;
      int count = 0;
      const int i1 = std::min(rows, (bi + 1) * g.block), j1 = std::min(cols, (bj + 1) * g.block);
      for (int i = bi * g.block; i < i1; ++i) {
        for (int j = bj * g.block; j < j1; ++j) {
          float v = data[int64_t(i) * cols + j];
          if (std::isinf(v)) v = v > 0 ? hi : lo;  // clamp first, so +inf and -inf in one block do not make NaN
          sum += v;  // a NaN makes the whole block NaN: it stays visible
          ++count;
        }
      }
      shown[size_t(bi) * g.out_cols + bj] = float(sum / count);
    }
  }

  Image plot(g.plot_w(), g.plot_h());
  for (int bi = 0; bi < g.out_rows; ++bi) {
    for (int bj = 0; bj < g.out_cols; ++bj) {
      const float t = to_t(shown[size_t(bi) * g.out_cols + bj]);
      const Color c = std::isnan(t) ? kNaN : (is_diverging ? diverging(t) : viridis(t));
      plot.fill_rect(bj * g.cell_w, bi * g.cell_h, g.cell_w, g.cell_h, c);
    }
  }
  // White lines vanish on diverging's white middle, so that map gets dark lines.
  if (is_diverging) {
    draw_block_grid(plot, g, opts.grid_every, kBlack, 0.35f);
  } else {
    draw_block_grid(plot, g, opts.grid_every, kWhite, 0.6f);
  }

  std::vector<std::string> notes{downsample_note(g, "mean")};
  if (nan_count > 0) notes.push_back("magenta = NaN (" + std::to_string(nan_count) + ")");
  if (!any_finite) notes.push_back("no finite values");
  // A matrix of a few small integers (a 0/1 pattern, counts 0..3) gets a legend of those values: a continuous
  // colorbar would promise in-between values (a tick at 0.5) that do not occur.
  // A given vmin / vmax that is a whole number is a level too (a 0/1 pattern drawn with vmin 0, vmax 1 shows
  // both in its legend even where every cell is 1).
  std::vector<float> levels = g.block == 1 ? integer_levels(data, n) : std::vector<float>{};
  for (const std::optional<float>& end : {opts.vmin, opts.vmax})
    if (!levels.empty() && end && *end == std::round(*end) &&
        std::find(levels.begin(), levels.end(), *end) == levels.end())
      levels.push_back(*end);
  std::sort(levels.begin(), levels.end());
  if (levels.size() > 6) levels.clear();
  if (levels.size() >= 2) {
    std::vector<std::string> labels;
    std::vector<Color> colors;
    for (float v : levels) {
      labels.push_back(fmt3g(v));
      colors.push_back(is_diverging ? diverging(to_t(v)) : viridis(to_t(v)));
    }
    return compose_matrix_figure(plot, g, legend_panel(labels, colors, opts.text_scale, opts.value_label), opts,
                                 notes, layout);
  }
  return compose_matrix_figure(plot, g, colorbar_panel(lo, hi, is_diverging, plot.height, opts), opts, notes,
                               layout);
}

Image heatmap(const core::Tensor& t, const HeatmapOptions& opts, HeatmapLayout* layout) {
  AZ_CHECK(t.defined(), "heatmap: the tensor is undefined");
  AZ_CHECK(t.dim() == 2, "heatmap: expected a 2-D tensor, got ", t.shape());
  const core::Shape& sh = t.shape();
  AZ_CHECK(sh[0] <= std::numeric_limits<int>::max() && sh[1] <= std::numeric_limits<int>::max(),
           "heatmap: tensor ", sh, " is too large to draw");
  return heatmap(t.data(), int(sh[0]), int(sh[1]), opts, layout);
}

Image categorical_heatmap(const int* ids, int rows, int cols, const std::vector<std::string>& labels,
                          const HeatmapOptions& opts, HeatmapLayout* layout) {
  check_heatmap_args("categorical_heatmap", ids, rows, cols, opts);
  const int k = static_cast<int>(labels.size());
  AZ_CHECK(k > 0, "categorical_heatmap: no labels given");
  AZ_CHECK(opts.colors.empty() || opts.colors.size() >= labels.size(), "categorical_heatmap: ",
           labels.size(), " labels but only ", opts.colors.size(), " colours");
  for (int64_t i = 0; i < int64_t(rows) * cols; ++i) {
    AZ_CHECK(ids[i] >= 0 && ids[i] < k, "categorical_heatmap: id ", ids[i], " at (", i / cols, ",", i % cols,
             ") is outside [0, ", k, ") (one label per id)");
  }
  std::vector<Color> colors(k);
  for (int c = 0; c < k; ++c) colors[c] = opts.colors.empty() ? categorical(c) : opts.colors[c];

  // Displayed cell = the most frequent id of its block (ties: the smaller id); ids cannot be averaged.
  const CellGeometry g = cell_geometry(rows, cols, opts.target_px);
  Image plot(g.plot_w(), g.plot_h());
  std::vector<int> counts(k);
  for (int bi = 0; bi < g.out_rows; ++bi) {
    for (int bj = 0; bj < g.out_cols; ++bj) {
      std::fill(counts.begin(), counts.end(), 0);
      const int i1 = std::min(rows, (bi + 1) * g.block), j1 = std::min(cols, (bj + 1) * g.block);
      for (int i = bi * g.block; i < i1; ++i)
        for (int j = bj * g.block; j < j1; ++j) ++counts[ids[int64_t(i) * cols + j]];
      const int mode = int(std::max_element(counts.begin(), counts.end()) - counts.begin());
      plot.fill_rect(bj * g.cell_w, bi * g.cell_h, g.cell_w, g.cell_h, colors[mode]);
    }
  }
  draw_block_grid(plot, g, opts.grid_every, kBlack, 0.3f);
  return compose_matrix_figure(plot, g, legend_panel(labels, colors, opts.text_scale), opts,
                               {downsample_note(g, "most frequent")}, layout);
}

Image categorical_heatmap(const core::IntTensor& ids, const std::vector<std::string>& labels,
                          const HeatmapOptions& opts, HeatmapLayout* layout) {
  AZ_CHECK(ids.dim() == 2, "categorical_heatmap: expected a 2-D tensor, got ", ids.shape);
  AZ_CHECK(ids.shape[0] <= std::numeric_limits<int>::max() && ids.shape[1] <= std::numeric_limits<int>::max(),
           "categorical_heatmap: tensor ", ids.shape, " is too large to draw");
  std::vector<int> narrow(ids.data.size());
  for (size_t i = 0; i < narrow.size(); ++i) {
    const int64_t v = ids.data[i];
    // Out-of-range ids become -1 so that the int version reports them (with their position).
    narrow[i] = (v >= 0 && v <= std::numeric_limits<int>::max()) ? int(v) : -1;
  }
  return categorical_heatmap(narrow.data(), int(ids.shape[0]), int(ids.shape[1]), labels, opts, layout);
}

}  // namespace plot
