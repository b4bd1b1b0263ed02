// tests/test_plot.cpp — plot/: colormaps, the canvas and its text, heatmaps (checked pixel by pixel
// through HeatmapLayout), panels, line plots, labelled scatters, and PNG files (round trip, determinism, atomic save, errors).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/error.h"
#include "plot/plot.h"
#include "core/tensor.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;
using namespace plot;

namespace {

using testing::TempDir;

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

using testing::error_of;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Pixels of `img` inside the rectangle that are not white.
int ink_inside(const Image& img, int x0, int y0, int x1, int y1) {
  int n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) n += img.get(x, y) != kWhite;
  return n;
}
int ink(const Image& img) { return ink_inside(img, 0, 0, img.width, img.height); }

// Every pixel of displayed cell (i, j) has colour c (so the cell is a solid, visible square).
bool cell_is(const Image& img, const HeatmapLayout& L, int i, int j, Color c) {
  const int x0 = L.plot_x + (j / L.block) * L.cell_w, y0 = L.plot_y + (i / L.block) * L.cell_h;
  for (int y = y0; y < y0 + L.cell_h; ++y)
    for (int x = x0; x < x0 + L.cell_w; ++x)
      if (img.get(x, y) != c) return false;
  return true;
}

}  // namespace

// ---- colormaps -------------------------------------------------------------------------------------------------

TEST_CASE("viridis: matplotlib's endpoints and middle, clamped outside [0, 1]") {
  CHECK(viridis(0.0f) == Color{68, 1, 84});
  CHECK(viridis(1.0f) == Color{253, 231, 37});
  CHECK(viridis(0.5f) == Color{32, 144, 140});  // matplotlib: #21918c = (33,145,140); our anchor is index 128
  CHECK(viridis(-3.0f) == viridis(0.0f));
  CHECK(viridis(7.0f) == viridis(1.0f));
  CHECK(viridis(std::nanf("")) == kNaN);
  // Monotone in brightness (the point of viridis): green channel rises all the way.
  for (int k = 1; k <= 100; ++k) CHECK(viridis(k / 100.0f).g >= viridis((k - 1) / 100.0f).g);
}

TEST_CASE("diverging: blue for low, exactly white in the middle, red for high") {
  CHECK(diverging(0.5f) == kWhite);
  const Color lo = diverging(0.0f), hi = diverging(1.0f);
  CHECK(lo.b > lo.r);
  CHECK(hi.r > hi.b);
  CHECK(diverging(-1.0f) == lo);
  CHECK(diverging(2.0f) == hi);
}

TEST_CASE("categorical: at least 10 distinct colours, wrapping after 20") {
  for (int a = 0; a < 20; ++a)
    for (int b = a + 1; b < 20; ++b) CHECK(categorical(a) != categorical(b));
  CHECK(categorical(20) == categorical(0));
  CHECK(categorical(-1) == categorical(19));
}

// ---- the canvas -------------------------------------------------------------------------------------------------

TEST_CASE("Image: starts white, set/get, clipped drawing, get outside throws") {
  Image img(10, 6);
  CHECK(img.rgb.size() == 10u * 6u * 3u);
  CHECK(img.get(9, 5) == kWhite);
  img.set(2, 3, Color{1, 2, 3});
  CHECK(img.get(2, 3) == Color{1, 2, 3});
  CHECK(img.rgb[3 * (3 * 10 + 2) + 2] == 3);  // row-major RGB layout
  img.set(-1, 0, kBlack);                      // outside: ignored
  img.set(10, 0, kBlack);
  img.fill_rect(8, 4, 100, 100, kBlack);  // clipped to the 2x2 corner
  CHECK(ink(img) == 1 + 4);
  CHECK_THROWS_WITH_AS(img.get(10, 0), "Image::get: pixel (10,0) is outside the 10x6 image", core::Error);
  CHECK_THROWS_AS(Image(-1, 5), core::Error);
}

TEST_CASE("Image: lines hit both ends and every column in between") {
  Image img(20, 20);
  img.draw_line(1, 2, 15, 9, kBlack);
  CHECK(img.get(1, 2) == kBlack);
  CHECK(img.get(15, 9) == kBlack);
  for (int x = 1; x <= 15; ++x) CHECK(ink_inside(img, x, 0, x + 1, 20) == 1);  // x-major: one pixel per column
  Image v(5, 5);
  v.draw_line(2, 4, 2, 0, kBlack);  // drawn backwards
  CHECK(ink(v) == 5);
  Image thick(20, 20);
  thick.draw_line(5, 10, 14, 10, kBlack, 3);
  CHECK(ink_inside(thick, 0, 9, 20, 12) == ink(thick));  // 3 pixels tall
  CHECK(ink(thick) == 3 * (10 + 2));
}

