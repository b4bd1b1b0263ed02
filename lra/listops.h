// lra/listops.h — ListOps (Nangia & Bowman 2018), in the long form of the Long Range Arena (Tay et al. 2021).
//
// An example is a nested list expression over single digits; the label is its value, a digit (10 classes):
//
//   [MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ]   ->   5      (MIN -> 2, MED -> 5, MAX of 4 3 2 1 0 5 -> 5)
//
// Operators: MIN, MAX, MED (median), SM (sum modulo 10). An operator applies to everything up to its "]".
// The generator follows lra_benchmarks/data/listops.py of the LRA repository:
//   - a node at depth < max_depth (the root has depth 1) is an operator with probability 0.25, else a digit;
//     a node at depth max_depth is always a digit. So depth(tree) <= max_depth = 10, counting the digit level
//     (at most 9 nested brackets);
//   - an operator has uniform 2..max_args (= 10) arguments, each drawn recursively, then the operator itself
//     uniformly among the four;
//   - length = number of tokens, "[OP" and "]" counting one each; kept only if min_length < length < max_length
//     (strictly; default 500 < length < 2000), otherwise drawn again;
//   - examples are unique (the original collects them in a set).
// Our random numbers come from core::Rng, so the examples are not the official ones, only drawn from the same
// distribution. Same seed, same examples, byte for byte.
//
// MED: the original computes int(np.median(args)): with an even count, the mean of the two middle values
// truncated, i.e. floor((a + b) / 2) for sorted middle values a <= b (MED 1 4 -> 2, MED 1 2 -> 1).
// SM: the sum modulo 10.
//
// Brackets. The original generator prints every pair of the tree with parentheses,
//   ( ( ( [MAX 2 ) 9 ) ] )          for [MAX 2 9 ]
// and the released basic_{train,val,test}.tsv files hold that form. The original input pipeline then used a
// tokenizer that keeps alphanumerics only, which silently dropped "]" — the model never saw where a list ends
// (the "ListOps bracket bug"). Here, as in the fixed benchmark, tokenize() drops "(" and ")" and keeps "]" as a
// token, so both printed forms give the same ids: exactly length(tree) tokens.
//
// Token map (vocab 16, no CLS):
//   0 PAD | 1..10 the digits 0..9 | 11 MIN | 12 MAX | 13 MED | 14 SM | 15 "]"
//
// Label distribution of our generator (10 000 examples, seed 1; the original's skew is kept: MIN-rooted trees
// favour 0, MAX-rooted ones 9, SM is uniform; the four root operators are equally frequent):
//   label                        0     1    2    3    4    5    6    7    8    9
//   default 500 < len < 2000   16.6%  9.2  7.5  8.2  8.8  8.9  7.6  7.0  8.7  17.5   (mean length 1033)
//   small   10 < len < 60      15.3%  9.8  8.2  8.8  9.4  8.8  8.2  7.6  9.4  14.5   (mean length 23)
// So always predicting 9 scores ~17.5%; chance is 10%. Options::balance_labels caps every class at ceil(n / 10)
// examples for a flat distribution (exactly n / 10 each when n is a multiple of 10).
// Speed: ~0.1 ms per example at the default bounds, ~0.01 ms at the small ones (one core).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lra/dataset.h"
#include "core/random.h"

namespace lra::listops {

// ---- token map ---------------------------------------------------------------------------------------------
constexpr Token kPad = 0;
constexpr Token kDigit0 = 1;  // digit v has id kDigit0 + v
constexpr Token kMin = 11, kMax = 12, kMed = 13, kSumMod = 14;
constexpr Token kEnd = 15;    // "]"
constexpr int64_t kVocab = 16;
constexpr int64_t kNumClasses = 10;

enum class Op { Min, Max, Med, SumMod };
const char* op_name(Op op);  // "MIN", "MAX", "MED", "SM"

// A parsed or generated expression: a digit (a leaf) or an operator with its arguments.
struct Tree {
  bool is_op = false;
  int value = 0;  // leaves: the digit 0..9
  Op op = Op::Min;
  std::vector<Tree> args;  // operators: two or more (the generator); parse() accepts one or more

