// lra/progress.cpp — see progress.h.
#include "lra/progress.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace lra {

ProgressLine::ProgressLine(ProgressMode mode, std::ostream* out, std::string label, int64_t total, int64_t every)
    : label_(std::move(label)), total_(total), every_(std::max<int64_t>(1, every)), out_(out ? out : &std::cout),
      mode_(mode) {
  if (mode_ == ProgressMode::Auto)
    mode_ = (out_ == &std::cout && ::isatty(STDOUT_FILENO)) ? ProgressMode::Bar : ProgressMode::Lines;
}

void ProgressLine::update(int64_t step, const std::string& text, bool evaluated) {
  if (!shows(step, evaluated)) return;
  std::string line = (label_.empty() ? "" : label_ + "  ") + text;
  if (mode_ == ProgressMode::Bar) {
    // pad to the previous length so that a shorter line leaves nothing behind
    const size_t len = line.size();
    if (line.size() < last_len_) line += std::string(last_len_ - line.size(), ' ');
    last_len_ = len;
    *out_ << "\r" << line << std::flush;
    open_ = true;
  } else {
    *out_ << line << std::endl;
  }
}

void ProgressLine::note(const std::string& text) {
  if (mode_ == ProgressMode::Quiet) return;
  finish();
  *out_ << (label_.empty() ? "" : label_ + "  ") << text << std::endl;
}

void ProgressLine::finish() {
  if (open_) *out_ << "\n" << std::flush;
  open_ = false;
  last_len_ = 0;
}

}  // namespace lra
