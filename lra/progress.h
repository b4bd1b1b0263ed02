// lra/progress.h — the progress line of a training loop (the LRA trainer, lra/train.h, and the LM trainer,
// lm/train.h): one line rewritten in place on a terminal, plain lines in a file, a pipe or CI, or nothing.
//
//   lra::ProgressLine line(mode, &std::cout, "[3/28] linear listops", steps, /*every=*/25);
//   line.update(step, "step 100/1000  loss 0.693 ...", evaluated);   // the caller formats the text
//   line.note("test 61.2% ...");                                     // a line of its own, after the progress
//   line.finish();                                                   // ends an in-place line with a newline
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace lra {

enum class ProgressMode {
  Auto,   // Bar when the stream is std::cout and stdout is a terminal, else Lines
  Bar,    // one line rewritten in place with '\r' (and a final newline)
  Lines,  // a plain line every progress_every steps (default: every log row) and at every evaluation
  Quiet,  // nothing
};

class ProgressLine {
 public:
  // out: the stream (nullptr = std::cout); label: what every line starts with (may be empty); total: the last
  // step; every: in Lines mode, a line every `every` steps (and at every evaluation and the last step).
  ProgressLine(ProgressMode mode, std::ostream* out, std::string label, int64_t total, int64_t every);
  // Bar or Lines once Auto has been decided.
  ProgressMode mode() const { return mode_; }
  // Whether update(step, ..., evaluated) would show anything: callers skip formatting the text when not.
  bool shows(int64_t step, bool evaluated) const {
    return mode_ == ProgressMode::Bar ||
           (mode_ == ProgressMode::Lines && (step % every_ == 0 || evaluated || step == total_));
  }
  // Shows "label  text" for this step: in place (Bar), as a line when due (Lines), or not at all (Quiet).
  void update(int64_t step, const std::string& text, bool evaluated);
  // "label  text" on a line of its own (the in-place line, if any, is ended first).
  void note(const std::string& text);
  // Ends the in-place line with a newline, if one is open.
  void finish();

 private:
  std::string label_;
  int64_t total_, every_;
  std::ostream* out_;
  ProgressMode mode_;
  size_t last_len_ = 0;
  bool open_ = false;
};

}  // namespace lra
