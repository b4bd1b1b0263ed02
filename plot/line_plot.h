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

}  // namespace plot
