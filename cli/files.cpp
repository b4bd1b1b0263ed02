// cli/files.cpp — tensors in and out, output checks, all-or-nothing writes (cli/files.h).
#include "cli/files.h"

#include <unistd.h>  // getpid (temporary file names), access (writable?)

#include <filesystem>

#include "core/error.h"
#include "core/npy.h"

namespace cli {

namespace fs = std::filesystem;
using core::Shape;
using core::Tensor;

namespace {

// "(0,1,2,3)" for flat index i of a tensor of this shape.
std::string index_str(const Shape& shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (size_t a = shape.size(); a-- > 0;) {
    idx[a] = flat % shape[a];
    flat /= shape[a];
  }
  std::string s = "(";
  for (size_t a = 0; a < idx.size(); ++a) s += (a ? "," : "") + std::to_string(idx[a]);
  return s + ")";
}

// The nearest ancestor of `p` that exists (p itself if it exists).
fs::path existing_ancestor(fs::path p) {
  std::error_code ec;
  p = fs::absolute(p, ec).lexically_normal();
  while (!fs::exists(p, ec) && p.has_relative_path()) p = p.parent_path();
  return p;
}

}  // namespace

void check_finite(const Tensor& t, const std::string& what) {
  const int64_t i = core::first_non_finite(t.data(), t.numel());
  AZ_CHECK(i < 0, what, " has a non-finite value (", t.data()[i], ") at ", index_str(t.shape(), i));
}

Tensor load_bhnd(const std::string& path, const std::string& role) {
  Tensor t = core::npy::load(path);
  AZ_CHECK(t.dim() == 4, "--", role, " ", path, ": ", role, " must be (B, H, n, d), got shape ", t.shape());
  AZ_CHECK(t.numel() > 0, "--", role, " ", path, ": ", role, " is empty, shape ", t.shape());
  check_finite(t, "--" + role + " " + path);
  return t;
}

void check_output_dir(const std::string& dir, const std::string& who) {
  std::error_code ec;
  AZ_CHECK(!fs::exists(dir, ec) || fs::is_directory(dir, ec), who, ": --out ", dir, " exists and is not a directory");
  const fs::path base = existing_ancestor(dir);
  AZ_CHECK(fs::is_directory(base, ec), who, ": --out ", dir, ": ", base.string(),
           " is a file, so no directory can be made under it");
  AZ_CHECK(::access(base.c_str(), W_OK | X_OK) == 0, who, ": --out ", dir, ": directory ", base.string(),
           " is not writable");
}

void check_output_file(const std::string& path, const std::string& option, bool make_parent) {
  const fs::path p(path);
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(p, ec);
  AZ_CHECK(!fs::is_directory(fs::status(p, ec)), "--", option, " ", path, " is a directory, expected a file name");
  AZ_CHECK(!fs::exists(st) || fs::is_regular_file(st) || fs::is_symlink(st), "--", option, " ", path,
           " exists and is not a regular file; give a file name");
  const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  AZ_CHECK(make_parent || fs::is_directory(parent, ec), "--", option, " ", path, ": directory ", parent.string(),
           " does not exist");
  const fs::path base = existing_ancestor(parent);
  AZ_CHECK(fs::is_directory(base, ec), "--", option, " ", path, ": ", base.string(),
           " is a file, so it cannot hold a directory");
  AZ_CHECK(::access(base.c_str(), W_OK | X_OK) == 0, "--", option, " ", path, ": directory ", base.string(),
           " is not writable");
}

void PendingFiles::write_all() {
  const std::string pid = std::to_string(static_cast<long long>(::getpid()));
  bool made_dir = false;
  std::vector<std::string> temps, backups;  // backups[i]: where target i's old file went ("" = there was none)
  size_t placed = 0;                        // targets 0..placed-1 hold their new files
  std::string failed;                       // which target failed, for the message
  try {
    if (!dir_.empty() && !fs::is_directory(dir_)) made_dir = fs::create_directories(dir_);
    for (const auto& [path, tensor] : files_) {
      failed = path;
      std::error_code ec;  // the command checked its outputs first, but the disk may have changed since
      const fs::file_status st = fs::symlink_status(path, ec);
      AZ_CHECK(!fs::exists(st) || fs::is_regular_file(st) || fs::is_symlink(st), path, " is not a regular file");
      temps.push_back(path + ".partial." + pid + ".npy");
      core::npy::save(temps.back(), tensor);
    }
    for (const auto& file : files_) {
      failed = file.first;
      backups.push_back(fs::exists(fs::symlink_status(file.first)) ? file.first + ".previous." + pid : "");
      if (!backups.back().empty()) fs::rename(file.first, backups.back());
    }
    for (; placed < files_.size(); ++placed) {
      failed = files_[placed].first;
      fs::rename(temps[placed], files_[placed].first);
    }
  } catch (const std::exception& e) {
    std::error_code ec;
    for (size_t i = 0; i < placed; ++i) fs::remove(files_[i].first, ec);
    for (size_t i = 0; i < backups.size(); ++i)
      if (!backups[i].empty()) fs::rename(backups[i], files_[i].first, ec);
    for (const std::string& t : temps) fs::remove(t, ec);
    if (made_dir) fs::remove(dir_, ec);  // only removes it if empty
    AZ_FAIL("cannot write ", failed, ", so no output was written (", e.what(), ")");
  }
  std::error_code ec;
  for (const std::string& b : backups)
    if (!b.empty()) fs::remove(b, ec);
}

}  // namespace cli
