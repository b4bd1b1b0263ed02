// plot/scatter.h — a labelled scatter: one square marker and one text label per point, each label placed near its
// point (joined to it by a leader line when it had to move away), with no label covering another label or a point.
#pragma once

#include <array>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "plot/canvas.h"

namespace plot {

// ---- labelled scatter plots ------------------------------------------------------------------------------------

struct LabeledPoint {
  std::string label;
  double x, y;
  Color color;
};

// A grid line drawn darker than the others, with its name: e.g. "O(n) time" at x = 1. The name of a vertical
// guide goes above the plot area; that of a horizontal one inside it, at the left, where no point label may go.
struct Guide {
  bool vertical;  // true: the line x = at; false: the line y = at
  double at;
  std::string name;
};

struct ScatterOptions {
  std::string title, subtitle, xlabel, ylabel;
  int width = 1120, height = 780;  // the whole image; the plot area is 100 px in from the left and 110 from the top,
                                   // and leaves 300 px at the right (legend) and 110 px below (ticks, axis name)
  double tick = 0.25;              // a grid line every `tick`, a tick label every 2 ticks (on both axes)
  double pad = 0.1;                // the axes reach at least `pad` beyond the data, then out to the next tick
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // the least each axis shows, whatever the data
  double y_floor = -std::numeric_limits<double>::infinity();  // the padding never takes the y axis below this
                                                              // (e.g. 0 for a fraction); points below it still show
  std::vector<Guide> guides;
  std::string legend_title;                          // above the legend, right of the plot area
  std::vector<std::pair<Color, std::string>> legend;  // one coloured square and its name per entry
};

// Where everything of a labelled scatter goes, in pixels of the image: labeled_scatter() draws exactly this, so
// tests can check that no label covers another label or a point.
struct ScatterLayout {
  Rect plot;                                     // the plot area, inside its black frame
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // the axis ends, in data units
  // Per point, in the order given; a point with a NaN or infinite coordinate is not drawn: its marker and label
  // are empty rectangles and its centre is {-1, -1}.
  std::vector<std::pair<int, int>> centres;
  std::vector<Rect> markers;                 // the marker's square, black outline included
  std::vector<Rect> labels;                  // the label's white box (the text plus 2 px on every side)
  std::vector<bool> label_inside;            // false: no free place near the point; listed right of the plot
  std::vector<std::array<int, 4>> leaders;   // (x0, y0, x1, y1): point centre to label box; x0 = -1: none drawn
  std::vector<Rect> reserved;                // the names of horizontal guides: point labels keep off them
};

// The layout of labeled_scatter(points, opts) without drawing it. Labels are placed one at a time, in the order
// of the points. Each one tries 16 directions at distances 10, 16, ..., 160 px from its point, skipping every
// spot that overlaps a placed label, a marker, a guide's name or the frame; of the rest it takes the one with the
// shortest leader line, where a leader that crosses another point or label (or a box that covers an earlier
// leader) counts 1000 px more. Near spots come first, so a crowded cluster spreads its labels around itself
// instead of sending one across the plot. A label with no free spot at all goes to a list right of the plot area,
// below the legend.
ScatterLayout scatter_layout(const std::vector<LabeledPoint>& points, const ScatterOptions& opts = {});

// Title, subtitle, grid lines (every opts.tick, guides darker, with their names), tick labels, axis names, the
// points as squares of their colour, the labels with grey leader lines, and the legend. If `layout` is given, it
// receives the layout drawn.
Image labeled_scatter(const std::vector<LabeledPoint>& points, const ScatterOptions& opts = {},
                      ScatterLayout* layout = nullptr);

}  // namespace plot
