// lra/books.h — real-text downstream tasks from the King James Bible, offline and deterministic: "which book?"
// (a passage -> its book group, or its book) and "same book?" (two passages -> from one book or not). They stand
// in for the Long Range Arena's IMDb (task "text") and AAN (task "retrieval") when those are not downloaded.
//
// Source: corpora::load_corpus("kjv") (corpora/corpus.h), the output of `bible -p /usr/lib "gen1:1-rev22:21"`:
//
//   (blank line)
//   Genesis 1                      <- heading "BOOK CHAPTER" after a blank line: "1 Samuel 3", "Song of Solomon 2"
//   (blank line)
//     1 In the beginning God ...   <- a verse: spaces, its number, one space, its text
//   the deep. And the Spirit ...   <- a wrapped continuation line of the verse above
//
// parse() reads this into books (in order) of verses; parse_kjv() also demands the 66 books of the canon in
// their order, and fails with one line otherwise. The KJV's verse text has no digits at all.
//
// What a model sees. Headings and verse numbers are removed; the text of a verse is its lines joined with single
// spaces, and consecutive verses are joined with single spaces too: a passage is one line of running text,
//   "And God said, Let there be light: and there was light. And God saw the light, that it was good: and ..."
// so neither a heading, nor a verse number, nor the layout tells the answer. Token map as text.h (tfds
// ByteTextEncoder): PAD 0, byte b -> b + 1, vocab 257, no CLS.
//
// Which book? (lra task "text" without --data): classes are the 9 groups below (default) or the 66 books
// (Options::books66, the harder variant; class i = the i-th book of the canon).
//
//   class  group                       books                                  verse text
//     0    Law                         Genesis - Deuteronomy             (5)     815 KB
//     1    History                     Joshua - Esther                  (12)   1 073 KB
//     2    Wisdom and Poetry           Job - Song of Solomon             (5)     440 KB
//     3    Major Prophets              Isaiah - Daniel                   (5)     703 KB
//     4    Minor Prophets              Hosea - Malachi                  (12)     157 KB
//     5    Gospels                     Matthew - John                    (4)     436 KB
//     6    Acts                        Acts                              (1)     130 KB
//     7    Pauline Letters             Romans - Philemon                (13)     230 KB
//     8    General Letters, Revelation Hebrews - Revelation              (9)     153 KB
//
// The split, before any passage is cut (so no test text is ever seen in training): each book's verses are cut
// into contiguous ranges, the first 1 - val_fraction - test_fraction (80 %) -> train, the next val_fraction
// (10 %) -> val, the last test_fraction (10 %) -> test (counts of verses, rounded down).
//
// Passages: for one class and one split, the verses of its books' ranges in canon order form one stream;
// passages are cut from it one after the other, each starting at a verse's start and exactly `length` bytes
// long (its last verse is cut off mid-way; the next passage starts at the verse after it, so passages of a split
// never overlap). What is left at the end of a stream, shorter than `length`, is dropped: every passage has
// exactly `length` bytes, so length says nothing about the class. A group's passage may run from the end of one
// book's range into the next book of the same group (e.g. the last train verses of Genesis, then the first of
// Exodus); in the 66-book variant a passage never leaves its book.
//
// Sizes and balance: per split, quota = n_train / classes (n_val, n_test likewise; rounded down) passages per
// class, drawn at random (seeded) from the class's passages of that split.
//   groups:  every class gets the same number, min(quota, the smallest class's count): balanced, the majority
//            class is 1/9 of a split. A split in which a class has no passage at all is refused (one line naming
//            the class and the split). Acts, the smallest group, sets the cap; on the KJV at most, per class
//            (train / val / test):  length 256: 311 / 41 / 41,  1024: 93 / 12 / 12,  4096: 24 / 3 / 3 — so at
//            4096 the test split is 27 passages: prefer 1024-2048, or raise test_fraction.
//   books66: class c gets min(quota, its count): small books (2 John, 3 John, Philemon, Obadiah, Jude: 1.5-3.6 KB
//            of text) give fewer passages, or none in val/test, so the splits are not exactly balanced; see
//            majority_share(). A book without a single training passage is refused with one line naming it.
//            On the KJV: at length 256 4 books have no val passage and 3 no test passage (test majority share
//            0.057 when all passages are taken); at 1024, 18 and 17 books (0.056); from 2048 on it is refused
//            (Philemon; at 4096 Obadiah, 2690 bytes of training text).
//
// Same book? (lra task "retrieval" without --data): a pair task (Dataset::pair, inputs/inputs2, as the AAN loader
// of text.h). Both passages come from the same split (cut as above, by book); label 1 = the same book, 0 = two
// different books, exactly half each (n rounded down to even). Drawn with replacement: the first passage's book
// uniformly among the books with >= 2 passages in that split, a random passage of it; the second a different
// passage of the same book (label 1) or a random passage of another such book (label 0) — so which book a
// passage is from does not hint at the label. Any n can be asked for (passages recur across pairs).
//
// Deterministic: the same text, Options and seed give the same datasets (core::Rng); another seed draws other
// passages and pairs (the split itself does not depend on the seed).
//
//   const books::Bible bible = books::parse_kjv(corpora::load_corpus("kjv").text);
//   books::Options o;  o.length = 1024;  o.n_train = 2000;  o.seed = 1;
//   lra::Splits s = books::which_book(bible, o);      // 9 classes; o.books66 = true for the 66 books
//   lra::Splits p = books::same_book(bible, o);       // pairs; p.train.inputs2[i] is example i's second passage
//   books::majority_share(s.test);                    // 1/9 for the groups
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lra/dataset.h"

