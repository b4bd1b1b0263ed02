// cli/args.cpp — parsing the words of a command line (cli/args.h).
#include "cli/args.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/error.h"
#include "lra/train.h"  // ProgressMode

namespace cli {

Args parse_args(const std::string& command, const std::vector<std::string>& words,
                const std::vector<OptionSpec>& spec) {
  Args args;
  args.command = command;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--help" || w == "-h") throw HelpRequested{};
    if (w.size() < 2 || w.compare(0, 2, "--") != 0 || w == "--") {
      AZ_CHECK(w.empty() || w[0] != '-' || w == "-", command, ": unknown option ", w, " (see attnzoo help)");
      args.positional.push_back(w);
      continue;
    }
    // --name value, or --name=value
    std::string name = w.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = std::find_if(spec.begin(), spec.end(), [&](const OptionSpec& s) { return s.name == name; });
    AZ_CHECK(it != spec.end(), command, ": unknown option --", name, " (see attnzoo help)");
    AZ_CHECK(it->repeatable || !args.has(name), command, ": option --", name, " is given twice");
    if (!it->takes_value) {
      AZ_CHECK(!inline_value, command, ": option --", name, " takes no value");
      args.flags.insert(name);
      continue;
    }
    if (!inline_value) {
      // A following "--word" is the next option, not this one's value: `--out --causal` lacks the file name.
      AZ_CHECK(i + 1 < words.size() && words[i + 1].compare(0, 2, "--") != 0, command, ": option --", name,
               " needs a value");
      value = words[++i];
    }
    AZ_CHECK(!value.empty(), command, ": option --", name, " needs a non-empty value");
    args.values[name].push_back(value);
  }
  return args;
}

int64_t parse_int(const Args& args, const std::string& option, int64_t fallback, int64_t lo, int64_t hi,
                  const std::string& why_limit) {
  if (!args.has(option)) return fallback;
  const std::string s = args.get(option);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  AZ_CHECK(end && *end == '\0' && errno == 0, args.command, ": --", option, " '", s, "' is not an integer");
  AZ_CHECK(v >= lo, args.command, ": --", option, " ", v, " is too small (at least ", lo, ")");
  AZ_CHECK(v <= hi, args.command, ": --", option, " ", v, " is too large (at most ", hi, why_limit, ")");
  return v;
}

uint64_t parse_seed(const Args& args) {
  if (!args.has("seed")) return 0;
  const std::string s = args.get("seed");
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  AZ_CHECK(!s.empty() && s[0] != '-' && end && *end == '\0' && errno == 0, args.command, ": --seed '", s,
           "' is not a non-negative integer");
  return v;
}

std::string scheme_name(const Args& args) {
  AZ_CHECK(!args.positional.empty(), args.command, ": which scheme? (usage: attnzoo ", args.command,
           " SCHEME ...; `attnzoo list` shows them)");
  AZ_CHECK(args.positional.size() == 1, args.command, ": unexpected argument '", args.positional[1],
           "' (only one scheme name is expected)");
  return args.positional[0];
}

double parse_float(const Args& args, const std::string& option, double fallback, double lo, double hi) {
  if (!args.has(option)) return fallback;
  const std::string s = args.get(option);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  AZ_CHECK(end && *end == '\0' && errno == 0 && std::isfinite(v), args.command, ": --", option, " '", s,
           "' is not a number");
  AZ_CHECK(v >= lo && v <= hi, args.command, ": --", option, " ", s, " is outside [", lo, ", ", hi, "]");
  return v;
}

std::vector<int64_t> parse_int_list(const Args& args, const std::string& option, std::vector<int64_t> fallback,
                                    int64_t lo, int64_t hi) {
  if (!args.has(option)) return fallback;
  std::vector<int64_t> out;
  std::stringstream ss(args.get(option));
  for (std::string item; std::getline(ss, item, ',');) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    AZ_CHECK(!item.empty() && end && *end == '\0' && errno == 0, args.command, ": --", option, " '", args.get(option),
             "' is not a comma-separated list of integers");
    AZ_CHECK(v >= lo && v <= hi, args.command, ": --", option, " value ", v, " is outside [", lo, ", ", hi, "]");
    out.push_back(v);
  }
  AZ_CHECK(!out.empty(), args.command, ": --", option, " is empty");
  return out;
}

void only_options(const Args& args, const std::set<std::string>& allowed, const std::string& who) {
  for (const auto& kv : args.values)
    AZ_CHECK(allowed.count(kv.first), who, ": option --", kv.first, " does not apply here (see attnzoo help)");
  for (const std::string& f : args.flags)
    AZ_CHECK(allowed.count(f), who, ": option --", f, " does not apply here (see attnzoo help)");
}

lra::ProgressMode parse_progress(const Args& args, const std::string& who) {
  const std::string m = args.get("progress", "auto");
  if (m == "auto") return lra::ProgressMode::Auto;
  if (m == "bar") return lra::ProgressMode::Bar;
  if (m == "lines") return lra::ProgressMode::Lines;
  if (m == "quiet") return lra::ProgressMode::Quiet;
  AZ_FAIL(who, ": --progress '", m, "': expected bar, lines, quiet or auto");
}

}  // namespace cli