TEST_CASE("text: drawn inside its measured box; scale multiplies the size") {
  const std::string s = "Attn 0.5";
  CHECK(text_width(s, 2) == 2 * text_width(s, 1));
  CHECK(text_height(s, 1) == 9);
  CHECK(text_height("a\nb", 1) == 12 + 9);
  CHECK(text_width("", 1) == 0);
  Image img(200, 60);
  const int w = img.draw_text(10, 20, s, kBlack, 2);
  CHECK(w == text_width(s, 2));
  CHECK(ink(img) > 50);
  CHECK(ink_inside(img, 10, 20, 10 + w, 20 + text_height(s, 2)) == ink(img));
  // Vertical text occupies the turned box: text_height wide, text_width tall.
  Image v(60, 200);
  v.draw_text_vertical(5, 10, s, kBlack, 2);
  CHECK(ink(v) == ink(img));
  CHECK(ink_inside(v, 5, 10, 5 + text_height(s, 2), 10 + text_width(s, 2)) == ink(v));
  // A non-ASCII character (é = 2 UTF-8 bytes) or control byte is drawn as one '?' instead of reading outside
  // the font table; the course's symbols are spelled in ASCII.
  Image u(100, 20), q(100, 20);
  u.draw_text(0, 0, "\xc3\xa9t\x01", kBlack, 1);
  q.draw_text(0, 0, "?t?", kBlack, 1);
  CHECK(u.rgb == q.rgb);
  CHECK(text_width("q k\u1d40 / \u221ad \u00b7 n\u00b2") == text_width("q k^T / sqrtd - n^2"));
  CHECK_THROWS_AS(img.draw_text(0, 0, "x", kBlack, 0), core::Error);
}

// ---- heatmaps --------------------------------------------------------------------------------------------------

TEST_CASE("heatmap: max cell is viridis(1), min cell viridis(0), cells are squares of target_px / n") {
  // (3, 4), max at (1,2), min at (2,0); non-negative, so viridis (signed data get the diverging map)
  const std::vector<float> a = {0.5f, 0.2f, 0.3f, 0.4f,  //
                                0.6f, 0.1f, 2.0f, 0.7f,  //
                                0.0f, 0.8f, 0.9f, 1.0f};
  HeatmapOptions o;
  o.title = "test";
  o.target_px = 64;
  HeatmapLayout L;
  const Image img = heatmap(a.data(), 3, 4, o, &L);
  CHECK(L.cell_w == 16);
  CHECK(L.cell_h == 16);
  CHECK(L.block == 1);
  CHECK(L.plot_w == 64);
  CHECK(L.plot_h == 48);
  CHECK(cell_is(img, L, 1, 2, viridis(1.0f)));
  CHECK(cell_is(img, L, 2, 0, viridis(0.0f)));
  CHECK(cell_is(img, L, 0, 0, viridis(0.25f)));  // (0.5 - 0) / (2 - 0)
  // A black frame around the plot area.
  CHECK(img.get(L.plot_x - 1, L.plot_y - 1) == kBlack);
  CHECK(img.get(L.plot_x + L.plot_w, L.plot_y + L.plot_h) == kBlack);
  // Title, tick labels and the colorbar put ink outside the plot area, on a white background.
  CHECK(img.get(0, 0) == kWhite);
  CHECK(ink_inside(img, 0, 0, img.width, L.plot_y - 1) > 0);                  // title
  CHECK(ink_inside(img, 0, L.plot_y + L.plot_h + 1, img.width, img.height) > 0);  // x ticks and label
  CHECK(ink_inside(img, L.plot_x + L.plot_w + 1, 0, img.width, img.height) > 0);  // colorbar

  SUBCASE("vmin/vmax override the data range and clamp") {
    HeatmapOptions r = o;
    r.vmin = 0.0f;
    r.vmax = 1.0f;
    std::vector<float> b = a;
    b[8] = -1.0f;  // below vmin: a non-negative colour range keeps viridis and clamps it
    HeatmapLayout R;
    const Image c = heatmap(b.data(), 3, 4, r, &R);
    CHECK(cell_is(c, R, 1, 2, viridis(1.0f)));  // 2.0 clamped to vmax
    CHECK(cell_is(c, R, 2, 0, viridis(0.0f)));  // -1 clamped to vmin
    CHECK(cell_is(c, R, 0, 0, viridis(0.5f)));
    r.vmin = 2.0f;
    CHECK_THROWS_WITH_AS(heatmap(a.data(), 3, 4, r), "heatmap: vmin 2 > vmax 1", core::Error);
  }
}

TEST_CASE("heatmap: diverging puts 0 at white and uses a symmetric range") {
  const std::vector<float> a = {-1.0f, 0.0f, 4.0f, 2.0f};
  HeatmapOptions o;
  o.diverging = true;
  o.target_px = 32;
  HeatmapLayout L;
  const Image img = heatmap(a.data(), 2, 2, o, &L);
  CHECK(cell_is(img, L, 0, 1, kWhite));              // 0 -> white
  CHECK(cell_is(img, L, 1, 0, diverging(1.0f)));     // 4 is the top of [-4, 4]
  CHECK(cell_is(img, L, 0, 0, diverging(3.0f / 8)));  // -1 -> (−1 + 4) / 8
  CHECK(cell_is(img, L, 1, 1, diverging(6.0f / 8)));
}