namespace lra::books {

struct Book {
  std::string name;                 // "Genesis", "1 Samuel", "Song of Solomon"
  std::vector<std::string> verses;  // the text of each verse: no number, wrapped lines joined with single spaces
  std::vector<int64_t> begin, end;  // byte range [begin, end) of each verse's lines in the parsed text
};

struct Bible {
  std::vector<Book> books;  // in the order of the text
};

// Books and verses of text in the layout above. Throws core::Error (one line, "books: SOURCE:LINE: ...") on a
// line that is neither heading, verse, continuation nor blank where one of them belongs, a chapter number out of
// sequence, a book that appears twice, or a text without any verse.
Bible parse(const std::string& text, const std::string& source = "text");
// The 66 book names of the King James Bible, Genesis .. Revelation, as its headings spell them.
const std::vector<std::string>& kjv_book_names();
// parse(), then one line of error unless the books are exactly kjv_book_names() in order ("books: the text does
// not look like the KJV output of `bible -p /usr/lib gen1:1-rev22:21`: ...").
Bible parse_kjv(const std::string& text);

// Which class each book belongs to.
struct Classes {
  std::vector<std::string> names;  // one per class
  std::vector<int64_t> of_book;    // of_book[b] = the class of bible.books[b]
};
// The 9 groups of the table (needs the 66 KJV books, as parse_kjv gives).
Classes kjv_groups(const Bible& bible);
// One class per book, named by it.
Classes by_book(const Bible& bible);

struct Options {
  int64_t length = 1024;                   // bytes per passage (= tokens; max_len of the datasets)
  int64_t n_train = 2000, n_val = 200, n_test = 200;  // examples wanted per split (see the caps above)
  double val_fraction = 0.1, test_fraction = 0.1;     // of each book's verses, at its end
  uint64_t seed = 0;
  bool books66 = false;                    // which_book: the 66 books instead of the 9 groups
};

enum Split { kTrain = 0, kVal = 1, kTest = 2 };

// A run of verses of one book inside a passage: verses first..last (inclusive; the last may be cut off).
struct Span {
  int64_t book = 0, first = 0, last = 0;
};
struct Passage {
  int64_t label = 0;        // the class
  std::vector<Span> spans;  // in reading order; more than one only where a group's passage crosses into a book
  std::string text;         // exactly Options::length bytes
};

// Verses [0, train_end) of a book of n verses are train, [train_end, val_end) val, [val_end, n) test.
struct VerseRanges {
  int64_t train_end = 0, val_end = 0;
};
VerseRanges split_verses(int64_t n_verses, const Options& opts);

// Every passage of `split`, class by class in order, each class's in reading order (before any sampling).
std::vector<Passage> cut_passages(const Bible& bible, const Classes& classes, Split split, const Options& opts);

// Which book? with any classes (the tests use a few fake books): task "text", vocab 257, max_len = length.
// balanced = true: the groups' rule above; false: the books66 rule.
Splits classify(const Bible& bible, const Classes& classes, const Options& opts, bool balanced);
// Which book? on the KJV: classify() with kjv_groups (balanced) or, with opts.books66, by_book (capped).
Splits which_book(const Bible& bible, const Options& opts);
// Same book? pairs: task "retrieval", pair = true, 2 classes (1 = same book), vocab 257, max_len = length.
Splits same_book(const Bible& bible, const Options& opts);

// The share of the most frequent label in `data` (0 when empty): what always guessing that class scores.
double majority_share(const Dataset& data);

}  // namespace lra::books
