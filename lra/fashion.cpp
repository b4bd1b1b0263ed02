// lra/fashion.cpp — see fashion.h: gzip IDX files of Fashion-MNIST to gray pixel sequences.
#include "lra/fashion.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "lra/files.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace lra::fashion {

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

namespace {

const char* kWho = "fashion-mnist";

std::string hex32(uint32_t v) {
  char s[16];
  std::snprintf(s, sizeof s, "0x%08x", static_cast<unsigned>(v));
  return s;
}
std::string hex_byte(uint8_t v) {
  char s[4];
  std::snprintf(s, sizeof s, "%02x", static_cast<unsigned>(v));
  return s;
}

// A gzip file decompressed as a stream: read(out, n) gives the next n decompressed bytes, fewer only where the
// data ends. The file goes through one 64 KiB input buffer and zlib's inflate, so memory is the caller's `out`
// and nothing else, whatever the file claims. Errors name the file: missing, not gzip, cut short, corrupt.
class GzipStream {
 public:
  explicit GzipStream(const std::string& path) : shown_(files::printable(path)), in_(1 << 16) {
    std::error_code ec;
    AZ_CHECK(fs::exists(path, ec), kWho, ": missing ", shown_);
    AZ_CHECK(!fs::is_directory(path, ec), kWho, ": ", shown_, " is a directory, expected a gzip IDX file");
    file_ = std::fopen(path.c_str(), "rb");
    AZ_CHECK(file_ != nullptr, kWho, ": cannot open ", shown_, ": ", std::strerror(errno));
    // 15 + 16: a 32 KiB window (the most gzip uses), and only gzip framing (header, CRC-32, length) is accepted.
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) {
      std::fclose(file_);
      AZ_FAIL(kWho, ": ", shown_, ": zlib inflateInit2 failed");
    }
    try {
      fill();
      // Every gzip file starts with the bytes 1f 8b (RFC 1952).
      const auto* b = zs_.next_in;
      if (zs_.avail_in < 2 || b[0] != 0x1f || b[1] != 0x8b) {
        std::string first;  // its first bytes in hex, at most 4
        for (uInt i = 0; i < zs_.avail_in && i < 4; ++i) first += (i ? " " : "") + hex_byte(b[i]);
        const bool idx = zs_.avail_in >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0x08;  // an IDX magic number
        AZ_FAIL(kWho, ": ", shown_, ": not a gzip file (", first.empty() ? "it is empty" : "it starts with " + first,
                "; gzip starts with 1f 8b)", idx ? ": an uncompressed IDX file? gzip it" : "");
      }
    } catch (...) {
      close();
      throw;
    }
  }
  ~GzipStream() { close(); }
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  const std::string& shown() const { return shown_; }

  // Fills out[0..n) with the next decompressed bytes; returns how many, < n only at the end of the gzip data.
  size_t read(uint8_t* out, size_t n) {
    zs_.next_out = out;
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out > 0 && !ended_) {
      if (zs_.avail_in == 0) {
        fill();
        AZ_CHECK(zs_.avail_in > 0, kWho, ": ", shown_, ": truncated: the file ends inside its gzip data");
      }
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        ended_ = true;  // the CRC-32 and length of the trailer matched what was decompressed
      } else {
        // Z_BUF_ERROR only means "no input left": the loop reads more.
        AZ_CHECK(rc == Z_OK || (rc == Z_BUF_ERROR && zs_.avail_in == 0), kWho, ": ", shown_,
                 ": corrupt gzip data (zlib: ", zs_.msg ? zs_.msg : "error", ")");
      }
    }
    return n - zs_.avail_out;
  }
  // True when no decompressed byte is left (reading on to the trailer, so its CRC-32 is checked too).
  bool at_end() {
    uint8_t b;
    return read(&b, 1) == 0;
  }

 private:
  void fill() {
    const size_t got = std::fread(in_.data(), 1, in_.size(), file_);
    AZ_CHECK(!std::ferror(file_), kWho, ": cannot read ", shown_, ": ", std::strerror(errno));
    zs_.next_in = in_.data();
    zs_.avail_in = static_cast<uInt>(got);
  }
  void close() {
    if (!file_) return;
    inflateEnd(&zs_);
    std::fclose(file_);
    file_ = nullptr;
  }

  std::string shown_;
  std::vector<uint8_t> in_;  // compressed bytes, one buffer's worth
  std::FILE* file_ = nullptr;
  z_stream zs_{};
  bool ended_ = false;
};

