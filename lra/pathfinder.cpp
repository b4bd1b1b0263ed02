// lra/pathfinder.cpp — see pathfinder.h: contours as random walks of paddles, placed so that they never
// touch, rendered with box-filtered (antialiased) strokes and dots.
//
// Coordinates are continuous pixels: pixel (x, y) covers [x, x+1) × [y, y+1), its centre is (x + 0.5, y + 0.5).
#include "lra/pathfinder.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <sstream>

#include "lra/files.h"
#include "core/error.h"
#include "core/random.h"

namespace lra::pathfinder {

namespace fs = std::filesystem;
using plot::Color;
using plot::Image;

Options options_for_size(int size) {
  Options o;
  o.size = size;
  switch (size) {
    case 16:
      o.contour_paddles = 4, o.paddle_length = 2.0f, o.paddle_gap = 1.5f, o.line_width = 1.0f;
      o.max_turn_degrees = 30, o.dot_radius = 1.3f, o.separation = 2, o.num_distractors = 1;
      o.distractor_paddles = 2;
      break;
    case 32:
      o.contour_paddles = 7, o.paddle_length = 2.5f, o.paddle_gap = 1.2f, o.line_width = 1.0f;
      o.max_turn_degrees = 30, o.dot_radius = 1.5f, o.separation = 2, o.num_distractors = 4;
      o.distractor_paddles = 3;
      break;
    case 64:
      o.contour_paddles = 11, o.paddle_length = 3.5f, o.paddle_gap = 1.5f, o.line_width = 1.2f;
      o.max_turn_degrees = 25, o.dot_radius = 2.0f, o.separation = 3, o.num_distractors = 10;
      o.distractor_paddles = 4;
      break;
    case 128:
      o.contour_paddles = 16, o.paddle_length = 5.0f, o.paddle_gap = 2.0f, o.line_width = 1.5f;
      o.max_turn_degrees = 20, o.dot_radius = 3.0f, o.separation = 4, o.num_distractors = 24;
      o.distractor_paddles = 5;
      break;
    default:
      AZ_FAIL("pathfinder: no preset for size ", size, " (sizes: 16, 32, 64, 128; or fill Options yourself)");
  }
  return o;
}

int Sample::dot_pixel(int k) const {
  const int x = std::clamp(static_cast<int>(std::floor(dot_x[k])), 0, size - 1);
  const int y = std::clamp(static_cast<int>(std::floor(dot_y[k])), 0, size - 1);
  return y * size + x;
}

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr float kStep = 0.25f;      // spacing of the centre-line samples (pixels)
constexpr int kTriesPerContour = 40;
constexpr int kMaxRestarts = 2000;

struct Point {
  float x, y;
};
struct Segment {
  Point a, b;
};

struct Contour {
  std::vector<Segment> paddles;  // the ink
  std::vector<Point> centre;     // samples every kStep along the centre line, gaps included
  Point start() const { return centre.front(); }
  Point end() const { return paddles.back().b; }
};

// The ids (0 = free) of the contour pixels placed so far: the ground truth map.
struct Canvas {
  int size;
  std::vector<uint8_t> id;
  explicit Canvas(int s) : size(s), id(static_cast<size_t>(s) * s, 0) {}
};

void check_options(const Options& o) {
  AZ_CHECK(o.size >= 8 && o.size <= 1024, "pathfinder: size must be in [8, 1024], got ", o.size);
  AZ_CHECK(o.contour_paddles >= 1 && o.distractor_paddles >= 1 && o.num_distractors >= 0 &&
               o.num_distractors <= 200,
           "pathfinder: need contour_paddles >= 1, distractor_paddles >= 1, 0 <= num_distractors <= 200");
  AZ_CHECK(o.paddle_length >= 0.5f && o.paddle_gap >= 0.0f && o.line_width > 0.0f && o.dot_radius > 0.0f,
           "pathfinder: paddle_length >= 0.5, paddle_gap >= 0, line_width > 0 and dot_radius > 0 are needed");
  AZ_CHECK(o.max_turn_degrees >= 0 && o.max_turn_degrees <= 180, "pathfinder: max_turn_degrees must be in [0, 180]");
  AZ_CHECK(o.separation >= 2 && o.separation <= 32,
           "pathfinder: separation must be in [2, 32] pixels (below 2, two contours could touch), got ",
           o.separation);
}

float margin_of(const Options& o) { return std::max(o.dot_radius, o.line_width * 0.5f) + 0.5f; }

// A walk of k paddles from p heading theta (radians); false when a centre-line sample leaves the frame.
bool walk(const Options& o, core::Rng& rng, Point p, double theta, int k, Contour& c) {
  const float lo = margin_of(o), hi = static_cast<float>(o.size) - margin_of(o);
  const double turn = o.max_turn_degrees * kPi / 180.0;
  c.paddles.clear();
  c.centre.clear();
  // The turn between consecutive paddles drifts (a random walk of the curvature) so contours bend in arcs and
  // S-curves rather than wiggle: it starts uniform in ±turn and moves by at most ±turn/2 per paddle.
  double bend = rng.uniform(-1.0f, 1.0f) * turn;
  for (int i = 0; i < k; ++i) {
    if (i > 0) {
      theta += bend;
      bend = std::clamp(bend + rng.uniform(-0.5f, 0.5f) * turn, -turn, turn);
    }
    const float ux = static_cast<float>(std::cos(theta)), uy = static_cast<float>(std::sin(theta));
    const Point b{p.x + o.paddle_length * ux, p.y + o.paddle_length * uy};
    c.paddles.push_back({p, b});
    const float run = o.paddle_length + (i + 1 < k ? o.paddle_gap : 0.0f);  // the gap after it belongs to the line
    const int steps = std::max(1, static_cast<int>(std::ceil(run / kStep)));
    for (int s = (i == 0 ? 0 : 1); s <= steps; ++s) {
      const float t = run * s / steps;
      const Point q{p.x + t * ux, p.y + t * uy};
      if (q.x < lo || q.x > hi || q.y < lo || q.y > hi) return false;
      c.centre.push_back(q);
    }
    p = {p.x + run * ux, p.y + run * uy};
  }
  return true;
}

int pixel_of(const Canvas& cv, Point p) {
  const int x = std::clamp(static_cast<int>(std::floor(p.x)), 0, cv.size - 1);
  const int y = std::clamp(static_cast<int>(std::floor(p.y)), 0, cv.size - 1);
  return y * cv.size + x;
}

// The pixels of a dot: those whose centre is within the radius, and the one holding the centre.
void dot_pixels(const Canvas& cv, Point c, float r, std::vector<int>& out) {
  out.push_back(pixel_of(cv, c));
  for (int y = static_cast<int>(std::floor(c.y - r)); y <= static_cast<int>(std::ceil(c.y + r)); ++y)
    for (int x = static_cast<int>(std::floor(c.x - r)); x <= static_cast<int>(std::ceil(c.x + r)); ++x) {
      if (x < 0 || y < 0 || x >= cv.size || y >= cv.size) continue;
      const float dx = x + 0.5f - c.x, dy = y + 0.5f - c.y;
      if (dx * dx + dy * dy <= r * r) out.push_back(y * cv.size + x);
    }
}

// Whether contour c (with dots at `dots`) keeps `separation` from everything on the canvas and from itself; if
// so, paints its pixels with `id`.
bool place(const Options& o, Canvas& cv, const Contour& c, const std::vector<Point>& dots, uint8_t id) {
  const int S = cv.size, sep = o.separation;
  auto near_other = [&](int pix) {
    const int px = pix % S, py = pix / S;
    for (int y = std::max(0, py - sep); y <= std::min(S - 1, py + sep); ++y)
      for (int x = std::max(0, px - sep); x <= std::min(S - 1, px + sep); ++x)
        if (cv.id[y * S + x] != 0) return true;
    return false;
  };
  // Self-approach: a pixel of this contour within `sep` of the current one, first reached more than
  // `window` samples ago, means the curve came back onto itself.
  const int window = static_cast<int>(std::ceil((1.5f * (sep + 1) + 1.0f) / kStep));
  std::vector<int> first_visit(static_cast<size_t>(S) * S, -1);
  std::vector<int> pixels;
  for (size_t j = 0; j < c.centre.size(); ++j) {
    const int pix = pixel_of(cv, c.centre[j]);
    if (near_other(pix)) return false;
    const int px = pix % S, py = pix / S;
    for (int y = std::max(0, py - sep); y <= std::min(S - 1, py + sep); ++y)
      for (int x = std::max(0, px - sep); x <= std::min(S - 1, px + sep); ++x) {
        const int v = first_visit[y * S + x];
        if (v >= 0 && static_cast<int>(j) - v > window) return false;
      }
    if (first_visit[pix] < 0) {
      first_visit[pix] = static_cast<int>(j);
      pixels.push_back(pix);
    }
  }
  for (const Point& d : dots) {
    std::vector<int> disc;
    dot_pixels(cv, d, o.dot_radius, disc);
    for (int pix : disc) {
      if (near_other(pix)) return false;
      pixels.push_back(pix);
    }
  }
  for (int pix : pixels) cv.id[pix] = id;
  return true;
}

Point random_point(const Options& o, core::Rng& rng) {
  const float lo = margin_of(o), hi = static_cast<float>(o.size) - margin_of(o);
  return {rng.uniform(lo, hi), rng.uniform(lo, hi)};
}
double random_angle(core::Rng& rng) { return rng.uniform01() * 2.0 * kPi; }

// A contour of k paddles from `from` (or from a random point) that fits on the canvas, with dots at its start
// and/or end; painted with `id`. false after kTriesPerContour walks that do not fit.
bool add_contour(const Options& o, core::Rng& rng, Canvas& cv, int k, const Point* from, bool dot_start,
                 bool dot_end, uint8_t id, Contour& c) {
  for (int attempt = 0; attempt < kTriesPerContour; ++attempt) {
    const Point p = from ? *from : random_point(o, rng);
    if (!walk(o, rng, p, random_angle(rng), k, c)) continue;
    std::vector<Point> dots;
    if (dot_start) dots.push_back(c.start());
    if (dot_end) dots.push_back(c.end());
    if (place(o, cv, c, dots, id)) return true;
  }
  return false;
}

// ---- rendering ---------------------------------------------------------------------------------------------

// Box-filtered stroke: coverage falls linearly over one pixel across the line (width w) and at the flat ends.
void draw_paddle(std::vector<float>& cov, int S, const Segment& s, float w) {
  const float dx = s.b.x - s.a.x, dy = s.b.y - s.a.y;
  const float len = std::sqrt(dx * dx + dy * dy);
  if (len <= 0) return;
  const float ux = dx / len, uy = dy / len;
  const float pad = w + 1.0f;
  const int x0 = std::max(0, static_cast<int>(std::floor(std::min(s.a.x, s.b.x) - pad)));
  const int x1 = std::min(S - 1, static_cast<int>(std::ceil(std::max(s.a.x, s.b.x) + pad)));
  const int y0 = std::max(0, static_cast<int>(std::floor(std::min(s.a.y, s.b.y) - pad)));
  const int y1 = std::min(S - 1, static_cast<int>(std::ceil(std::max(s.a.y, s.b.y) + pad)));
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const float px = x + 0.5f - s.a.x, py = y + 0.5f - s.a.y;
      const float t = px * ux + py * uy;                 // along the paddle, 0..len
      const float d = std::fabs(-px * uy + py * ux);     // across it
      const float across = std::clamp(w * 0.5f + 0.5f - d, 0.0f, 1.0f);
      const float along = std::clamp(std::min(t + 0.5f, len + 0.5f - t), 0.0f, 1.0f);
      float& c = cov[static_cast<size_t>(y) * S + x];
      c = std::max(c, across * along);
    }
}

