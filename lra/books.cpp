// lra/books.cpp — see books.h: the KJV parsed into books and verses, split per book, cut into passages of
// `length` bytes, sampled into the "which book?" and "same book?" datasets.
#include "lra/books.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/random.h"
#include "lra/files.h"
#include "lra/text.h"

namespace lra::books {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "1 Samuel 3" -> name "1 Samuel", chapter 3. A heading is an optional leading digit and space, then a capital
// letter, letters and spaces, one space, and the chapter number: nothing else of the text looks like that.
bool parse_heading(const std::string& line, std::string& name, int64_t& chapter) {
  const size_t space = line.rfind(' ');
  if (space == std::string::npos || space + 1 == line.size() || space > 40) return false;
  for (size_t i = space + 1; i < line.size(); ++i)
    if (!is_digit(line[i])) return false;
  size_t i = 0;
  if (is_digit(line[0])) {
    if (line.size() < 3 || line[1] != ' ') return false;
    i = 2;
  }
  if (i >= space || line[i] < 'A' || line[i] > 'Z') return false;
  for (size_t j = i; j < space; ++j)
    if (!((line[j] >= 'A' && line[j] <= 'Z') || (line[j] >= 'a' && line[j] <= 'z') || line[j] == ' ')) return false;
  name = line.substr(0, space);
  chapter = std::stoll(line.substr(space + 1, 6));
  return true;
}

// "  12 And God said ..." -> number 12, text "And God said ...".
bool parse_verse(const std::string& line, int64_t& number, std::string& text) {
  size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  if (i == 0 || i == line.size() || !is_digit(line[i])) return false;
  const size_t digits = i;
  while (i < line.size() && is_digit(line[i])) ++i;
  if (i == line.size() || line[i] != ' ' || i - digits > 6) return false;
  number = std::stoll(line.substr(digits, i - digits));
  text = line.substr(i + 1);
  return true;
}

Dataset empty_dataset(const std::string& task, int64_t classes, int64_t length, bool pair) {
  Dataset d;
  d.task = task;
  d.vocab = text::kVocab;
  d.num_classes = classes;
  d.max_len = length;
  d.pad_id = text::kPad;
  d.pair = pair;
  return d;
}

const char* split_name(int s) { return s == kTrain ? "train" : s == kVal ? "val" : "test"; }

// `k` of 0..n-1 drawn without replacement, in increasing order.
std::vector<int64_t> sample(int64_t n, int64_t k, core::Rng& rng) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = 0; i < k; ++i) std::swap(order[i], order[rng.randint(i, n)]);  // partial Fisher–Yates
  order.resize(static_cast<size_t>(k));
  std::sort(order.begin(), order.end());
  return order;
}

void shuffle(Dataset& d, core::Rng& rng) {
  std::vector<int64_t> order(static_cast<size_t>(d.size()));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = d.size() - 1; i > 0; --i) std::swap(order[i], order[rng.randint(0, i + 1)]);
  d = subset(d, order);
}

int64_t bytes_of(const Book& b, int64_t first, int64_t end) {
  int64_t n = 0;
  for (int64_t v = first; v < end; ++v) n += static_cast<int64_t>(b.verses[v].size()) + 1;
  return n;
}

void check_options(const Options& o) {
  AZ_CHECK(o.length >= 1, "books: passage length must be >= 1 byte, got ", o.length);
  AZ_CHECK(o.n_train >= 1 && o.n_val >= 1 && o.n_test >= 1, "books: n_train, n_val, n_test must be >= 1, got ",
           o.n_train, ", ", o.n_val, ", ", o.n_test);
  AZ_CHECK(o.val_fraction > 0 && o.test_fraction > 0 && o.val_fraction + o.test_fraction < 1,
           "books: val_fraction ", o.val_fraction, " and test_fraction ", o.test_fraction,
           " must be > 0 with a sum below 1");
}

}  // namespace

// ---- parsing -----------------------------------------------------------------------------------------------