// One big-endian uint32 of the IDX header.
uint32_t read_u32(GzipStream& gz, const char* field) {
  uint8_t b[4];
  AZ_CHECK(gz.read(b, 4) == 4, kWho, ": ", gz.shown(), ": truncated: the data ends inside the IDX header (at its ",
           field, ")");
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

void check_magic(GzipStream& gz, uint32_t expected) {
  const uint32_t magic = read_u32(gz, "magic number");
  const bool images = expected == kImagesMagic;
  const uint32_t other = images ? kLabelsMagic : kImagesMagic;
  AZ_CHECK(magic == expected, kWho, ": ", gz.shown(), ": magic number ", hex32(magic), ", expected ", hex32(expected),
           images ? " (IDX images: unsigned bytes, 3 dimensions)" : " (IDX labels: unsigned bytes, 1 dimension)",
           magic == other ? (images ? ": this is a labels file" : ": this is an images file") : "");
}

Dataset empty_image_dataset() {
  Dataset d;
  d.task = "image";
  d.vocab = 256;
  d.num_classes = 10;
  d.max_len = kPixels;
  d.pad_id = 0;
  return d;
}

}  // namespace

std::vector<uint8_t> read_labels(const std::string& path) {
  GzipStream gz(path);
  check_magic(gz, kLabelsMagic);
  const uint32_t count = read_u32(gz, "label count");
  // No reserve(count): the header is a claim. The vector grows with the labels that are really there.
  std::vector<uint8_t> labels;
  uint8_t chunk[1 << 12];
  while (labels.size() < count) {
    const size_t want = std::min<size_t>(sizeof chunk, count - labels.size());
    const size_t got = gz.read(chunk, want);
    for (size_t i = 0; i < got; ++i)
      AZ_CHECK(chunk[i] < 10, kWho, ": ", gz.shown(), ": label ", int(chunk[i]), " at index ", labels.size() + i,
               " (expected 0..9)");
    labels.insert(labels.end(), chunk, chunk + got);
    AZ_CHECK(got == want, kWho, ": ", gz.shown(), ": truncated: the header announces ", count,
             " labels, the data ends after ", labels.size());
  }
  AZ_CHECK(gz.at_end(), kWho, ": ", gz.shown(), ": more data after the ", count, " labels the header announces");
  return labels;
}

Dataset load_split(const std::string& images_path, const std::string& labels_path) {
  const std::vector<uint8_t> labels = read_labels(labels_path);
  GzipStream gz(images_path);
  check_magic(gz, kImagesMagic);
  const uint32_t count = read_u32(gz, "image count");
  const uint32_t rows = read_u32(gz, "row count");
  const uint32_t cols = read_u32(gz, "column count");
  AZ_CHECK(rows == kSide && cols == kSide, kWho, ": ", gz.shown(), ": images are ", rows, " x ", cols,
           " pixels, expected ", kSide, " x ", kSide);
  AZ_CHECK(count == labels.size(), kWho, ": ", gz.shown(), " holds ", count, " images but ",
           files::printable(labels_path), " holds ", labels.size(), " labels");
  // From here count is the number of labels really read: reserving it is bounded by data that exist.
  Dataset d = empty_image_dataset();
  d.inputs.reserve(labels.size());
  d.labels.reserve(labels.size());
  uint8_t px[kPixels];  // one image, row by row
  for (uint32_t i = 0; i < count; ++i) {
    AZ_CHECK(gz.read(px, kPixels) == kPixels, kWho, ": ", gz.shown(), ": truncated: the header announces ", count,
             " images, the data ends inside image ", i);
    d.inputs.emplace_back(px, px + kPixels);  // gray value v -> token v
    d.labels.push_back(labels[i]);
  }
  AZ_CHECK(gz.at_end(), kWho, ": ", gz.shown(), ": more data after the ", count, " images the header announces");
  return d;
}

Splits load_dir(const std::string& dir, double val_fraction, uint64_t seed) {
  const auto path = [&](const char* name) { return (fs::path(dir) / name).string(); };
  const std::string train_images = path("train-images-idx3-ubyte.gz");
  const std::string train_labels = path("train-labels-idx1-ubyte.gz");
  const std::string test_images = path("t10k-images-idx3-ubyte.gz");
  const std::string test_labels = path("t10k-labels-idx1-ubyte.gz");
  // All four files are looked for before any is read, so a missing one is reported at once.
  std::string trimmed = dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const bool default_dir = fs::path(trimmed).lexically_normal() == fs::path(kDefaultDir);
  for (const std::string& p : {train_images, train_labels, test_images, test_labels}) {
    std::error_code ec;
    if (fs::exists(p, ec)) continue;
    if (default_dir)
      AZ_FAIL(kWho, ": missing ", files::printable(p),
              " (install it: sudo apt-get install dataset-fashion-mnist, or sh scripts/install-deps.sh --data)");
    AZ_FAIL(kWho, ": missing ", files::printable(p), " (a Fashion-MNIST directory holds train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz)");
  }
  Dataset train = load_split(train_images, train_labels);
  Dataset test = load_split(test_images, test_labels);
  return carve_val(std::move(train), std::move(test), val_fraction, seed);
}

}  // namespace lra::fashion
