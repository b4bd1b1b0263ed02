// lessons/lesson.h — what every lesson program shares: command-line flags, narration, aligned tables,
// self-checks, small tensor helpers (head, leaf, list_str), attention heatmaps (matrix_map), figures with a
// manifest. Timing is core::measure (core/timing.h); a lesson's cost step is lesson::cost_step (lessons/cost.h).
// Header-only (every function is inline), so a lesson is one .cpp file linked
// with the library and nothing else. What kernels are checked against lives beside it, in lessons/reference.h.
//
//   int main(int argc, char** argv) try {
//     lesson::Lesson L(argc, argv, "01_attention_is_quadratic");  // --quick --seed N --out DIR --help
//     L.step("Step 1 · the scores");                              // a section header
//     L.say("q kᵀ has shape ", q.shape(), ".");                    // prose; shapes print as (1,2,64,64)
//     L.check("output equals the reference", diff < 1e-5, "max |diff| = 3e-7");   // PASS/FAIL, recorded
//     L.show(img, "full.png", "full attention: look for ...");     // writes out/01_.../full.png + manifest.tsv
//     L.show(lesson::matrix_map(lesson::head(A, 0), "A, head 0", "n = 64"), "a.png", "...");  // (B,H,n,n) -> heatmap
//     lesson::cost_step(L, {lesson::Curve("full").expect(2.0)}, lesson::CostOptions());  // lessons/cost.h
//     return L.finish();                          // "RESULT 01_... checks=7/7 files=3 status=PASS"; exit 0 or 1
//   } catch (const std::exception& e) {
//     return lesson::report_error(e);             // "error: ..." on stderr, exit status 2
//   }
//
// The `try` right after main's signature is a function-try-block: the whole body of main is inside it, so a
// core::Error thrown anywhere (a wrong shape, a bad flag) ends the program with one readable line.
//
// Output contract (scripts/run-lessons.sh, tests/test_lessons.cpp and the notebook runner rely on it):
//   - narration goes to stdout, flushed after every step, check, figure and table row; the lesson keeps a copy
//     of everything it prints (stdout and stderr) in DIR/NAME.log, the log the gallery reads its badge from, so
//     a hand run rewrites its figures, its manifest and its log together;
//   - each figure is announced as "[figure] DIR/NAME/file.png — caption" and listed in DIR/NAME/manifest.tsv,
//     a tab-separated file with the header "file<TAB>kind<TAB>caption"; kind is "deterministic" (same seed,
//     same PNG bytes) or "timing" (contains measured times, so it differs from run to run);
//   - the last line is "RESULT <name> checks=<passed>/<total> files=<count> status=PASS|FAIL";
//   - exit status 0 when every check passed, 1 when one failed, 2 on an error (bad flag, core::Error).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/core.h"
#include "plot/plot.h"

namespace lesson {

using core::Shape;
using core::Tensor;

// ---- formatting ------------------------------------------------------------------------------------------

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  if constexpr (std::is_same_v<T, Shape>) {
    os << core::shape_str(first);
  } else {
    os << first;
  }
  append(os, rest...);
}
}  // namespace detail

// Concatenate anything printable into one string; a Shape prints as (2,3).
template <class... Parts>
std::string str(const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  return os.str();
}

// A number with `digits` digits after the decimal point: fixed(3.14159, 2) == "3.14".
inline std::string fixed(double value, int digits = 2) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << value;
  return os.str();
}

// A number with `digits` significant digits, switching to 1.2e-07 style when it is tiny or huge.
inline std::string sig(double value, int digits = 3) {
  std::ostringstream os;
  os << std::setprecision(digits) << value;
  return os.str();
}

// Bytes in mebibytes (1 MiB = 2^20 bytes).
inline double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// Characters on screen, not bytes: "×" and "·" are two bytes of UTF-8 but one column wide.
inline int display_width(const std::string& s) {
  int w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

// The largest |a - b| over all elements (throws when the shapes differ).
inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  AZ_CHECK(a.shape() == b.shape(), "max_abs_diff: shapes differ: ", a.shape(), " vs ", b.shape());
  float worst = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::fabs(a.data()[i] - b.data()[i]));
  return worst;
}

// The largest |x| over all elements. NaN entries are skipped (they never win a comparison): ask all_finite
// separately.
inline float max_abs(const Tensor& t) {
  float m = 0.0f;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data()[i]));
  return m;
}

