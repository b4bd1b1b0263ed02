// attention/params.cpp — Settings (key=value strings checked against a scheme's table), the text parsers, and the
// range texts of attention/params.h.
#include "attention/params.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace attention {

// ---- parsers ----------------------------------------------------------------------------------------------
int64_t parse_int(const std::string& scheme, const std::string& key, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  AZ_CHECK(!text.empty() && end && *end == '\0' && errno == 0, scheme, ": setting ", key, "='", text,
           "' is not an integer");
  return v;
}

double parse_number(const std::string& scheme, const std::string& key, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  AZ_CHECK(!text.empty() && end && *end == '\0' && errno == 0 && std::isfinite(v), scheme, ": setting ", key, "='",
           text, "' is not a finite number");
  return v;
}

bool parse_bool(const std::string& scheme, const std::string& key, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  AZ_FAIL(scheme, ": setting ", key, "='", text, "' is not true/false");
}

std::vector<int64_t> parse_int_list(const std::string& scheme, const std::string& key, const std::string& text) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    AZ_CHECK(!item.empty() && end && *end == '\0' && errno == 0, scheme, ": setting ", key, "='", text,
             "' is not a comma-separated list of integers");
    out.push_back(v);
    start = comma + 1;
  }
  return out;
}

std::string format_number(double v, bool as_float) {
  char buf[64];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    const double back = std::strtod(buf, nullptr);
    if (as_float ? static_cast<float>(back) == static_cast<float>(v) : back == v) break;
  }
  std::string s = buf;
  for (const char* pad : {"e-0", "e+0"}) {  // 1e-06 -> 1e-6
    const size_t at = s.find(pad);
    if (at != std::string::npos) s.erase(at + 2, 1);
  }
  const size_t plus = s.find("e+");
  if (plus != std::string::npos) s.erase(plus + 1, 1);  // 1e+20 -> 1e20
  return s;
}

// ---- ranges -----------------------------------------------------------------------------------------------
bool Interval::contains(double v) const {
  const bool lo_ok = lo_open ? v > lo : v >= lo;
  const bool hi_ok = hi_open ? v < hi : v <= hi;
  return lo_ok && hi_ok;
}

std::string Interval::text() const {
  if (std::isinf(hi)) return std::string(lo_open ? "> " : ">= ") + format_number(lo);
  return std::string("in ") + (lo_open ? "(" : "[") + format_number(lo) + ", " + format_number(hi) +
         (hi_open ? ")" : "]");
}

std::string integer_range_text(int64_t lo, int64_t hi) {
  if (hi == kNoLimit) return "integer >= " + std::to_string(lo);
  return "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

void check_integer_range(const std::string& scheme, const std::string& key, int64_t v, int64_t lo, int64_t hi) {
  AZ_CHECK(v >= lo && v <= hi, scheme, ": setting ", key, "=", v, " is out of range: it must be ",
           hi == kNoLimit ? ">= " + std::to_string(lo) : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

// ---- Settings ---------------------------------------------------------------------------------------------
Settings::Settings(const std::string& scheme, const std::vector<HyperParam>& spec,
                   const std::vector<std::string>& assignments)
    : scheme_(scheme) {
  for (const HyperParam& p : spec) values_[p.key] = p.default_value;
  std::set<std::string> given;  // a key set twice is a mistake (which one was meant?), not "the last one wins"
  for (const std::string& a : assignments) {
    const size_t eq = a.find('=');
    AZ_CHECK(eq != std::string::npos && eq > 0, scheme, ": setting '", a, "' is not of the form key=value");
    const std::string key = a.substr(0, eq);
    if (!values_.count(key)) {
      std::string known;
      for (const HyperParam& p : spec) known += (known.empty() ? "" : ", ") + p.key;
      AZ_FAIL(scheme, ": unknown setting '", key, "' (", known.empty() ? "this scheme has no settings" : "known: " + known,
              ")");
    }
    AZ_CHECK(given.insert(key).second, scheme, ": setting '", key, "' is given twice (", key, "=",
             values_[key], " and ", a, "); give each setting once");
    values_[key] = a.substr(eq + 1);
  }
  for (const HyperParam& p : spec)  // every value, given or default, is one the parameter accepts
    if (p.check) p.check(scheme, values_[p.key]);
}

std::vector<std::string> overlay_settings(const std::vector<std::string>& preset,
                                          const std::vector<std::string>& given) {
  const auto key_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  std::set<std::string> given_keys;
  for (const std::string& kv : given) given_keys.insert(key_of(kv));
  std::vector<std::string> out;
  for (const std::string& kv : preset)
    if (!given_keys.count(key_of(kv))) out.push_back(kv);
  out.insert(out.end(), given.begin(), given.end());
  return out;
}

std::string Settings::get(const std::string& key) const {
  auto it = values_.find(key);
  AZ_CHECK(it != values_.end(), scheme_, ": no setting named '", key, "'");
  return it->second;
}

int64_t Settings::get_int(const std::string& key) const { return parse_int(scheme_, key, get(key)); }
double Settings::get_float(const std::string& key) const { return parse_number(scheme_, key, get(key)); }
bool Settings::get_bool(const std::string& key) const { return parse_bool(scheme_, key, get(key)); }
std::vector<int64_t> Settings::get_int_list(const std::string& key) const {
  return parse_int_list(scheme_, key, get(key));
}

}  // namespace attention
