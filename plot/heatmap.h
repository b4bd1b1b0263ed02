// plot/heatmap.h — a matrix as coloured cells with axes, ticks and a colorbar (or a legend of labels):
// the picture of an attention matrix.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "plot/canvas.h"

namespace core {
class Tensor;      // core/tensor.h
struct IntTensor;  // core/tensor.h
}  // namespace core

namespace plot {

// ---- heatmaps ------------------------------------------------------------------------------------------------

struct HeatmapOptions {
  std::string title;
  std::string xlabel = "column";  // e.g. "key position j"
  std::string ylabel = "row";     // e.g. "query position i"
  std::string subtitle;           // optional second line under the title, e.g. "head 0, n = 64"
  std::string value_label;        // optional name of the colour scale, written beside the colorbar
  // Blue-white-red on a range symmetric around 0. Chosen by itself whenever the colour range reaches below 0
  // (signed data: 0 is white, negatives blue, positives red); set it to force that map on non-negative data.
  bool diverging = false;
  // Colour range. Unset: the min and max of the finite values. With the diverging map, the range becomes
  // [-a, a] with a the largest |value| among vmin, vmax (given or found).
  std::optional<float> vmin, vmax;
  int grid_every = 0;  // draw block-grid lines every k cells (e.g. k = block size of BigBird), 0 = none
  int target_px = 512;  // the plot area's longer side is about this many pixels
  int text_scale = 2;   // 1..3; 2 reads well at target_px = 512
  std::vector<Color> colors;  // categorical_heatmap only: colour of id i (default: categorical(i))
  // Text tick labels instead of the row / column indices (e.g. the characters of a passage), one per row /
  // column (empty = indices). A label is drawn at every cell when they fit, otherwise at every k-th cell (the
  // smallest k whose labels do not overlap). Printable ASCII only (others show as '?').
  std::vector<std::string> row_labels, col_labels;
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
// ends of the range. A constant matrix gets the middle colour of the map. Data below 0 get the diverging map
// (see HeatmapOptions::diverging), others viridis. A matrix of a few small whole numbers (2 to 6 distinct values,
// counting a whole-number vmin and vmax; such as a 0/1 pattern; not downsampled) gets a legend of its values,
// headed by value_label, instead of a continuous colorbar.
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

}  // namespace plot
