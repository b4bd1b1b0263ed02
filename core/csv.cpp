// core/csv.cpp — see csv.h.
#include "core/csv.h"

namespace core {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';  // a quote inside quotes is doubled
    out += c;
  }
  return out + "\"";
}

std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  const size_t end = !line.empty() && line.back() == '\r' ? line.size() - 1 : line.size();
  bool quoted = false;
  for (size_t i = 0; i < end; ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < end && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

}  // namespace core
