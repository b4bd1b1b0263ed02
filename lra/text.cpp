// lra/text.cpp — see text.h: byte-level IMDb reviews from the aclImdb folders, AAN pairs from TSV.
#include "lra/text.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "lra/files.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace lra::text {

Sequence encode_bytes(const std::string& bytes, int64_t max_len) {
  const size_t n = max_len > 0 ? std::min(bytes.size(), static_cast<size_t>(max_len)) : bytes.size();
  Sequence ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<Token>(static_cast<unsigned char>(bytes[i])) + 1;
  return ids;
}

std::string decode_bytes(const Sequence& ids) {
  std::string out;
  for (Token id : ids) {
    if (id == kPad) break;
    AZ_CHECK(id >= 1 && id <= 256, "text: decode_bytes: id ", id, " is not a byte id (1..256)");
    out += static_cast<char>(id - 1);
  }
  return out;
}

namespace {

Dataset empty_text_dataset(const std::string& task, int64_t max_len, bool pair) {
  AZ_CHECK(max_len >= 1, task, ": max_len must be >= 1, got ", max_len);
  Dataset d;
  d.task = task;
  d.vocab = kVocab;
  d.num_classes = 2;
  d.max_len = max_len;
  d.pad_id = kPad;
  d.pair = pair;
  return d;
}

}  // namespace

Dataset load_imdb_split(const std::string& acl_dir, const std::string& split, int64_t max_len) {
  AZ_CHECK(split == "train" || split == "test", "imdb: split must be 'train' or 'test', got '", files::clip(split), "'");
  Dataset d = empty_text_dataset("text", max_len, false);
  const char* kHint = " (unpack aclImdb_v1.tar.gz from https://ai.stanford.edu/~amaas/data/sentiment/ and pass "
                      "the aclImdb directory)";
  for (const char* cls : {"neg", "pos"}) {
    const fs::path dir = fs::path(acl_dir) / split / cls;
    AZ_CHECK(fs::is_directory(dir), "imdb: missing directory ", files::printable(dir.string()), kHint);
    std::vector<fs::path> names;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".txt") names.push_back(entry.path());
    std::sort(names.begin(), names.end());
    for (const fs::path& p : names) {
      // Only the first max_len bytes are kept, so only they are read: a huge stray .txt costs nothing.
      d.inputs.push_back(encode_bytes(files::read_all(p.string(), "imdb", max_len), max_len));
      d.labels.push_back(std::string(cls) == "pos" ? 1 : 0);
    }
  }
  AZ_CHECK(d.size() > 0, "imdb: no .txt reviews under ", files::printable((fs::path(acl_dir) / split).string()), kHint);
  return d;
}

Splits load_imdb(const std::string& acl_dir, int64_t max_len, double val_fraction, uint64_t seed) {
  Dataset train = load_imdb_split(acl_dir, "train", max_len);
  Dataset test = load_imdb_split(acl_dir, "test", max_len);
  return carve_val(std::move(train), std::move(test), val_fraction, seed);
}

}  // namespace lra::text

namespace lra::retrieval {

Dataset load_tsv(const std::string& path, int64_t max_len) {
  Dataset d = text::empty_text_dataset("retrieval", max_len, true);
  const std::string shown = files::printable(path);
  std::error_code ec;
  AZ_CHECK(fs::exists(path, ec), "retrieval: missing ", shown,
           " (the LRA release has lra_release/tsv_data/new_aan_pairs.{train,eval,test}.tsv)");
  std::ifstream in(path, std::ios::binary);
  AZ_CHECK(in.good() && !fs::is_directory(path, ec), "retrieval: cannot open ", shown);
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = "retrieval: " + shown + ":" + std::to_string(line_no) + ": ";
    const std::vector<std::string> f = files::split(line, '\t');
    AZ_CHECK(f.size() == 5, where, "expected 5 tab-separated fields (label, id1, id2, text1, text2), got ",
             f.size());
    // The original pipeline parses the label as a float: "1", "1.0", "0.0" ...
    int64_t label = -1;
    char* end = nullptr;
    const double v = f[0].empty() ? -1.0 : std::strtod(f[0].c_str(), &end);
    if (end && *end == '\0' && (v == 0.0 || v == 1.0)) label = static_cast<int64_t>(v);
    AZ_CHECK(label >= 0, where, "label '", files::clip(f[0]), "' is not 0 or 1");
    d.inputs.push_back(text::encode_bytes(f[3], max_len));
    d.inputs2.push_back(text::encode_bytes(f[4], max_len));
    d.labels.push_back(label);
  }
  return d;
}

Splits load_dir(const std::string& dir, int64_t max_len) {
  auto load = [&](const char* split) {
    return load_tsv((fs::path(dir) / (std::string("new_aan_pairs.") + split + ".tsv")).string(), max_len);
  };
  Splits s;
  s.train = load("train");
  s.val = load("eval");
  s.test = load("test");
  return s;
}

void write_tsv(const std::string& path, const Dataset& pairs) {
  AZ_CHECK(pairs.pair && pairs.inputs2.size() == pairs.inputs.size(), "retrieval: write ", files::printable(path),
           ": the dataset is not a pair task");
  std::string body;
  for (int64_t i = 0; i < pairs.size(); ++i) {
    const std::string t1 = text::decode_bytes(pairs.inputs[i]), t2 = text::decode_bytes(pairs.inputs2[i]);
    AZ_CHECK(t1.find_first_of("\t\n\r") == std::string::npos && t2.find_first_of("\t\n\r") == std::string::npos,
             "retrieval: write ", files::printable(path), ": example ", i, " contains a tab or a line break");
    body += std::to_string(pairs.labels[i]) + "\ta" + std::to_string(i) + "\tb" + std::to_string(i) + "\t" + t1 +
            "\t" + t2 + "\n";
  }
  files::write_atomically(path, body, "retrieval");
}

}  // namespace lra::retrieval
