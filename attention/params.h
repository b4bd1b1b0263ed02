// attention/params.h — a scheme's hyperparameters, declared once: a table that binds each key to a member of the
// scheme's options struct, with its range and its help. The one table gives
//   - the `attnzoo list` text (the defaults are read from a default-constructed options struct: never written twice),
//   - the parser (text -> member), with the range checks in one place, run when the settings are given
//     (Scheme::configure), so a bad value is refused before any work.
//
// A scheme file writes, e.g.
//   const ParamTable<LongformerOptions>& longformer_params() {
//     static const auto table = ParamTable<LongformerOptions>("longformer")
//         .integer("window", &LongformerOptions::window, 1, kNoLimit, "w: the keys on either side ...")
//         .integers("global", &LongformerOptions::global, 0, kNoLimit, "positions of global tokens ...");
//     return table;
//   }
// and reads its options with `longformer_params().read(cfg.settings)`.
//
// Settings are key=value strings (the CLI's --set, LayerConfig::set); Settings checks them against the table's
// HyperParams and fills in the defaults.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"

namespace attention {

// One documented hyperparameter: key, default value (as text), what it means, the values it accepts (as text), and
// a check that throws core::Error ("SCHEME: setting KEY=VALUE ...") for a value outside them.
struct HyperParam {
  std::string key;
  std::string default_value;
  std::string help;
  std::string accepts = "";  // e.g. "integer >= 1", "number in (0, 1]", "true | false", "strided | fixed"
  std::function<void(const std::string& scheme, const std::string& value)> check = nullptr;  // empty = any text
};

// key=value settings checked against a scheme's HyperParams, with defaults filled in.
// Unknown keys, keys given twice and values a parameter does not accept throw core::Error naming the scheme and
// the key.
class Settings {
 public:
  Settings() = default;
  Settings(const std::string& scheme, const std::vector<HyperParam>& spec,
           const std::vector<std::string>& assignments);  // {"window=32", "global=0,1"}
  std::string get(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;                      // true/false/1/0/yes/no
  std::vector<int64_t> get_int_list(const std::string& key) const;  // "0,1,5" ; "" -> {}
  const std::string& scheme() const { return scheme_; }
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::string scheme_;
  std::map<std::string, std::string> values_;
};

// A preset overlaid with the settings a user gave: the preset's key=value items whose key the user did not give,
// then the user's, in order ({"window=64", "dilation=1"} + {"window=16"} -> {"dilation=1", "window=16"}).
// The result is checked by Settings like any list.
std::vector<std::string> overlay_settings(const std::vector<std::string>& preset, const std::vector<std::string>& given);

// The parsers behind Settings and ParamTable: one-line errors "SCHEME: setting KEY='TEXT' is not ...".
int64_t parse_int(const std::string& scheme, const std::string& key, const std::string& text);
double parse_number(const std::string& scheme, const std::string& key, const std::string& text);
bool parse_bool(const std::string& scheme, const std::string& key, const std::string& text);
std::vector<int64_t> parse_int_list(const std::string& scheme, const std::string& key, const std::string& text);
// A number as short as it can be written and read back the same ("0.75", "1e-6"); as_float: read back as a float
// (a float member's 1e-12f is "1e-12", not "9.9999999600419720e-13").
std::string format_number(double v, bool as_float = false);

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

// An interval of real numbers; open ends exclude the bound. text() = "in (0, 1]", "> 0", ">= 0".
struct Interval {
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;
  bool contains(double v) const;
  std::string text() const;
};
inline Interval above(double lo) { return {lo, std::numeric_limits<double>::infinity(), true, false}; }
inline Interval closed(double lo, double hi) { return {lo, hi, false, false}; }
inline Interval open_closed(double lo, double hi) { return {lo, hi, true, false}; }
inline Interval closed_open(double lo, double hi) { return {lo, hi, false, true}; }

// "integer >= 1", "integer in [1, 64]" for an integer range.
std::string integer_range_text(int64_t lo, int64_t hi);
// Throws "SCHEME: setting KEY=V is out of range: it must be ..." unless lo <= v <= hi.
void check_integer_range(const std::string& scheme, const std::string& key, int64_t v, int64_t lo, int64_t hi);

// The table of one scheme's hyperparameters, bound to the members of its options struct O (default-constructible;
// its default member values are the defaults shown and used).
template <class O>
class ParamTable {
 public:
  explicit ParamTable(std::string scheme) : scheme_(std::move(scheme)) {}