TEST_CASE("heatmap: constant matrix, NaN and infinities do not break the picture") {
  HeatmapOptions o;
  o.target_px = 40;
  SUBCASE("constant: the middle colour, no division by zero") {
    const std::vector<float> c(12, 0.25f);
    HeatmapLayout L;
    const Image img = heatmap(c.data(), 3, 4, o, &L);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) CHECK(cell_is(img, L, i, j, viridis(0.5f)));
    o.diverging = true;
    const std::vector<float> z(4, 0.0f);
    const Image d = heatmap(z.data(), 2, 2, o, &L);
    CHECK(cell_is(d, L, 1, 1, kWhite));
  }
  SUBCASE("NaN is magenta; +-inf are clamped to the ends of the finite range") {
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> a = {std::nanf(""), 1.0f, -inf, 3.0f, inf, 2.0f};
    HeatmapLayout L;
    const Image img = heatmap(a.data(), 2, 3, o, &L);
    CHECK(cell_is(img, L, 0, 0, kNaN));
    CHECK(cell_is(img, L, 0, 1, viridis(0.0f)));  // range is [1, 3] from the finite values
    CHECK(cell_is(img, L, 0, 2, viridis(0.0f)));  // -inf
    CHECK(cell_is(img, L, 1, 1, viridis(1.0f)));  // +inf
    CHECK(cell_is(img, L, 1, 0, viridis(1.0f)));
  }
  SUBCASE("all NaN still draws") {
    const std::vector<float> a(6, std::nanf(""));
    HeatmapLayout L;
    const Image img = heatmap(a.data(), 2, 3, o, &L);
    CHECK(cell_is(img, L, 1, 2, kNaN));
  }
}

