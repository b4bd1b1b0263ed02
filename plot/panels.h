// plot/panels.h — figures put side by side, in a grid, or under a title.
#pragma once

#include <string>
#include <vector>

#include "plot/canvas.h"

namespace plot {

// ---- panels --------------------------------------------------------------------------------------------------

// Side by side, top-aligned, `gap` white pixels between; shorter images are padded with white.
Image hstack(const std::vector<Image>& images, int gap = 16);
// Above one another, left-aligned.
Image vstack(const std::vector<Image>& images, int gap = 16);
// Row by row, `cols` per row; each column is as wide as its widest image, each row as tall as its tallest.
Image grid(const std::vector<Image>& images, int cols, int gap = 16);
// A band with `title` (centred) on top of `img`; the result is widened if the title is wider than img.
Image with_title(const Image& img, const std::string& title, int scale = 2);

}  // namespace plot