void draw_dot(std::vector<float>& cov, int S, Point c, float r) {
  for (int y = std::max(0, static_cast<int>(c.y - r - 2)); y <= std::min(S - 1, static_cast<int>(c.y + r + 2)); ++y)
    for (int x = std::max(0, static_cast<int>(c.x - r - 2)); x <= std::min(S - 1, static_cast<int>(c.x + r + 2));
         ++x) {
      const float dx = x + 0.5f - c.x, dy = y + 0.5f - c.y;
      float& v = cov[static_cast<size_t>(y) * S + x];
      v = std::max(v, std::clamp(r + 0.5f - std::sqrt(dx * dx + dy * dy), 0.0f, 1.0f));
    }
}

// splitmix64 of a combination: independent streams for (seed, index) pairs.
uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ULL + (b + 1) * 0xD1B54A32D192ED03ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

Sample generate_one(const Options& o, int label, uint64_t seed) {
  check_options(o);
  AZ_CHECK(label == 0 || label == 1, "pathfinder: label must be 0 or 1, got ", label);
  core::Rng rng(seed);
  const int S = o.size;
  const int K = o.contour_paddles;
  for (int restart = 0; restart < kMaxRestarts; ++restart) {
    Canvas cv(S);
    std::vector<Contour> contours(2);
    Point dot0{}, dot1{};
    bool ok = true;
    if (label == 1) {
      // One long contour from dot 0 to dot 1, the other long contour without dots.
      ok = add_contour(o, rng, cv, K, nullptr, true, true, 1, contours[0]) &&
           add_contour(o, rng, cv, K, nullptr, false, false, 2, contours[1]);
      if (ok) dot0 = contours[0].start(), dot1 = contours[0].end();
    } else {
      // The dots are the ends of a phantom long contour drawn exactly like a positive's (then thrown away), so
      // that their distance is distributed as in positives; each real long contour leaves one of them.
      Canvas phantom_canvas(S);
      Contour phantom;
      ok = add_contour(o, rng, phantom_canvas, K, nullptr, true, true, 1, phantom);
      if (ok) {
        dot0 = phantom.start(), dot1 = phantom.end();
        // Keep the phantom's dots while there is any hope: giving up on close dots more often than on far ones
        // would make negatives' dots farther apart than positives'.
        ok = false;
        for (int attempt = 0; attempt < kTriesPerContour && !ok; ++attempt) {
          cv = Canvas(S);
          ok = add_contour(o, rng, cv, K, &dot0, true, false, 1, contours[0]) &&
               add_contour(o, rng, cv, K, &dot1, true, false, 2, contours[1]);
        }
      }
    }
    if (!ok) continue;
    for (int d = 0; d < o.num_distractors; ++d) {
      Contour c;
      if (add_contour(o, rng, cv, o.distractor_paddles, nullptr, false, false,
                      static_cast<uint8_t>(contours.size() + 1), c))
        contours.push_back(std::move(c));
    }
    std::vector<float> cov(static_cast<size_t>(S) * S, 0.0f);
    for (const Contour& c : contours)
      for (const Segment& s : c.paddles) draw_paddle(cov, S, s, o.line_width);
    draw_dot(cov, S, dot0, o.dot_radius);
    draw_dot(cov, S, dot1, o.dot_radius);
    Sample out;
    out.size = S;
    out.label = label;
    out.pixels.resize(cov.size());
    for (size_t i = 0; i < cov.size(); ++i) out.pixels[i] = static_cast<uint8_t>(std::lround(255.0f * cov[i]));
    out.dot_x[0] = dot0.x, out.dot_y[0] = dot0.y, out.dot_x[1] = dot1.x, out.dot_y[1] = dot1.y;
    out.contour = std::move(cv.id);
    out.num_contours = static_cast<int>(contours.size());
    return out;
  }
  AZ_FAIL("pathfinder: could not place two contours of ", K, " paddles in a ", S, "x", S, " image after ",
          kMaxRestarts, " attempts (shorter contours, smaller separation or a larger size would fit)");
}