// True when no element is NaN or ±inf.
inline bool all_finite(const Tensor& t) {
  return std::all_of(t.data(), t.data() + t.numel(), [](float x) { return std::isfinite(x); });
}

// A fresh copy of t that records gradients: a leaf of a new graph. Two implementations checked on the same
// inputs each get leaves of their own, so that their gradients do not add up in one tensor.
inline Tensor leaf(const Tensor& t) { return t.detach().clone().set_requires_grad(); }

// The (rows, cols) matrix of head h, batch b of a (B, H, rows, cols) tensor: one attention matrix to draw or to
// print. A copy, outside the autograd graph.
inline Tensor head(const Tensor& t, int64_t h, int64_t b = 0) {
  AZ_CHECK(t.dim() == 4, "head: wants a (B, H, rows, cols) tensor, got ", t.shape());
  AZ_CHECK(b >= 0 && b < t.size(0) && h >= 0 && h < t.size(1), "head: batch ", b, ", head ", h, " of ", t.shape());
  const int64_t H = t.size(1), rows = t.size(2), cols = t.size(3);
  Tensor out = Tensor::empty({rows, cols});
  std::copy_n(t.data() + (b * H + h) * rows * cols, rows * cols, out.data());
  return out;
}

// Positions or ids in set notation, the way the papers write key sets: list_str({0, 16, 20}) == "{0, 16, 20}".
inline std::string list_str(const std::vector<int64_t>& xs) {
  std::string s = "{";
  for (size_t t = 0; t < xs.size(); ++t) s += (t ? ", " : "") + std::to_string(xs[t]);
  return s + "}";
}

// ---- tables ----------------------------------------------------------------------------------------------

// An aligned text table whose headers carry the units ("time (ms)", "peak (MiB)"). Two ways to fill it:
//   row(cells)  prints the row the moment it is added (and flushes), so a table of slow measurements doubles
//               as a progress display; columns are as wide as their header or `min_width`;
//   add(cells) + print()  collects the rows first and fits every column to its widest cell.
// The first column is left-aligned (a name or a size), the others right-aligned (numbers).
class Table {
 public:
  explicit Table(std::vector<std::string> headers, int min_width = 10, std::ostream& os = std::cout)
      : headers_(std::move(headers)), os_(os) {
    for (const auto& h : headers_) widths_.push_back(std::max(min_width, display_width(h)));
  }

  void row(const std::vector<std::string>& cells) {
    add(cells);
    if (!header_printed_) print_header();
    print_line(cells);
    os_.flush();
  }

  void add(const std::vector<std::string>& cells) {
    AZ_CHECK(cells.size() == headers_.size(), "Table: ", cells.size(), " cells for ", headers_.size(), " columns");
    rows_.push_back(cells);
  }

  void print() {
    for (const auto& r : rows_)
      for (size_t c = 0; c < r.size(); ++c) widths_[c] = std::max(widths_[c], display_width(r[c]));
    print_header();
    for (const auto& r : rows_) print_line(r);
    os_.flush();
  }

  const std::vector<std::vector<std::string>>& rows() const { return rows_; }

 private:
  void print_header() {
    print_line(headers_);
    int total = 0;
    for (size_t c = 0; c < widths_.size(); ++c) total += widths_[c] + (c ? 2 : 0);
    os_ << "  " << std::string(static_cast<size_t>(total), '-') << "\n";
    header_printed_ = true;
  }

  void print_line(const std::vector<std::string>& cells) {
    os_ << "  ";
    for (size_t c = 0; c < cells.size(); ++c) {
      const int pad = std::max(0, widths_[c] - display_width(cells[c]));
      if (c == 0) {
        os_ << cells[c] << std::string(static_cast<size_t>(pad), ' ');
      } else {
        os_ << "  " << std::string(static_cast<size_t>(pad), ' ') << cells[c];
      }
    }
    os_ << "\n";
  }

  std::vector<std::string> headers_;
  std::vector<int> widths_;
  std::vector<std::vector<std::string>> rows_;
  bool header_printed_ = false;
  std::ostream& os_;
};

