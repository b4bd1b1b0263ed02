// plot/color.cpp — colours and colormaps (plot/color.h).
#include "plot/color.h"

#include <algorithm>
#include <cmath>
#include <ostream>

namespace plot {

std::ostream& operator<<(std::ostream& os, Color c) {
  return os << "(" << int(c.r) << "," << int(c.g) << "," << int(c.b) << ")";
}

Color blend(Color a, Color b, float alpha) {
  alpha = std::max(0.0f, std::min(1.0f, alpha));
  auto mix = [alpha](uint8_t x, uint8_t y) {
    return static_cast<uint8_t>(std::lround(x + (float(y) - float(x)) * alpha));
  };
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

// ============================================================================================================
// Colormaps
// ============================================================================================================

namespace {

// Piecewise-linear interpolation in a table of n evenly spaced anchor colours.
Color interpolate(const Color* table, int n, float t) {
  if (std::isnan(t)) return kNaN;
  t = std::max(0.0f, std::min(1.0f, t));
  const float f = t * float(n - 1);
  const int i = std::min(static_cast<int>(f), n - 2);
  return blend(table[i], table[i + 1], f - float(i));
}

// 33 anchors of matplotlib's viridis (every 8th entry of its 256-colour table, and the last one).
constexpr Color kViridis[] = {
    {68, 1, 84},    {70, 12, 95},   {71, 24, 106},  {72, 34, 115},  {71, 44, 123},  {69, 54, 129},
    {66, 64, 133},  {62, 73, 137},  {58, 82, 139},  {54, 90, 140},  {50, 98, 141},  {47, 106, 141},
    {44, 114, 142}, {40, 122, 142}, {38, 129, 142}, {35, 137, 141}, {32, 144, 140}, {30, 152, 138},
    {30, 159, 136}, {33, 167, 132}, {40, 174, 127}, {50, 181, 122}, {62, 188, 115}, {77, 194, 107},
    {94, 201, 97},  {112, 206, 86}, {131, 211, 75}, {151, 216, 62}, {173, 220, 48}, {194, 223, 34},
    {215, 226, 25}, {236, 228, 26}, {253, 231, 37},
};

// ColorBrewer's RdBu reversed (blue for negative, red for positive), with a pure white centre.
constexpr Color kDiverging[] = {
    {5, 48, 97},     {33, 102, 172},  {67, 147, 195}, {146, 197, 222}, {209, 229, 240}, {255, 255, 255},
    {253, 219, 199}, {244, 165, 130}, {214, 96, 77},  {178, 24, 43},   {103, 0, 31},
};

// tab10, then the lighter partner of each (tab20's second half).
constexpr Color kCategorical[] = {
    {31, 119, 180},  {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},   {227, 119, 194}, {127, 127, 127}, {188, 189, 34},  {23, 190, 207},
    {174, 199, 232}, {255, 187, 120}, {152, 223, 138}, {255, 152, 150}, {197, 176, 213},
    {196, 156, 148}, {247, 182, 210}, {199, 199, 199}, {219, 219, 141}, {158, 218, 229},
};

constexpr int kViridisN = sizeof kViridis / sizeof kViridis[0];
constexpr int kDivergingN = sizeof kDiverging / sizeof kDiverging[0];
constexpr int kCategoricalN = sizeof kCategorical / sizeof kCategorical[0];

}  // namespace

Color viridis(float t) { return interpolate(kViridis, kViridisN, t); }
Color diverging(float t) { return interpolate(kDiverging, kDivergingN, t); }
Color categorical(int id) { return kCategorical[((id % kCategoricalN) + kCategoricalN) % kCategoricalN]; }

}  // namespace plot