TEST_CASE("heatmap: larger than target_px is averaged in blocks; a NaN keeps its block visible") {
  const int n = 1024;
  std::vector<float> a(size_t(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a[size_t(i) * n + j] = (j % 2 == 0) ? 0.0f : 1.0f;  // stripes, 1 cell wide
  a[size_t(5) * n + 7] = std::nanf("");
  HeatmapOptions o;  // target_px = 512
  HeatmapLayout L;
  const Image img = heatmap(a.data(), n, n, o, &L);
  CHECK(L.block == 2);
  CHECK(L.plot_w == 512);
  CHECK(L.plot_h == 512);
  CHECK(img.get(L.cell_x(100), L.cell_y(300)) == viridis(0.5f));  // mean of a 2x2 block of stripes
  CHECK(img.get(L.cell_x(7), L.cell_y(5)) == kNaN);
  CHECK(img.get(L.cell_x(9), L.cell_y(5)) == viridis(0.5f));
}

TEST_CASE("heatmap: block grid lines every k cells") {
  std::vector<float> a(64, 0.0f);
  HeatmapOptions o;
  o.target_px = 64;  // 8 px per cell
  o.grid_every = 4;
  HeatmapLayout L;
  const Image img = heatmap(a.data(), 8, 8, o, &L);
  const Color cell = viridis(0.5f);
  CHECK(img.get(L.plot_x + 4 * 8, L.plot_y + 3) != cell);  // the line between columns 3 and 4
  CHECK(img.get(L.plot_x + 4 * 8 + 1, L.plot_y + 3) == cell);
  CHECK(img.get(L.plot_x + 3, L.plot_y + 4 * 8) != cell);  // between rows 3 and 4
  CHECK(img.get(L.plot_x + 2 * 8, L.plot_y + 3) == cell);  // no line between columns 1 and 2
}

TEST_CASE("heatmap: a thin matrix stays visible; bad arguments are named") {
  std::vector<float> v(100);
  for (int i = 0; i < 100; ++i) v[i] = float(i);
  HeatmapLayout L;
  const Image img = heatmap(v.data(), 1, 100, {}, &L);
  CHECK(L.plot_h >= 32);
  CHECK(L.plot_w == 500);
  CHECK(img.get(L.cell_x(99), L.cell_y(0)) == viridis(1.0f));
  CHECK_THROWS_WITH_AS(heatmap(v.data(), 0, 5), "heatmap: empty matrix (0x5)", core::Error);
  HeatmapOptions bad;
  bad.text_scale = 9;
  CHECK_THROWS_AS(heatmap(v.data(), 10, 10, bad), core::Error);
}

TEST_CASE("heatmap of a Tensor: same picture as the raw data; only 2-D accepted") {
  const std::vector<float> vals = {1, 2, 3, 4, 5, 6};
  const core::Tensor t = core::Tensor::from_vector({2, 3}, vals);
  HeatmapOptions o;
  o.title = "t";
  CHECK(heatmap(t, o).rgb == heatmap(vals.data(), 2, 3, o).rgb);
  const core::Tensor t3 = core::Tensor::zeros({2, 3, 4});
  CHECK_THROWS_WITH_AS(heatmap(t3), "heatmap: expected a 2-D tensor, got (2,3,4)", core::Error);
}

TEST_CASE("categorical_heatmap: palette colours per id, custom colours, legend, bad ids named") {
  const std::vector<int> ids = {0, 1, 2,  //
                                2, 1, 0};
  HeatmapOptions o;
  o.title = "kinds";
  o.target_px = 60;
  HeatmapLayout L;
  const std::vector<std::string> labels = {"window", "global", "random"};
  const Image img = categorical_heatmap(ids.data(), 2, 3, labels, o, &L);
  CHECK(cell_is(img, L, 0, 0, categorical(0)));
  CHECK(cell_is(img, L, 0, 2, categorical(2)));
  CHECK(cell_is(img, L, 1, 1, categorical(1)));
  // The legend (right of the plot) shows a swatch of every colour.
  for (int k = 0; k < 3; ++k) {
    bool found = false;
    for (int y = 0; y < img.height && !found; ++y)
      for (int x = L.plot_x + L.plot_w + 2; x < img.width && !found; ++x) found = img.get(x, y) == categorical(k);
    CHECK(found);
  }
  o.colors = {kWhite, Color{10, 20, 30}, Color{200, 0, 0}};
  const Image c = categorical_heatmap(ids.data(), 2, 3, labels, o, &L);
  CHECK(cell_is(c, L, 1, 0, Color{200, 0, 0}));
  CHECK(cell_is(c, L, 0, 0, kWhite));
  const std::vector<int> bad = {0, 1, 2, 5, 1, 0};
  CHECK_THROWS_WITH_AS(categorical_heatmap(bad.data(), 2, 3, labels),
                       "categorical_heatmap: id 5 at (1,0) is outside [0, 3) (one label per id)", core::Error);

  const core::IntTensor it = core::IntTensor::from_vector({2, 3}, {0, 1, 2, 2, 1, 0});
  o.colors.clear();
  CHECK(categorical_heatmap(it, labels, o).rgb == img.rgb);
}

// ---- panels ----------------------------------------------------------------------------------------------------

TEST_CASE("panels: hstack pads with white, grid sizes, with_title keeps the picture") {
  Image a(10, 20, kBlack), b(30, 5, Color{0, 0, 255});
  const Image h = hstack({a, b}, 4);
  CHECK(h.width == 10 + 4 + 30);
  CHECK(h.height == 20);
  CHECK(h.get(9, 19) == kBlack);
  CHECK(h.get(12, 0) == kWhite);                 // the gap
  CHECK(h.get(14, 0) == Color{0, 0, 255});
  CHECK(h.get(14, 10) == kWhite);                // b is shorter: padded
  const Image g = grid({a, b, b}, 2, 2);
  CHECK(g.width == 30 + 2 + 30);  // column 0 holds a (10 wide) and b (30 wide)
  CHECK(g.height == 20 + 2 + 5);
  CHECK(g.get(0, 22) == Color{0, 0, 255});       // third image starts the second row
  const Image v = vstack({a, b}, 0);
  CHECK(v.width == 30);
  CHECK(v.height == 25);
  const Image t = with_title(a, "a long title for a small image");
  CHECK(t.width > a.width);
  CHECK(t.height > a.height);
  CHECK(t.get(t.width / 2, t.height - 1) == kBlack);
  CHECK(ink_inside(t, 0, 0, t.width, t.height - a.height) > 0);
  CHECK_THROWS_AS(hstack({}), core::Error);
  CHECK_THROWS_AS(grid({a}, 0, 4), core::Error);
}

// ---- line plots ------------------------------------------------------------------------------------------------

TEST_CASE("line_plot: log-log with zeros and negatives draws at the requested size") {
  Series dense{"dense", {128, 256, 512, 1024}, {0.0, 0.4, 1.6, 6.4}};  // 0 cannot be shown on a log axis
  Series lin{"linear", {128, 256, -512, 1024}, {0.1, 0.2, 0.4, 0.8}};
  PlotOptions o;
  o.title = "time vs n";
  o.xlabel = "n";
  o.ylabel = "ms";
  o.log_x = o.log_y = true;
  const Image img = line_plot({dense, lin}, o);
  CHECK(img.width == 640);
  CHECK(img.height == 420);
  // Both series are drawn in their own colour.
  int c0 = 0, c1 = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      c0 += img.get(x, y) == categorical(0);
      c1 += img.get(x, y) == categorical(1);
    }
  CHECK(c0 > 50);
  CHECK(c1 > 50);
}

TEST_CASE("line_plot: degenerate inputs do not crash; mismatched series are named") {
  PlotOptions o;
  o.width = 300;
  o.height = 200;
  o.title = "degenerate";
  CHECK(line_plot({}, o).width == 300);
  CHECK(line_plot({Series{"empty", {}, {}}}, o).height == 200);
  const Image flat = line_plot({Series{"flat", {1, 2, 3}, {5, 5, 5}}, Series{"one", {2}, {5}}}, o);
  CHECK(flat.width == 300);
  o.log_x = o.log_y = true;
  CHECK(line_plot({Series{"all bad", {0, -1, NAN}, {1, 2, 3}}}, o).width == 300);
  CHECK(line_plot({Series{"x equal", {10, 10}, {3, 3}}}, o).height == 200);
  CHECK_THROWS_WITH_AS(line_plot({Series{"s", {1, 2}, {1}}}, o),
                       "line_plot: series 's' has 2 x values but 1 y values", core::Error);
  o.width = 50;
  CHECK_THROWS_AS(line_plot({}, o), core::Error);
}

// ---- layout: legends cover no data, axes fit the data ---------------------------------------------------------

namespace {

// How many points (marker boxes) and line segments of the plot the legend box touches.
int legend_hits(const LinePlotLayout& L) {
  int hits = 0;
  for (size_t s = 0; s < L.points.size(); ++s) {
    const auto& p = L.points[s];
    const Rect near = L.legend.grown(L.marker_radius[s]);
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i].first < 0) continue;
      hits += near.contains(p[i].first, p[i].second);
      if (i + 1 < p.size() && p[i + 1].first >= 0)
        hits += segment_hits(L.legend.grown(L.line_width[s] / 2), p[i].first, p[i].second, p[i + 1].first,
                             p[i + 1].second);
    }
  }
  return hits;
}

// Every drawable point lies inside the plot area, at least its marker's radius away from the frame.
bool points_inside(const LinePlotLayout& L) {
  for (size_t s = 0; s < L.points.size(); ++s)
    for (const auto& [x, y] : L.points[s])
      if (x >= 0 && !Rect{L.plot.x + L.marker_radius[s], L.plot.y + L.marker_radius[s],
                          L.plot.w - 2 * L.marker_radius[s], L.plot.h - 2 * L.marker_radius[s]}
                         .contains(x, y))
        return false;
  return true;
}

