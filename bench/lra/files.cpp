// bench/lra/files.cpp — see files.h.
#include "bench/lra/files.h"

#include <unistd.h>

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
  const fs::path tmp = target.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    AZ_CHECK(out.good(), who, ": cannot write ", path);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out.good()) {
      fs::remove(tmp, ec);
      AZ_FAIL(who, ": cannot write ", path);
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    AZ_FAIL(who, ": cannot write ", path);
  }
}

std::string read_all(const std::string& path, const std::string& who) {
  AZ_CHECK(fs::exists(path), who, ": missing ", path);
  AZ_CHECK(!fs::is_directory(path), who, ": ", path, " is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  AZ_CHECK(in.good(), who, ": cannot open ", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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
  std::string out;
  for (char c : s.substr(0, 40)) out += (static_cast<unsigned char>(c) < 32 || c == 127) ? '?' : c;
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
