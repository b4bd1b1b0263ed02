// lm/compressors.cpp — gzip, bzip2 and xz sizes through zlib, libbz2 and liblzma (see compressors.h).
//
// Each compressor is one library call on the whole input into a buffer of the library's worst-case bound; only
// the size of the output is kept. The libraries' integer types bound the input: libbz2 takes an unsigned int
// length, so inputs are capped at 1 GiB (a corpus is a few MB; GCIDE, the largest, is 40 MB).
#include "lm/compressors.h"

#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>

#include <vector>

#include "core/error.h"

namespace lm {

namespace {

constexpr size_t kMaxInput = size_t(1) << 30;

// deflate at level 9 with gzip framing: windowBits 15 (32 KiB window) + 16 selects the gzip header and trailer.
size_t gzip_bytes(std::string_view data) {
  z_stream zs{};
  AZ_CHECK(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "lm: gzip: deflateInit2 failed");
  std::vector<unsigned char> out(deflateBound(&zs, static_cast<uLong>(data.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));  // zlib's API is not const-correct
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);  // one call: the output buffer has deflateBound's room
  const size_t size = zs.total_out;
  deflateEnd(&zs);
  AZ_CHECK(rc == Z_STREAM_END, "lm: gzip: deflate failed (zlib code ", rc, ")");
  return size;
}

// bzip2 -9: 900 kB blocks. workFactor 0 means the library's default (30), as the bzip2 program uses.
size_t bzip2_bytes(std::string_view data) {
  // bzip2's documented worst case: 1% larger plus 600 bytes.
  unsigned int size = static_cast<unsigned int>(data.size() + data.size() / 100 + 600);
  std::vector<char> out(size);
  const int rc = BZ2_bzBuffToBuffCompress(out.data(), &size, const_cast<char*>(data.data()),
                                          static_cast<unsigned int>(data.size()), 9, 0, 0);
  AZ_CHECK(rc == BZ_OK, "lm: bzip2: BZ2_bzBuffToBuffCompress failed (libbz2 code ", rc, ")");
  return size;
}

// xz -9e: preset 9 (64 MiB dictionary) with the extreme flag (a slower, more thorough match search), CRC64.
size_t xz_bytes(std::string_view data) {
  std::vector<uint8_t> out(lzma_stream_buffer_bound(data.size()));
  size_t size = 0;
  const lzma_ret rc = lzma_easy_buffer_encode(9 | LZMA_PRESET_EXTREME, LZMA_CHECK_CRC64, nullptr,
                                              reinterpret_cast<const uint8_t*>(data.data()), data.size(), out.data(),
                                              &size, out.size());
  AZ_CHECK(rc != LZMA_MEM_ERROR, "lm: xz: out of memory (xz -9e needs ~670 MiB for its match finder)");
  AZ_CHECK(rc == LZMA_OK, "lm: xz: lzma_easy_buffer_encode failed (liblzma code ", static_cast<int>(rc), ")");
  return size;
}

}  // namespace

std::vector<Compressor> all_compressors() { return {Compressor::gzip, Compressor::bzip2, Compressor::xz}; }

std::string compressor_name(Compressor c) {
  switch (c) {
    case Compressor::gzip:
      return "gzip";
    case Compressor::bzip2:
      return "bzip2";
    case Compressor::xz:
      return "xz";
  }
  AZ_FAIL("lm: unknown compressor ", static_cast<int>(c));
}

std::string compressor_setting(Compressor c) {
  return c == Compressor::xz ? "xz -9e" : compressor_name(c) + " -9";
}

Compressor compressor_from_name(const std::string& name) {
  for (Compressor c : all_compressors()) {
    if (compressor_name(c) == name) return c;
  }
  AZ_FAIL("lm: unknown compressor '", core::printable(name), "' (expected gzip, bzip2, xz)");
}

size_t compressed_bytes(Compressor c, std::string_view data) {
  AZ_CHECK(data.size() <= kMaxInput, "lm: ", compressor_name(c), ": ", data.size(),
           " bytes is more than the 1 GiB the compressors take");
  switch (c) {
    case Compressor::gzip:
      return gzip_bytes(data);
    case Compressor::bzip2:
      return bzip2_bytes(data);
    case Compressor::xz:
      return xz_bytes(data);
  }
  AZ_FAIL("lm: unknown compressor ", static_cast<int>(c));
}

CompressorResult compressor_result(Compressor c, std::string_view train, std::string_view test) {
  AZ_CHECK(!test.empty(), "lm: ", compressor_name(c), ": the test text is empty (bits per byte of nothing)");
  std::string both;
  both.reserve(train.size() + test.size());
  both.append(train).append(test);
  CompressorResult r;
  r.name = compressor_name(c);
  r.setting = compressor_setting(c);
  r.train_bytes = train.size();
  r.test_bytes = test.size();
  // An empty train is compressed too: its size is the format's fixed bytes (gzip 20, bzip2 14, xz 32), which
  // then cancel as they do for any train.
  r.compressed_train = compressed_bytes(c, train);
  r.compressed_both = compressed_bytes(c, both);
  r.bits_per_byte = 8.0 * (static_cast<double>(r.compressed_both) - static_cast<double>(r.compressed_train)) /
                    static_cast<double>(test.size());
  return r;
}

double bits_per_byte(Compressor c, std::string_view train, std::string_view test) {
  return compressor_result(c, train, test).bits_per_byte;
}

std::vector<CompressorResult> compressor_results(std::string_view train, std::string_view test) {
  std::vector<CompressorResult> results;
  for (Compressor c : all_compressors()) results.push_back(compressor_result(c, train, test));
  return results;
}

}  // namespace lm