std::vector<double> powers_of_two(int from, int to) {
  std::vector<double> v;
  for (int n = from; n <= to; n *= 2) v.push_back(n);
  return v;
}

// The cost figures of the lessons: n = 512 ... 2048, full attention quadratic and far above the rest.
std::vector<Series> cost_like() {
  const std::vector<double> n = powers_of_two(512, 2048);
  return {{"longformer fwd (n^1.00)", n, {0.5, 1.0, 2.0}},
          {"longformer fwd+bwd (n^1.00)", n, {1.1, 2.2, 4.5}},
          {"full fwd (n^1.94)", n, {1.1, 4.2, 16.0}}};
}

}  // namespace

TEST_CASE("segment_hits: crossing, touching and missing a box") {
  const Rect r{10, 10, 5, 5};  // pixels 10..14
  CHECK(segment_hits(r, 0, 12, 30, 12));   // straight through
  CHECK(segment_hits(r, 12, 12, 12, 12));  // a point inside
  CHECK(segment_hits(r, 0, 0, 20, 20));    // the diagonal
  CHECK_FALSE(segment_hits(r, 0, 0, 9, 9));    // stops short
  CHECK_FALSE(segment_hits(r, 0, 16, 30, 16));  // passes below
  CHECK_FALSE(segment_hits(r, 0, 20, 20, 35));  // a diagonal that misses the corner
  CHECK(segment_hits(r.grown(2), 0, 16, 30, 16));  // ... but hits the box grown by 2
  CHECK_FALSE(segment_hits(Rect{}, 0, 0, 5, 5));   // an empty box is never hit
}

TEST_CASE("line_plot layout: the cost figure (lesson 05): legend covers no line, log axes fit n = 512...2048") {
  PlotOptions o;
  o.title = "peak memory (exact)";
  o.xlabel = "sequence length n";
  o.ylabel = "peak memory (MiB)";
  o.log_x = o.log_y = true;
  LinePlotLayout L;
  const Image img = line_plot(cost_like(), o, &L);
  CHECK(line_plot_layout(cost_like(), o).legend.x == L.legend.x);  // the layout is the one drawn
  CHECK_FALSE(L.legend.empty());
  CHECK(legend_hits(L) == 0);
  CHECK(points_inside(L));
  // Fitted: the x axis ends within 25% of the data (it used to run 100 ... 10000 for 512 ... 2048).
  CHECK(L.x_lo >= 512 / 1.25);
  CHECK(L.x_lo < 512);
  CHECK(L.x_hi <= 2048 * 1.25);
  CHECK(L.x_hi > 2048);
  CHECK(L.y_lo >= 0.5 / 1.5);
  CHECK(L.y_hi > 16.0);
  // The legend box is drawn where the layout says: a black frame, white inside apart from its entries.
  CHECK(img.get(L.legend.x, L.legend.y) == kBlack);
  CHECK(img.get(L.legend.x + L.legend.w - 1, L.legend.y + L.legend.h - 1) == kBlack);
}

TEST_CASE("line_plot layout: the benchmark figure: data up to 2048 do not get an axis to 10000") {
  const std::vector<double> n = powers_of_two(256, 2048);
  std::vector<Series> curves;
  for (int k = 0; k < 5; ++k) {
    Series se{"scheme " + std::to_string(k), n, {}};
    for (double v : n) se.y.push_back(0.01 * (k + 1) * std::pow(v / 256, 1.0 + 0.25 * k));
    curves.push_back(se);
  }
  PlotOptions o;
  o.title = "time";
  o.xlabel = "n";
  o.ylabel = "ms";
  o.log_x = o.log_y = true;
  const LinePlotLayout L = line_plot_layout(curves, o);
  CHECK(L.x_hi < 2048 * 1.3);
  CHECK(L.x_lo > 256 / 1.3);
  double y_min = 1e9, y_max = 0;
  for (const Series& se : curves)
    for (double v : se.y) y_min = std::min(y_min, v), y_max = std::max(y_max, v);
  CHECK(L.y_lo >= y_min / 2);  // within a factor of the data's range, on a log axis
  CHECK(L.y_lo < y_min);
  CHECK(L.y_hi <= y_max * 4);  // (the legend may take a band at the top)
  CHECK(legend_hits(L) == 0);
  CHECK(points_inside(L));
}

TEST_CASE("line_plot layout: ten curves (lesson 16's memory.png): legend outside when it fits nowhere inside; "
          "the emphasised series is drawn on top") {
  const std::vector<double> n = powers_of_two(512, 2048);
  std::vector<Series> mem;
  const char* names[] = {"flash", "full", "star", "longformer", "linformer", "etc", "bigbird", "linear", "performer"};
  for (int k = 0; k < 9; ++k) {
    Series se{names[k], n, {}};
    for (double v : n) se.y.push_back((0.7 + 0.15 * k) * v / 512 * (k == 1 ? v / 512 : 1.0));
    mem.push_back(se);
  }
  mem[3].y = mem[0].y;  // longformer exactly on flash's line: flash (emphasised) must still show
  mem[0].emphasis = true;
  mem.push_back({"bytes of q", n, {0.125, 0.25, 0.5}});
  PlotOptions o;
  o.title = "peak memory, forward + backward";
  o.xlabel = "sequence length n";
  o.ylabel = "peak activation memory (MiB)";
  o.log_x = o.log_y = true;
  o.width = 980;
  o.height = 560;
  LinePlotLayout L;
  const Image img = line_plot(mem, o, &L);
  CHECK(legend_hits(L) == 0);
  CHECK(points_inside(L));
  if (L.legend_outside) CHECK_FALSE(L.legend.overlaps(L.plot));
  CHECK(L.x_hi < 2048 * 1.3);
  CHECK(L.line_width[0] > L.line_width[1]);  // thicker
  CHECK(L.marker_radius[0] > L.marker_radius[1]);
  // flash and longformer share their points; flash is drawn last, so its colour is what shows.
  const auto [x, y] = L.points[0][1];
  CHECK(img.get(x, y) == categorical(0));
  const auto [xm, ym] = std::make_pair((L.points[0][0].first + x) / 2, (L.points[0][0].second + y) / 2);
  CHECK(img.get(xm, ym) == categorical(0));
}