Bible parse(const std::string& text, const std::string& source) {
  Bible bible;
  Book* book = nullptr;
  int64_t chapter = 0, verse = 0;  // the last heading's chapter, the last verse's number
  bool after_blank = true;         // a heading needs a blank line (or the start of the text) before it
  int64_t line_no = 0;
  const std::string who = "books: " + files::printable(source) + ":";
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    const int64_t line_begin = static_cast<int64_t>(pos);
    pos = eol + 1;
    ++line_no;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.empty()) {
      after_blank = true;
      continue;
    }
    std::string name, verse_text;
    int64_t number = 0;
    if (after_blank && parse_heading(line, name, number)) {
      if (!book || book->name != name) {
        for (const Book& b : bible.books)
          AZ_CHECK(b.name != name, who, line_no, ": book '", files::clip(name), "' appears a second time");
        AZ_CHECK(number == 1, who, line_no, ": book '", files::clip(name), "' starts at chapter ", number,
                 ", expected 1");
        bible.books.push_back(Book{name, {}, {}, {}});
        book = &bible.books.back();
      } else {
        AZ_CHECK(number == chapter + 1, who, line_no, ": chapter ", number, " of ", files::clip(name),
                 " follows chapter ", chapter);
      }
      chapter = number;
      verse = 0;
    } else if (parse_verse(line, number, verse_text)) {
      AZ_CHECK(book, who, line_no, ": a verse before the first heading (expected e.g. 'Genesis 1')");
      AZ_CHECK(number == verse + 1, who, line_no, ": verse ", number, " of ", files::clip(book->name), " ",
               chapter, " follows verse ", verse);
      verse = number;
      book->verses.push_back(verse_text);
      book->begin.push_back(line_begin);
      book->end.push_back(line_begin + static_cast<int64_t>(line.size()));
    } else {
      AZ_CHECK(book && verse > 0 && !after_blank, who, line_no, ": '", files::clip(line),
               "' is neither a heading ('Book N' after a blank line), a verse ('  N text') nor a verse's next line");
      book->verses.back() += " " + line;
      book->end.back() = line_begin + static_cast<int64_t>(line.size());
    }
    after_blank = false;
  }
  AZ_CHECK(!bible.books.empty(), who, " no heading and verse found (expected e.g. 'Genesis 1' then '  1 In ...')");
  for (const Book& b : bible.books)
    AZ_CHECK(!b.verses.empty(), who, " book '", files::clip(b.name), "' has no verse");
  return bible;
}

const std::vector<std::string>& kjv_book_names() {
  static const std::vector<std::string> names = {
      "Genesis",         "Exodus",          "Leviticus",       "Numbers",         "Deuteronomy",
      "Joshua",          "Judges",          "Ruth",            "1 Samuel",        "2 Samuel",
      "1 Kings",         "2 Kings",         "1 Chronicles",    "2 Chronicles",    "Ezra",
      "Nehemiah",        "Esther",          "Job",             "Psalms",          "Proverbs",
      "Ecclesiastes",    "Song of Solomon", "Isaiah",          "Jeremiah",        "Lamentations",
      "Ezekiel",         "Daniel",          "Hosea",           "Joel",            "Amos",
      "Obadiah",         "Jonah",           "Micah",           "Nahum",           "Habakkuk",
      "Zephaniah",       "Haggai",          "Zechariah",       "Malachi",         "Matthew",
      "Mark",            "Luke",            "John",            "Acts",            "Romans",
      "1 Corinthians",   "2 Corinthians",   "Galatians",       "Ephesians",       "Philippians",
      "Colossians",      "1 Thessalonians", "2 Thessalonians", "1 Timothy",       "2 Timothy",
      "Titus",           "Philemon",        "Hebrews",         "James",           "1 Peter",
      "2 Peter",         "1 John",          "2 John",          "3 John",          "Jude",
      "Revelation"};
  return names;
}

Bible parse_kjv(const std::string& text) {
  const char* kWhat = "books: the text does not look like the KJV output of `bible -p /usr/lib gen1:1-rev22:21`: ";
  Bible bible;
  try {
    bible = parse(text, "kjv");
  } catch (const core::Error& e) {
    AZ_FAIL(kWhat, e.what());
  }
  const std::vector<std::string>& names = kjv_book_names();
  AZ_CHECK(bible.books.size() == names.size(), kWhat, "found ", bible.books.size(), " books, expected 66");
  for (size_t b = 0; b < names.size(); ++b)
    AZ_CHECK(bible.books[b].name == names[b], kWhat, "book ", b + 1, " is '", files::clip(bible.books[b].name),
             "', expected '", names[b], "'");
  return bible;
}

// ---- classes -----------------------------------------------------------------------------------------------

