// lra/listops.cpp — see listops.h: the ListOps generator (after lra_benchmarks/data/listops.py), the
// tokenizer with the fixed bracket handling, the parser and evaluator, and the TSV files.
#include "lra/listops.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lra/files.h"
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

namespace {

// One whitespace-separated word -> its id; false for "(" and ")", which carry no information (the original's
// pair parentheses). Throws core::Error quoting the word (escaped, clipped) when it is not a ListOps token.
bool token_id(const std::string& tok, Token& id) {
  if (tok == "(" || tok == ")") return false;
  if (tok == "]") {
    id = kEnd;
  } else if (tok.size() == 1 && tok[0] >= '0' && tok[0] <= '9') {
    id = kDigit0 + (tok[0] - '0');
  } else {
    const std::string name = tok[0] == '[' ? tok.substr(1) : tok;
    if (name == "MIN") id = kMin;
    else if (name == "MAX") id = kMax;
    else if (name == "MED") id = kMed;
    else if (name == "SM") id = kSumMod;
    else AZ_FAIL("listops: unknown token '", files::clip(tok), "' (expected a digit, [MIN, [MAX, [MED, [SM, ] or a parenthesis)");
  }
  return true;
}

}  // namespace

Sequence tokenize(const std::string& text) {
  Sequence ids;
  std::istringstream in(text);
  Token id;
  for (std::string tok; in >> tok;)
    if (token_id(tok, id)) ids.push_back(id);
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

namespace {

// A set of 64-bit hashes, open addressing with linear probing: 8 bytes per slot at most half full, so the
// uniqueness check of a 10-million-example file costs ~160 MB rather than the ~400 MB of std::unordered_set's
// nodes. Only membership matters, so the examples are the same as with any other set.
class HashSet {
 public:
  // True when h was not in the set (and is now).
  bool insert(uint64_t h) {
    if (h == 0) {  // 0 marks an empty slot, so the hash 0 is kept aside
      const bool fresh = !has_zero_;
      has_zero_ = true;
      return fresh;
    }
    if (2 * (size_ + 1) > slots_.size()) grow();
    if (!place(slots_, h)) return false;
    ++size_;
    return true;
  }

 private:
  static bool place(std::vector<uint64_t>& slots, uint64_t h) {
    const size_t mask = slots.size() - 1;
    for (size_t i = static_cast<size_t>(h * 0x9E3779B97F4A7C15ULL >> 16) & mask;; i = (i + 1) & mask) {
      if (slots[i] == h) return false;
      if (slots[i] == 0) {
        slots[i] = h;
        return true;
      }
    }
  }
  void grow() {
    std::vector<uint64_t> bigger(std::max<size_t>(64, 2 * slots_.size()), 0);
    for (uint64_t h : slots_)
      if (h != 0) place(bigger, h);
    slots_.swap(bigger);
  }
  std::vector<uint64_t> slots_;
  size_t size_ = 0;
  bool has_zero_ = false;
};

// The generator as a stream: next() draws until it has the next kept example, exactly as the original loop
// does, so generate() and generate_tsv() give the same examples for the same seed. Holds O(1) per example (the
// uniqueness hashes), never the examples themselves.
class ExampleStream {
 public:
  ExampleStream(int64_t n, const Options& opts, uint64_t seed, bool parens)
      : n_(n), opts_(opts), parens_(parens), rng_(seed), per_class_(kNumClasses, 0),
        quota_((n + kNumClasses - 1) / kNumClasses) {
    check_options(opts);
    AZ_CHECK(n >= 0, "listops: cannot generate ", n, " examples");
  }

  // The next example and its length in tokens; false once n have been made.
  bool next(Example& out, int64_t& length) {
    if (made_ >= n_) return false;
    for (;;) {
      AZ_CHECK(rejected_ <= opts_.max_attempts_per_example * std::max<int64_t>(n_, 1), "listops: gave up after ",
               rejected_, " rejected trees for ", n_, " examples with ", opts_.min_length, " < length < ",
               opts_.max_length, ", max_depth ", opts_.max_depth, ", max_args ", opts_.max_args,
               opts_.balance_labels ? ", balanced labels" : "", opts_.unique ? ", unique" : "");
      Tree t;
      int64_t len = 0;
      if (!grow(1, opts_, rng_, len, opts_.max_length, t) || len <= opts_.min_length) {
        ++rejected_;
        continue;
      }
      const int label = evaluate(t);
      if (opts_.balance_labels && per_class_[label] >= quota_) {
        ++rejected_;
        continue;
      }
      std::string text = to_string(t, parens_);
      if (opts_.unique && !seen_.insert(fnv1a(tokenize(text)))) {
        ++rejected_;
        continue;
      }
      ++per_class_[label];
      ++made_;
      out = {std::move(text), label};
      length = len;  // = length(t) = tokenize(text).size()
      return true;
    }
  }

 private:
  int64_t n_;
  Options opts_;
  bool parens_;
  core::Rng rng_;
  HashSet seen_;
  std::vector<int64_t> per_class_;
  int64_t quota_;
  int64_t made_ = 0, rejected_ = 0;
};

}  // namespace

std::vector<Example> generate(int64_t n, const Options& opts, uint64_t seed, bool parens) {
  ExampleStream stream(n, opts, seed, parens);
  std::vector<Example> out;
  out.reserve(static_cast<size_t>(n));
  Example e;
  int64_t len = 0;
  while (stream.next(e, len)) out.push_back(std::move(e));
  return out;
}

namespace {
// An empty ListOps dataset: the task's vocabulary, classes and padding, sequences cut at max_len.
Dataset empty_dataset(int64_t max_len) {
  AZ_CHECK(max_len >= 1, "listops: max_len must be >= 1, got ", max_len);
  Dataset d;
  d.task = "listops";
  d.vocab = kVocab;
  d.num_classes = kNumClasses;
  d.max_len = max_len;
  d.pad_id = kPad;
  return d;
}
}  // namespace

Dataset to_dataset(const std::vector<Example>& examples, int64_t max_len) {
  Dataset d = empty_dataset(max_len);
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

namespace {

// A TSV written line by line to a temporary file beside `path` ("PATH.tmp<pid>", same directory so that the
// rename stays on one filesystem), renamed over `path` by commit(). Destroyed without commit() (an error), it
// removes the temporary: `path` is the old file or the complete new one, never a prefix.
class TsvWriter {
 public:
  explicit TsvWriter(const std::string& path) : path_(path) {
    const fs::path target(path);
    std::error_code ec;
    if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
    tmp_ = path + ".tmp" + std::to_string(static_cast<long long>(::getpid()));
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (f_ == nullptr) fail(errno);
    put("Source\tTarget\n");
  }
  ~TsvWriter() {
    if (f_ != nullptr) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  TsvWriter(const TsvWriter&) = delete;
  TsvWriter& operator=(const TsvWriter&) = delete;

  void write(const Example& e) {
    AZ_CHECK(e.text.find_first_of("\t\n\r") == std::string::npos, "listops: write ", files::printable(path_),
             ": an expression contains a tab or a line break");
    AZ_CHECK(e.label >= 0 && e.label < kNumClasses, "listops: write ", files::printable(path_), ": label ", e.label,
             " is not a digit");
    put(e.text);
    put("\t");
    put(std::string(1, static_cast<char>('0' + e.label)));
    put("\n");
  }

  void commit() {
    const int closed = std::fclose(f_);
    f_ = nullptr;
    if (closed != 0) fail(errno);
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail(errno);
    committed_ = true;
  }

 private:
  void put(const std::string& s) {
    if (std::fwrite(s.data(), 1, s.size(), f_) != s.size()) fail(errno);
  }
  [[noreturn]] void fail(int err) const {
    AZ_FAIL("listops: cannot write ", files::printable(path_), ": ", std::strerror(err != 0 ? err : EIO));
  }
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

}  // namespace

void write_tsv(const std::string& path, const std::vector<Example>& examples) {
  TsvWriter out(path);
  for (const Example& e : examples) out.write(e);
  out.commit();
}

GenerateStats generate_tsv(const std::string& path, int64_t n, const Options& opts, uint64_t seed, bool parens) {
  ExampleStream stream(n, opts, seed, parens);  // checks the options before the file is created
  TsvWriter out(path);
  GenerateStats stats;
  stats.per_label.assign(kNumClasses, 0);
  Example e;
  int64_t len = 0;
  while (stream.next(e, len)) {
    out.write(e);
    stats.shortest = stats.count == 0 ? len : std::min(stats.shortest, len);
    stats.longest = std::max(stats.longest, len);
    ++stats.per_label[static_cast<size_t>(e.label)];
    ++stats.count;
  }
  out.commit();
  return stats;
}

namespace {

// Tokens in, value out, in O(nesting depth) memory: a frame per open list holds how many arguments of each
// digit it has (enough for MIN, MAX, MED and SM), so a line of any length is checked without building its tree.
// Malformations are reported with parse()'s messages; the first one is kept while the rest of the line is
// still tokenised (an unknown token anywhere takes precedence, as tokenize() runs before parse(), and
// "token i of N" needs N).
class StreamingEvaluator {
 public:
  void push(Token id) {
    const int64_t i = tokens_++;
    if (!problem_.empty() || after_end_at_ >= 0) return;
    if (have_root_) {
      after_end_at_ = i;
      return;
    }
    if (id >= kDigit0 && id < kDigit0 + 10) {
      emit(id - kDigit0);
    } else if (id >= kMin && id <= kSumMod) {
      if (stack_.size() >= kMaxNesting) {
        problem_ = "lists nested deeper than " + std::to_string(kMaxNesting) + " levels";
        return;
      }
      stack_.push_back(Frame{static_cast<Op>(id - kMin), 0, {}});
    } else {  // kEnd
      if (stack_.empty()) {
        problem_ = "']' at token " + std::to_string(i + 1) + " closes no list";
        return;
      }
      const Frame f = stack_.back();
      stack_.pop_back();
      if (f.n == 0) {
        problem_ = std::string(op_name(f.op)) + " closed at token " + std::to_string(i + 1) + " has no arguments";
        return;
      }
      emit(value(f));
    }
  }

  // The expression's value; throws core::Error "listops: what is wrong" if it is malformed.
  int finish() const {
    if (!problem_.empty()) AZ_FAIL("listops: ", problem_);
    AZ_CHECK(after_end_at_ < 0, "listops: token ", after_end_at_ + 1, " of ", tokens_,
             " comes after the end of the expression");
    AZ_CHECK(stack_.empty(), "listops: ", stack_.size(), " list(s) not closed by ']' (the last one opened by ",
             stack_.empty() ? "" : op_name(stack_.back().op), ")");
    AZ_CHECK(have_root_, "listops: empty expression");
    return root_;
  }

 private:
  static constexpr size_t kMaxNesting = 1000;  // as parse(): the Tree functions recurse, so files are held to it
  struct Frame {
    Op op;
    int64_t n;           // arguments so far
    int64_t count[10];   // arguments equal to each digit
  };
  void emit(int v) {
    if (stack_.empty()) {
      root_ = v;
      have_root_ = true;
    } else {
      ++stack_.back().count[v];
      ++stack_.back().n;
    }
  }
  // apply_op on the multiset of argument values.
  static int value(const Frame& f) {
    // The digit at 0-based rank r of the sorted arguments.
    const auto at_rank = [&](int64_t r) {
      for (int d = 0; d < 10; ++d) {
        if (r < f.count[d]) return d;
        r -= f.count[d];
      }
      return 9;
    };
    switch (f.op) {
      case Op::Min: return at_rank(0);
      case Op::Max: return at_rank(f.n - 1);
      case Op::Med: return f.n % 2 == 1 ? at_rank(f.n / 2) : (at_rank(f.n / 2 - 1) + at_rank(f.n / 2)) / 2;
      case Op::SumMod: {
        int64_t s = 0;
        for (int d = 0; d < 10; ++d) s = (s + d * (f.count[d] % 10)) % 10;
        return static_cast<int>(s);
      }
    }
    return 0;
  }

  std::vector<Frame> stack_;
  int64_t tokens_ = 0;
  bool have_root_ = false;
  int root_ = 0;
  int64_t after_end_at_ = -1;
  std::string problem_;
};

// Reads a ListOps TSV in one pass, tokenising and evaluating each expression while its bytes arrive. Per
// example it hands on_example(text, ids, label) the expression's text only when keep_text (capped at
// kMaxTextBytes: read_tsv returns it), and its first keep_tokens token ids. So memory is what is kept — never a
// whole line or file — and an absurdly long word or label is cut at a few dozen bytes.
template <class OnExample>
void scan_tsv(const std::string& path, bool check_labels, bool keep_text, int64_t keep_tokens, OnExample on_example) {
  constexpr size_t kMaxTextBytes = size_t(64) << 20;  // ~8x the longest expression --seq-len allows, with parens
  constexpr size_t kWordCap = 48;                     // > any token; enough to quote 40 bytes of a bad one
  const std::string shown = files::printable(path);
  std::error_code ec;
  AZ_CHECK(fs::exists(path, ec), "listops: cannot open ", shown, ": No such file or directory");
  files::ByteReader in(path, "listops");

  bool header = false;
  int64_t line_no = 1;          // the line being read
  // The current line.
  size_t field = 0;             // 0 = Source, 1 = Target, 2+ = extra fields
  int64_t line_bytes = 0;
  int last = -1;                // the line's last byte so far
  std::string word;             // the token being read (Source) or the whole field (header, Target), capped
  bool word_cut = false;        // `word` lost bytes past kWordCap
  std::string text;
  Sequence ids;
  StreamingEvaluator eval;
  std::string unknown;          // the first unknown-token message of the line

  const auto where = [&] { return "listops: " + shown + ":" + std::to_string(line_no) + ": "; };
  const auto end_word = [&] {  // a Source token is complete
    if (word.empty() && !word_cut) return;
    if (unknown.empty()) {
      try {
        Token id;
        AZ_CHECK(!word_cut, "listops: unknown token '", files::clip(word + "..."),
                 "' (expected a digit, [MIN, [MAX, [MED, [SM, ] or a parenthesis)");
        if (token_id(word, id)) {
          eval.push(id);
          if (static_cast<int64_t>(ids.size()) < keep_tokens) ids.push_back(id);
        }
      } catch (const core::Error& err) {
        unknown = std::string(err.what()).substr(std::string("listops: ").size());
      }
    }
    word.clear();
    word_cut = false;
  };
  const auto end_line = [&] {
    const bool cr = last == '\r';
    if (!header) {
      // The whole header line is in `text` (capped, word_cut when cut); "\r\n" line ends are fine.
      if (cr && !word_cut) text.pop_back();
      AZ_CHECK(text == "Source\tTarget" && !word_cut, where(), "expected the header 'Source<TAB>Target', got '",
               files::clip(word_cut ? text + "..." : text), "'");
      header = true;
    } else if (!(line_bytes == 0 || (line_bytes == 1 && cr))) {  // blank lines are skipped
      if (field == 0) end_word();
      AZ_CHECK(field == 1, where(), "expected 2 tab-separated fields (Source, Target), got ", field + 1);
      if (cr && !word_cut && !word.empty()) word.pop_back();
      AZ_CHECK(word.size() == 1 && word[0] >= '0' && word[0] <= '9' && !word_cut, where(), "label '",
               files::clip(word_cut ? word + "..." : word), "' is not a digit 0..9");
      if (!unknown.empty()) AZ_FAIL(where(), unknown);
      int value = 0;
      try {
        value = eval.finish();
      } catch (const core::Error& err) {
        AZ_FAIL(where(), std::string(err.what()).substr(std::string("listops: ").size()));
      }
      const int64_t label = word[0] - '0';
      AZ_CHECK(!check_labels || value == label, where(), "label ", label, " but the expression evaluates to ", value);
      on_example(std::move(text), std::move(ids), label);
    }
    ++line_no;
    field = 0;
    line_bytes = 0;
    last = -1;
    word.clear();
    word_cut = false;
    text.clear();
    ids = Sequence();
    eval = StreamingEvaluator();
    unknown.clear();
  };

  for (int c; (c = in.get()) >= 0;) {
    if (c == '\n') {
      end_line();
      continue;
    }
    ++line_bytes;
    last = c;
    if (!header) {
      if (text.size() < kWordCap) text += static_cast<char>(c);
      else word_cut = true;
      continue;
    }
    if (field == 0) {
      if (c == '\t') {
        end_word();
        field = 1;
        continue;
      }
      if (keep_text) {
        AZ_CHECK(text.size() < kMaxTextBytes, where(), "the expression is longer than ", kMaxTextBytes >> 20,
                 " MiB; no ListOps expression is that long");
        text += static_cast<char>(c);
      }
      if (c == ' ' || c == '\r' || c == '\v' || c == '\f') end_word();  // whitespace, as istream >> sees it
      else if (word.size() < kWordCap) word += static_cast<char>(c);
      else word_cut = true;
    } else if (c == '\t') {
      ++field;
    } else if (field == 1) {
      if (word.size() < kWordCap) word += static_cast<char>(c);
      else word_cut = true;
    }
  }
  if (line_bytes > 0) end_line();  // a last line without '\n'
  AZ_CHECK(header, "listops: ", shown, ": empty file (expected the header 'Source<TAB>Target')");
}

}  // namespace

std::vector<Example> read_tsv(const std::string& path, bool check_labels) {
  std::vector<Example> out;
  scan_tsv(path, check_labels, /*keep_text=*/true, /*keep_tokens=*/0,
           [&](std::string&& text, Sequence&&, int64_t label) { out.push_back({std::move(text), label}); });
  return out;
}

Dataset read_tsv_dataset(const std::string& path, int64_t max_len, bool check_labels) {
  Dataset d = empty_dataset(max_len);
  scan_tsv(path, check_labels, /*keep_text=*/false, max_len, [&](std::string&&, Sequence&& ids, int64_t label) {
    ids.shrink_to_fit();
    d.inputs.push_back(std::move(ids));
    d.labels.push_back(label);
  });
  return d;
}

Splits load_dir(const std::string& dir, int64_t max_len, const std::string& task) {
  auto load = [&](const char* split) {
    const std::string path = (fs::path(dir) / (task + "_" + split + ".tsv")).string();
    std::error_code ec;
    AZ_CHECK(fs::exists(path, ec), "listops: missing ", files::printable(path),
             " (the LRA release has lra_release/listops-1000/basic_{train,val,test}.tsv)");
    return read_tsv_dataset(path, max_len);
  };
  Splits s;
  s.train = load("train");
  s.val = load("val");
  s.test = load("test");
  return s;
}

}  // namespace lra::listops
