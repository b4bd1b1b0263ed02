// corpora/corpus.h — real text: the corpora a fresh Debian machine can have, read as bytes, and their train /
// valid / test splits. The language models train on them (lm/) and the offline text tasks of the Long Range Arena
// are cut from them (lra/books.h), so they sit below both and need only core/.
//
//   corpora::Corpus c = corpora::load_corpus("kjv");  // or "fortunes", "gcide", or a path to any file
//   corpora::TextSplits s = corpora::split(c.text);   // 90 / 5 / 5 % by contiguous ranges
//   s.train.size();                                   // 3,868,415 bytes of the King James Bible
//
// Nothing is downloaded and no text is part of this project: the corpora come from Debian packages
// (`make deps-text`, or `sh scripts/install-deps.sh --text`):
//   kjv       the King James Bible, packages bible-kjv + bible-kjv-text: the output of
//             `bible -p /usr/lib "gen1:1-rev22:21"` (4.3 MB: book and chapter headings, numbered verses, lines
//             wrapped at 79 columns). Real long-range structure: verse numbers count up, chapter numbers recur
//             thousands of characters apart.
//   fortunes  package fortunes: the 43 category files of /usr/share/games/fortunes/ (not the .dat indexes nor
//             the .u8 links), in name order, concatenated: 2.6 MB of quotations separated by lines "%".
//   gcide     package dict-gcide: /usr/share/dictd/gcide.dict.dz, Webster's 1913 dictionary (dictzip, which is
//             gzip-compatible, decompressed in-process with zlib): 40 MB of lightly marked-up text.
//   PATH      any file: its bytes as they are (UTF-8 or not — the models are byte-level).
// A missing package or file is a core::Error of one line saying what to install or what is wrong.
//
// Splits are contiguous: train = the first 90 % of the bytes, valid = the next 5 %, test = the last 5 %. So the
// test text is one passage the model never saw (for KJV: the end of the New Testament, from 2 Corinthians on),
// not verses sprinkled among the training ones. The same corpus gives the same splits on every machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace corpora {

struct Corpus {
  std::string name;    // "kjv", "fortunes", "gcide", or the path as given
  std::string source;  // where the bytes came from, for config.json and the reports
  std::string text;    // the bytes
};

// The known corpus names, for help texts and errors.
const std::vector<std::string>& corpus_names();

// "kjv" | "fortunes" | "gcide" | a path. Throws core::Error (one line) when the package or file is missing,
// unreadable, a directory, or empty.
Corpus load_corpus(const std::string& name_or_path);

// A file's bytes as a corpus named by its path (what load_corpus does for a name that is not a known corpus).
Corpus load_file(const std::string& path);

struct TextSplits {
  std::string train, valid, test;
  int64_t valid_begin = 0, test_begin = 0;  // byte offsets of valid and test in the corpus
};

// Contiguous ranges: [0, train_fraction), [train_fraction, train_fraction + valid_fraction), the rest.
// Refuses (core::Error) a text too short to give every split at least min_bytes bytes.
TextSplits split(const std::string& text, double train_fraction = 0.90, double valid_fraction = 0.05,
                 int64_t min_bytes = 64);

}  // namespace corpora
