// plot/style.h — the house style the figure makers share (internal to plot/, not included by users): the
// outer margin, tick length, text metrics, subtle colours, number format and title weight.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "plot/canvas.h"

namespace plot::style {

constexpr int kMargin = 12;          // outer white border of every figure
constexpr int kTick = 5;             // length of a tick mark
constexpr int kGlyphHeight = 9;      // font pixels of one line including descenders (stb_easy_font)
constexpr int kLineSpacing = 12;     // font pixels from one line to the next (stb_easy_font)
constexpr Color kSubtleText{90, 90, 90};
constexpr Color kGridLine{225, 225, 225};

inline int clampi(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

inline void check_scale(int scale, const char* op) {
  AZ_CHECK(scale >= 1 && scale <= 4, op, ": text scale must be in 1..4, got ", scale);
}

// %.3g, but never "-0".
inline std::string fmt3g(double v) {
  if (v == 0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// Title-weight text: drawn twice, one pixel apart.
inline void draw_bold(Image& img, int x, int y, const std::string& text, Color c, int scale) {
  img.draw_text(x, y, text, c, scale);
  img.draw_text(x + 1, y, text, c, scale);
}

}  // namespace plot::style