TEST_CASE("line_plot layout: data everywhere push the legend out of the plot area") {
  // Zig-zags over the whole plot: no corner or side of it is free, and a legend of 12 rows is too tall for a
  // band above the data.
  std::vector<Series> zz;
  for (int k = 0; k < 12; ++k) {
    Series se{"zig-zag " + std::to_string(k), {}, {}};
    for (int i = 0; i <= 40; ++i) se.x.push_back(i), se.y.push_back(((i + k) % 2) ? 1.0 : 0.0);
    zz.push_back(se);
  }
  PlotOptions o;
  o.title = "zig-zag";
  o.xlabel = "x";
  o.ylabel = "y";
  LinePlotLayout L = line_plot_layout(zz, o);
  CHECK(legend_hits(L) == 0);
  CHECK(L.legend_outside);
  CHECK(L.legend.x >= L.plot.x + L.plot.w);
  CHECK(L.legend.x + L.legend.w <= o.width);
  CHECK(points_inside(L));
  // Four rows fit in a band above the data: the y axis grows to make room, the legend stays inside.
  zz.resize(4);
  L = line_plot_layout(zz, o);
  CHECK(legend_hits(L) == 0);
  CHECK_FALSE(L.legend_outside);
  CHECK(L.plot.contains(L.legend.x, L.legend.y));
  CHECK(L.y_hi > 1.0);
}

TEST_CASE("line_plot layout: lesson 09's graph and LRA's curves: legend off the curves, a lone point visible") {
  SUBCASE("graph.png: four curves on log-log axes") {
    const std::vector<double> n = powers_of_two(256, 4096);
    std::vector<Series> paths = {{"window", n, {5.3, 10.6, 21.1, 42.4, 84.5}},
                                 {"window+random", n, {2.0, 2.4, 2.9, 3.5, 4.1}},
                                 {"window+global", n, {1.6, 1.7, 1.85, 1.9, 1.95}},
                                 {"window+global+random", n, {1.5, 1.65, 1.8, 1.9, 1.95}}};
    PlotOptions o;
    o.title = "average shortest path between tokens";
    o.xlabel = "sequence length n (b = 16)";
    o.ylabel = "layers (hops)";
    o.log_x = o.log_y = true;
    const LinePlotLayout L = line_plot_layout(paths, o);
    CHECK(legend_hits(L) == 0);
    CHECK(points_inside(L));
    CHECK(L.x_hi < 4096 * 1.3);
  }
  SUBCASE("curves.png: a dense training curve, a single validation point at the last step") {
    Series train{"train", {}, {}}, val{"validation", {300}, {62.5}};
    for (int step = 0; step <= 300; step += 2) train.x.push_back(step), train.y.push_back(50 + 15.0 * step / 300);
    PlotOptions o;
    o.title = "accuracy";
    o.xlabel = "step";
    o.ylabel = "accuracy (%)";
    LinePlotLayout L;
    const Image img = line_plot({train, val}, o, &L);
    CHECK_FALSE(L.markers[0]);  // 151 points: a bare line
    CHECK(L.markers[1]);        // a sparse series gets markers
    CHECK(points_inside(L));    // the last step is inside the frame, not on it
    const auto [x, y] = L.points[1][0];
    CHECK(img.get(x, y) == categorical(1));
    CHECK(x + L.marker_radius[1] < L.plot.x + L.plot.w - 1);
    CHECK(legend_hits(L) == 0);
    CHECK(L.x_lo >= -300 * 0.1);  // linear axes: a margin of a few percent, not a whole empty step
    CHECK(L.x_hi <= 300 * 1.1);
    CHECK(L.y_hi <= 65 + 15 * 0.6);  // the legend's band included
  }
}

// ---- heatmaps of signed data and of small whole numbers ----------------------------------------------------------

namespace {

// The colours (not white, black or grey) right of the plot area: the colorbar's or the legend's swatches.
std::vector<Color> side_colours(const Image& img, const HeatmapLayout& L) {
  std::vector<Color> seen;
  for (int y = 0; y < img.height; ++y)
    for (int x = L.plot_x + L.plot_w + 1; x < img.width; ++x) {
      const Color c = img.get(x, y);
      if (c.r == c.g && c.g == c.b) continue;
      if (std::find(seen.begin(), seen.end(), c) == seen.end()) seen.push_back(c);
    }
  return seen;
}

}  // namespace

// ---- labelled scatter ----------------------------------------------------------------------------------------

