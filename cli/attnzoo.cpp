// cli/attnzoo.cpp — the command-line tool over the scheme registry (attention/scheme.h).
//
// It lets you use every attention scheme of the course without writing C++:
//   attnzoo list                       what schemes exist, their hyperparameters, what each supports
//   attnzoo show SCHEME ...            draw the attention matrix a scheme applies (and its sparsity pattern)
//   attnzoo run SCHEME --q --k --v ... apply a scheme's kernel to your own .npy tensors (e.g. to cross-check
//                                      against NumPy/PyTorch), optionally with gradients
//   attnzoo lra TASK --scheme S ...    train a Transformer classifier with any scheme on a Long Range Arena task
//                                      (lra/train.h); `lra suite` is `make lra` (lra/suite.h)
//
// Legend: B = batch, H = heads, n = number of queries, m = number of keys, d = head size.
//   q: (B, H, n, d)   k, v: (B, H, m, d)   out: (B, H, n, d)   A: (B, H, n, m) with out == A @ v
//
// Error handling is part of the contract: bad input (a missing or malformed file, wrong shapes, an unknown
// scheme, option or setting) prints ONE line "attnzoo: <what is wrong>" to stderr and exits with status 2.
// Nothing is written in that case: every command computes all its results first and writes files last.
#include <unistd.h>  // getpid (temporary file names), access (writable?)

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "attention/benchmark.h"
#include "attention/scheme.h"
#include "lra/lra.h"
#include "lra/suite.h"
#include "lra/train.h"
#include "core/core.h"

namespace fs = std::filesystem;

namespace {

using attention::Scheme;
using core::Shape;
using core::Tensor;

constexpr int kExitOk = 0;
constexpr int kExitBadInput = 2;

// Limits of `show`: the effective attention is n×n per head, and every head becomes a panel of the figure.
constexpr int64_t kShowMaxN = 4096;
constexpr int64_t kShowMaxHeads = 16;
constexpr int64_t kShowMaxD = 4096;
// Limit of `run --save-attn/--save-mask`: an n×m matrix per head is materialised (2^28 floats = 1 GiB).
constexpr int64_t kMaxMatrixElements = int64_t(1) << 28;

const char* const kUsage = R"(attnzoo - efficient attention schemes from the command line

usage:
  attnzoo list
      every scheme: name, summary, paper, hyperparameters with defaults, and whether it
      supports causal masking, `run` and a sparsity pattern

  attnzoo show SCHEME [--n N] [--d D] [--heads H] [--causal] [--seed S] [--set key=value]... [--out FILE.png]
      draw the effective attention A of each head for random q, k, v ~ N(0,1) of shape (1, H, n, d),
      plus the 0/1 sparsity pattern where the scheme has one; prints the path of the PNG
      --n N            sequence length (default 64, at most 4096)
      --d D            head size (default 16)
      --heads H        number of heads (default 2, at most 16)
      --causal         query i may only look at keys j <= i
      --seed S         seed of q, k, v and of the scheme's random parts (default 0)
      --set key=value  a hyperparameter of the scheme (repeatable; see `attnzoo list`)
      --out FILE.png   where to write the figure (default out/show/SCHEME.png)

  attnzoo run SCHEME --q Q.npy --k K.npy --v V.npy --out O.npy [options]
      apply the scheme's kernel alone (no projections) to float32 C-order tensors
      q (B, H, n, d) and k, v (B, H, m, d); writes out (B, H, n, d)
      --causal            query i may only look at keys j <= i
      --seed S            seed of the scheme's random parts (default 0)
      --set key=value     a hyperparameter of the scheme (repeatable)
      --grad-out G.npy    backpropagate G (the shape of out) through the kernel, i.e. the gradients of
      --grads DIR           sum(out * G); writes DIR/dq.npy, DIR/dk.npy, DIR/dv.npy (both options together)
      --save-attn A.npy   the effective attention A (B, H, n, m): out == A @ v
      --save-mask M.npy   the 0/1 sparsity pattern (B, H, n, m), for schemes that have one

  attnzoo bench [--schemes a,b] [--n 1024,2048,4096] [--out DIR] [options]
      time and peak activation memory of each scheme's kernel, forward + backward, on random q, k, v
      of shape (B, H, n, d); one progress line per configuration; writes DIR/attention.csv, .md
      (with the fitted growth exponents) and .png (log-log time and memory vs n)
      --schemes a,b    which schemes (default: every scheme `run` accepts)
      --n 1024,2048    sequence lengths (default 1024,2048,4096)
      --out DIR        where to write (default out/bench)
      --batch B --heads H --d D   shape (default 1, 4, 64)
      --causal         measure the causal variants (schemes without one are skipped)
      --repeats R      timed runs per point, median taken (default 3)
      --seed S         seed of q, k, v and of the schemes' random parts (default 0)

