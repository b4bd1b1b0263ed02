// bench/lra/listops.cpp — see listops.h: the ListOps generator (after lra_benchmarks/data/listops.py), the
// tokenizer with the fixed bracket handling, the parser and evaluator, and the TSV files.
#include "bench/lra/listops.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "bench/lra/files.h"
#include "core/error.h"

namespace lra::listops {

namespace fs = std::filesystem;

const char* op_name(Op op) {
  switch (op) {
    case Op::Min: return "MIN";
    case Op::Max: return "MAX";
    case Op::Med: return "MED";
    case Op::SumMod: return "SM";
  }
  return "?";
}

Tree Tree::digit(int v) {
  AZ_CHECK(v >= 0 && v <= 9, "listops: a leaf must be a digit 0..9, got ", v);
  Tree t;
  t.value = v;
  return t;
}

Tree Tree::apply(Op op, std::vector<Tree> args) {
  AZ_CHECK(!args.empty(), "listops: ", op_name(op), " needs at least one argument");
  Tree t;
  t.is_op = true;
  t.op = op;
  t.args = std::move(args);
  return t;
}

namespace {

// The operator applied to argument values, as the original's to_value.
int apply_op(Op op, std::vector<int> v) {
  switch (op) {
    case Op::Min: return *std::min_element(v.begin(), v.end());
    case Op::Max: return *std::max_element(v.begin(), v.end());
    case Op::Med: {
      // int(np.median(v)): the middle value, or for an even count the mean of the two middle values, truncated.
      std::sort(v.begin(), v.end());
      const size_t k = v.size();
      return k % 2 == 1 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    }
    case Op::SumMod: {
      int s = 0;
      for (int x : v) s += x;
      return s % 10;
    }
  }
  return 0;
}

}  // namespace

int evaluate(const Tree& t) {
  if (!t.is_op) return t.value;
  std::vector<int> values;
  values.reserve(t.args.size());
  for (const Tree& a : t.args) values.push_back(evaluate(a));
  return apply_op(t.op, std::move(values));
}

int64_t length(const Tree& t) {
  if (!t.is_op) return 1;
  int64_t n = 2;  // "[OP" and "]"
  for (const Tree& a : t.args) n += length(a);
  return n;
}

int depth(const Tree& t) {
  int d = 0;
  for (const Tree& a : t.args) d = std::max(d, depth(a));
  return 1 + d;
}

namespace {

void append_plain(const Tree& t, std::string& out) {
  if (!out.empty()) out += ' ';
  if (!t.is_op) {
    out += static_cast<char>('0' + t.value);
    return;
  }
  out += '[';
  out += op_name(t.op);
  for (const Tree& a : t.args) append_plain(a, out);
  out += " ]";
}

// The original's to_string: the tree is the left-nested pairs ((([OP, a0), a1), ...), "]") and every pair
// prints as "( left right )".
std::string with_parens(const Tree& t) {
  if (!t.is_op) return std::string(1, static_cast<char>('0' + t.value));
  std::string inner = std::string("[") + op_name(t.op);
  for (const Tree& a : t.args) inner = "( " + inner + " " + with_parens(a) + " )";
  return "( " + inner + " ] )";
}

}  // namespace

std::string to_string(const Tree& t, bool parens) {
  if (parens) return with_parens(t);
  std::string out;
  append_plain(t, out);
  return out;
}

// ---- tokens ------------------------------------------------------------------------------------------------

Sequence tokenize(const std::string& text) {
  Sequence ids;
  std::istringstream in(text);
  for (std::string tok; in >> tok;) {
    if (tok == "(" || tok == ")") continue;  // the original's pair parentheses carry no information
    if (tok == "]") {
      ids.push_back(kEnd);
    } else if (tok.size() == 1 && tok[0] >= '0' && tok[0] <= '9') {
      ids.push_back(kDigit0 + (tok[0] - '0'));
    } else {
      const std::string name = tok[0] == '[' ? tok.substr(1) : tok;
      if (name == "MIN") ids.push_back(kMin);
      else if (name == "MAX") ids.push_back(kMax);
      else if (name == "MED") ids.push_back(kMed);
      else if (name == "SM") ids.push_back(kSumMod);
      else AZ_FAIL("listops: unknown token '", tok, "' (expected a digit, [MIN, [MAX, [MED, [SM, ] or a parenthesis)");
    }
  }
  return ids;
}

std::string detokenize(const Sequence& ids) {
  std::string out;
  for (Token id : ids) {
    if (!out.empty()) out += ' ';
    if (id >= kDigit0 && id < kDigit0 + 10) out += static_cast<char>('0' + (id - kDigit0));
    else if (id >= kMin && id <= kSumMod) out += std::string("[") + op_name(static_cast<Op>(id - kMin));
    else if (id == kEnd) out += ']';
    else AZ_FAIL("listops: detokenize: id ", id, " is not a ListOps token (vocab 16, PAD 0 has no text)");
  }
  return out;
}

Tree parse(const Sequence& ids) {
  // Iterative, so that a hostile file cannot overflow the stack; nesting is capped all the same, because the
  // tree's own recursive functions (evaluate, depth, the destructor) recurse.
  constexpr size_t kMaxNesting = 1000;
  struct Frame {
    Op op;
    std::vector<Tree> args;
  };
  std::vector<Frame> stack;
  bool have_root = false;
  Tree root;
  auto emit = [&](Tree t) {
    if (stack.empty()) {
      root = std::move(t);
      have_root = true;
    } else {
      stack.back().args.push_back(std::move(t));
    }
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    const Token id = ids[i];
    AZ_CHECK(!have_root, "listops: token ", i + 1, " of ", ids.size(), " comes after the end of the expression");
    if (id >= kDigit0 && id < kDigit0 + 10) {
      emit(Tree::digit(id - kDigit0));
    } else if (id >= kMin && id <= kSumMod) {
      AZ_CHECK(stack.size() < kMaxNesting, "listops: lists nested deeper than ", kMaxNesting, " levels");
      stack.push_back({static_cast<Op>(id - kMin), {}});
    } else if (id == kEnd) {
      AZ_CHECK(!stack.empty(), "listops: ']' at token ", i + 1, " closes no list");
      Frame f = std::move(stack.back());
      stack.pop_back();
      AZ_CHECK(!f.args.empty(), "listops: ", op_name(f.op), " closed at token ", i + 1, " has no arguments");
      emit(Tree::apply(f.op, std::move(f.args)));
    } else {
      AZ_FAIL("listops: id ", id, " at token ", i + 1, " is not a ListOps token");
    }
  }
  AZ_CHECK(stack.empty(), "listops: ", stack.size(), " list(s) not closed by ']' (the last one opened by ",
           stack.empty() ? "" : op_name(stack.back().op), ")");
  AZ_CHECK(have_root, "listops: empty expression");
  return root;
}

Tree parse(const std::string& text) { return parse(tokenize(text)); }

int evaluate(const std::string& text) { return evaluate(parse(text)); }

// ---- generator ---------------------------------------------------------------------------------------------

namespace {

// The original's generate_tree(depth, max_depth, max_args), drawing in the same order (the operator-or-digit
// coin, the digit or the argument count, the arguments, then the operator). `length` accumulates the tokens;
// once it reaches `limit` the tree can only be rejected, so the recursion stops early (returns false) — that
// changes nothing about the trees that are kept.
bool grow(int depth, const Options& o, core::Rng& rng, int64_t& length, int64_t limit, Tree& out) {
  const bool op = depth < o.max_depth && rng.uniform01() <= o.op_probability;  // original: r > VALUE_P -> digit
  if (!op) {
    out = Tree::digit(static_cast<int>(rng.randint(0, 10)));
    return ++length < limit;
  }
  length += 2;
  const int64_t k = rng.randint(2, o.max_args + 1);
  out.is_op = true;
  out.args.resize(static_cast<size_t>(k));
  for (Tree& a : out.args)
    if (!grow(depth + 1, o, rng, length, limit, a)) return false;
  out.op = static_cast<Op>(rng.randint(0, 4));
  return length < limit;
}

void check_options(const Options& o) {
  AZ_CHECK(o.max_depth >= 1 && o.max_args >= 2, "listops: need max_depth >= 1 and max_args >= 2, got ",
           o.max_depth, " and ", o.max_args);
  AZ_CHECK(o.min_length >= 0 && o.min_length + 1 < o.max_length, "listops: no length fits ", o.min_length,
           " < length < ", o.max_length);
  AZ_CHECK(o.op_probability > 0 && o.op_probability <= 1, "listops: op_probability must be in (0, 1], got ",
           o.op_probability);
}

uint64_t fnv1a(const Sequence& ids) {
  uint64_t h = 1469598103934665603ULL;
  for (Token t : ids) {
    h ^= static_cast<uint64_t>(t) + 1;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

Tree random_tree(const Options& opts, core::Rng& rng) {
  check_options(opts);
  Tree t;
  int64_t length = 0;
  grow(1, opts, rng, length, INT64_MAX, t);
  return t;
}

std::vector<Example> generate(int64_t n, const Options& opts, uint64_t seed, bool parens) {
  check_options(opts);
  AZ_CHECK(n >= 0, "listops: cannot generate ", n, " examples");
  core::Rng rng(seed);
  std::vector<Example> out;
  out.reserve(static_cast<size_t>(n));
  std::unordered_set<uint64_t> seen;
  std::vector<int64_t> per_class(kNumClasses, 0);
  const int64_t quota = (n + kNumClasses - 1) / kNumClasses;
  int64_t rejected = 0;
  while (static_cast<int64_t>(out.size()) < n) {
    AZ_CHECK(rejected <= opts.max_attempts_per_example * std::max<int64_t>(n, 1), "listops: gave up after ",
             rejected, " rejected trees for ", n, " examples with ", opts.min_length, " < length < ",
             opts.max_length, ", max_depth ", opts.max_depth, ", max_args ", opts.max_args,
             opts.balance_labels ? ", balanced labels" : "", opts.unique ? ", unique" : "");
    Tree t;
    int64_t len = 0;
    if (!grow(1, opts, rng, len, opts.max_length, t) || len <= opts.min_length) {
      ++rejected;
      continue;
    }
    const int label = evaluate(t);
    if (opts.balance_labels && per_class[label] >= quota) {
      ++rejected;
      continue;
    }
    std::string text = to_string(t, parens);
    if (opts.unique && !seen.insert(fnv1a(tokenize(text))).second) {
      ++rejected;
      continue;
    }
    ++per_class[label];
    out.push_back({std::move(text), label});
  }
  return out;
}

Dataset to_dataset(const std::vector<Example>& examples, int64_t max_len) {
  AZ_CHECK(max_len >= 1, "listops: max_len must be >= 1, got ", max_len);
  Dataset d;
  d.task = "listops";
  d.vocab = kVocab;
  d.num_classes = kNumClasses;
  d.max_len = max_len;
  d.pad_id = kPad;
  d.inputs.reserve(examples.size());
  d.labels.reserve(examples.size());
  for (const Example& e : examples) {
    AZ_CHECK(e.label >= 0 && e.label < kNumClasses, "listops: label ", e.label, " is not a digit");
    Sequence ids = tokenize(e.text);
    if (static_cast<int64_t>(ids.size()) > max_len) ids.resize(static_cast<size_t>(max_len));
    d.inputs.push_back(std::move(ids));
    d.labels.push_back(e.label);
  }
  return d;
}

Splits generate_splits(int64_t n_train, int64_t n_val, int64_t n_test, const Options& opts, uint64_t seed,
                       int64_t max_len) {
  AZ_CHECK(n_train >= 0 && n_val >= 0 && n_test >= 0, "listops: split sizes must be >= 0");
  std::vector<Example> all = generate(n_train + n_val + n_test, opts, seed);
  // Shuffle before cutting: with balance_labels the generator fills the classes in order (the common labels
  // reach their cap first), so the tail of the stream — the test split — would miss whole classes.
  core::Rng shuffle(seed ^ 0x5eed5011ULL);
  for (int64_t i = static_cast<int64_t>(all.size()) - 1; i > 0; --i)
    std::swap(all[static_cast<size_t>(i)], all[static_cast<size_t>(shuffle.randint(0, i + 1))]);
  auto part = [&](int64_t a, int64_t b) {
    return to_dataset(std::vector<Example>(all.begin() + a, all.begin() + b), max_len);
  };
  Splits s;
  s.train = part(0, n_train);
  s.val = part(n_train, n_train + n_val);
  s.test = part(n_train + n_val, n_train + n_val + n_test);
  return s;
}

// ---- files -------------------------------------------------------------------------------------------------

void write_tsv(const std::string& path, const std::vector<Example>& examples) {
  std::string body = "Source\tTarget\n";
  for (const Example& e : examples) {
    AZ_CHECK(e.text.find_first_of("\t\n\r") == std::string::npos, "listops: write ", path,
             ": an expression contains a tab or a line break");
    body += e.text;
    body += '\t';
    body += std::to_string(e.label);
    body += '\n';
  }
  files::write_atomically(path, body, "listops");
}

std::vector<Example> read_tsv(const std::string& path, bool check_labels) {
  std::ifstream in(path, std::ios::binary);
  AZ_CHECK(in.good() && !fs::is_directory(path), "listops: cannot open ", path);
  std::vector<Example> out;
  std::string line;
  int64_t line_no = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = "listops: " + path + ":" + std::to_string(line_no) + ": ";
    if (!header) {
      AZ_CHECK(line == "Source\tTarget", where, "expected the header 'Source<TAB>Target', got '",
               files::clip(line), "'");
      header = true;
      continue;
    }
    if (line.empty()) continue;
    const std::vector<std::string> fields = files::split(line, '\t');
    AZ_CHECK(fields.size() == 2, where, "expected 2 tab-separated fields (Source, Target), got ", fields.size());
    const std::string& target = fields[1];
    AZ_CHECK(target.size() == 1 && target[0] >= '0' && target[0] <= '9', where, "label '", files::clip(target),
             "' is not a digit 0..9");
    Example e{fields[0], target[0] - '0'};
    int value = 0;
    try {
      value = evaluate(e.text);  // parses: a malformed expression is reported here with its line
    } catch (const core::Error& err) {
      AZ_FAIL(where, std::string(err.what()).substr(std::string("listops: ").size()));
    }
    AZ_CHECK(!check_labels || value == e.label, where, "label ", e.label, " but the expression evaluates to ",
             value);
    out.push_back(std::move(e));
  }
  AZ_CHECK(header, "listops: ", path, ": empty file (expected the header 'Source<TAB>Target')");
  return out;
}

Splits load_dir(const std::string& dir, int64_t max_len, const std::string& task) {
  auto load = [&](const char* split) {
    const std::string path = (fs::path(dir) / (task + "_" + split + ".tsv")).string();
    AZ_CHECK(fs::exists(path), "listops: missing ", path,
             " (the LRA release has lra_release/listops-1000/basic_{train,val,test}.tsv)");
    return to_dataset(read_tsv(path), max_len);
  };
  Splits s;
  s.train = load("train");
  s.val = load("val");
  s.test = load("test");
  return s;
}

}  // namespace lra::listops