Sample generate_indexed(const Options& opts, uint64_t seed, int64_t index) {
  AZ_CHECK(index >= 0, "pathfinder: sample index must be >= 0, got ", index);
  // Samples 2k and 2k+1: one of each label, which one first decided by a coin of the pair.
  const int coin = static_cast<int>(mix(seed ^ 0x5A5A5A5A5A5A5A5AULL, static_cast<uint64_t>(index / 2)) >> 63);
  const int label = index % 2 == 0 ? coin : 1 - coin;
  return generate_one(opts, label, mix(seed, static_cast<uint64_t>(index)));
}

std::vector<Sample> generate(int64_t n, const Options& opts, uint64_t seed, int64_t first_index) {
  check_options(opts);
  AZ_CHECK(n >= 0 && first_index >= 0, "pathfinder: cannot generate ", n, " samples from index ", first_index);
  std::vector<Sample> out(static_cast<size_t>(n));
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 4) if (n >= 16 && !omp_in_parallel())
  for (int64_t i = 0; i < n; ++i) {
    try {
      out[i] = generate_indexed(opts, seed, first_index + i);
    } catch (...) {
#pragma omp critical(lra_pathfinder_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return out;
}

Dataset to_dataset(const std::vector<Sample>& samples) {
  Dataset d;
  const int S = samples.empty() ? 32 : samples.front().size;
  d.task = "pathfinder" + std::to_string(S);
  d.vocab = 256;
  d.num_classes = 2;
  d.max_len = static_cast<int64_t>(S) * S;
  d.pad_id = 0;
  d.inputs.reserve(samples.size());
  d.labels.reserve(samples.size());
  for (const Sample& s : samples) {
    AZ_CHECK(s.size == S, "pathfinder: to_dataset: samples of sizes ", S, " and ", s.size, " mixed");
    d.inputs.emplace_back(s.pixels.begin(), s.pixels.end());
    d.labels.push_back(s.label);
  }
  return d;
}

Splits generate_splits(int64_t n_train, int64_t n_val, int64_t n_test, const Options& opts, uint64_t seed) {
  AZ_CHECK(n_train >= 0 && n_val >= 0 && n_test >= 0, "pathfinder: split sizes must be >= 0");
  Splits s;
  s.train = to_dataset(generate(n_train, opts, seed, 0));
  s.val = to_dataset(generate(n_val, opts, seed, n_train));
  s.test = to_dataset(generate(n_test, opts, seed, n_train + n_val));
  // Empty splits still name their task and size.
  for (Dataset* d : {&s.train, &s.val, &s.test}) {
    d->task = "pathfinder" + std::to_string(opts.size);
    d->max_len = static_cast<int64_t>(opts.size) * opts.size;
  }
  return s;
}

// ---- pictures ----------------------------------------------------------------------------------------------

namespace {

Image gray_image(const uint8_t* v, int side, int scale) {
  Image img(side * scale, side * scale, plot::kBlack);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const uint8_t g = v[y * side + x];
      img.fill_rect(x * scale, y * scale, scale, scale, Color{g, g, g});
    }
  return img;
}

}  // namespace

