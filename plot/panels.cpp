// plot/panels.cpp — panels (plot/panels.h).
#include "plot/panels.h"

#include <algorithm>

#include "core/error.h"
#include "plot/style.h"

namespace plot {

using namespace style;  // plot/style.h: margins, tick length, title weight

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

}  // namespace plot