TEST_CASE("labeled_scatter: a crowded cluster and points at the frame: labels cover no label and no point, "
          "stay in the image, leaders short") {
  // Lesson 15's exponents: ten points within 0.6 x 0.25 of (1, 1), two of them at the same spot, plus two points
  // about 7 px inside the frame's corners (the axes end at the range asked for: pad 0.01).
  const std::vector<LabeledPoint> pts = {
      {"longformer", 1.04, 1.00, categorical(1)}, {"twin", 1.04, 1.00, categorical(1)},
      {"bigbird", 1.04, 0.97, categorical(1)},    {"linear", 1.04, 0.96, categorical(6)},
      {"etc", 0.96, 1.00, categorical(1)},        {"star", 1.15, 1.00, categorical(1)},
      {"reformer", 1.13, 1.00, categorical(3)},   {"sinkhorn", 1.23, 1.02, categorical(3)},
      {"routing", 1.43, 1.03, categorical(3)},    {"performer", 0.85, 0.97, categorical(6)},
      {"linformer", 1.04, 1.18, categorical(5)},  {"flash", 1.96, 0.92, categorical(0)},
      {"top-right", 2.48, 2.23, categorical(2)},  {"bottom-left", 0.52, 0.77, categorical(2)}};
  ScatterOptions o;
  o.title = "crowded";
  o.xlabel = "time exponent";
  o.ylabel = "memory exponent";
  o.pad = 0.01;
  o.x_lo = 0.5, o.x_hi = 2.5, o.y_lo = 0.75, o.y_hi = 2.25;
  o.guides = {{true, 1.0, "O(n) time"}, {false, 1.0, "O(n) memory"}};
  o.legend_title = "families";
  o.legend = {{categorical(1), "FP fixed patterns"}};
  ScatterLayout L;
  const Image img = labeled_scatter(pts, o, &L);
  REQUIRE(L.labels.size() == pts.size());
  REQUIRE(L.markers.size() == pts.size());
  CHECK(L.x_hi == doctest::Approx(2.5));  // the corner points really are at the frame
  CHECK(L.y_hi == doctest::Approx(2.25));
  for (size_t i = 0; i < pts.size(); ++i) {
    CAPTURE(pts[i].label);
    const Rect& b = L.labels[i];
    REQUIRE_FALSE(b.empty());
    CHECK(L.label_inside[i]);  // every label found a place near its point
    // inside the image, and inside the frame
    CHECK(b.x >= 0);
    CHECK(b.y >= 0);
    CHECK(b.x + b.w <= img.width);
    CHECK(b.y + b.h <= img.height);
    CHECK(b.x > L.plot.x);
    CHECK(b.y > L.plot.y);
    CHECK(b.x + b.w < L.plot.x + L.plot.w);
    CHECK(b.y + b.h < L.plot.y + L.plot.h);
    // no other label, no marker (its own included), no guide's name under it
    for (size_t j = 0; j < pts.size(); ++j) {
      CAPTURE(pts[j].label);
      if (j != i) CHECK_FALSE(b.overlaps(L.labels[j]));
      CHECK_FALSE(b.overlaps(L.markers[j]));
    }
    for (const Rect& r : L.reserved) CHECK_FALSE(b.overlaps(r));
    // the leader (from the point to the nearest pixel of its box) is short; none is drawn within 9 px
    const auto [cx, cy] = L.centres[i];
    const double gap = std::hypot(double(std::clamp(cx, b.x, b.x + b.w) - cx), double(std::clamp(cy, b.y, b.y + b.h) - cy));
    CHECK(gap < 200.0);
    CHECK((L.leaders[i][0] >= 0) == (gap > 9.0));
    // the picture: the marker's centre shows a marker colour (no label box or leader painted over it; nearly
    // coincident points may cover each other), and the box holds text
    bool marker_colour = false;
    for (size_t j = 0; j < pts.size(); ++j)
      marker_colour = marker_colour || (L.markers[j].contains(cx, cy) && img.get(cx, cy) == pts[j].color);
    CHECK(marker_colour);
    CHECK(ink_inside(img, b.x, b.y, b.x + b.w, b.y + b.h) > 0);
  }
}

TEST_CASE("labeled_scatter: a NaN point is left out; bad options are named") {
  ScatterLayout L;
  labeled_scatter({{"a", 1.0, 1.0, categorical(0)}, {"nan", std::nan(""), 1.0, categorical(1)}}, {}, &L);
  CHECK_FALSE(L.labels[0].empty());
  CHECK(L.markers[1].empty());
  CHECK(L.labels[1].empty());
  CHECK(L.leaders[1][0] == -1);
  ScatterOptions bad;
  bad.tick = 0;
  CHECK(contains(error_of([&] { labeled_scatter({}, bad); }), "tick must be positive"));
}

TEST_CASE("labeled_scatter: y_floor stops the padding, not the data") {
  ScatterLayout L;
  ScatterOptions o;  // the roofline figure's case: a fraction near 0
  o.pad = 0.05;
  labeled_scatter({{"slow", 1.0, 0.03, categorical(0)}}, o, &L);
  CHECK(L.y_lo < 0.0);  // padded below the point, out to the next tick: -0.25
  o.y_floor = 0;
  labeled_scatter({{"slow", 1.0, 0.03, categorical(0)}}, o, &L);
  CHECK(L.y_lo == 0.0);
  labeled_scatter({{"slow", 1.0, 0.03, categorical(0)}, {"below", 1.0, -0.4, categorical(1)}}, o, &L);
  CHECK(L.y_lo <= -0.4);  // a point below the floor still shows
  CHECK(L.centres[1].second < L.plot.y + L.plot.h);
}

