// plot/canvas.h — an RGB canvas with rectangles, lines and text (stb_easy_font's bitmap font).
//
// Coordinates: x grows rightwards, y grows downwards, (0, 0) is the top-left pixel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plot/color.h"

namespace plot {

// ---- rectangles ------------------------------------------------------------------------------------------------

// A block of pixels: (x, y) is its top-left pixel, w x h its size. Figures use it for their layout (where the plot
// area and the legend are), so that tests and callers can check what covers what.
struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  bool empty() const { return w <= 0 || h <= 0; }
  bool contains(int px, int py) const { return px >= x && px < x + w && py >= y && py < y + h; }
  bool overlaps(const Rect& o) const {
    return !empty() && !o.empty() && x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
  }
  Rect grown(int by) const { return {x - by, y - by, w + 2 * by, h + 2 * by}; }  // `by` more on every side
};

// Does the straight segment from (x0, y0) to (x1, y1) pass through any pixel of r? (A line drawn t pixels thick
// covers r when the segment hits r.grown(t / 2).)
bool segment_hits(const Rect& r, double x0, double y0, double x1, double y1);

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

}  // namespace plot
