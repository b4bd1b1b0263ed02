// lra/files.cpp — see files.h.
#include "lra/files.h"

#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <sstream>

#include "core/error.h"

namespace lra::files {

namespace fs = std::filesystem;

void write_atomically(const std::string& path, const std::string& bytes, const std::string& who) {
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  core::write_file_atomically(path, bytes, who);
}

std::string read_all(const std::string& path, const std::string& who, int64_t max_bytes) {
  std::error_code ec;
  AZ_CHECK(fs::exists(path, ec), who, ": missing ", printable(path));
  ByteReader in(path, who);
  std::string out;
  // Byte by byte through the reader's buffer: simple, and the string never holds more than max_bytes.
  for (int c; (max_bytes < 0 || static_cast<int64_t>(out.size()) < max_bytes) && (c = in.get()) >= 0;)
    out += static_cast<char>(c);
  return out;
}

ByteReader::ByteReader(const std::string& path, const std::string& who) : path_(path), who_(who), buf_(1 << 16) {
  do {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) AZ_FAIL(who, ": cannot open ", printable(path), ": ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd_);
    AZ_FAIL(who, ": ", printable(path), " is a directory, expected a file");
  }
}

ByteReader::~ByteReader() { ::close(fd_); }

bool ByteReader::refill() {
  for (;;) {
    const ssize_t r = ::read(fd_, buf_.data(), buf_.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) AZ_FAIL(who_, ": cannot read ", printable(path_), ": ", std::strerror(errno));
    pos_ = 0;
    end_ = static_cast<size_t>(r);
    return r > 0;
  }
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> fields(1);
  for (char c : line) {
    if (c == sep) fields.emplace_back();
    else fields.back() += c;
  }
  return fields;
}

std::string clip(const std::string& s) {
  std::string out = printable(s.substr(0, 40));
  if (s.size() > 40) out += "...";
  return out;
}

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_num(double v, int precision) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream s;
  s << std::setprecision(precision) << v;
  return s.str();
}

}  // namespace lra::files
