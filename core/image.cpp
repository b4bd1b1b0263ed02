// core/image.cpp — the canvas, colormaps, heatmaps, panels, line plots and PNG I/O of core/image.h.
//
// Layout is done by hand in pixels. The recurring sizes: s = text scale, th = 9*s = height of one line of text
// (with descenders), M = outer margin. A figure is assembled from parts drawn separately (the plot area, the
// colorbar or legend) and then placed around the axes, so each part can be read on its own.
#include "core/image.h"

#include <unistd.h>  // getpid, for a temporary file name no other process uses

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <ostream>

#include "core/error.h"
#include "core/tensor.h"

// stb_easy_font is header-only with static functions; we do not use all of them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop
// The implementations of these two live in libstb (-lstb); only the declarations are included here.
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

namespace core::image {

namespace {

constexpr int kMargin = 12;          // outer white border of every figure
constexpr int kTick = 5;             // length of a tick mark
constexpr int kGlyphHeight = 9;      // font pixels of one line including descenders (stb_easy_font)
constexpr int kLineSpacing = 12;     // font pixels from one line to the next (stb_easy_font)
constexpr Color kSubtleText{90, 90, 90};
constexpr Color kGridLine{225, 225, 225};

int clampi(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

void check_scale(int scale, const char* op) {
  AZ_CHECK(scale >= 1 && scale <= 4, op, ": text scale must be in 1..4, got ", scale);
}

// %.3g, but never "-0".
std::string fmt3g(double v) {
  if (v == 0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, Color c) {
  return os << "(" << int(c.r) << "," << int(c.g) << "," << int(c.b) << ")";
}

Color blend(Color a, Color b, float alpha) {
  alpha = std::max(0.0f, std::min(1.0f, alpha));
  auto mix = [alpha](uint8_t x, uint8_t y) {
    return static_cast<uint8_t>(std::lround(x + (float(y) - float(x)) * alpha));
  };
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

// ============================================================================================================
// The canvas
// ============================================================================================================

Image::Image(int w, int h, Color background) : width(w), height(h) {
  AZ_CHECK(w >= 0 && h >= 0 && int64_t(w) * h <= (int64_t(1) << 28), "Image: bad size ", w, "x", h);
  rgb.resize(size_t(w) * size_t(h) * 3);
  for (size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = background.r;
    rgb[i + 1] = background.g;
    rgb[i + 2] = background.b;
  }
}

Color Image::get(int x, int y) const {
  AZ_CHECK(contains(x, y), "Image::get: pixel (", x, ",", y, ") is outside the ", width, "x", height, " image");
  const size_t i = 3 * (size_t(y) * size_t(width) + size_t(x));
  return {rgb[i], rgb[i + 1], rgb[i + 2]};
}

void Image::set(int x, int y, Color c) {
  if (!contains(x, y)) return;  // drawing clips at the border
  const size_t i = 3 * (size_t(y) * size_t(width) + size_t(x));
  rgb[i] = c.r;
  rgb[i + 1] = c.g;
  rgb[i + 2] = c.b;
}

void Image::fill_rect(int x, int y, int w, int h, Color c) {
  const int x0 = std::max(x, 0), y0 = std::max(y, 0);
  const int x1 = std::min(x + w, width), y1 = std::min(y + h, height);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) set(xx, yy, c);
}

void Image::draw_rect(int x, int y, int w, int h, Color c) {
  if (w <= 0 || h <= 0) return;
  fill_rect(x, y, w, 1, c);
  fill_rect(x, y + h - 1, w, 1, c);
  fill_rect(x, y, 1, h, c);
  fill_rect(x + w - 1, y, 1, h, c);
}

void Image::draw_line(int x0, int y0, int x1, int y1, Color c, int thickness) {
  // Bresenham: step along the line one pixel at a time, keeping the error term in integers.
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  const int lo = -(thickness - 1) / 2;  // a square brush of side `thickness` centred on the line
  int err = dx + dy;
  for (;;) {
    if (thickness <= 1) {
      set(x0, y0, c);
    } else {
      fill_rect(x0 + lo, y0 + lo, thickness, thickness, c);
    }
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) { err += dy; x0 += sx; }
    if (e2 <= dx) { err += dx; y0 += sy; }
  }
}

void Image::blit(const Image& src, int x, int y) {
  for (int yy = 0; yy < src.height; ++yy) {
    if (y + yy < 0 || y + yy >= height) continue;
    for (int xx = 0; xx < src.width; ++xx) set(x + xx, y + yy, src.get(xx, yy));
  }
}

// ---- text ----------------------------------------------------------------------------------------------------

namespace {

// stb_easy_font looks glyphs up with (char - 32): any byte outside printable ASCII would read outside its
// table. The few symbols the course writes in titles (·, ᵀ, √, ×, ², ≤, →, …) are spelled in ASCII; any other
// non-ASCII character becomes '?'.
std::string printable(const std::string& text) {
  static const std::pair<const char*, const char*> kSpelled[] = {
      {"\u00b7", "-"},  {"\u1d40", "^T"}, {"\u221a", "sqrt"}, {"\u00d7", "x"},  {"\u00b2", "^2"}, {"\u00b3", "^3"},
      {"\u2264", "<="}, {"\u2265", ">="}, {"\u2192", "->"},   {"\u2190", "<-"}, {"\u2212", "-"},  {"\u2013", "-"},
      {"\u2014", "-"},  {"\u2026", "..."}, {"\u03b1", "alpha"}, {"\u03c6", "phi"}, {"\u03c4", "tau"},
      {"\u2248", "~"},  {"\u00b1", "+-"}, {"\u2211", "sum"},  {"\u221e", "inf"}};
  std::string s;
  s.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char u = static_cast<unsigned char>(text[i]);
    if (u == '\n' || (u >= 32 && u < 127)) {
      s += text[i++];
      continue;
    }
    bool matched = false;
    for (const auto& [utf8, ascii] : kSpelled) {
      const size_t len = std::strlen(utf8);
      if (text.compare(i, len, utf8) == 0) {
        s += ascii;
        i += len;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    s += '?';
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;  // rest of the character
  }
  return s;
}

// One filled rectangle of the font, in font pixels (top-left x, y and size).
struct Quad {
  int x, y, w, h;
};

// stb_easy_font draws each glyph as a few rectangles ("quads", 4 vertices of 16 bytes: x, y, z floats and
// a colour). We ask it for the quads and fill them ourselves, magnified by the scale.
std::vector<Quad> text_quads(const std::string& text) {
  std::string s = printable(text);
  // No glyph uses more than ~12 quads; 16 per character with 64 bytes per quad is always enough.
  std::vector<char> buffer(64 * 16 * (s.size() + 1));
  const int n = stb_easy_font_print(0, 0, s.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
  std::vector<Quad> quads;
  quads.reserve(n);
  for (int q = 0; q < n; ++q) {
    float v0[2], v2[2];  // vertex 0 is the top-left corner, vertex 2 the bottom-right one
    std::memcpy(v0, buffer.data() + q * 64, sizeof v0);
    std::memcpy(v2, buffer.data() + q * 64 + 32, sizeof v2);
    const int x0 = static_cast<int>(std::lround(v0[0])), y0 = static_cast<int>(std::lround(v0[1]));
    quads.push_back({x0, y0, static_cast<int>(std::lround(v2[0])) - x0, static_cast<int>(std::lround(v2[1])) - y0});
  }
  return quads;
}

}  // namespace

int text_width(const std::string& text, int scale) {
  if (text.empty()) return 0;
  std::string s = printable(text);
  return stb_easy_font_width(s.data()) * scale;
}

int text_height(const std::string& text, int scale) {
  if (text.empty()) return 0;
  const int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  return ((lines - 1) * kLineSpacing + kGlyphHeight) * scale;
}

int Image::draw_text(int x, int y, const std::string& text, Color c, int scale) {
  check_scale(scale, "draw_text");
  for (const Quad& q : text_quads(text)) fill_rect(x + q.x * scale, y + q.y * scale, q.w * scale, q.h * scale, c);
  return text_width(text, scale);
}

void Image::draw_text_vertical(int x, int y, const std::string& text, Color c, int scale) {
  check_scale(scale, "draw_text_vertical");
  // Turning the text counter-clockwise sends the text's rightward direction up and its downward direction
  // right: font pixel (gx, gy) lands at (x + gy, bottom - gx), with bottom the lower edge of the box.
  const int bottom = y + text_width(text, scale);
  for (const Quad& q : text_quads(text))
    fill_rect(x + q.y * scale, bottom - (q.x + q.w) * scale, q.h * scale, q.w * scale, c);
}

namespace {

// Title-weight text: drawn twice, one pixel apart.
void draw_bold(Image& img, int x, int y, const std::string& text, Color c, int scale) {
  img.draw_text(x, y, text, c, scale);
  img.draw_text(x + 1, y, text, c, scale);
}

}  // namespace

// ============================================================================================================
// Colormaps
// ============================================================================================================

namespace {

// Piecewise-linear interpolation in a table of n evenly spaced anchor colours.
Color interpolate(const Color* table, int n, float t) {
  if (std::isnan(t)) return kNaN;
  t = std::max(0.0f, std::min(1.0f, t));
  const float f = t * float(n - 1);
  const int i = std::min(static_cast<int>(f), n - 2);
  return blend(table[i], table[i + 1], f - float(i));
}

// 33 anchors of matplotlib's viridis (every 8th entry of its 256-colour table, and the last one).
constexpr Color kViridis[] = {
    {68, 1, 84},    {70, 12, 95},   {71, 24, 106},  {72, 34, 115},  {71, 44, 123},  {69, 54, 129},
    {66, 64, 133},  {62, 73, 137},  {58, 82, 139},  {54, 90, 140},  {50, 98, 141},  {47, 106, 141},
    {44, 114, 142}, {40, 122, 142}, {38, 129, 142}, {35, 137, 141}, {32, 144, 140}, {30, 152, 138},
    {30, 159, 136}, {33, 167, 132}, {40, 174, 127}, {50, 181, 122}, {62, 188, 115}, {77, 194, 107},
    {94, 201, 97},  {112, 206, 86}, {131, 211, 75}, {151, 216, 62}, {173, 220, 48}, {194, 223, 34},
    {215, 226, 25}, {236, 228, 26}, {253, 231, 37},
};

// ColorBrewer's RdBu reversed (blue for negative, red for positive), with a pure white centre.
constexpr Color kDiverging[] = {
    {5, 48, 97},     {33, 102, 172},  {67, 147, 195}, {146, 197, 222}, {209, 229, 240}, {255, 255, 255},
    {253, 219, 199}, {244, 165, 130}, {214, 96, 77},  {178, 24, 43},   {103, 0, 31},
};

// tab10, then the lighter partner of each (tab20's second half).
constexpr Color kCategorical[] = {
    {31, 119, 180},  {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},   {227, 119, 194}, {127, 127, 127}, {188, 189, 34},  {23, 190, 207},
    {174, 199, 232}, {255, 187, 120}, {152, 223, 138}, {255, 152, 150}, {197, 176, 213},
    {196, 156, 148}, {247, 182, 210}, {199, 199, 199}, {219, 219, 141}, {158, 218, 229},
};

constexpr int kViridisN = sizeof kViridis / sizeof kViridis[0];
constexpr int kDivergingN = sizeof kDiverging / sizeof kDiverging[0];
constexpr int kCategoricalN = sizeof kCategorical / sizeof kCategorical[0];

}  // namespace

Color viridis(float t) { return interpolate(kViridis, kViridisN, t); }
Color diverging(float t) { return interpolate(kDiverging, kDivergingN, t); }
Color categorical(int id) { return kCategorical[((id % kCategoricalN) + kCategoricalN) % kCategoricalN]; }

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

SidePanel legend_panel(const std::vector<std::string>& labels, const std::vector<Color>& colors, int scale) {
  const int th = kGlyphHeight * scale, row = th + 8;
  int label_w = 0;
  for (const std::string& l : labels) label_w = std::max(label_w, text_width(l, scale));
  SidePanel p{Image(th + 8 + label_w, std::max(1, int(labels.size()) * row - 8)), 0};
  for (size_t i = 0; i < labels.size(); ++i) {
    const int y = int(i) * row;
    p.img.fill_rect(0, y, th, th, colors[i]);
    p.img.draw_rect(0, y, th, th, kBlack);
    p.img.draw_text(th + 8, y + (th - 7 * scale) / 2, labels[i], kBlack, scale);
  }
  return p;
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
  std::vector<int> yt = index_ticks(g.rows);
  std::vector<std::string> yt_text;
  int yt_w = 0;
  for (int v : yt) {
    yt_text.push_back(std::to_string(v));
    yt_w = std::max(yt_w, text_width(yt_text.back(), s));
  }
  int x = M;
  const int ylabel_x = x;
  if (!opts.ylabel.empty() && ylabel_vertical) x += th + 8;
  const int plot_x = x + yt_w + 4 + kTick + 1;

  std::vector<int> xt = index_ticks(g.cols);
  std::vector<std::string> xt_text;
  std::vector<int> xt_centre, xt_half;
  for (int v : xt) {
    xt_text.push_back(std::to_string(v));
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
  if (opts.diverging) {
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
      const Color c = std::isnan(t) ? kNaN : (opts.diverging ? diverging(t) : viridis(t));
      plot.fill_rect(bj * g.cell_w, bi * g.cell_h, g.cell_w, g.cell_h, c);
    }
  }
  // White lines vanish on diverging's white middle, so that map gets dark lines.
  if (opts.diverging) {
    draw_block_grid(plot, g, opts.grid_every, kBlack, 0.35f);
  } else {
    draw_block_grid(plot, g, opts.grid_every, kWhite, 0.6f);
  }

  std::vector<std::string> notes{downsample_note(g, "mean")};
  if (nan_count > 0) notes.push_back("magenta = NaN (" + std::to_string(nan_count) + ")");
  if (!any_finite) notes.push_back("no finite values");
  return compose_matrix_figure(plot, g, colorbar_panel(lo, hi, opts.diverging, plot.height, opts), opts, notes,
                               layout);
}

Image heatmap(const core::Tensor& t, const HeatmapOptions& opts, HeatmapLayout* layout) {
  AZ_CHECK(t.defined(), "heatmap: the tensor is undefined");
  AZ_CHECK(t.dim() == 2, "heatmap: expected a 2-D tensor, got ", t.shape());
  const Shape& sh = t.shape();
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

// ============================================================================================================
// Panels
// ============================================================================================================

Image grid(const std::vector<Image>& images, int cols, int gap) {
  AZ_CHECK(!images.empty(), "grid: no images");
  AZ_CHECK(cols >= 1, "grid: cols must be >= 1, got ", cols);
  AZ_CHECK(gap >= 0, "grid: gap must be >= 0, got ", gap);
  const int n = int(images.size()), rows = (n + cols - 1) / cols;
  const int used_cols = std::min(cols, n);
  std::vector<int> col_w(used_cols, 0), row_h(rows, 0);
  for (int i = 0; i < n; ++i) {
    col_w[i % cols] = std::max(col_w[i % cols], images[i].width);
    row_h[i / cols] = std::max(row_h[i / cols], images[i].height);
  }
  int width = gap * (used_cols - 1), height = gap * (rows - 1);
  for (int w : col_w) width += w;
  for (int h : row_h) height += h;
  Image out(width, height);
  int y = 0;
  for (int r = 0; r < rows; ++r) {
    int x = 0;
    for (int c = 0; c < used_cols && r * cols + c < n; ++c) {
      out.blit(images[r * cols + c], x, y);
      x += col_w[c] + gap;
    }
    y += row_h[r] + gap;
  }
  return out;
}

Image hstack(const std::vector<Image>& images, int gap) {
  AZ_CHECK(!images.empty(), "hstack: no images");
  return grid(images, int(images.size()), gap);
}

Image vstack(const std::vector<Image>& images, int gap) {
  AZ_CHECK(!images.empty(), "vstack: no images");
  return grid(images, 1, gap);
}

Image with_title(const Image& img, const std::string& title, int scale) {
  check_scale(scale, "with_title");
  const int th = kGlyphHeight * scale, tw = text_width(title, scale);
  const int band = th + 2 * kMargin;
  Image out(std::max(img.width, tw + 2 * kMargin), img.height + band);
  draw_bold(out, (out.width - tw) / 2, kMargin, title, kBlack, scale);
  out.blit(img, (out.width - img.width) / 2, band);
  return out;
}

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

// ============================================================================================================
// PNG files
// ============================================================================================================

std::vector<uint8_t> encode_png(const Image& img) {
  AZ_CHECK(img.width > 0 && img.height > 0, "encode_png: cannot encode an empty ", img.width, "x", img.height,
           " image");
  AZ_CHECK(img.rgb.size() == size_t(img.width) * size_t(img.height) * 3, "encode_png: a ", img.width, "x",
           img.height, " image needs ", size_t(img.width) * size_t(img.height) * 3, " bytes, it has ",
           img.rgb.size());
  std::vector<uint8_t> bytes;
  // stb calls this with each piece of the file; we collect them, then write the file ourselves.
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* p = static_cast<const uint8_t*>(data);
    out->insert(out->end(), p, p + size);
  };
  const int ok = stbi_write_png_to_func(append, &bytes, img.width, img.height, 3, img.rgb.data(), img.width * 3);
  AZ_CHECK(ok != 0, "encode_png: stb_image_write failed on a ", img.width, "x", img.height, " image");
  return bytes;
}

void save_png(const Image& img, const std::string& path) {
  namespace fs = std::filesystem;
  AZ_CHECK(!path.empty(), "save_png: empty path");
  AZ_CHECK(img.width > 0 && img.height > 0, "save_png: '", path, "': cannot save an empty ", img.width, "x",
           img.height, " image");
  const std::vector<uint8_t> bytes = encode_png(img);
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    AZ_CHECK(!ec, "save_png: cannot write '", path, "': cannot create directory '", target.parent_path().string(),
             "': ", ec.message());
  }
  // Write next to the target, then rename: a rename within one directory is atomic, so readers see either
  // the old file or the complete new one. The pid keeps two processes writing the same figure apart.
  fs::path tmp = target.parent_path() / ("." + target.filename().string() + ".tmp" + std::to_string(getpid()));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    AZ_CHECK(f.good(), "save_png: cannot write '", path, "': ", std::strerror(errno));
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    f.close();
    if (!f) {
      const std::string reason = std::strerror(errno);
      fs::remove(tmp, ec);
      AZ_FAIL("save_png: cannot write '", path, "': ", reason);
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    const std::string reason = ec.message();
    fs::remove(tmp, ec);
    AZ_FAIL("save_png: cannot write '", path, "': ", reason);
  }
}

Image load_png(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  unsigned char* pixels = stbi_load(path.c_str(), &w, &h, &channels, 3);  // 3: convert to RGB
  if (pixels == nullptr) {
    const char* reason = stbi_failure_reason();
    AZ_FAIL("load_png: cannot read '", path, "': ", reason ? reason : "unknown error");
  }
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(pixels, pixels + size_t(w) * size_t(h) * 3);
  stbi_image_free(pixels);
  return img;
}

}  // namespace core::image
