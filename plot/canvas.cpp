// plot/canvas.cpp — the canvas and its text (plot/canvas.h).
#include "plot/canvas.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "plot/style.h"

// stb_easy_font is header-only with static functions; we do not use all of them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

namespace plot {

using namespace style;  // plot/style.h: margins, tick length, title weight

// ============================================================================================================
// The canvas
// ============================================================================================================

bool segment_hits(const Rect& r, double x0, double y0, double x1, double y1) {
  if (r.empty()) return false;
  // Liang-Barsky: clip the segment's parameter range [0, 1] against the four sides of the box. Pixel columns
  // x .. x+w-1 are covered by the continuous range [x - 0.5, x + w - 0.5].
  const double left = r.x - 0.5, right = r.x + r.w - 0.5, top = r.y - 0.5, bottom = r.y + r.h - 0.5;
  double t0 = 0, t1 = 1;
  const double dx = x1 - x0, dy = y1 - y0;
  const double p[4] = {-dx, dx, -dy, dy}, q[4] = {x0 - left, right - x0, y0 - top, bottom - y0};
  for (int k = 0; k < 4; ++k) {
    if (p[k] == 0) {
      if (q[k] < 0) return false;  // parallel to this side and outside it
      continue;
    }
    const double t = q[k] / p[k];
    if (p[k] < 0) t0 = std::max(t0, t);
    else t1 = std::min(t1, t);
    if (t0 > t1) return false;
  }
  return true;
}

Image::Image(int w, int h, Color background) : width(w), height(h) {
  AZ_CHECK(w >= 0 && h >= 0 && int64_t(w) * h <= (int64_t(1) << 28), "Image: bad size ", w, "x", h);
  rgb.resize(size_t(w) * size_t(h) * 3);
  for (size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = background.r;
    rgb[i + 1] = background.g;
    rgb[i + 2] = background.b;
  }
}

Color Image::get(int x, int y) const {
  AZ_CHECK(contains(x, y), "Image::get: pixel (", x, ",", y, ") is outside the ", width, "x", height, " image");
  const size_t i = 3 * (size_t(y) * size_t(width) + size_t(x));
  return {rgb[i], rgb[i + 1], rgb[i + 2]};
}

void Image::set(int x, int y, Color c) {
  if (!contains(x, y)) return;  // drawing clips at the border
  const size_t i = 3 * (size_t(y) * size_t(width) + size_t(x));
  rgb[i] = c.r;
  rgb[i + 1] = c.g;
  rgb[i + 2] = c.b;
}

void Image::fill_rect(int x, int y, int w, int h, Color c) {
  const int x0 = std::max(x, 0), y0 = std::max(y, 0);
  const int x1 = std::min(x + w, width), y1 = std::min(y + h, height);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) set(xx, yy, c);
}

void Image::draw_rect(int x, int y, int w, int h, Color c) {
  if (w <= 0 || h <= 0) return;
  fill_rect(x, y, w, 1, c);
  fill_rect(x, y + h - 1, w, 1, c);
  fill_rect(x, y, 1, h, c);
  fill_rect(x + w - 1, y, 1, h, c);
}

void Image::draw_line(int x0, int y0, int x1, int y1, Color c, int thickness) {
  // Bresenham: step along the line one pixel at a time, keeping the error term in integers.
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  const int lo = -(thickness - 1) / 2;  // a square brush of side `thickness` centred on the line
  int err = dx + dy;
  for (;;) {
    if (thickness <= 1) {
      set(x0, y0, c);
    } else {
      fill_rect(x0 + lo, y0 + lo, thickness, thickness, c);
    }
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) { err += dy; x0 += sx; }
    if (e2 <= dx) { err += dx; y0 += sy; }
  }
}

void Image::blit(const Image& src, int x, int y) {
  for (int yy = 0; yy < src.height; ++yy) {
    if (y + yy < 0 || y + yy >= height) continue;
    for (int xx = 0; xx < src.width; ++xx) set(x + xx, y + yy, src.get(xx, yy));
  }
}

// ---- text ----------------------------------------------------------------------------------------------------

