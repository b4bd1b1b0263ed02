// cli/args.h — what every attnzoo command shares: its exit codes, parsing of `--option value` words, and
// numbers read from options with their ranges checked (errors name the command and the option).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace lra {
enum class ProgressMode;  // lra/train.h
}

namespace cli {

constexpr int kExitOk = 0;
constexpr int kExitBadInput = 2;

// Thrown for `attnzoo COMMAND --help`: main prints the usage and exits 0.
struct HelpRequested {};

struct OptionSpec {
  std::string name;  // without the leading "--"
  bool takes_value;  // --n 64 (or --n=64) versus a flag like --causal
  bool repeatable;   // --set key=value may be given many times
};

// The parsed arguments of one command: positional words, option values, flags.
struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // option -> its values, in order
  std::set<std::string> flags;

  bool has(const std::string& option) const { return values.count(option) || flags.count(option); }
  std::string get(const std::string& option, const std::string& fallback = "") const {
    auto it = values.find(option);
    return it == values.end() ? fallback : it->second.back();
  }
  std::vector<std::string> all(const std::string& option) const {
    auto it = values.find(option);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

// Splits `words` into positional words, option values and flags; throws core::Error naming `command` for an
// unknown option, a missing value or an option given twice (unless repeatable). `--help` throws HelpRequested.
Args parse_args(const std::string& command, const std::vector<std::string>& words,
                const std::vector<OptionSpec>& spec);

// "--n 64" -> 64, checked to lie in [lo, hi]; `why_limit` explains the upper limit in the error.
int64_t parse_int(const Args& args, const std::string& option, int64_t fallback, int64_t lo, int64_t hi,
                  const std::string& why_limit = "");
// "--lr 2e-3" -> 0.002, checked to lie in [lo, hi].
double parse_float(const Args& args, const std::string& option, double fallback, double lo, double hi);
// "1024,2048" -> {1024, 2048}, each in [lo, hi].
std::vector<int64_t> parse_int_list(const Args& args, const std::string& option, std::vector<int64_t> fallback,
                                    int64_t lo, int64_t hi);
// --seed S: a non-negative integer, 0 when not given.
uint64_t parse_seed(const Args& args);
// Refuses (core::Error "WHO: option --X does not apply here") any option or flag given that is not in `allowed`:
// for commands whose modes take different subsets of one option list (lra, lm).
void only_options(const Args& args, const std::set<std::string>& allowed, const std::string& who);
// --progress auto|bar|lines|quiet (default auto) for the commands that train.
lra::ProgressMode parse_progress(const Args& args, const std::string& who);
// The one SCHEME word after `show`/`run`.
std::string scheme_name(const Args& args);

}  // namespace cli
