// bench/lra/files.h — small file helpers shared by the LRA task loaders and writers (not a public API).
#pragma once

#include <string>
#include <vector>

namespace lra::files {

// Writes `bytes` to a temporary file beside `path` and renames it over `path`, creating missing parent
// directories, so `path` is never half written. Throws core::Error "WHO: cannot write PATH" on failure.
void write_atomically(const std::string& path, const std::string& bytes, const std::string& who);
// The whole file. Throws core::Error "WHO: cannot open PATH" (or "missing PATH" when it does not exist).
std::string read_all(const std::string& path, const std::string& who);
// Fields between `sep` characters (n separators give n + 1 fields; no quoting).
std::vector<std::string> split(const std::string& line, char sep);
// At most 40 characters of `s` for an error message, with "..." when cut, and control characters shown as '?'.
std::string clip(const std::string& s);
// A JSON string literal of `s` (quotes, backslashes and control characters escaped).
std::string json_str(const std::string& s);
// A JSON number with `precision` significant digits, or null when v is not finite.
std::string json_num(double v, int precision = 6);

}  // namespace lra::files
