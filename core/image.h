// core/image.h — figures for learners: an RGB canvas, colormaps, attention heatmaps, line plots, PNG files.
//
// Every figure a lesson writes goes through here, and is read by beginners, so each one has a title, axis
// names and a colorbar (or legend) that prints its range. Pictures are made of pixels we set ourselves:
// text comes from stb_easy_font (a tiny public-domain bitmap font made of rectangles), files are written by
// stb_image_write. Nothing here keeps global state; the same data always gives the same PNG bytes.
//
//   Image img = heatmap(attn, opts);                 // attn: (n, n) probabilities -> viridis squares
//   save_png(with_title(hstack({a, b}), "dense vs sparse"), "out/05_longformer/compare.png");
//
// Coordinates: x grows rightwards, y grows downwards, (0, 0) is the top-left pixel.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace core {
class Tensor;      // core/tensor.h
struct IntTensor;  // core/tensor.h
}  // namespace core

namespace core::image {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
};
inline bool operator==(Color a, Color b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
inline bool operator!=(Color a, Color b) { return !(a == b); }
std::ostream& operator<<(std::ostream& os, Color c);  // "(r,g,b)", so test failures print colours

constexpr Color kWhite{255, 255, 255};
constexpr Color kBlack{0, 0, 0};
constexpr Color kGray{128, 128, 128};
constexpr Color kNaN{255, 0, 255};  // magenta: the colour of NaN cells in every heatmap

// `a` moved towards `b` by `alpha` in [0, 1] (0 = a, 1 = b).
Color blend(Color a, Color b, float alpha);

// ---- the canvas ----------------------------------------------------------------------------------------------

// An RGB image: 3 bytes per pixel, rows top to bottom, row-major: pixel (x, y) starts at rgb[3*(y*width + x)].
// Drawing calls clip silently at the border (a marker half outside the frame just loses its outer half);
// get() of a pixel outside the image throws, because that is a bug in the caller.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;

  Image() = default;
  Image(int width, int height, Color background = kWhite);

  bool contains(int x, int y) const { return x >= 0 && y >= 0 && x < width && y < height; }
  Color get(int x, int y) const;
  void set(int x, int y, Color c);

  void fill_rect(int x, int y, int w, int h, Color c);   // the w x h block whose top-left pixel is (x, y)
  void draw_rect(int x, int y, int w, int h, Color c);   // its 1-pixel outline only
  // Bresenham line from (x0, y0) to (x1, y1), both ends included; thickness > 1 stamps a square brush.
  void draw_line(int x0, int y0, int x1, int y1, Color c, int thickness = 1);
  void blit(const Image& src, int x, int y);  // copy src with its top-left pixel at (x, y)

  // Text whose top-left corner is (x, y). scale = 1 gives letters 7 pixels tall (9 with descenders);
  // scale 2 and 3 magnify each font pixel into a scale x scale square. ASCII only: other bytes print as '?'.
  // '\n' starts a new line. Returns the width drawn, like text_width().
  int draw_text(int x, int y, const std::string& text, Color c, int scale = 1);
  // The same text turned 90 degrees counter-clockwise (read bottom to top, like a y-axis label). Its box is
  // text_height() wide and text_width() tall, with the top-left corner at (x, y).
  void draw_text_vertical(int x, int y, const std::string& text, Color c, int scale = 1);
};

// Size of `text` as draw_text() draws it: width of the longest line, height of all lines (9 px per line at
// scale 1 including descenders, lines 12 px apart).
int text_width(const std::string& text, int scale = 1);
int text_height(const std::string& text, int scale = 1);

// ---- colormaps -----------------------------------------------------------------------------------------------

// matplotlib's viridis: t = 0 dark purple (68,1,84), t = 1 yellow (253,231,37). Perceptually uniform and still
// readable in greyscale, so equal steps in value look like equal steps in colour. t is clamped to [0, 1].
Color viridis(float t);
// Blue - white - red for signed data: t = 0 dark blue, t = 0.5 exactly white, t = 1 dark red. heatmap() maps a
// symmetric range [-a, a] onto it, so zero is always white.
Color diverging(float t);
// 20 distinct colours for labelled cells (tab10 and its light partners); ids wrap around past 20.
Color categorical(int id);

// ---- heatmaps ------------------------------------------------------------------------------------------------