Image to_image(const Sample& s, int scale) {
  AZ_CHECK(scale >= 1 && scale <= 64, "pathfinder: scale must be in [1, 64], got ", scale);
  AZ_CHECK(s.pixels.size() == static_cast<size_t>(s.size) * s.size, "pathfinder: sample of size ", s.size,
           " holds ", s.pixels.size(), " pixels");
  return gray_image(s.pixels.data(), s.size, scale);
}

Image tokens_to_image(const Sequence& pixels, int scale) {
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(pixels.size()))));
  AZ_CHECK(side > 0 && static_cast<size_t>(side) * side == pixels.size(), "pathfinder: tokens_to_image: ",
           pixels.size(), " tokens are not a square image");
  AZ_CHECK(scale >= 1 && scale <= 64, "pathfinder: scale must be in [1, 64], got ", scale);
  std::vector<uint8_t> v(pixels.size());
  for (size_t i = 0; i < v.size(); ++i) {
    AZ_CHECK(pixels[i] >= 0 && pixels[i] <= 255, "pathfinder: tokens_to_image: token ", pixels[i],
             " is not a gray value 0..255");
    v[i] = static_cast<uint8_t>(pixels[i]);
  }
  return gray_image(v.data(), side, scale);
}

Image grid_image(const std::vector<Sample>& samples, int cols, int scale, const std::string& title) {
  AZ_CHECK(!samples.empty() && cols >= 1, "pathfinder: grid_image needs samples and cols >= 1");
  std::vector<Image> tiles;
  for (const Sample& s : samples) {
    const Image pic = to_image(s, scale);
    const std::string caption = s.label == 1 ? "1 joined" : "0 apart";
    Image tile(pic.width, pic.height + 14, plot::kWhite);
    tile.blit(pic, 0, 0);
    const Color c = s.label == 1 ? Color{0, 130, 0} : Color{200, 0, 0};
    tile.draw_text((pic.width - plot::text_width(caption)) / 2, pic.height + 3, caption, c);
    tiles.push_back(std::move(tile));
  }
  return plot::with_title(plot::grid(tiles, cols, 8), title, 1);
}

