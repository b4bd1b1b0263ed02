// plot/color.h — colours: RGB, the fixed colours every figure uses, and the colormaps.
#pragma once

#include <cstdint>
#include <iosfwd>

namespace plot {

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

// ---- colormaps -----------------------------------------------------------------------------------------------

// matplotlib's viridis: t = 0 dark purple (68,1,84), t = 1 yellow (253,231,37). Perceptually uniform and still
// readable in greyscale, so equal steps in value look like equal steps in colour. t is clamped to [0, 1].
Color viridis(float t);
// Blue - white - red for signed data: t = 0 dark blue, t = 0.5 exactly white, t = 1 dark red. heatmap() maps a
// symmetric range [-a, a] onto it, so zero is always white.
Color diverging(float t);
// 20 distinct colours for labelled cells (tab10 and its light partners); ids wrap around past 20.
Color categorical(int id);

}  // namespace plot