struct HeatmapOptions {
  std::string title;
  std::string xlabel = "column";  // e.g. "key position j"
  std::string ylabel = "row";     // e.g. "query position i"
  std::string subtitle;           // optional second line under the title, e.g. "head 0, n = 64"
  std::string value_label;        // optional name of the colour scale, written beside the colorbar
  bool diverging = false;         // blue-white-red on a range symmetric around 0 (for signed data)
  // Colour range. Unset: the min and max of the finite values. With diverging, the range becomes [-a, a]
  // with a the largest |value| among vmin, vmax (given or found).
  std::optional<float> vmin, vmax;
  int grid_every = 0;  // draw block-grid lines every k cells (e.g. k = block size of BigBird), 0 = none
  int target_px = 512;  // the plot area's longer side is about this many pixels
  int text_scale = 2;   // 1..3; 2 reads well at target_px = 512
  std::vector<Color> colors;  // categorical_heatmap only: colour of id i (default: categorical(i))
};

// Where the cells ended up in a heatmap figure, for tests and for lessons that draw on top of cells
// (e.g. circle the global tokens). Pixel coordinates in the returned image.
struct HeatmapLayout {
  int plot_x = 0, plot_y = 0;          // top-left pixel of the plot area (inside its black frame)
  int plot_w = 0, plot_h = 0;          // its size in pixels
  int cell_w = 1, cell_h = 1;          // pixels per displayed cell
  int block = 1;                       // data cells per displayed cell along each axis (1 = no downsampling)
  int cell_x(int j) const { return plot_x + (j / block) * cell_w + cell_w / 2; }  // centre of column j
  int cell_y(int i) const { return plot_y + (i / block) * cell_h + cell_h / 2; }  // centre of row i
};

// data: (rows, cols) row-major. Each cell becomes a square of k x k pixels (k integer, nearest neighbour) so
// the plot is about target_px on its longer side; a very thin matrix gets rectangular cells so that it stays
// visible. With more than target_px rows or columns, b x b blocks of cells are averaged into one displayed cell
// and the subtitle says so. NaN cells are magenta (a block containing a NaN too); -inf/+inf are clamped to the
// ends of the range. A constant matrix gets the middle colour of the map.
// If `layout` is given, it receives where the cells are.
Image heatmap(const float* data, int rows, int cols, const HeatmapOptions& opts = {},
              HeatmapLayout* layout = nullptr);
Image heatmap(const core::Tensor& t, const HeatmapOptions& opts = {}, HeatmapLayout* layout = nullptr);  // 2-D

// ids: (rows, cols) row-major, each in [0, labels.size()): the cell is painted with colour id and the legend
// shows "colour - label" for each id. Large matrices are downsampled by taking the most frequent id per block
// (ties: the smaller id).
Image categorical_heatmap(const int* ids, int rows, int cols, const std::vector<std::string>& labels,
                          const HeatmapOptions& opts = {}, HeatmapLayout* layout = nullptr);
Image categorical_heatmap(const core::IntTensor& ids, const std::vector<std::string>& labels,
                          const HeatmapOptions& opts = {}, HeatmapLayout* layout = nullptr);  // ids: 2-D

// ---- panels --------------------------------------------------------------------------------------------------

// Side by side, top-aligned, `gap` white pixels between; shorter images are padded with white.
Image hstack(const std::vector<Image>& images, int gap = 16);
// Above one another, left-aligned.
Image vstack(const std::vector<Image>& images, int gap = 16);
// Row by row, `cols` per row; each column is as wide as its widest image, each row as tall as its tallest.
Image grid(const std::vector<Image>& images, int cols, int gap = 16);
// A band with `title` (centred) on top of `img`; the result is widened if the title is wider than img.
Image with_title(const Image& img, const std::string& title, int scale = 2);

// ---- line plots ----------------------------------------------------------------------------------------------

struct Series {
  std::string name;  // shown in the legend (series without a name are left out of it)
  std::vector<double> x, y;
};

struct PlotOptions {
  std::string title, xlabel, ylabel;
  bool log_x = false, log_y = false;  // log axes have a tick at every power of 10
  int width = 640, height = 420;      // size of the whole image
  int text_scale = 2;
};

// Markers at the points, straight lines between consecutive points, one colour and marker shape per series,
// light grid lines at the ticks, a legend in the corner that covers the fewest points. Points that cannot be
// drawn (NaN, inf, or <= 0 on a log axis) are skipped and break the line there.
Image line_plot(const std::vector<Series>& series, const PlotOptions& opts = {});

// ---- files ---------------------------------------------------------------------------------------------------

// Writes a PNG, creating missing parent directories. The bytes go to a temporary file in the same directory
// that is then renamed, so `path` is never a half-written PNG. Throws core::Error naming `path` on failure.
void save_png(const Image& img, const std::string& path);
// The PNG bytes save_png() would write (deterministic: same image, same bytes).
std::vector<uint8_t> encode_png(const Image& img);
// Reads any PNG (or other format stb_image knows) as RGB. Throws core::Error naming `path` on failure.
Image load_png(const std::string& path);

}  // namespace core::image