// Small tensors as a learner wants to read them: the shape, then the values in aligned columns,
//   (2,3)
//   [[ 1,  2,  3],
//    [ 4,  5,  6]]
// Rank 0-2 with at most `max_per_dim` entries per axis; anything else falls back to Tensor::str().
inline std::string tensor_str(const Tensor& t, int max_per_dim = 8, const std::string& indent = "  ") {
  const int64_t rank = t.dim();
  if (rank > 2 || (rank >= 1 && t.size(-1) > max_per_dim) || (rank == 2 && t.size(0) > max_per_dim))
    return indent + t.str();
  const int64_t rows = rank == 2 ? t.size(0) : 1, cols = rank == 0 ? 1 : t.size(-1);
  std::vector<std::string> cells;
  int width = 0;
  for (int64_t i = 0; i < rows * cols; ++i) {
    cells.push_back(sig(t.data()[i], 4));
    width = std::max(width, display_width(cells.back()));
  }
  std::ostringstream os;
  os << indent << core::shape_str(t.shape()) << "\n" << indent;
  if (rank == 0) return os.str() + cells[0];
  os << (rank == 2 ? "[[" : "[");
  for (int64_t r = 0; r < rows; ++r) {
    if (r > 0) os << ",\n" << indent << " [";
    for (int64_t c = 0; c < cols; ++c) {
      const std::string& cell = cells[static_cast<size_t>(r * cols + c)];
      os << (c ? ", " : "") << std::string(static_cast<size_t>(width - display_width(cell)), ' ') << cell;
    }
    os << "]";
  }
  if (rank == 2) os << "]";
  return os.str();
}

// ---- figures ---------------------------------------------------------------------------------------------

// How matrix_map draws. The defaults are the course's attention axes: keys across ("key position j"), queries
// down ("query position i"), the colour scale named "attention weight", about 512 px. Every setter returns a
// changed copy, so a style reads as one expression, and a lesson can keep one style and vary it per figure:
//   const lesson::MapStyle style = lesson::MapStyle().px(320);
//   lesson::matrix_map(lesson::head(A, 0), "head 0", "n = 64", style.grid(8));
class MapStyle {
 public:
  MapStyle() {
    o_.xlabel = "key position j";
    o_.ylabel = "query position i";
    o_.value_label = "attention weight";
  }
  MapStyle xlabel(std::string s) const { return with([&](auto& o) { o.xlabel = std::move(s); }); }
  MapStyle ylabel(std::string s) const { return with([&](auto& o) { o.ylabel = std::move(s); }); }
  // The name of the colour scale ("logit", "weight change", ...).
  MapStyle value(std::string s) const { return with([&](auto& o) { o.value_label = std::move(s); }); }
  // Block-grid lines every `every` cells (a block size, a motif length); 0 = none.
  MapStyle grid(int every) const { return with([&](auto& o) { o.grid_every = every; }); }
  // The plot's longer side in pixels, about: 320 fits three panels side by side.
  MapStyle px(int target) const { return with([&](auto& o) { o.target_px = target; }); }
  // Blue-white-red on a range symmetric around 0, for signed data (logits, differences, biases).
  MapStyle diverging() const { return with([&](auto& o) { o.diverging = true; }); }
  // A fixed colour range instead of the data's min and max: to compare panels on one scale, or to cap a few
  // large weights that would wash out the rest.
  MapStyle range(float lo, float hi) const { return with([&](auto& o) { o.vmin = lo, o.vmax = hi; }); }
  const plot::HeatmapOptions& options() const { return o_; }

 private:
  template <class F>
  MapStyle with(F&& change) const {
    MapStyle copy = *this;
    change(copy.o_);
    return copy;
  }
  plot::HeatmapOptions o_;
};

// A matrix as a heatmap with a title and a subtitle. m is (rows, cols), or any tensor whose axes before the
// last two all have size 1, such as a (1, 1, n, n) attention matrix (pick one head of a larger one with head()).
inline plot::Image matrix_map(const Tensor& m, const std::string& title, const std::string& subtitle,
                                     const MapStyle& style = MapStyle()) {
  AZ_CHECK(m.dim() >= 2, "matrix_map: wants a matrix, got ", m.shape());
  const int64_t rows = m.size(-2), cols = m.size(-1);
  AZ_CHECK(m.numel() == rows * cols, "matrix_map: axes before the last two must have size 1 (use head()), got ",
           m.shape());
  plot::HeatmapOptions o = style.options();
  o.title = title;
  o.subtitle = subtitle;
  return plot::heatmap(core::reshape(m, {rows, cols}), o);
}

// ---- errors ----------------------------------------------------------------------------------------------

