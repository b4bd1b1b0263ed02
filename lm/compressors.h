// lm/compressors.h — what gzip -9, bzip2 -9 and xz -9e spend on a text: the anchors a language model's bits per
// byte are read against.
//
// Why a language model is a compressor. A model that gives the next byte x_t the probability p(x_t | x_<t) can
// be turned into a code that spends -log2 p(x_t | x_<t) bits on it: arithmetic coding does exactly this, for the
// whole text within a few bytes of the sum, and the decoder, running the same model, undoes it. So the
// model's cross-entropy in bits per byte,
//     bpb = -(1/n) Σ_t log2 p(x_t | x_<t),
// IS the size of the file it would compress the text to, divided by n/8 — and a compressor is a language model
// too (an implicit one: gzip predicts "this string again", bzip2 sorts contexts, xz models matches and literals
// with adaptive probabilities). Comparing the two is comparing like with like; 8 bits per byte is knowing
// nothing; Shannon estimated English at about 1 bit per character (0.6 to 1.3).
//
// Conditioning on the training text. A model has read its training split before it sees the test split; to be
// fair, the compressor may read it too: we compress train + test and subtract what train alone costs,
//     bits_per_byte = 8 · (size(compress(train + test)) − size(compress(train))) / test.size().
// Fixed costs (headers, trailers, checksums) appear in both sizes and cancel. How much of train a compressor can
// still use is its own limit: deflate sees only the last 32 KiB (so gzip gains little), bzip2 compresses 900 kB
// blocks independently (only the train bytes that share a block with test help), xz -9e keeps a 64 MiB
// dictionary (all of a few-MB train).
//
// Computed in-process, with the libraries the command-line tools are built on:
//   gzip   zlib deflate, level 9, gzip framing (10-byte header, 8-byte CRC32 + length trailer), default memLevel 8
//   bzip2  libbz2 BZ2_bzBuffToBuffCompress, blockSize100k 9 (900 kB blocks), default workFactor
//   xz     liblzma lzma_easy_buffer_encode, preset 9 | LZMA_PRESET_EXTREME, CRC64 check (as `xz -9e`)
// Measured against the programs on the KJV Bible: bzip2's sizes equal the bzip2 program's byte for byte, xz's
// are within a few bytes of xz's (header fields), gzip's within 0.1% of gzip's (the gzip program has its own
// deflate implementation); the bits per byte agree to the third decimal. On KJV's last 5% (4.3 MB in all):
//   conditioned on the 95% before it (train + valid):  gzip 2.59  bzip2 1.85  xz 1.97 bits per byte
//   conditioned on the first 90% (train alone):        gzip 2.61  bzip2 1.94  xz 2.02
// The gap is the valid split: the text just before the test is the most like it (the last books of the New
// Testament), and bzip2's 900 kB blocks see only what lies just before.
//
// Cost: xz -9e is the slow one, a few seconds per 4 MB (bits_per_byte compresses train, then train + test: the
// training text twice); its encoder reserves ~670 MiB of address space (64 MiB dictionary, binary-tree match
// finder) but touches only what the input needs (~90 MB for 4 MB). gzip takes a fraction of a second, bzip2
// about a second per 4 MB. The results are deterministic: same input, same sizes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lm {

enum class Compressor { gzip, bzip2, xz };

// All three, in the order tables print them.
std::vector<Compressor> all_compressors();
// "gzip", "bzip2", "xz".
std::string compressor_name(Compressor c);
// "gzip -9", "bzip2 -9", "xz -9e": the command line it stands for.
std::string compressor_setting(Compressor c);
// The inverse of compressor_name; throws core::Error ("lm: unknown compressor 'zip' (expected gzip, bzip2, xz)").
Compressor compressor_from_name(const std::string& name);

// Size in bytes of `data` compressed by `c` (with its format's header and trailer).
size_t compressed_bytes(Compressor c, std::string_view data);

// 8 · (compressed_bytes(train + test) − compressed_bytes(train)) / test.size(): the bits per byte `c` spends on
// `test` once it has read `train`. An empty train means unconditioned. An empty test throws core::Error.
double bits_per_byte(Compressor c, std::string_view train, std::string_view test);

struct CompressorResult {
  std::string name;        // "gzip"
  std::string setting;     // "gzip -9"
  double bits_per_byte = 0;
  size_t train_bytes = 0;  // the text it was conditioned on
  size_t test_bytes = 0;
  size_t compressed_train = 0;  // compressed_bytes(train)
  size_t compressed_both = 0;   // compressed_bytes(train + test)
};

CompressorResult compressor_result(Compressor c, std::string_view train, std::string_view test);
// gzip, bzip2, xz on the same split (xz dominates the time: see above).
std::vector<CompressorResult> compressor_results(std::string_view train, std::string_view test);

}  // namespace lm
