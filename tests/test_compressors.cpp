// tests/test_compressors.cpp — lm/compressors: random bytes cost 8 bits, a text already read costs almost
// nothing, and on a text with a known entropy every compressor spends more than that entropy, gzip the most.
// The texts are made here from a seeded generator (no text from elsewhere), small enough to keep xz -9e quick.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/random.h"
#include "lm/compressors.h"
#include "tests/helpers.h"

namespace {

using lm::Compressor;
using testing::error_of;

std::string random_bytes(size_t n, uint64_t seed) {
  core::Rng rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng.randint(0, 256));
  return s;
}

// A "natural-ish" text whose entropy is known exactly: words drawn independently from a Zipf law over a made-up
// vocabulary, each followed by a space. Since spaces delimit the words, the source's entropy per byte is
//   H = (entropy of one word) / (mean bytes per word, space included).
struct ZipfText {
  std::string text;
  double entropy_bits_per_byte = 0;
};

ZipfText zipf_text(size_t n_bytes, uint64_t seed) {
  core::Rng rng(seed);
  const int vocab = 400;
  std::vector<std::string> words;
  std::vector<double> p;
  double z = 0;
  for (int w = 0; w < vocab; ++w) {
    // Words of 2..8 lowercase letters (repeats are harmless: they only lower the true entropy below H).
    std::string word;
    const int64_t len = rng.randint(2, 9);
    for (int64_t i = 0; i < len; ++i) word += static_cast<char>('a' + rng.randint(0, 26));
    words.push_back(word);
    p.push_back(1.0 / (w + 1));  // Zipf: the r-th word is 1/r as frequent as the first
    z += p.back();
  }
  double h_word = 0, bytes_per_word = 0;
  std::vector<double> cumulative;
  double acc = 0;
  for (int w = 0; w < vocab; ++w) {
    p[w] /= z;
    h_word -= p[w] * std::log2(p[w]);
    bytes_per_word += p[w] * static_cast<double>(words[w].size() + 1);
    acc += p[w];
    cumulative.push_back(acc);
  }
  ZipfText out;
  out.entropy_bits_per_byte = h_word / bytes_per_word;
  while (out.text.size() < n_bytes) {
    const double u = rng.uniform01();
    size_t w = 0;
    while (w + 1 < cumulative.size() && cumulative[w] < u) ++w;
    out.text += words[w];
    out.text += ' ';
  }
  out.text.resize(n_bytes);
  return out;
}

}  // namespace

TEST_CASE("compressors: names round trip; an unknown name or an empty test text is one line") {
  for (Compressor c : lm::all_compressors()) CHECK(lm::compressor_from_name(lm::compressor_name(c)) == c);
  CHECK(lm::compressor_setting(Compressor::xz) == "xz -9e");
  CHECK(lm::compressor_setting(Compressor::gzip) == "gzip -9");
  CHECK(error_of([] { lm::compressor_from_name("zip"); }) ==
        "lm: unknown compressor 'zip' (expected gzip, bzip2, xz)");
  CHECK(error_of([] { lm::bits_per_byte(Compressor::bzip2, "some training text", ""); }) ==
        "lm: bzip2: the test text is empty (bits per byte of nothing)");
  CHECK(error_of([] { lm::compressor_results("", ""); }).find("the test text is empty") != std::string::npos);
}

TEST_CASE("compressors: random bytes cost 8 bits per byte, or a little more") {
  const std::string train = random_bytes(32 * 1024, 1);
  const std::string test = random_bytes(64 * 1024, 2);
  for (Compressor c : lm::all_compressors()) {
    CAPTURE(lm::compressor_name(c));
    // Nothing can be predicted, conditioned or not; the formats' framing adds a fraction of a percent.
    const double unconditioned = lm::bits_per_byte(c, "", test);
    const double conditioned = lm::bits_per_byte(c, train, test);
    CHECK(unconditioned >= 7.99);
    CHECK(unconditioned <= 8.2);
    CHECK(conditioned >= 7.99);
    CHECK(conditioned <= 8.2);
    CHECK(lm::compressed_bytes(c, test) > test.size());  // incompressible: the output is larger
  }
}

TEST_CASE("compressors: a text already read costs far less than a text seen for the first time") {
  const std::string text = zipf_text(20 * 1024, 3).text;  // shorter than deflate's 32 KiB window
  for (Compressor c : lm::all_compressors()) {
    CAPTURE(lm::compressor_name(c));
    const double fresh = lm::bits_per_byte(c, "", text);
    const double again = lm::bits_per_byte(c, text, text);
    CAPTURE(fresh);
    CAPTURE(again);
    CHECK(fresh > 1.5);
    CHECK(again < 0.5 * fresh);
    // xz: one long match, a few bytes. gzip: deflate's matches stop at 258 bytes, so the copy is ~80 matches
    // of ~20 bits each (~0.1 bit/byte). bzip2 sorts the block, which only halves what each context costs.
    if (c == Compressor::xz) CHECK(again < 0.05);
    if (c == Compressor::gzip) CHECK(again < 0.2);
  }
}

TEST_CASE("compressors: on a text of known entropy, every compressor spends more than it, gzip the most") {
  const ZipfText z = zipf_text(300 * 1024, 4);
  const std::string_view all(z.text);
  const std::string_view train = all.substr(0, 270 * 1024), test = all.substr(270 * 1024);
  const std::vector<lm::CompressorResult> results = lm::compressor_results(train, test);
  REQUIRE(results.size() == 3);
  CAPTURE(z.entropy_bits_per_byte);
  for (const lm::CompressorResult& r : results) {
    CAPTURE(r.name);
    CAPTURE(r.bits_per_byte);
    CHECK(r.train_bytes == train.size());
    CHECK(r.test_bytes == test.size());
    CHECK(r.compressed_train == lm::compressed_bytes(lm::compressor_from_name(r.name), train));
    CHECK(r.bits_per_byte == doctest::Approx(8.0 * (double(r.compressed_both) - double(r.compressed_train)) /
                                             double(test.size())));
    // No code beats the source's entropy (by more than chance); these are far from beating it.
    CHECK(r.bits_per_byte > z.entropy_bits_per_byte);
    CHECK(r.bits_per_byte < 8.0);
  }
  const double gzip = results[0].bits_per_byte, bzip2 = results[1].bits_per_byte, xz = results[2].bits_per_byte;
  CHECK(results[0].name == "gzip");
  CHECK(results[1].name == "bzip2");
  CHECK(results[2].name == "xz");
  CHECK(gzip > bzip2);
  CHECK(gzip > xz);
  // The best compressor gets within a bit per byte of the entropy on 270 KB of context.
  CHECK(std::min(bzip2, xz) < z.entropy_bits_per_byte + 1.0);
  MESSAGE("entropy ", z.entropy_bits_per_byte, ", gzip ", gzip, ", bzip2 ", bzip2, ", xz ", xz, " bits/byte");

  // Deterministic: the same input gives the same sizes.
  const std::vector<lm::CompressorResult> again = lm::compressor_results(train, test);
  for (size_t i = 0; i < results.size(); ++i) {
    CHECK(again[i].compressed_train == results[i].compressed_train);
    CHECK(again[i].compressed_both == results[i].compressed_both);
    CHECK(again[i].bits_per_byte == results[i].bits_per_byte);
  }
}