namespace detail {
// The log of the last Lesson made in this process (DIR/NAME.log), so that report_error can add its line after
// the Lesson is gone: main's catch clause runs after main's locals, L among them, were destroyed.
inline std::string& current_log() {
  static std::string path;
  return path;
}

// A stream buffer that hands every character to two others, unbuffered: the terminal's (whose result counts)
// and the log file's. std::cout and std::cerr write through it while a Lesson lives.
class TeeBuf : public std::streambuf {
 public:
  TeeBuf(std::streambuf* screen, std::streambuf* file) : screen_(screen), file_(file) {}

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    file_->sputc(static_cast<char>(c));
    return screen_->sputc(static_cast<char>(c));
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    file_->sputn(s, n);
    return screen_->sputn(s, n);
  }
  int sync() override {
    file_->pubsync();
    return screen_->pubsync();
  }

 private:
  std::streambuf* screen_;
  std::streambuf* file_;
};
}  // namespace detail

// What main's catch clause calls: one line "error: ..." on stderr (and at the end of the lesson's log, so the
// log of a run that stopped says why), and the exit status 2.
inline int report_error(const std::exception& e) {
  std::cout.flush();
  std::cerr << "error: " << e.what() << std::endl;
  if (!detail::current_log().empty()) std::ofstream(detail::current_log(), std::ios::app) << "error: " << e.what() << "\n";
  return 2;
}

// ---- the lesson ------------------------------------------------------------------------------------------

enum class Figure {
  deterministic,  // the same seed gives the same PNG bytes (heatmaps, training curves)
  timing,         // shows measured times: differs between runs
};

inline const char* figure_kind_name(Figure kind) {
  return kind == Figure::timing ? "timing" : "deterministic";
}

