// lra/files.h — small file helpers shared by the LRA task loaders and writers (not a public API).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace lra::files {

// Writes `bytes` to a temporary file beside `path` and renames it over `path`, creating missing parent
// directories, so `path` is never half written. Throws core::Error "WHO: cannot write PATH" on failure.
void write_atomically(const std::string& path, const std::string& bytes, const std::string& who);
// The whole file, or its first max_bytes bytes when max_bytes >= 0 (a loader that keeps only max_len bytes of a
// document reads no more than that, whatever the file's size). Throws core::Error "WHO: cannot open PATH" (or
// "missing PATH" when it does not exist, "PATH is a directory, expected a file").
std::string read_all(const std::string& path, const std::string& who, int64_t max_bytes = -1);

// A file read one byte at a time through a 64 KiB buffer: for loaders that tokenise while reading, so that their
// memory is what they keep, not the size of a line or a file. Works on regular files, pipes and devices.
// Throws core::Error "WHO: cannot open PATH: reason", "WHO: PATH is a directory, expected a file",
// "WHO: cannot read PATH: reason".
class ByteReader {
 public:
  ByteReader(const std::string& path, const std::string& who);
  ~ByteReader();
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;
  // The next byte (0..255), or -1 at the end of the file.
  int get() {
    if (pos_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(buf_[pos_++]);
  }

 private:
  bool refill();
  std::string path_, who_;
  int fd_ = -1;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
};

using core::printable;  // `s` escaped for a one-line message (core/error.h)
// Fields between `sep` characters (n separators give n + 1 fields; no quoting).
std::vector<std::string> split(const std::string& line, char sep);
// At most 40 bytes of `s` for an error message, with "..." when cut, escaped as printable() does.
std::string clip(const std::string& s);
// A JSON string literal of `s` (quotes, backslashes and control characters escaped).
std::string json_str(const std::string& s);
// A JSON number with `precision` significant digits, or null when v is not finite.
std::string json_num(double v, int precision = 6);

}  // namespace lra::files