Classes kjv_groups(const Bible& bible) {
  struct Group {
    const char* name;
    const char* last;  // the group's last book; it begins after the previous group's
  };
  static const Group groups[] = {{"Law", "Deuteronomy"},
                                 {"History", "Esther"},
                                 {"Wisdom and Poetry", "Song of Solomon"},
                                 {"Major Prophets", "Daniel"},
                                 {"Minor Prophets", "Malachi"},
                                 {"Gospels", "John"},
                                 {"Acts", "Acts"},
                                 {"Pauline Letters", "Philemon"},
                                 {"General Letters, Revelation", "Revelation"}};
  const std::vector<std::string>& names = kjv_book_names();
  AZ_CHECK(bible.books.size() == names.size(), "books: the groups need the 66 books of the KJV, got ",
           bible.books.size(), " books");
  Classes c;
  int64_t g = 0;
  for (size_t b = 0; b < names.size(); ++b) {
    AZ_CHECK(bible.books[b].name == names[b], "books: the groups need the KJV's books; book ", b + 1, " is '",
             files::clip(bible.books[b].name), "'");
    c.of_book.push_back(g);
    if (names[b] == groups[g].last) ++g;
  }
  for (const Group& gr : groups) c.names.push_back(gr.name);
  return c;
}

Classes by_book(const Bible& bible) {
  Classes c;
  for (size_t b = 0; b < bible.books.size(); ++b) {
    c.names.push_back(bible.books[b].name);
    c.of_book.push_back(static_cast<int64_t>(b));
  }
  return c;
}

// ---- split and passages ------------------------------------------------------------------------------------

VerseRanges split_verses(int64_t n_verses, const Options& opts) {
  VerseRanges r;
  r.train_end = static_cast<int64_t>(n_verses * (1.0 - opts.val_fraction - opts.test_fraction));
  r.val_end = static_cast<int64_t>(n_verses * (1.0 - opts.test_fraction));
  return r;
}

std::vector<Passage> cut_passages(const Bible& bible, const Classes& classes, Split split, const Options& opts) {
  check_options(opts);
  AZ_CHECK(classes.of_book.size() == bible.books.size(), "books: ", classes.of_book.size(),
           " class entries for ", bible.books.size(), " books");
  std::vector<Passage> out;
  for (int64_t c = 0; c < static_cast<int64_t>(classes.names.size()); ++c) {
    // The class's stream: (book, verse) of its books' ranges of this split, in reading order.
    std::vector<std::pair<int64_t, int64_t>> stream;
    for (int64_t b = 0; b < static_cast<int64_t>(bible.books.size()); ++b) {
      if (classes.of_book[b] != c) continue;
      const int64_t n = static_cast<int64_t>(bible.books[b].verses.size());
      const VerseRanges r = split_verses(n, opts);
      const int64_t first = split == kTrain ? 0 : split == kVal ? r.train_end : r.val_end;
      const int64_t end = split == kTrain ? r.train_end : split == kVal ? r.val_end : n;
      for (int64_t v = first; v < end; ++v) stream.emplace_back(b, v);
    }
    // Greedy: from a verse start, whole verses joined with spaces until `length` bytes, cut there.
    size_t i = 0;
    while (i < stream.size()) {
      Passage p;
      p.label = c;
      size_t j = i;
      while (j < stream.size() && static_cast<int64_t>(p.text.size()) < opts.length) {
        const auto [b, v] = stream[j];
        if (!p.text.empty()) p.text += ' ';
        p.text += bible.books[b].verses[v];
        if (p.spans.empty() || p.spans.back().book != b) p.spans.push_back(Span{b, v, v});
        p.spans.back().last = v;
        ++j;
      }
      if (static_cast<int64_t>(p.text.size()) < opts.length) break;  // the stream's short rest is dropped
      p.text.resize(static_cast<size_t>(opts.length));
      out.push_back(std::move(p));
      i = j;  // the next passage starts at the verse after the one that was cut
    }
  }
  return out;
}

// ---- the tasks ---------------------------------------------------------------------------------------------