class Lesson {
 public:
  // Parses --quick, --seed N (or --seed=N), --out DIR (or --out=DIR), --help. Prints the usage and exits 0 on
  // --help; throws core::Error on anything else it does not know. Creates DIR/NAME/ and an empty manifest, and
  // starts DIR/NAME.log. DIR is `out`, or `out/quick` with --quick, so that a quick run never replaces the
  // full-size figures of `make run`.
  Lesson(int argc, char** argv, std::string name, uint64_t default_seed = 0)
      : name_(std::move(name)), seed_(default_seed) {
    const std::string program = argc > 0 ? argv[0] : name_;
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      std::string value;
      bool has_value = false;
      const auto eq = arg.find('=');
      if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_value = true;
      }
      auto take_value = [&]() -> std::string {
        if (has_value) return value;
        AZ_CHECK(i + 1 < argc, name_, ": ", arg, " needs a value (see --help)");
        return argv[++i];
      };
      if (arg == "--help" || arg == "-h") {
        std::cout << usage(program);
        std::exit(0);
      } else if (arg == "--quick") {
        AZ_CHECK(!has_value, name_, ": --quick takes no value");
        quick_ = true;
      } else if (arg == "--seed") {
        const std::string s = take_value();
        char* end = nullptr;
        const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
        AZ_CHECK(!s.empty() && s[0] != '-' && end && *end == '\0', name_, ": --seed wants a non-negative integer, got '",
                 s, "'");
        seed_ = static_cast<uint64_t>(v);
      } else if (arg == "--solution" || arg == "--wrong-answer") {
        AZ_CHECK(!has_value, name_, ": ", arg, " takes no value");
        AZ_CHECK(answer_ == Answer::yours, name_, ": --solution and --wrong-answer exclude each other");
        answer_ = arg == "--solution" ? Answer::solution : Answer::wrong;
      } else if (arg == "--out") {
        out_ = take_value();
        AZ_CHECK(!out_.empty(), name_, ": --out wants a directory");
        out_given_ = true;
      } else {
        AZ_FAIL(name_, ": unknown option '", argv[i], "' (options: --quick --seed N --out DIR --solution --wrong-answer --help)");
      }
    }
    if (quick_ && !out_given_) out_ = "out/quick";
    dir_ = (std::filesystem::path(out_) / name_).string();
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    AZ_CHECK(!ec, name_, ": cannot create the output directory ", dir_, ": ", ec.message());
    write_manifest();
    open_log();
    std::cout << "# " << name_ << "   (seed " << seed_ << (quick_ ? ", quick" : "") << ", figures in " << dir_
              << "/, log in " << log_path_ << ")\n";
    std::cout.flush();
  }

  // The log copies what the lesson prints; it stops when the Lesson is destroyed (at the end of main).
  ~Lesson() {
    std::cout.flush();
    std::cerr.flush();
    if (old_cout_) std::cout.rdbuf(old_cout_);
    if (old_cerr_) std::cerr.rdbuf(old_cerr_);
  }
  Lesson(const Lesson&) = delete;
  Lesson& operator=(const Lesson&) = delete;

  const std::string& name() const { return name_; }
  bool quick() const { return quick_; }
  uint64_t seed() const { return seed_; }
  const std::string& dir() const { return dir_; }  // DIR/NAME
  const std::string& log_path() const { return log_path_; }  // DIR/NAME.log
  double elapsed() const { return clock_.seconds(); }
  // A generator for one purpose of the lesson: rng(0) for the data, rng(1) for the weights, ... Different
  // streams give unrelated numbers; the same (seed, stream) always gives the same ones.
  core::Rng rng(uint64_t stream = 0) const { return core::Rng(seed_ * 1000003ULL + stream); }

  // A section header: a blank line, then "## title".
  void step(const std::string& title) {
    std::cout << "\n## " << title << "\n";
    std::cout.flush();
  }

  // A line of narration; the parts are concatenated like str(...).
  template <class... Parts>
  void say(const Parts&... parts) {
    std::cout << str(parts...) << "\n";
    std::cout.flush();
  }

  // "label", then the shape and the values in aligned columns (see tensor_str).
  void print(const std::string& label, const Tensor& t) {
    std::cout << label << ":\n" << tensor_str(t) << "\n";
    std::cout.flush();
  }

  // A self-check: prints "PASS  what  (detail)" or "FAIL  ...", remembers it for finish(), returns ok.
  bool check(const std::string& what, bool ok, const std::string& detail = "") {
    std::cout << (ok ? "PASS  " : "FAIL  ") << what;
    if (!detail.empty()) std::cout << "  (" << detail << ")";
    std::cout << "\n";
    std::cout.flush();
    ++checks_;
    if (ok) {
      ++passed_;
    } else {
      failed_.push_back(what);
    }
    return ok;
  }

  // check() that two tensors agree: max |a - b| <= tol (shapes must match).
  bool check_close(const std::string& what, const Tensor& a, const Tensor& b, float tol) {
    if (a.shape() != b.shape())
      return check(what, false, "shapes differ: " + core::shape_str(a.shape()) + " vs " + core::shape_str(b.shape()));
    const float diff = max_abs_diff(a, b);
    return check(what, diff <= tol, "max |diff| = " + sig(diff, 2) + ", tolerance " + sig(tol, 2));
  }

  // ---- exercises ----
  // Every lesson's EXERCISE block fills an answer (a struct of the lesson's own); its reference solution and a
  // known-wrong answer live in lessons/solutions/<lesson name>.h. exercise() returns the one this run uses:
  // yours by default, the solution with --solution, the wrong one with --wrong-answer, and says which.
  template <class T>
  T exercise(T yours, T solution, T wrong) {
    const std::string file = "lessons/solutions/" + name_ + ".h";
    if (answer_ == Answer::solution) {
      std::cout << "(--solution: running the reference solution of " << file << ", not your EXERCISE block)\n";
      return solution;
    }
    if (answer_ == Answer::wrong) {
      std::cout << "(--wrong-answer: running the known-wrong answer of " << file
                << "; the exercise's checks below should FAIL and say why)\n";
      return wrong;
    }
    std::cout << "(your EXERCISE block; a reference solution: --solution, or read " << file << ")\n";
    return yours;
  }

  // A check of the learner's answer: "PASS  exercise: what" or "FAIL  exercise: what — why", where `why` says,
  // in the learner's terms, what is wrong with the answer (printed only when it fails).
  bool exercise_check(const std::string& what, bool ok, const std::string& detail, const std::string& why) {
    return check("exercise: " + what, ok, ok ? detail : detail + (detail.empty() ? "" : "; ") + why);
  }

  // Write img to DIR/NAME/file, announce it, and list it in the manifest. `caption` says what the picture
  // shows and what to look for in it.
  std::string show(const plot::Image& img, const std::string& file, const std::string& caption,
                   Figure kind = Figure::deterministic) {
    AZ_CHECK(file.find('/') == std::string::npos && file.find('\t') == std::string::npos, name_,
             ": show wants a plain file name, got '", file, "'");
    const std::string path = (std::filesystem::path(dir_) / file).string();
    plot::save_png(img, path);
    bool replaced = false;
    for (auto& f : figures_) {
      if (f.file == file) {
        f = {file, kind, caption};
        replaced = true;
      }
    }
    if (!replaced) figures_.push_back({file, kind, caption});
    write_manifest();
    std::cout << "[figure] " << path << " — " << caption << "\n";
    std::cout.flush();
    return path;
  }

  // The closing summary and the machine-readable RESULT line. Returns the exit status: 0 if every check
  // passed (and there was at least one), 1 otherwise.
  int finish() {
    const bool ok = checks_ > 0 && passed_ == checks_;
    std::cout << "\n## Summary\n";
    std::cout << passed_ << " of " << checks_ << " checks passed, " << figures_.size() << " figures in " << dir_
              << "/, " << fixed(elapsed(), 1) << " s\n";
    for (const auto& f : failed_) std::cout << "FAILED: " << f << "\n";
    if (checks_ == 0) std::cout << "FAILED: the lesson made no checks\n";
    std::cout << "RESULT " << name_ << " checks=" << passed_ << "/" << checks_ << " files=" << figures_.size()
              << " status=" << (ok ? "PASS" : "FAIL") << std::endl;
    return ok ? 0 : 1;
  }

 private:
  struct FigureEntry {
    std::string file;
    Figure kind;
    std::string caption;
  };

  static std::string usage(const std::string& program) {
    return "usage: " + program +
           " [--quick] [--seed N] [--out DIR]\n"
           "  --quick     smaller sizes and fewer repetitions (for tests): a few seconds\n"
           "  --seed N    seed of every random number in the lesson (default 0)\n"
           "  --out DIR   where the figures go: DIR/<lesson name>/*.png and manifest.tsv, and the log of\n"
           "              this run: DIR/<lesson name>.log (default out; out/quick with --quick)\n"
           "  --solution      run the EXERCISE with its reference solution (lessons/solutions/<lesson name>.h)\n"
           "                  instead of your EXERCISE block\n"
           "  --wrong-answer  run it with a known-wrong answer, to see how the exercise's check catches it\n"
           "  --help      this text\n"
           "Exit status: 0 all self-checks passed, 1 a check failed, 2 an error.\n";
  }

  // DIR/NAME.log, started afresh: from here on std::cout and std::cerr also write into it (detail::TeeBuf).
  void open_log() {
    log_path_ = (std::filesystem::path(out_) / (name_ + ".log")).string();
    log_.open(log_path_, std::ios::binary | std::ios::trunc);
    AZ_CHECK(log_.good(), name_, ": cannot write ", log_path_);
    detail::current_log() = log_path_;
    std::cout.flush();
    std::cerr.flush();
    cout_tee_ = std::make_unique<detail::TeeBuf>(std::cout.rdbuf(), log_.rdbuf());
    cerr_tee_ = std::make_unique<detail::TeeBuf>(std::cerr.rdbuf(), log_.rdbuf());
    old_cout_ = std::cout.rdbuf(cout_tee_.get());
    old_cerr_ = std::cerr.rdbuf(cerr_tee_.get());
  }

  // Rewritten after every figure, so that a lesson that stops half-way still leaves a correct manifest.
  void write_manifest() const {
    const std::string path = (std::filesystem::path(dir_) / "manifest.tsv").string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    AZ_CHECK(out.good(), name_, ": cannot write ", path);
    out << "file\tkind\tcaption\n";
    for (const auto& f : figures_) {
      std::string caption = f.caption;
      std::replace(caption.begin(), caption.end(), '\t', ' ');
      std::replace(caption.begin(), caption.end(), '\n', ' ');
      out << f.file << "\t" << figure_kind_name(f.kind) << "\t" << caption << "\n";
    }
    AZ_CHECK(out.good(), name_, ": cannot write ", path);
  }

  enum class Answer { yours, solution, wrong };

  std::string name_;
  Answer answer_ = Answer::yours;
  bool quick_ = false;
  uint64_t seed_ = 0;
  std::string out_ = "out";
  bool out_given_ = false;
  std::string dir_;
  std::string log_path_;
  std::ofstream log_;  // declared before the tees that write into it, so it outlives them
  std::unique_ptr<detail::TeeBuf> cout_tee_, cerr_tee_;
  std::streambuf* old_cout_ = nullptr;
  std::streambuf* old_cerr_ = nullptr;
  int checks_ = 0, passed_ = 0;
  std::vector<std::string> failed_;
  std::vector<FigureEntry> figures_;
  core::Stopwatch clock_;
};

}  // namespace lesson