TEST_CASE("heatmap: a matrix with negative entries gets the diverging map centred on 0 by itself") {
  // lesson 10's custom.png with a wrong feature map: weights of both signs
  const std::vector<float> a = {-0.5f, 0.0f, 1.0f, 0.25f};
  HeatmapOptions o;  // diverging not asked for
  o.target_px = 32;
  HeatmapLayout L;
  const Image img = heatmap(a.data(), 2, 2, o, &L);
  CHECK(cell_is(img, L, 0, 1, kWhite));  // 0: the neutral middle
  CHECK(cell_is(img, L, 0, 0, diverging(0.25f)));  // -0.5 on [-1, 1]
  CHECK(cell_is(img, L, 1, 0, diverging(1.0f)));
  const Color neg = diverging(0.25f), pos = diverging(0.625f);
  CHECK(neg.b > neg.r);  // negatives blue
  CHECK(pos.r > pos.b);  // positives red
  CHECK(cell_is(img, L, 1, 1, pos));
  // Probabilities (all >= 0) keep viridis: their pictures do not change.
  const std::vector<float> p = {0.0f, 0.25f, 0.75f, 0.5f};
  const Image q = heatmap(p.data(), 2, 2, o, &L);
  CHECK(cell_is(q, L, 0, 0, viridis(0.0f)));
  CHECK(cell_is(q, L, 0, 2 - 1, viridis(1.0f / 3)));
}

TEST_CASE("heatmap: a 0/1 pattern gets a legend of its two values, not a continuous colorbar") {
  std::vector<float> pattern(16 * 16);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) pattern[size_t(i * 16 + j)] = std::abs(i - j) <= 2 ? 1.0f : 0.0f;
  HeatmapOptions o;
  o.title = "pattern";
  o.value_label = "1 = may attend";
  HeatmapLayout L;
  const Image img = heatmap(pattern.data(), 16, 16, o, &L);
  const std::vector<Color> legend = side_colours(img, L);
  CHECK(legend.size() == 2);  // a swatch for 0 and one for 1, and nothing in between (no 0.5)
  CHECK(std::find(legend.begin(), legend.end(), viridis(0.0f)) != legend.end());
  CHECK(std::find(legend.begin(), legend.end(), viridis(1.0f)) != legend.end());
  // An all-ones pattern drawn on the range [0, 1] (attnzoo show's pattern of full attention) lists both too.
  std::vector<float> ones(16 * 16, 1.0f);
  o.vmin = 0.0f;
  o.vmax = 1.0f;
  CHECK(side_colours(heatmap(ones.data(), 16, 16, o, &L), L).size() == 2);
  // Weights between 0 and 1 keep the continuous colorbar (many colours).
  std::vector<float> w(16 * 16);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i) / float(w.size());
  HeatmapOptions c;
  CHECK(side_colours(heatmap(w.data(), 16, 16, c, &L), L).size() > 20);
}

// ---- PNG files -------------------------------------------------------------------------------------------------

TEST_CASE("save_png / load_png: exact round trip, identical bytes, parent dirs, no temporary left") {
  TempDir dir("image");
  std::vector<float> a(16 * 8);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(float(i));
  HeatmapOptions o;
  o.title = "round trip";
  HeatmapLayout L;
  const Image img = heatmap(a.data(), 16, 8, o, &L);

  const std::string p1 = dir / "nested/deeper/a.png", p2 = dir / "b.png";
  save_png(img, p1);
  save_png(img, p2);
  const Image back = load_png(p1);
  CHECK(back.width == img.width);
  CHECK(back.height == img.height);
  CHECK(back.rgb == img.rgb);
  CHECK(back.get(L.plot_x - 1, L.plot_y) == kBlack);  // the frame

  const std::vector<char> b1 = read_bytes(p1), b2 = read_bytes(p2);
  CHECK(b1.size() > 8);
  CHECK(b1 == b2);  // deterministic
  const std::vector<uint8_t> enc = encode_png(img);
  CHECK(std::vector<char>(enc.begin(), enc.end()) == b1);
  CHECK(b1[1] == 'P');
  CHECK(b1[2] == 'N');
  CHECK(b1[3] == 'G');

  save_png(img, p2);  // overwriting works too
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) files += e.is_regular_file();
  CHECK(files == 1);  // b.png only: no temporary left behind
}

TEST_CASE("save_png / load_png: failures throw core::Error naming the file") {
  const Image img(4, 4);
  const std::string bad_path = "/proc/nope/x.png";  // /proc refuses new directories, even for root
  const std::string msg = error_of([&] { save_png(img, bad_path); });
  CHECK(contains(msg, "save_png: cannot write '/proc/nope/x.png'"));
  CHECK_FALSE(fs::exists(bad_path));

  TempDir dir("image");
  CHECK(error_of([&] { save_png(Image(), dir / "empty.png"); }) ==
        "save_png: '" + (dir / "empty.png") + "': cannot save an empty 0x0 image");
  fs::create_directories(dir / "a_directory.png");  // the target exists and is a directory
  CHECK(contains(error_of([&] { save_png(img, dir / "a_directory.png"); }), dir / "a_directory.png"));
  CHECK(fs::is_directory(dir / "a_directory.png"));

  const std::string missing = dir / "missing.png";
  CHECK(contains(error_of([&] { load_png(missing); }), "load_png: cannot read '" + missing + "'"));
  std::ofstream(dir / "junk.png") << "not a png";
  CHECK(contains(error_of([&] { load_png(dir / "junk.png"); }), "junk.png"));
}
