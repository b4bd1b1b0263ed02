// cli/files.h — tensors in and out of a command, and the rule that bad input writes nothing: outputs are
// checked before any work, and written all together or not at all.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace cli {

// Throws unless every value is finite; `what` names the tensor in the message.
void check_finite(const core::Tensor& t, const std::string& what);
// A (B, H, n, d) float32 tensor from `path`; `role` ("q", "k", ...) names it in errors.
core::Tensor load_bhnd(const std::string& path, const std::string& role);

// A directory the command will create (with its parents) or fill: it must not be an existing file, and the nearest
// existing ancestor must be a directory we may write. Checked before any work is done, so that a typo in a path
// fails at once rather than after minutes of training or benchmarking.
void check_output_dir(const std::string& dir, const std::string& who);
// A file the command will write: not an existing directory or special file (a device, a FIFO: replacing one would
// destroy it), in a directory we may write — one that exists, or with make_parent, one that can be made (`show`
// makes out/show/). `option` names the option in the error.
void check_output_file(const std::string& path, const std::string& option, bool make_parent = false);


// All files a command will write, collected while computing and written together at the end: each one first to
// a temporary name beside it; once every one is written, they are moved into place. A file that a target would
// replace is first moved aside and put back if a later step fails, so a failure at any point leaves every target
// as it was: all outputs or none.
class PendingFiles {
 public:
  void add(const std::string& path, const core::Tensor& t) { files_.push_back({path, t}); }
  void make_directory(const std::string& dir) { dir_ = dir; }
  // Writes every file (and the directory, if one was named); on any failure puts everything back as it was and
  // throws core::Error "cannot write PATH, so no output was written (...)".
  void write_all();

  const std::vector<std::pair<std::string, core::Tensor>>& files() const { return files_; }

 private:
  std::vector<std::pair<std::string, core::Tensor>> files_;
  std::string dir_;
};

}  // namespace cli