  static Tree digit(int v);
  static Tree apply(Op op, std::vector<Tree> args);
};

int evaluate(const Tree& t);            // the value 0..9, as the original's to_value
int64_t length(const Tree& t);          // tokens in the fixed form: operators + digits + "]"s
int depth(const Tree& t);               // a digit has depth 1, an operator 1 + its deepest argument
// "[MAX 2 9 ]" (parens = false), or the original generator's "( ( ( [MAX 2 ) 9 ) ] )" (parens = true).
std::string to_string(const Tree& t, bool parens = false);

// Text -> ids: splits at whitespace, drops "(" and ")", maps "[MIN" (or "MIN") .. "]" and the digits by the token
// map. Throws core::Error quoting the first token it does not know.
Sequence tokenize(const std::string& text);
std::string detokenize(const Sequence& ids);  // "[MAX 2 9 ]" (ids must not contain PAD)
// Text or ids -> tree. Throws core::Error on a malformed expression ("]" without an operator, an operator
// without "]", an operator with no arguments, tokens after the end, ...), saying which and where.
Tree parse(const std::string& text);
Tree parse(const Sequence& ids);
int evaluate(const std::string& text);  // evaluate(parse(text))

// ---- generator ---------------------------------------------------------------------------------------------
struct Options {
  int max_depth = 10;          // the root has depth 1; nodes at max_depth are digits
  int max_args = 10;           // arguments per operator: uniform in [2, max_args]
  int64_t min_length = 500;    // keep trees with min_length < length < max_length (strict, as the original)
  int64_t max_length = 2000;
  double op_probability = 0.25;  // the original's VALUE_P: P(node is an operator) above max_depth
  bool unique = true;            // no two examples with the same expression
  bool balance_labels = false;   // at most ceil(n / 10) examples per class (the original does not do this)
  // Give up (throw) after this many rejected trees per requested example: protects against bounds that no
  // tree can meet (e.g. max_depth 2 with min_length 100).
  int64_t max_attempts_per_example = 100000;
};

struct Example {
  std::string text;   // as to_string(tree, parens) prints it
  int64_t label = 0;  // evaluate(tree)
};

// One tree drawn by the original's recursion, without any length condition (may be a single digit).
Tree random_tree(const Options& opts, core::Rng& rng);
// n examples within the bounds. Text without parentheses unless `parens` (the released files' form).
// Throws core::Error if the bounds are impossible (min_length + 1 >= max_length, or too many rejections).
std::vector<Example> generate(int64_t n, const Options& opts, uint64_t seed, bool parens = false);

// Examples -> Dataset (task "listops", vocab 16, 10 classes, PAD 0): tokenized, truncated to max_len tokens
// (as the LRA pipeline's inputs[:max_length]).
Dataset to_dataset(const std::vector<Example>& examples, int64_t max_len = 2000);
// n_train + n_val + n_test unique examples from one seed, cut in that order (as the original script does).
Splits generate_splits(int64_t n_train, int64_t n_val, int64_t n_test, const Options& opts, uint64_t seed,
                       int64_t max_len = 2000);

// ---- files: the official layout ----------------------------------------------------------------------------
// A TSV with the header "Source<TAB>Target" and one "expression<TAB>label" line per example, as the original
// write_to_file (csv.writer with a tab delimiter) makes it. Written line by line to a temporary file beside
// `path`, then renamed over it (nothing is left behind on failure); parent directories are created. Throws
// core::Error naming the path on failure.
void write_tsv(const std::string& path, const std::vector<Example>& examples);

// What generate_tsv wrote: the example count, the shortest and longest expression in tokens (0 when count is
// 0), and how many examples have each label 0..9.
struct GenerateStats {
  int64_t count = 0;
  int64_t shortest = 0, longest = 0;
  std::vector<int64_t> per_label;  // kNumClasses entries
};
// generate(n, opts, seed, parens) written as write_tsv writes it — the same bytes — but streamed: one example
// at a time goes to the temporary file, so memory is O(1) per example (the uniqueness hashes, 16 bytes each)
// instead of the whole set of examples. Options are checked before the file is created; on any error the
// temporary is removed and `path` is untouched.
GenerateStats generate_tsv(const std::string& path, int64_t n, const Options& opts, uint64_t seed,
                           bool parens = false);

// Reads such a file (either bracket form; "\r\n" line ends are fine) in one streaming pass: each expression is
// tokenised and evaluated while it is read (memory O(its nesting depth)), so a line costs what is kept of it.
// Throws core::Error with one line of printable ASCII (file bytes quoted escaped, e.g. \x1b):
//   "listops: cannot open PATH: reason"  or  "listops: PATH:LINE: what is wrong"  (missing header, not two
// fields, a label that is not a digit, an unknown token, an expression that does not parse, an expression over
// 64 MiB). With check_labels, also the lines whose label differs from the expression's value.
std::vector<Example> read_tsv(const std::string& path, bool check_labels = false);
// The same file straight into a Dataset (as to_dataset(read_tsv(path), max_len) gives), keeping only the first
// max_len token ids of each expression: memory O(examples x min(length, max_len)) whatever the lines' length.
Dataset read_tsv_dataset(const std::string& path, int64_t max_len = 2000, bool check_labels = false);
// DIR/TASK_train.tsv, DIR/TASK_val.tsv, DIR/TASK_test.tsv (the LRA release: lra_release/listops-1000/basic_*.tsv),
// each read with read_tsv_dataset. A missing file is reported by its full path.
Splits load_dir(const std::string& dir, int64_t max_len = 2000, const std::string& task = "basic");

}  // namespace lra::listops
