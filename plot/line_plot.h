// plot/line_plot.h — lines through points with axes (linear or log), ticks, grid lines and a legend.
#pragma once

#include <string>
#include <vector>

#include "plot/canvas.h"

namespace plot {

// ---- line plots ----------------------------------------------------------------------------------------------

struct Series {
  std::string name;  // shown in the legend (series without a name are left out of it)
  std::vector<double> x, y;
  // The figure's subject (e.g. flash among the schemes it is compared with): drawn last, on top of the other
  // series, with a thicker line and larger markers, so that the others never hide it.
  bool emphasis = false;
};

struct PlotOptions {
  std::string title, xlabel, ylabel;
  bool log_x = false, log_y = false;  // log axes: ticks at powers of 10, or at 1, 2, 5 x 10^k on a short range
  int width = 640, height = 420;      // size of the whole image
  int text_scale = 2;
};

// Where everything of a line plot goes, in pixels of the image. line_plot() draws exactly this layout, so tests
// (and callers that draw on top) can check it: e.g. that the legend covers no data.
struct LinePlotLayout {
  Rect plot;                    // the plot area, inside its black frame: every drawable point lies in it
  Rect legend;                  // the legend's box; empty when no series has a name
  bool legend_outside = false;  // true: no place inside the plot left all data free, so it sits right of it
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // the axis ends, in data units (not log10)
  // points[s][i]: the pixel centre of point i of series s; {-1, -1} for a point that cannot be drawn.
  std::vector<std::vector<std::pair<int, int>>> points;
  std::vector<bool> markers;  // per series: drawn with markers (sparse series) or as a bare line (dense ones)
  std::vector<int> line_width, marker_radius;  // per series, in pixels
};

// The layout of line_plot(series, opts) without drawing it.
//  - Axes are fitted to the data: the data span the axis with a small margin (at least a marker's size), so a
//    point at the end of the data stays visible inside the frame. Log axes end near the data, not on the next
//    power of 10: they have a tick at every power of 10 inside, or at 1, 2, 5 x 10^k on a range under a decade.
//  - The legend goes where it covers no point and no line: the corners of the plot area first, then the middles
//    of its sides; when every place inside covers data, it goes outside, to the right of the plot area.
LinePlotLayout line_plot_layout(const std::vector<Series>& series, const PlotOptions& opts = {});

// Straight lines between consecutive points, one colour and marker shape per series; markers at the points of
// a sparse series (up to 60 points; an isolated point always gets one); light grid lines at the ticks; a legend
// placed as line_plot_layout() says. Points that cannot be drawn (NaN, inf, or <= 0 on a log axis) are skipped
// and break the line there. If `layout` is given, it receives the layout drawn.
Image line_plot(const std::vector<Series>& series, const PlotOptions& opts = {}, LinePlotLayout* layout = nullptr);

}  // namespace plot
