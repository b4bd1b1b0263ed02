// corpora/corpus.cpp — reading the corpora of corpus.h.
#include "corpora/corpus.h"

#include <zlib.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace corpora {

namespace {

const char* kInstallText = "(make deps-text, or: sudo apt-get install bible-kjv bible-kjv-text fortunes dict-gcide)";

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The whole of a regular file (or a FIFO), or a one-line error naming it.
std::string read_file(const std::string& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    AZ_FAIL("corpus: cannot open ", what, ": ", std::strerror(errno));
  AZ_CHECK(!S_ISDIR(st.st_mode), "corpus: ", what, " is a directory; give a file");
  std::ifstream in(path, std::ios::binary);
  AZ_CHECK(in, "corpus: cannot open ", what, ": ", std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  AZ_CHECK(!in.bad(), "corpus: cannot read ", what);
  return s.str();
}

Corpus kjv() {
  const std::string bible = "/usr/bin/bible", data = "/usr/lib/bible.data";
  AZ_CHECK(exists(bible) && exists(data), "corpus kjv: the King James Bible needs the Debian packages bible-kjv and "
           "bible-kjv-text ", kInstallText);
  // Genesis 1:1 to Revelation 22:21, every verse, as the bible program prints it.
  const std::string command = bible + " -p /usr/lib \"gen1:1-rev22:21\" 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  AZ_CHECK(pipe != nullptr, "corpus kjv: cannot run ", bible, ": ", std::strerror(errno));
  std::string text;
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, got);
  const int status = ::pclose(pipe);
  AZ_CHECK(status == 0 && text.size() > 1000000, "corpus kjv: `bible -p /usr/lib gen1:1-rev22:21` failed (exit ",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1, ", ", text.size(), " bytes); reinstall bible-kjv and bible-kjv-text");
  return {"kjv", "bible -p /usr/lib \"gen1:1-rev22:21\" (Debian bible-kjv, bible-kjv-text)", text};
}

Corpus fortunes() {
  const std::string dir = "/usr/share/games/fortunes";
  DIR* d = ::opendir(dir.c_str());
  AZ_CHECK(d != nullptr, "corpus fortunes: ", dir, " not found: it needs the Debian package fortunes ", kInstallText);
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    const auto ends = [&](const std::string& suffix) {
      return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends(".dat") || ends(".u8")) continue;  // the random-access indexes, and links to the text files
    struct stat st;
    if (::lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  AZ_CHECK(!names.empty(), "corpus fortunes: no fortune files in ", dir, "; reinstall the Debian package fortunes");
  std::string text;
  for (const std::string& name : names) text += read_file(dir + "/" + name, dir + "/" + name);
  return {"fortunes", dir + "/* (" + std::to_string(names.size()) + " files; Debian fortunes)", text};
}

Corpus gcide() {
  const std::string path = "/usr/share/dictd/gcide.dict.dz";
  AZ_CHECK(exists(path), "corpus gcide: ", path, " not found: it needs the Debian package dict-gcide ", kInstallText);
  gzFile f = ::gzopen(path.c_str(), "rb");  // dictzip is gzip with an index in the header's extra field
  AZ_CHECK(f != nullptr, "corpus gcide: cannot open ", path);
  std::string text;
  char buf[1 << 16];
  int got;
  while ((got = ::gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(got));
  const bool ok = got == 0;
  ::gzclose(f);
  AZ_CHECK(ok && !text.empty(), "corpus gcide: ", path, " is not a readable dictzip file; reinstall dict-gcide");
  return {"gcide", path + " (Debian dict-gcide)", text};
}

}  // namespace

const std::vector<std::string>& corpus_names() {
  static const std::vector<std::string> names = {"kjv", "fortunes", "gcide"};
  return names;
}

Corpus load_corpus(const std::string& name_or_path) {
  AZ_CHECK(!name_or_path.empty(), "corpus: empty name; give kjv, fortunes, gcide or a file's path");
  if (name_or_path == "kjv") return kjv();
  if (name_or_path == "fortunes") return fortunes();
  if (name_or_path == "gcide") return gcide();
  return load_file(name_or_path);
}

Corpus load_file(const std::string& path) {
  Corpus c{path, path, read_file(path, path)};
  AZ_CHECK(!c.text.empty(), "corpus: ", path, " is empty");
  return c;
}

TextSplits split(const std::string& text, double train_fraction, double valid_fraction, int64_t min_bytes) {
  AZ_CHECK(train_fraction > 0 && valid_fraction > 0 && train_fraction + valid_fraction < 1,
           "corpus split: fractions must be > 0 and leave room for a test split, got train ", train_fraction,
           " valid ", valid_fraction);
  const int64_t n = static_cast<int64_t>(text.size());
  const int64_t valid_begin = static_cast<int64_t>(std::floor(n * train_fraction));
  const int64_t test_begin = static_cast<int64_t>(std::floor(n * (train_fraction + valid_fraction)));
  TextSplits s;
  s.valid_begin = valid_begin;
  s.test_begin = test_begin;
  AZ_CHECK(valid_begin >= min_bytes && test_begin - valid_begin >= min_bytes && n - test_begin >= min_bytes,
           "corpus split: a text of ", n, " bytes is too short: every split needs at least ", min_bytes,
           " bytes (valid and test are ", valid_fraction * 100, " % and ", (1 - train_fraction - valid_fraction) * 100,
           " % of it)");
  s.train = text.substr(0, valid_begin);
  s.valid = text.substr(valid_begin, test_begin - valid_begin);
  s.test = text.substr(test_begin);
  return s;
}

}  // namespace corpora