std::vector<Sample> write_samples(const std::string& dir, int64_t n, const Options& opts, uint64_t seed) {
  AZ_CHECK(n >= 0, "pathfinder: cannot write ", n, " samples");
  std::vector<Sample> samples = generate(n, opts, seed);
  std::error_code ec;
  fs::create_directories(dir, ec);
  AZ_CHECK(fs::is_directory(dir), "pathfinder: cannot create directory ", dir);
  const int digits = std::max<int>(4, static_cast<int>(std::to_string(std::max<int64_t>(n - 1, 0)).size()));
  std::string csv = "file,label\n";
  for (int64_t i = 0; i < n; ++i) {
    std::string name = std::to_string(i);
    name = std::string(static_cast<size_t>(digits) - std::min<size_t>(digits, name.size()), '0') + name + ".png";
    plot::save_png(to_image(samples[i]), (fs::path(dir) / name).string());
    csv += name + "," + std::to_string(samples[i].label) + "\n";
  }
  files::write_atomically((fs::path(dir) / "labels.csv").string(), csv, "pathfinder");
  return samples;
}

std::vector<Sample> write_samples(const std::string& dir, int64_t n, int size, uint64_t seed) {
  return write_samples(dir, n, options_for_size(size), seed);
}

}  // namespace lra::pathfinder