  attnzoo lra TASK --scheme S [--steps N] [--seq-len L] [--seed S] [--data PATH] [--out DIR] [options]
      train the Transformer classifier with attention scheme S on a Long Range Arena task; prints a
      progress line (step, loss, accuracy, steps/s, ETA); the score is the test accuracy of the
      checkpoint with the best validation accuracy; writes DIR/log.csv, curves.png, result.json, result.md
      TASK             listops, pathfinder (--size 16/32/64/128), pathfinder16..pathfinder128, pathx
                       (generated), text, retrieval, image (downloaded data: --data PATH)
      --scheme S       any scheme of `attnzoo list`; --set key=value for its settings (repeatable)
      --steps N        optimiser steps (default: the mini suite's, listops 1000, pathfinder 600)
      --seq-len L      listops: longest expression (L/4 < length <= L; default 100); text, retrieval:
                       bytes kept per document
      --seed S         parameters, batch order, the scheme's random parts (default 0)
      --data PATH      the downloaded data (text: aclImdb, retrieval: the tsv directory, image:
                       cifar-10-batches-bin; listops: optional directory of basic_*.tsv)
      --out DIR        default out/lra/runs/TASK/SCHEME
      --batch B --eval-every K --lr LR --warmup W --d-model D --heads H --layers L --d-ff F
      --train N --val N --test N    sizes of generated splits; --data-seed S their seed (default 1)
      --size S         pathfinder image side (16, 32, 64, 128; default 16)
      --time-limit SEC stop training after SEC seconds (then evaluate)
      --progress MODE  bar (one line rewritten in place), lines, quiet (default: bar on a terminal)

  attnzoo lra listops --generate N --out FILE.tsv [--seq-len L] [--seed S] [--no-parens]
      N generated examples in the official layout: header Source<TAB>Target, one line per expression.
      Default: the benchmark's 500 < length < 2000 and the original generator's printed form with
      parentheses, "( ( [MAX 2 ) 9 ) ]"; --no-parens prints "[MAX 2 9 ]" (both read back the same)
  attnzoo lra pathfinder --generate N [--size S] --out DIR [--seed S]
      N images DIR/0000.png ... (S x S gray, default 32) and DIR/labels.csv (file,label)

  attnzoo lra suite [--out DIR] [--schemes a,b] [--time-limit SEC] [--no-efficiency] [--lengths 1024,2048]
      the mini suite of `make lra`: every scheme on ListOps (<= 100 tokens) and Pathfinder 16x16,
      then one training step per scheme at 1K..4K tokens; writes DIR/results.md, results.csv,
      results.json, efficiency.md, efficiency.csv, bubbles.png (default DIR out/lra); a run that
      takes longer than --time-limit (default 420 s, 0 = none) stops there and says so
  attnzoo help          this text (also: attnzoo --help, attnzoo COMMAND --help)

examples:
  attnzoo show full --n 32 --causal --out full.png
  attnzoo run full --q q.npy --k k.npy --v v.npy --causal --out o.npy --save-attn a.npy

Bad input prints one line starting with "attnzoo: " to stderr and exits with status 2;
no output file is written then.
)";

// Thrown for `attnzoo COMMAND --help`: main prints the usage and exits 0.
struct HelpRequested {};

// ---- command-line parsing -----------------------------------------------------------------------------------

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

// "--n 64" -> 64, checked to lie in [lo, hi]; `why_limit` explains the upper limit in the error.
int64_t parse_int(const Args& args, const std::string& option, int64_t fallback, int64_t lo, int64_t hi,
                  const std::string& why_limit = "") {
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

// The one SCHEME word after `show`/`run`.
std::string scheme_name(const Args& args) {
  AZ_CHECK(!args.positional.empty(), args.command, ": which scheme? (usage: attnzoo ", args.command,
           " SCHEME ...; `attnzoo list` shows them)");
  AZ_CHECK(args.positional.size() == 1, args.command, ": unexpected argument '", args.positional[1],
           "' (only one scheme name is expected)");
  return args.positional[0];
}

// ---- tensors in and out -------------------------------------------------------------------------------------

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

// Throws unless every value is finite; `what` names the tensor in the message.
void check_finite(const Tensor& t, const std::string& what) {
  const float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i)
    AZ_CHECK(std::isfinite(p[i]), what, " has a non-finite value (", p[i], ") at ", index_str(t.shape(), i));
}

// A (B, H, n, d) float32 tensor from `path`; `role` ("q", "k", ...) names it in errors.
Tensor load_bhnd(const std::string& path, const std::string& role) {
  Tensor t = core::npy::load(path);
  AZ_CHECK(t.dim() == 4, "--", role, " ", path, ": ", role, " must be (B, H, n, d), got shape ", t.shape());
  AZ_CHECK(t.numel() > 0, "--", role, " ", path, ": ", role, " is empty, shape ", t.shape());
  check_finite(t, "--" + role + " " + path);
  return t;
}

// ---- outputs: checked before any work, written all together or not at all -----------------------------------

// The nearest ancestor of `p` that exists (p itself if it exists).
fs::path existing_ancestor(fs::path p) {
  std::error_code ec;
  p = fs::absolute(p, ec).lexically_normal();
  while (!fs::exists(p, ec) && p.has_relative_path()) p = p.parent_path();
  return p;
}

// A directory the command will create (with its parents) or fill: it must not be an existing file, and the nearest
// existing ancestor must be a directory we may write. Checked before any work is done, so that a typo in a path
// fails at once rather than after minutes of training or benchmarking.
void check_output_dir(const std::string& dir, const std::string& who) {
  std::error_code ec;
  AZ_CHECK(!fs::exists(dir, ec) || fs::is_directory(dir, ec), who, ": --out ", dir, " exists and is not a directory");
  const fs::path base = existing_ancestor(dir);
  AZ_CHECK(fs::is_directory(base, ec), who, ": --out ", dir, ": ", base.string(),
           " is a file, so no directory can be made under it");
  AZ_CHECK(::access(base.c_str(), W_OK | X_OK) == 0, who, ": --out ", dir, ": directory ", base.string(),
           " is not writable");
}

// A file the command will write: not an existing directory or special file (a device, a FIFO: replacing one would
// destroy it), in a directory we may write — one that exists, or with make_parent, one that can be made (`show`
// makes out/show/). `option` names the option in the error.
void check_output_file(const std::string& path, const std::string& option, bool make_parent = false) {
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

// All files a command will write, collected while computing and written together at the end: each one first to
// a temporary name beside it; once every one is written, they are moved into place. A file that a target would
// replace is first moved aside and put back if a later step fails, so a failure at any point leaves every target
// as it was: all outputs or none.
class PendingFiles {
 public:
  void add(const std::string& path, const Tensor& t) { files_.push_back({path, t}); }
  void make_directory(const std::string& dir) { dir_ = dir; }

  void write_all() {
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

  const std::vector<std::pair<std::string, Tensor>>& files() const { return files_; }

 private:
  std::vector<std::pair<std::string, Tensor>> files_;
  std::string dir_;
};

std::string yes_no(bool b) { return b ? "yes" : "no"; }

// ---- attnzoo list -------------------------------------------------------------------------------------------

int cmd_list(const std::vector<std::string>& words) {
  const Args args = parse_args("list", words, {});
  AZ_CHECK(args.positional.empty(), "list: unexpected argument '", args.positional.empty() ? "" : args.positional[0],
           "'");
  const std::vector<const Scheme*> schemes = attention::all_schemes();

  // An overview table, then one block per scheme with everything `show` and `run` accept.
  size_t name_w = 6;
  for (const Scheme* s : schemes) name_w = std::max(name_w, s->name().size());
  auto pad = [](const std::string& s, size_t w) { return s + std::string(w > s.size() ? w - s.size() : 1, ' '); };

  std::cout << schemes.size() << " attention scheme" << (schemes.size() == 1 ? "" : "s")
            << " (attnzoo show SCHEME / attnzoo run SCHEME)\n\n";
  auto families = [](const Scheme* s) {
    std::string f;
    for (attention::Family x : s->info().families) f += (f.empty() ? "" : "+") + std::string(attention::family_code(x));
    return s->info().in_survey ? f : f + "*";
  };
  std::cout << pad("scheme", name_w + 2) << "lecture  causal  pattern  family   exactness\n";
  for (const Scheme* s : schemes)
    std::cout << pad(s->name(), name_w + 2) << pad(std::to_string(s->lecture()), 9)
              << pad(yes_no(s->supports_causal()), 8) << pad(yes_no(s->has_pattern()), 9) << pad(families(s), 9)
              << attention::exactness_name(s->info().exactness) << "\n";
  std::cout << "family: the class in Tay et al. 2020, Efficient Transformers: A Survey (EX = exact attention; "
               "* = not in the survey: the course's placement)\n";

  for (const Scheme* s : schemes) {
    std::cout << "\n" << s->name() << "  (lecture " << s->lecture() << ")\n";
    std::cout << "  " << s->summary() << "\n";
    std::cout << "  paper:    " << s->paper() << "\n";
    const std::vector<attention::HyperParam>& hps = s->hyperparams();
    if (hps.empty()) {
      std::cout << "  settings: none\n";
    } else {
      std::cout << "  settings: (--set key=value; default shown)\n";
      size_t kv_w = 0;
      for (const auto& hp : hps) kv_w = std::max(kv_w, hp.key.size() + 1 + hp.default_value.size());
      for (const auto& hp : hps)
        std::cout << "    " << pad(hp.key + "=" + hp.default_value, kv_w + 2) << hp.help
                  << (hp.accepts.empty() ? "" : " [" + hp.accepts + "]") << "\n";
    }
    std::cout << "  causal: " << (s->supports_causal() ? "yes" : "no (" + s->causal_refusal() + ")")
              << "   pattern: " << yes_no(s->has_pattern()) << "\n";
  }
  return kExitOk;
}

// ---- attnzoo show -------------------------------------------------------------------------------------------

// One (n, m) matrix of a (B, H, n, m) tensor, for a heatmap.
Tensor head_matrix(const Tensor& t, int64_t b, int64_t h) {
  const int64_t H = t.size(1), n = t.size(2), m = t.size(3);
  Tensor out = Tensor::empty({n, m});
  std::copy_n(t.data() + (b * H + h) * n * m, n * m, out.data());
  return out;
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.numel(), b.data());
}

int cmd_show(const std::vector<std::string>& words) {
  const Args args = parse_args("show", words,
                               {{"n", true, false}, {"d", true, false}, {"heads", true, false},
                                {"causal", false, false}, {"seed", true, false}, {"set", true, true},
                                {"out", true, false}});
  const std::string name = scheme_name(args);
  const Scheme& scheme = attention::find_scheme(name);
  const int64_t n = parse_int(args, "n", 64, 1, kShowMaxN, ": the effective attention is an n x n matrix per head");
  const int64_t d = parse_int(args, "d", 16, 1, kShowMaxD);
  const int64_t H = parse_int(args, "heads", 2, 1, kShowMaxHeads, ": every head is a panel of the figure");
  const uint64_t seed = parse_seed(args);
  const bool causal = args.has("causal");
  const std::vector<std::string> sets = args.all("set");
  const attention::Config cfg = scheme.configure(sets, causal, seed);
  const std::string out_path = args.get("out", "out/show/" + name + ".png");
  check_output_file(out_path, "out", /*make_parent=*/true);  // save_png makes the directory

  // q, k, v ~ N(0, 1): (1, H, n, d), drawn in this order from one generator.
  core::Rng rng(seed);
  const Tensor q = core::randn({1, H, n, d}, rng);
  const Tensor k = core::randn({1, H, n, d}, rng);
  const Tensor v = core::randn({1, H, n, d}, rng);

  core::NoGradGuard no_grad;
  const Tensor A = scheme.effective_attention(q, k, v, cfg);  // (1, H, n, n)
  AZ_CHECK(A.shape() == Shape({1, H, n, n}), name, ": effective_attention returned shape ", A.shape(),
           ", expected ", Shape({1, H, n, n}));

  // One colour scale for all heads, so that panels can be compared. Probabilities start at 0; a scheme whose
  // effective attention has negative weights (some approximations do) gets the signed blue-white-red map.
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < A.numel(); ++i)
    if (std::isfinite(A.data()[i])) lo = std::min(lo, A.data()[i]), hi = std::max(hi, A.data()[i]);

  std::string subtitle = "d=" + std::to_string(d) + " seed=" + std::to_string(seed);
  for (const std::string& s : sets) subtitle += " " + s;
  const std::string shape_note = "n=" + std::to_string(n) + (causal ? " causal" : "");

  // Text in figures is ASCII only (plot/plot.h), hence " - " rather than a middle dot.
  std::vector<plot::Image> panels;
  for (int64_t h = 0; h < H; ++h) {
    plot::HeatmapOptions o;
    o.title = name + " - head " + std::to_string(h) + " - " + shape_note;
    o.subtitle = subtitle;
    o.xlabel = "key position j";
    o.ylabel = "query position i";
    o.value_label = "weight A[i,j]";
    o.target_px = 384;
    o.diverging = lo < 0.0f;
    if (hi > lo) o.vmin = lo, o.vmax = hi;
    panels.push_back(plot::heatmap(head_matrix(A, 0, h), o));
  }
  if (scheme.has_pattern()) {
    const Tensor P = scheme.data_pattern(q, k, cfg);  // (1, H, n, n), 1 = may attend
    AZ_CHECK(P.shape() == A.shape(), name, ": pattern returned shape ", P.shape(), ", expected ", A.shape());
    bool all_heads_equal = true;
    for (int64_t h = 1; h < H && all_heads_equal; ++h)
      all_heads_equal = same_values(head_matrix(P, 0, h), head_matrix(P, 0, 0));
    for (int64_t h = 0; h < (all_heads_equal ? 1 : H); ++h) {
      plot::HeatmapOptions o;
      o.title = name + " - pattern - " + (all_heads_equal ? std::string("all heads") : "head " + std::to_string(h));
      o.subtitle = shape_note + " " + subtitle;
      o.xlabel = "key position j";
      o.ylabel = "query position i";
      o.value_label = "1 = may attend";
      o.target_px = 384;
      o.vmin = 0.0f;
      o.vmax = 1.0f;
      panels.push_back(plot::heatmap(head_matrix(P, 0, h), o));
    }
  }
  const Scheme::Figure extra = scheme.extra_figure(n, cfg);
  if (extra.matrix.defined()) {
    plot::HeatmapOptions o;
    o.title = extra.title;
    o.subtitle = shape_note;
    o.xlabel = extra.xlabel;
    o.ylabel = extra.ylabel;
    o.value_label = extra.value_label;
    o.target_px = 384;
    panels.push_back(plot::heatmap(extra.matrix, o));
  }
  const int cols = static_cast<int>(std::min<size_t>(panels.size(), 4));
  const plot::Image figure = plot::with_title(
      plot::grid(panels, cols), name + ": effective attention A (out = A @ v) for random q, k, v ~ N(0,1)");

  plot::save_png(figure, out_path);  // the one output, written last (atomically)
  std::cout << out_path << "\n";
  if (!std::all_of(A.data(), A.data() + A.numel(), [](float x) { return std::isfinite(x); }))
    std::cerr << "attnzoo: warning: " << name << ": the effective attention has non-finite values (magenta cells)\n";
  return kExitOk;
}

// ---- attnzoo run --------------------------------------------------------------------------------------------

int cmd_run(const std::vector<std::string>& words) {
  const Args args = parse_args("run", words,
                               {{"q", true, false}, {"k", true, false}, {"v", true, false}, {"out", true, false},
                                {"causal", false, false}, {"seed", true, false}, {"set", true, true},
                                {"grad-out", true, false}, {"grads", true, false}, {"save-attn", true, false},
                                {"save-mask", true, false}});

  // 1. Everything that can be checked without reading a tensor: the scheme, its settings, the options.
  const std::string name = scheme_name(args);
  const Scheme& scheme = attention::find_scheme(name);
  const attention::Config cfg = scheme.configure(args.all("set"), args.has("causal"), parse_seed(args));

  for (const char* required : {"q", "k", "v", "out"})
    AZ_CHECK(args.has(required), "run: missing --", required,
             " (usage: attnzoo run SCHEME --q Q.npy --k K.npy --v V.npy --out O.npy)");
  AZ_CHECK(args.has("grad-out") == args.has("grads"), "run: --grad-out G.npy and --grads DIR go together (",
           args.has("grads") ? "--grad-out" : "--grads", " is missing)");
  AZ_CHECK(!args.has("save-mask") || scheme.has_pattern(), "run ", name,
           ": --save-mask: this scheme has no sparsity pattern (see `attnzoo list`)");

  // Output paths: existing directories, and no file named twice (the second write would clobber the first).
  std::vector<std::pair<std::string, std::string>> outputs = {{"out", args.get("out")}};
  for (const char* opt : {"save-attn", "save-mask"})
    if (args.has(opt)) outputs.push_back({opt, args.get(opt)});
  if (args.has("grads")) {
    const fs::path dir(args.get("grads"));
    std::error_code ec;
    AZ_CHECK(!fs::exists(dir, ec) || fs::is_directory(dir, ec), "--grads ", dir.string(),
             " exists and is not a directory");
    for (const char* f : {"dq.npy", "dk.npy", "dv.npy"}) outputs.push_back({"grads", (dir / f).string()});
  }
  for (const auto& [opt, path] : outputs) check_output_file(path, opt, opt == "grads");  // every file, before any work
  for (size_t i = 0; i < outputs.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      AZ_CHECK(fs::absolute(outputs[i].second).lexically_normal() != fs::absolute(outputs[j].second).lexically_normal(),
               "run: --", outputs[j].first, " and --", outputs[i].first, " name the same file ", outputs[i].second);

  // 2. Read and check the inputs.
  Tensor q = load_bhnd(args.get("q"), "q");  // (B, H, n, d)
  Tensor k = load_bhnd(args.get("k"), "k");  // (B, H, m, d)
  Tensor v = load_bhnd(args.get("v"), "v");  // (B, H, m, d)
  Scheme::check_qkv(q, k, v, "run " + name);
  const int64_t B = q.size(0), H = q.size(1), n = q.size(2), m = k.size(2);
  const Shape attn_shape = {B, H, n, m};
  AZ_CHECK(!args.has("save-mask") || m == n, "run ", name, ": --save-mask writes the n x n pattern of self-attention, ",
           "so k and v need as many positions as q (q has n=", n, ", k has m=", m, ")");
  if (args.has("save-attn") || args.has("save-mask"))
    AZ_CHECK(core::numel_of(attn_shape) <= kMaxMatrixElements, "run ", name, ": --save-attn/--save-mask would write ",
             attn_shape, " = ", core::numel_of(attn_shape), " floats; the limit is ", kMaxMatrixElements);
  Tensor grad_out;
  if (args.has("grad-out")) {
    grad_out = core::npy::load(args.get("grad-out"));
    AZ_CHECK(grad_out.shape() == q.shape(), "--grad-out ", args.get("grad-out"), ": shape ", grad_out.shape(),
             " must equal the output shape ", q.shape(), " (B, H, n, d)");
    check_finite(grad_out, "--grad-out " + args.get("grad-out"));
  }

  // 3. Compute everything.
  PendingFiles files;
  const bool want_grads = grad_out.defined();
  if (want_grads)
    for (Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
  Tensor out = scheme.kernel(q, k, v, cfg);  // (B, H, n, d)
  AZ_CHECK(out.shape() == q.shape(), name, ": the kernel returned shape ", out.shape(), ", expected ", q.shape());
  check_finite(out, name + ": the output");
  files.add(args.get("out"), out.detach());

  if (want_grads) {
    // d sum(out * G) / d(q, k, v): backward seeded with G.
    AZ_CHECK(out.requires_grad(), name, ": the kernel recorded no graph, so it cannot be differentiated");
    out.backward(grad_out);
    const std::vector<std::pair<const char*, const Tensor*>> leaves = {{"dq", &q}, {"dk", &k}, {"dv", &v}};
    for (const auto& [label, leaf] : leaves) {
      Tensor g = leaf->grad();
      if (!g.defined()) g = Tensor::zeros(leaf->shape());  // the output does not depend on this input
      check_finite(g, name + ": gradient " + label);
      files.add((fs::path(args.get("grads")) / (std::string(label) + ".npy")).string(), g);
    }
    files.make_directory(args.get("grads"));
  }

  core::NoGradGuard no_grad;
  const Tensor q0 = q.detach(), k0 = k.detach(), v0 = v.detach();
  if (args.has("save-attn")) {
    const Tensor A = scheme.effective_attention(q0, k0, v0, cfg);  // (B, H, n, m)
    AZ_CHECK(A.shape() == attn_shape, name, ": effective_attention returned shape ", A.shape(), ", expected ",
             attn_shape);
    check_finite(A, name + ": the effective attention");
    files.add(args.get("save-attn"), A);
  }
  if (args.has("save-mask")) {
    const Tensor P = scheme.data_pattern(q0, k0, cfg);  // (B, H, n, m), 1 = may attend
    AZ_CHECK(P.shape() == attn_shape, name, ": pattern has shape ", P.shape(), ", expected ", attn_shape);
    files.add(args.get("save-mask"), P);
  }

  // 4. Write all files, or none.
  files.write_all();
  return kExitOk;
}

// ---- bench -------------------------------------------------------------------------------------------------

// "1024,2048" -> {1024, 2048}, each in [lo, hi].
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

int cmd_bench(const std::vector<std::string>& words) {
  const Args args = parse_args("bench", words,
                               {{"schemes", true, false}, {"n", true, false}, {"out", true, false},
                                {"batch", true, false}, {"heads", true, false}, {"d", true, false},
                                {"causal", false, false}, {"repeats", true, false}, {"seed", true, false}});
  AZ_CHECK(args.positional.empty(), "bench: unexpected argument '", args.positional.empty() ? "" : args.positional[0],
           "' (use --schemes a,b)");
  attention::BenchOptions o;
  if (args.has("schemes")) {
    std::stringstream ss(args.get("schemes"));
    for (std::string name; std::getline(ss, name, ',');) {
      o.schemes.push_back(attention::find_scheme(name).name());  // unknown names fail here, before any work
    }
  }
  o.ns = parse_int_list(args, "n", o.ns, 1, 1 << 17);
  o.batch = parse_int(args, "batch", 1, 1, 64);
  o.heads = parse_int(args, "heads", 4, 1, 64);
  o.d_head = parse_int(args, "d", 64, 1, 1024);
  o.repeats = static_cast<int>(parse_int(args, "repeats", 3, 1, 100));
  o.causal = args.flags.count("causal") > 0;
  o.seed = parse_seed(args);
  const std::string dir = args.get("out", "out/bench");
  check_output_dir(dir, "bench");
  o.progress = [](const std::string& line) { std::cout << line << std::endl; };
  const auto points = attention::run_benchmark(o);
  const std::string md = attention::write_benchmark_report(points, o, dir);
  std::cout << "\n" << md << "\nwrote " << dir << "/attention.csv, attention.md, attention.png\n";
  return kExitOk;
}

// ---- lra ----------------------------------------------------------------------------------------------------

// "--lr 2e-3" -> 0.002, checked to lie in [lo, hi].
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

// Every option of every lra mode; each mode then says which of them it takes.
const std::vector<OptionSpec> kLraOptions = {
    {"scheme", true, false},     {"set", true, true},         {"steps", true, false},    {"seq-len", true, false},
    {"seed", true, false},       {"data", true, false},       {"out", true, false},      {"batch", true, false},
    {"eval-every", true, false}, {"lr", true, false},         {"warmup", true, false},   {"d-model", true, false},
    {"heads", true, false},      {"layers", true, false},     {"d-ff", true, false},     {"train", true, false},
    {"val", true, false},        {"test", true, false},       {"data-seed", true, false}, {"size", true, false},
    {"time-limit", true, false}, {"progress", true, false},   {"generate", true, false}, {"parens", false, false},
    {"no-parens", false, false}, {"schemes", true, false},    {"no-efficiency", false, false},
    {"lengths", true, false}};

void only_options(const Args& args, const std::set<std::string>& allowed, const std::string& mode) {
  std::vector<std::string> given;
  for (const auto& kv : args.values) given.push_back(kv.first);
  for (const std::string& f : args.flags) given.push_back(f);
  for (const std::string& name : given)
    AZ_CHECK(allowed.count(name), "lra ", mode, ": option --", name, " does not apply here (see attnzoo help)");
}

lra::ProgressMode parse_progress(const Args& args) {
  const std::string m = args.get("progress", "auto");
  if (m == "auto") return lra::ProgressMode::Auto;
  if (m == "bar") return lra::ProgressMode::Bar;
  if (m == "lines") return lra::ProgressMode::Lines;
  if (m == "quiet") return lra::ProgressMode::Quiet;
  AZ_FAIL("lra: --progress '", m, "': expected bar, lines, quiet or auto");
}

// attnzoo lra listops --generate N --out FILE.tsv
int lra_generate_listops(const Args& args) {
  only_options(args, {"generate", "out", "seq-len", "seed", "parens", "no-parens"}, "listops --generate");
  const int64_t n = parse_int(args, "generate", 0, 1, 10000000);
  AZ_CHECK(args.has("out"), "lra listops --generate: missing --out FILE.tsv");
  AZ_CHECK(!(args.has("parens") && args.has("no-parens")), "lra listops: --parens and --no-parens contradict each other");
  const std::string out = args.get("out");
  check_output_file(out, "out", /*make_parent=*/true);  // write_tsv makes the directory
  lra::listops::Options o;
  const int64_t L = parse_int(args, "seq-len", 2000, 3, 1000000);
  if (L != 2000) {  // as lra::load_task: L/4 < length <= L
    o.max_length = L + 1;
    o.min_length = L / 4;
  }
  const bool parens = !args.has("no-parens");  // the original generator's printed form is the default
  // Streamed: one example at a time goes to a temporary file beside `out`, renamed into place at the end, so
  // memory does not grow with N (10 million examples are a few GB of text, not of RAM).
  const lra::listops::GenerateStats stats = lra::listops::generate_tsv(out, n, o, parse_seed(args), parens);
  const int64_t shortest = stats.shortest, longest = stats.longest;
  const std::vector<int64_t>& counts = stats.per_label;
  std::cout << "wrote " << n << " ListOps example" << (n == 1 ? "" : "s") << " to " << out << " (Source<TAB>Target; "
            << (parens ? "with parentheses, as the original generator prints them" : "without parentheses")
            << "); lengths " << shortest << ".." << longest << " tokens; how many of each label 0..9:";
  for (int64_t c : counts) std::cout << " " << c;
  std::cout << "\n";
  return kExitOk;
}

// attnzoo lra pathfinder --generate N --size S --out DIR
int lra_generate_pathfinder(const Args& args) {
  only_options(args, {"generate", "out", "size", "seed"}, "pathfinder --generate");
  const int64_t n = parse_int(args, "generate", 0, 1, 1000000);
  const int64_t size = parse_int(args, "size", 32, 16, 128);
  AZ_CHECK(size == 16 || size == 32 || size == 64 || size == 128, "lra pathfinder: --size ", size,
           " is not one of 16, 32, 64, 128");
  AZ_CHECK(args.has("out"), "lra pathfinder --generate: missing --out DIR");
  const std::string dir = args.get("out");
  check_output_dir(dir, "lra pathfinder");
  const auto samples = lra::pathfinder::write_samples(dir, n, static_cast<int>(size), parse_seed(args));
  int64_t positives = 0;
  for (const auto& s : samples) positives += s.label;
  std::cout << "wrote " << n << " Pathfinder image" << (n == 1 ? "" : "s") << " (" << size << "x" << size << ", "
            << positives << " joined, " << n - positives << " apart) and labels.csv to " << dir << "\n";
  return kExitOk;
}

// attnzoo lra suite ...
int lra_suite(const Args& args) {
  only_options(args, {"out", "schemes", "time-limit", "no-efficiency", "progress", "lengths"}, "suite");
  AZ_CHECK(args.positional.size() == 1, "lra suite: unexpected argument '",
           args.positional.size() > 1 ? args.positional[1] : "", "'");
  lra::SuiteOptions o;
  if (args.has("schemes")) {
    std::stringstream ss(args.get("schemes"));
    for (std::string name; std::getline(ss, name, ',');) o.schemes.push_back(attention::find_scheme(name).name());
  }
  o.out_dir = args.get("out", "out/lra");
  check_output_dir(o.out_dir, "lra suite");
  o.time_limit_per_run = parse_float(args, "time-limit", 420, 0, 1e7);  // a safety net: 0 = none
  o.run_efficiency = !args.has("no-efficiency");
  o.efficiency.lengths = parse_int_list(args, "lengths", o.efficiency.lengths, 1, 1 << 16);
  o.efficiency.model = o.tasks[0].train.model;
  o.progress = parse_progress(args);
  const lra::SuiteResult r = lra::run_suite(o);
  std::cout << "\n" << lra::results_markdown(r);
  if (!r.efficiency.empty()) std::cout << "\n" << lra::efficiency_markdown(r.efficiency, o.efficiency);
  std::cout << "\nwrote " << o.out_dir << "/results.md, results.csv, results.json"
            << (r.efficiency.empty() ? "" : ", efficiency.md, efficiency.csv, bubbles.png") << " and " << o.out_dir
            << "/runs/TASK/SCHEME/\n";
  return kExitOk;
}

// attnzoo lra TASK --scheme S ...
int lra_train(const Args& args, std::string task) {
  only_options(args, {"scheme", "set", "steps", "seq-len", "seed", "data", "out", "batch", "eval-every", "lr",
                      "warmup", "d-model", "heads", "layers", "d-ff", "train", "val", "test", "data-seed", "size",
                      "time-limit", "progress"},
               task + " (training)");
  AZ_CHECK(args.positional.size() == 1, "lra: unexpected argument '", args.positional.size() > 1 ? args.positional[1] : "",
           "' (one task per run)");
  // 1. What to train: the scheme and its settings, checked first.
  AZ_CHECK(args.has("scheme"), "lra ", task, ": which scheme? (--scheme S; `attnzoo list` shows them)");
  const attention::Scheme& scheme = attention::find_scheme(args.get("scheme"));
  const std::vector<std::string> sets = args.all("set");
  scheme.configure(sets);

  // 2. The task's preset: the mini suite's for the generated tasks, a small default for the downloaded ones.
  const bool is_pathfinder = task == "pathx" || task.rfind("pathfinder", 0) == 0;
  if (task == "pathfinder") {
    const int64_t size = parse_int(args, "size", 16, 16, 128);
    AZ_CHECK(size == 16 || size == 32 || size == 64 || size == 128, "lra pathfinder: --size ", size,
             " is not one of 16, 32, 64, 128");
    task = "pathfinder" + std::to_string(size);
  } else {
    AZ_CHECK(!args.has("size"), "lra ", task, ": --size applies to the task 'pathfinder' only");
  }
  const bool generated = task == "listops" || is_pathfinder;
  lra::SuiteTask preset = lra::mini_task(is_pathfinder ? "pathfinder" : "listops");
  lra::TaskOptions& t = preset.data;
  lra::TrainOptions& o = preset.train;
  t.task = task;
  if (!generated) t.max_len = 0;  // the task's own default (text, retrieval: 4000 bytes; image: 1024 pixels)

  // 3. Data options.
  if (args.has("data")) {
    AZ_CHECK(!is_pathfinder, "lra ", task, ": --data does not apply (the images are generated)");
    t.data = args.get("data");
    std::error_code ec;
    AZ_CHECK(fs::exists(t.data, ec), "lra ", task, ": --data ", t.data, " does not exist");
  } else {
    AZ_CHECK(generated, "lra ", task, ": this task reads downloaded data: give its path with --data PATH (",
             task == "text"        ? "the aclImdb directory"
             : task == "retrieval" ? "the directory of new_aan_pairs.*.tsv"
                                   : "cifar-10-batches-bin",
             ")");
  }
  if (args.has("seq-len")) t.max_len = parse_int(args, "seq-len", 0, 3, 1 << 20);
  if (generated && t.data.empty()) {
    t.n_train = parse_int(args, "train", t.n_train, 1, 10000000);
    t.n_val = parse_int(args, "val", t.n_val, 1, 10000000);
    t.n_test = parse_int(args, "test", t.n_test, 1, 10000000);
    t.seed = static_cast<uint64_t>(parse_int(args, "data-seed", static_cast<int64_t>(t.seed), 0, INT64_MAX));
  } else {
    for (const char* opt : {"train", "val", "test", "data-seed"})
      AZ_CHECK(!args.has(opt), "lra ", task, ": --", opt, " applies to generated data only");
  }

  // 4. Model and training options.
  o.model.scheme = scheme.name();
  o.model.set = sets;
  o.steps = parse_int(args, "steps", o.steps, 1, 100000000);
  o.batch_size = parse_int(args, "batch", o.batch_size, 1, 65536);
  o.eval_every = parse_int(args, "eval-every", std::min(o.eval_every, o.steps), 1, 100000000);
  o.lr = static_cast<float>(parse_float(args, "lr", o.lr, 1e-8, 10));
  o.warmup = parse_int(args, "warmup", -1, 0, o.steps);
  o.model.d_model = parse_int(args, "d-model", o.model.d_model, 1, 8192);
  o.model.n_heads = parse_int(args, "heads", o.model.n_heads, 1, 256);
  AZ_CHECK(o.model.d_model % o.model.n_heads == 0, "lra: --d-model ", o.model.d_model,
           " is not divisible by --heads ", o.model.n_heads);
  o.model.n_layers = parse_int(args, "layers", o.model.n_layers, 1, 64);
  o.model.d_ff = parse_int(args, "d-ff", o.model.d_ff, 1, 65536);
  o.seed = parse_seed(args);
  o.time_limit = parse_float(args, "time-limit", 0, 0, 1e7);
  o.progress = parse_progress(args);
  o.out_dir = args.get("out", "out/lra/runs/" + task + "/" + scheme.name());
  check_output_dir(o.out_dir, "lra " + task);

  // 5. Data, training, files.
  std::cout << "lra " << task << ": loading data" << (t.data.empty() ? " (generated, seed " + std::to_string(t.seed) + ")" : " from " + t.data) << std::endl;
  const lra::Splits data = lra::load_task(t);
  std::cout << "lra " << task << ": " << data.train.size() << " train, " << data.val.size() << " val, "
            << data.test.size() << " test; longest sequence " << std::max({data.train.longest(), data.val.longest(),
                                                                           data.test.longest()})
            << " tokens; " << scheme.name() << " (" << (sets.empty() ? std::string("defaults") : "") ;
  for (size_t i = 0; i < sets.size(); ++i) std::cout << (i ? " " : "") << sets[i];
  std::cout << "), " << o.steps << " steps of batch " << o.batch_size << std::endl;
  const lra::TrainResult r = lra::train(data, o);
  std::cout << std::fixed << std::setprecision(2) << "test accuracy " << 100 * r.test_acc
            << "% (checkpoint of step " << r.best_step << ", best validation " << 100 * r.best_val_acc
            << "%); wrote " << o.out_dir << "/log.csv, curves.png, result.json, result.md\n";
  return kExitOk;
}

int cmd_lra(const std::vector<std::string>& words) {
  const Args args = parse_args("lra", words, kLraOptions);
  std::string names;
  for (const std::string& n : lra::task_names()) names += n + ", ";
  AZ_CHECK(!args.positional.empty(), "lra: which task? (usage: attnzoo lra TASK --scheme S ...; tasks: ", names,
           "or suite)");
  const std::string task = args.positional[0];
  const auto& known = lra::task_names();
  AZ_CHECK(task == "suite" || std::find(known.begin(), known.end(), task) != known.end(), "lra: unknown task '",
           task, "' (tasks: ", names, "or suite)");
  if (task == "suite") return lra_suite(args);
  if (args.has("generate")) {
    AZ_CHECK(args.positional.size() == 1, "lra: unexpected argument '", args.positional[1], "'");
    if (task == "listops") return lra_generate_listops(args);
    if (task == "pathfinder") return lra_generate_pathfinder(args);
    AZ_FAIL("lra ", task, ": --generate applies to listops and pathfinder only");
  }
  return lra_train(args, task);
}

// The length of the well-formed UTF-8 sequence at s[i] (2-4 bytes) that is not a C1 control (U+0080-U+009F),
// or 0 when the bytes there are not one.
size_t printable_utf8_length(const std::string& s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  const size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  if (c == 0xC2 && byte(i + 1) < 0xA0) return 0;  // U+0080..U+009F: C1 control codes
  if (c == 0xE0 && byte(i + 1) < 0xA0) return 0;  // overlong
  if (c == 0xED && byte(i + 1) >= 0xA0) return 0;  // UTF-16 surrogates
  if (c == 0xF0 && byte(i + 1) < 0x90) return 0;  // overlong
  if (c == 0xF4 && byte(i + 1) >= 0x90) return 0;  // beyond U+10FFFF
  return len;
}

// One printable line, whatever the message holds: messages quote file names, settings and file contents, and a
// control byte from a file (ESC, BEL, a vertical tab, NUL...) must not reach the terminal. Line breaks become
// spaces; other control bytes and bytes that are not well-formed UTF-8 become \xNN; text in UTF-8 stays.
std::string one_line(const std::string& s) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || c == '\r') {
      out += ' ';
      ++i;
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (const size_t len = c >= 0x80 ? printable_utf8_length(s, i) : 0) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    }
  }
  return out;
}

int dispatch(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "help" || argv[0] == "--help" || argv[0] == "-h") {
    std::cout << kUsage;
    return kExitOk;
  }
  const std::string command = argv[0];
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  try {
    if (command == "list") return cmd_list(rest);
    if (command == "show") return cmd_show(rest);
    if (command == "run") return cmd_run(rest);
    if (command == "bench") return cmd_bench(rest);
    if (command == "lra") return cmd_lra(rest);
  } catch (const HelpRequested&) {
    std::cout << kUsage;
    return kExitOk;
  }
  AZ_FAIL("unknown command '", command, "' (commands: list, show, run, bench, lra, help)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return dispatch(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const core::Error& e) {
    std::cerr << "attnzoo: " << one_line(e.what()) << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "attnzoo: out of memory (try a smaller n or batch)\n";
  } catch (const std::exception& e) {
    std::cerr << "attnzoo: " << one_line(e.what()) << "\n";
  }
  return kExitBadInput;
}