namespace {

// stb_easy_font looks glyphs up with (char - 32): any byte outside printable ASCII would read outside its
// table. The few symbols the course writes in titles (·, ᵀ, √, ×, ², ≤, →, …) are spelled in ASCII; any other
// non-ASCII character becomes '?'.
std::string printable(const std::string& text) {
  static const std::pair<const char*, const char*> kSpelled[] = {
      {"\u00b7", "-"},  {"\u1d40", "^T"}, {"\u221a", "sqrt"}, {"\u00d7", "x"},  {"\u00b2", "^2"}, {"\u00b3", "^3"},
      {"\u2264", "<="}, {"\u2265", ">="}, {"\u2192", "->"},   {"\u2190", "<-"}, {"\u2212", "-"},  {"\u2013", "-"},
      {"\u2014", "-"},  {"\u2026", "..."}, {"\u03b1", "alpha"}, {"\u03c6", "phi"}, {"\u03c4", "tau"},
      {"\u2248", "~"},  {"\u00b1", "+-"}, {"\u2211", "sum"},  {"\u221e", "inf"}};
  std::string s;
  s.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char u = static_cast<unsigned char>(text[i]);
    if (u == '\n' || (u >= 32 && u < 127)) {
      s += text[i++];
      continue;
    }
    bool matched = false;
    for (const auto& [utf8, ascii] : kSpelled) {
      const size_t len = std::strlen(utf8);
      if (text.compare(i, len, utf8) == 0) {
        s += ascii;
        i += len;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    s += '?';
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;  // rest of the character
  }
  return s;
}

// One filled rectangle of the font, in font pixels (top-left x, y and size).
struct Quad {
  int x, y, w, h;
};

// stb_easy_font draws each glyph as a few rectangles ("quads", 4 vertices of 16 bytes: x, y, z floats and
// a colour). We ask it for the quads and fill them ourselves, magnified by the scale.
std::vector<Quad> text_quads(const std::string& text) {
  std::string s = printable(text);
  // No glyph uses more than ~12 quads; 16 per character with 64 bytes per quad is always enough.
  std::vector<char> buffer(64 * 16 * (s.size() + 1));
  const int n = stb_easy_font_print(0, 0, s.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
  std::vector<Quad> quads;
  quads.reserve(n);
  for (int q = 0; q < n; ++q) {
    float v0[2], v2[2];  // vertex 0 is the top-left corner, vertex 2 the bottom-right one
    std::memcpy(v0, buffer.data() + q * 64, sizeof v0);
    std::memcpy(v2, buffer.data() + q * 64 + 32, sizeof v2);
    const int x0 = static_cast<int>(std::lround(v0[0])), y0 = static_cast<int>(std::lround(v0[1]));
    quads.push_back({x0, y0, static_cast<int>(std::lround(v2[0])) - x0, static_cast<int>(std::lround(v2[1])) - y0});
  }
  return quads;
}

}  // namespace

int text_width(const std::string& text, int scale) {
  if (text.empty()) return 0;
  std::string s = printable(text);
  return stb_easy_font_width(s.data()) * scale;
}

int text_height(const std::string& text, int scale) {
  if (text.empty()) return 0;
  const int lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  return ((lines - 1) * kLineSpacing + kGlyphHeight) * scale;
}

int Image::draw_text(int x, int y, const std::string& text, Color c, int scale) {
  check_scale(scale, "draw_text");
  for (const Quad& q : text_quads(text)) fill_rect(x + q.x * scale, y + q.y * scale, q.w * scale, q.h * scale, c);
  return text_width(text, scale);
}

void Image::draw_text_vertical(int x, int y, const std::string& text, Color c, int scale) {
  check_scale(scale, "draw_text_vertical");
  // Turning the text counter-clockwise sends the text's rightward direction up and its downward direction
  // right: font pixel (gx, gy) lands at (x + gy, bottom - gx), with bottom the lower edge of the box.
  const int bottom = y + text_width(text, scale);
  for (const Quad& q : text_quads(text))
    fill_rect(x + q.y * scale, bottom - (q.x + q.w) * scale, q.h * scale, q.w * scale, c);
}

}  // namespace plot