  // An integer in [lo, hi].
  ParamTable& integer(const std::string& key, int64_t O::*member, int64_t lo, int64_t hi, const std::string& help) {
    return add(key, std::to_string(O{}.*member), help, integer_range_text(lo, hi),
               [=](const std::string& scheme, const std::string& text, O& o) {
                 const int64_t v = parse_int(scheme, key, text);
                 check_integer_range(scheme, key, v, lo, hi);
                 o.*member = v;
               });
  }
  // An integer in [lo, hi], or the word `auto` (stored as 0: the scheme works the value out from n).
  ParamTable& integer_or_auto(const std::string& key, int64_t O::*member, int64_t lo, int64_t hi,
                              const std::string& help) {
    const int64_t d = O{}.*member;
    return add(key, d == 0 ? "auto" : std::to_string(d), help, "auto | " + integer_range_text(lo, hi),
               [=](const std::string& scheme, const std::string& text, O& o) {
                 if (text == "auto") {
                   o.*member = 0;
                   return;
                 }
                 const int64_t v = parse_int(scheme, key, text);
                 check_integer_range(scheme, key, v, lo, hi);
                 o.*member = v;
               });
  }
  // A comma-separated list of integers, each in [lo, hi], with at least min_items of them and none twice.
  ParamTable& integers(const std::string& key, std::vector<int64_t> O::*member, int64_t lo, int64_t hi,
                       size_t min_items, const std::string& help) {
    const O defaults{};  // (a named object: a range-for over a temporary's member would dangle)
    std::string d;
    for (int64_t x : defaults.*member) d += (d.empty() ? "" : ",") + std::to_string(x);
    const std::string accepts = (min_items > 0 ? "list of " : "list (may be empty) of ") + integer_range_text(lo, hi);
    return add(key, d, help, accepts, [=](const std::string& scheme, const std::string& text, O& o) {
      const std::vector<int64_t> v = parse_int_list(scheme, key, text);
      AZ_CHECK(v.size() >= min_items, scheme, ": setting ", key, "='", text, "' must list at least ", min_items,
               " value", min_items == 1 ? "" : "s");
      for (int64_t x : v) check_integer_range(scheme, key, x, lo, hi);
      o.*member = v;
    });
  }
  // A real number in the interval (float or double member).
  template <class T>
  ParamTable& number(const std::string& key, T O::*member, Interval range, const std::string& help) {
    return add(key, format_number(static_cast<double>(O{}.*member), std::is_same<T, float>::value), help, "number " + range.text(),
               [=](const std::string& scheme, const std::string& text, O& o) {
                 const double v = parse_number(scheme, key, text);
                 AZ_CHECK(range.contains(v), scheme, ": setting ", key, "=", text, " is out of range: it must be ",
                          range.text());
                 o.*member = static_cast<T>(v);
               });
  }
  // true | false (also 1/0, yes/no).
  ParamTable& flag(const std::string& key, bool O::*member, const std::string& help) {
    return add(key, O{}.*member ? "true" : "false", help, "true | false",
               [=](const std::string& scheme, const std::string& text, O& o) {
                 o.*member = parse_bool(scheme, key, text);
               });
  }
  // One of named values; the text a user writes is the name the code uses for it.
  template <class E>
  ParamTable& choice(const std::string& key, E O::*member, const std::vector<std::pair<std::string, E>>& names,
                     const std::string& help) {
    std::string d, accepts;
    for (const auto& [name, value] : names) {
      if (value == O{}.*member) d = name;
      accepts += (accepts.empty() ? "" : " | ") + name;
    }
    return add(key, d, help, accepts, [=](const std::string& scheme, const std::string& text, O& o) {
      for (const auto& [name, value] : names)
        if (name == text) {
          o.*member = value;
          return;
        }
      AZ_FAIL(scheme, ": setting ", key, "='", text, "' is not one of ", accepts);
    });
  }

  // A check across keys (e.g. "summary <= stride"): throws core::Error naming the keys. Run by read().
  ParamTable& rule(std::function<void(const std::string& scheme, const O& o)> check) {
    rules_.push_back(std::move(check));
    return *this;
  }

  // For Settings and `attnzoo list`.
  const std::vector<HyperParam>& hyperparams() const { return params_; }
  // The options the settings give (defaults for keys not given), after the rules. Every single value was checked
  // when the settings were made.
  O read(const Settings& s) const {
    O o{};
    for (size_t i = 0; i < params_.size(); ++i) setters_[i](scheme_, s.get(params_[i].key), o);
    for (const auto& check : rules_) check(scheme_, o);
    return o;
  }

 private:
  using Setter = std::function<void(const std::string& scheme, const std::string& text, O& o)>;
  ParamTable& add(const std::string& key, const std::string& default_value, const std::string& help,
                  const std::string& accepts, Setter set) {
    HyperParam p{key, default_value, help, accepts, nullptr};
    p.check = [set](const std::string& scheme, const std::string& text) {
      O scratch{};
      set(scheme, text, scratch);
    };
    params_.push_back(std::move(p));
    setters_.push_back(std::move(set));
    return *this;
  }

  std::string scheme_;
  std::vector<HyperParam> params_;
  std::vector<Setter> setters_;
  std::vector<std::function<void(const std::string&, const O&)>> rules_;
};

}  // namespace attention