Splits classify(const Bible& bible, const Classes& classes, const Options& opts, bool balanced) {
  check_options(opts);
  const int64_t C = static_cast<int64_t>(classes.names.size());
  AZ_CHECK(C >= 2, "books: need at least 2 classes, got ", C);
  core::Rng rng(opts.seed);
  Splits splits;
  Dataset* out[3] = {&splits.train, &splits.val, &splits.test};
  const int64_t wanted[3] = {opts.n_train, opts.n_val, opts.n_test};
  for (int s = 0; s < 3; ++s) {
    const std::vector<Passage> all = cut_passages(bible, classes, static_cast<Split>(s), opts);
    std::vector<std::vector<const Passage*>> of_class(static_cast<size_t>(C));
    for (const Passage& p : all) of_class[p.label].push_back(&p);
    const int64_t quota = wanted[s] / C;
    AZ_CHECK(quota >= 1, "books: ", split_name(s), " size ", wanted[s], " is below one passage per class (", C,
             " classes)");
    int64_t smallest = 0;  // balanced: the class with the fewest passages sets the count of all
    for (int64_t c = 0; c < C; ++c)
      if (of_class[c].size() < of_class[smallest].size()) smallest = c;
    if (balanced)
      AZ_CHECK(!of_class[smallest].empty(), "books: class '", files::clip(classes.names[smallest]),
               "' has no passage of ", opts.length, " bytes in the ", split_name(s),
               " split; use shorter passages or larger split fractions");
    for (int64_t c = 0; c < C && s == kTrain && !balanced; ++c) {
      if (!of_class[c].empty()) continue;
      int64_t train_bytes = 0;
      for (size_t b = 0; b < bible.books.size(); ++b)
        if (classes.of_book[b] == c)
          train_bytes += bytes_of(bible.books[b], 0, split_verses(bible.books[b].verses.size(), opts).train_end);
      AZ_FAIL("books: '", files::clip(classes.names[c]), "' has ", train_bytes,
              " bytes of training text, no passage of ", opts.length, " bytes; use shorter passages or the groups");
    }
    Dataset& d = *out[s];
    d = empty_dataset("text", C, opts.length, false);
    for (int64_t c = 0; c < C; ++c) {
      const int64_t have = static_cast<int64_t>(of_class[c].size());
      const int64_t k = std::min(quota, balanced ? static_cast<int64_t>(of_class[smallest].size()) : have);
      for (int64_t i : sample(have, k, rng)) {
        d.inputs.push_back(text::encode_bytes(of_class[c][i]->text));
        d.labels.push_back(c);
      }
    }
    shuffle(d, rng);
  }
  return splits;
}

Splits which_book(const Bible& bible, const Options& opts) {
  return opts.books66 ? classify(bible, by_book(bible), opts, false) : classify(bible, kjv_groups(bible), opts, true);
}

Splits same_book(const Bible& bible, const Options& opts) {
  check_options(opts);
  const Classes classes = by_book(bible);
  core::Rng rng(opts.seed);
  Splits splits;
  Dataset* out[3] = {&splits.train, &splits.val, &splits.test};
  const int64_t wanted[3] = {opts.n_train, opts.n_val, opts.n_test};
  for (int s = 0; s < 3; ++s) {
    const std::vector<Passage> all = cut_passages(bible, classes, static_cast<Split>(s), opts);
    std::vector<std::vector<const Passage*>> of_book(bible.books.size());
    for (const Passage& p : all) of_book[p.label].push_back(&p);
    std::vector<int64_t> eligible;  // books with two passages or more in this split
    for (size_t b = 0; b < of_book.size(); ++b)
      if (of_book[b].size() >= 2) eligible.push_back(static_cast<int64_t>(b));
    AZ_CHECK(eligible.size() >= 2, "books: same book? needs 2 books with 2 passages of ", opts.length,
             " bytes each in the ", split_name(s), " split, found ", eligible.size(),
             "; use shorter passages or larger split fractions");
    const int64_t half = wanted[s] / 2;
    AZ_CHECK(half >= 1, "books: same book? ", split_name(s), " size ", wanted[s], " is below one pair per label");
    Dataset& d = *out[s];
    d = empty_dataset("retrieval", 2, opts.length, true);
    auto pick = [&](int64_t book) { return of_book[book][rng.randint(0, of_book[book].size())]; };
    for (int64_t i = 0; i < 2 * half; ++i) {
      const int64_t same = i < half ? 1 : 0;
      const int64_t e = rng.randint(0, eligible.size());
      const int64_t b1 = eligible[e];
      const Passage* p1 = pick(b1);
      const Passage* p2 = nullptr;
      if (same) {
        const std::vector<const Passage*>& ps = of_book[b1];
        const int64_t i1 = std::find(ps.begin(), ps.end(), p1) - ps.begin();
        int64_t i2 = rng.randint(0, ps.size() - 1);  // any other passage of the book
        if (i2 >= i1) ++i2;
        p2 = ps[i2];
      } else {
        int64_t e2 = rng.randint(0, eligible.size() - 1);  // any other eligible book
        if (e2 >= e) ++e2;
        p2 = pick(eligible[e2]);
      }
      d.inputs.push_back(text::encode_bytes(p1->text));
      d.inputs2.push_back(text::encode_bytes(p2->text));
      d.labels.push_back(same);
    }
    shuffle(d, rng);
  }
  return splits;
}

double majority_share(const Dataset& data) {
  if (data.size() == 0) return 0.0;
  const std::vector<int64_t> counts = data.label_counts();
  return static_cast<double>(*std::max_element(counts.begin(), counts.end())) / static_cast<double>(data.size());
}

}  // namespace lra::books
