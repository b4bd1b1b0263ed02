// lra/pathfinder.h — Pathfinder (Linsley et al. 2018; LRA's Pathfinder and Path-X): are the two dots joined
// by one dashed curve? Our own generator (the LRA repository ships no generator for it — a common complaint).
//
// An image (size x size gray pixels, white ink on black) holds:
//   - two marker dots;
//   - two long contours, each a chain of `contour_paddles` short straight paddles (dashes) separated by gaps. The
//     turn from one paddle to the next drifts (it starts uniform in ±max_turn_degrees and moves by at most half
//     of that per paddle, clamped), so contours bend in smooth arcs and S-curves rather than wiggle;
//   - `num_distractors` shorter contours without dots.
//   positive (label 1): the dots sit at the two ends of the same long contour; the other long contour has none.
//   negative (label 0): each long contour carries one dot at one of its ends.
// Both classes thus have the same ink: two long contours, two dots, the same distractors; only the question
// "does the curve leaving one dot end at the other?" separates them — the model has to trace the dashes.
// Distance does not give the answer away: in a negative, the two dot positions are the two ends of a "phantom"
// long contour drawn exactly as a positive's (then not drawn), and the two long contours start from them, so the
// dot-to-dot distance has the same distribution in both classes (measured means, positives vs negatives: 19.9 vs 19.7
// pixels at size 32, 34.9 vs 36.3 at 64, 63.2 vs 63.3 at 128; the tests compare the means).
// Contours never touch: the centre lines of different contours (and the dots) stay `separation` pixels apart
// (Chebyshev distance between their pixels), and a contour does not come back onto itself. So the answer is
// also the connectivity of the ground-truth map Sample::contour, which the tests check with a flood fill.
//
// Pixels are antialiased: each paddle is a box-filtered stroke (coverage falls linearly over one pixel across and
// along it, flat ends so the gaps stay open), each dot a box-filtered disc; overlapping ink takes the maximum.
// value = round(255 · coverage).
//
// Presets per size (options_for_size), lengths in pixels; a long contour's arc is about 0.8 × size:
//   size  paddles  paddle  gap  width  turn  dot r  separation  distractors (paddles)  ms/image (1 core)
//    16      4      2.0    1.5   1.0   30°    1.3       2            1 (2)                 ~0.7
//    32      7      2.5    1.2   1.0   30°    1.5       2            4 (3)                 ~0.1
//    64     11      3.5    1.5   1.2   25°    2.0       3           10 (4)                 ~0.3
//   128     16      5.0    2.0   1.5   20°    3.0       4           24 (5)                 ~1.5
// (Distractors that find no room are left out: on average 2.1, 4.8, 9.0, 17.6 contours in all per image.)
// 32 is LRA's Pathfinder (1024 tokens), 128 its Path-X (16384 tokens).
//
// Labels are exactly balanced: samples 2k and 2k+1 are one positive and one negative, in a seeded order.
// Sample i of a seed is always the same image (its own Rng comes from (seed, i)), whatever n is.
// Tokens: the pixels row by row, id = gray value (vocab 256, 2 classes, no padding ever: length size²).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lra/dataset.h"
#include "plot/plot.h"

namespace lra::pathfinder {

// The defaults are the size-32 preset.
struct Options {
  int size = 32;                   // image side in pixels
  int contour_paddles = 7;         // paddles on each of the two long contours
  float paddle_length = 2.5f;      // pixels along the contour
  float paddle_gap = 1.2f;         // empty pixels between consecutive paddles
  float line_width = 1.0f;         // stroke width
  float max_turn_degrees = 30.0f;  // direction change between consecutive paddles: uniform in ±max_turn
  float dot_radius = 1.5f;
  int separation = 2;              // min Chebyshev distance (pixels) between different contours' pixels, >= 2
  int num_distractors = 4;         // short contours without dots (fewer if they do not fit)
  int distractor_paddles = 3;
};
// The presets of the table above; throws core::Error for a size other than 16, 32, 64, 128.
Options options_for_size(int size);

struct Sample {
  int size = 0;
  int label = 0;                // 1: one contour joins the dots; 0: the dots are on different contours
  std::vector<uint8_t> pixels;  // (size, size) row-major gray: 0 = background, 255 = full ink
  float dot_x[2] = {0, 0}, dot_y[2] = {0, 0};  // marker centres; pixel (x, y) spans [x, x+1) × [y, y+1)
  // Ground truth, (size, size): the id of the contour whose centre line passes through the pixel (the gaps between
  // paddles included) or whose dot covers it; 0 = none. 1 = the long contour through dot 0, 2 = the other long
  // contour (through dot 1 in a negative), 3.. = distractors.
  std::vector<uint8_t> contour;
  int num_contours = 0;         // long contours (2) + distractors that fitted
  int dot_pixel(int k) const;   // flat index y * size + x of the pixel holding dot k's centre
};

// One image of the given label from its own seed. Throws core::Error on options that cannot work (bad sizes,
// separation < 2, or contours that never fit after many attempts).
Sample generate_one(const Options& opts, int label, uint64_t seed);
// Sample `index` of the stream defined by `seed` (label by the balanced pair rule above).
Sample generate_indexed(const Options& opts, uint64_t seed, int64_t index);
// Samples first_index .. first_index + n - 1 of that stream (generated in parallel; the same bytes either way).
std::vector<Sample> generate(int64_t n, const Options& opts, uint64_t seed, int64_t first_index = 0);

// Samples -> Dataset (task "pathfinderS", vocab 256, 2 classes, max_len S², pad_id 0 which is never needed).
Dataset to_dataset(const std::vector<Sample>& samples);
// n_train + n_val + n_test distinct images of one stream (indices 0.., then the next ones), as three datasets.
Splits generate_splits(int64_t n_train, int64_t n_val, int64_t n_test, const Options& opts, uint64_t seed);

// ---- pictures ----------------------------------------------------------------------------------------------
// A sample as an RGB image, each pixel a scale x scale gray square.
plot::Image to_image(const Sample& s, int scale = 1);
// Gray tokens (a row of a Dataset or a Batch) of a square image back to a picture.
plot::Image tokens_to_image(const Sequence& pixels, int scale = 1);
// Samples in a grid, `cols` per row, each magnified `scale` times with its caption under it ("1 joined" in
// green, "0 apart" in red), under `title`. For lessons: save_png(grid_image(samples, 4, 6, "..."), path).
plot::Image grid_image(const std::vector<Sample>& samples, int cols = 4, int scale = 6,
                              const std::string& title = "Pathfinder: are the two dots joined by one dashed curve?");
// Writes samples 0..n-1 of (size, seed) as DIR/0000.png, DIR/0001.png, ... (native resolution, gray; at least
// four digits, more when n > 10000) and DIR/labels.csv with the header "file,label" and one "0000.png,1" line per
// image; creates DIR. Returns the samples (e.g. for grid_image). Backs `attnzoo lra pathfinder --generate`.
std::vector<Sample> write_samples(const std::string& dir, int64_t n, int size, uint64_t seed);
std::vector<Sample> write_samples(const std::string& dir, int64_t n, const Options& opts, uint64_t seed);

}  // namespace lra::pathfinder
