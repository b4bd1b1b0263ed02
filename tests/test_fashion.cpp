// tests/test_fashion.cpp — the offline Image task (lra/fashion.h): the gzip IDX reader on fixtures written here
// byte by byte (so a reader bug cannot be cancelled by a writer bug), the seeded train/val split, one-line errors
// for every kind of bad file, a huge claimed count refused without allocating it, load_task's image dispatch, and,
// when the Debian package is installed, the real Fashion-MNIST counts.
#include <doctest/doctest.h>

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "lra/lra.h"
#include "tests/helpers.h"

namespace fs = std::filesystem;
namespace fashion = lra::fashion;

namespace {

using testing::error_of;
using testing::TempDir;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
bool one_line(const std::string& s) { return s.find('\n') == std::string::npos && !s.empty(); }

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// `raw` compressed with gzip framing (deflate, windowBits 15 + 16), as the Debian files are.
std::string gzip(const std::string& raw) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, raw.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A big-endian uint32, as every IDX header field.
std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}
// An IDX images file (uncompressed): magic, count, rows, cols, then the pixel bytes as given.
std::string idx_images(uint32_t count, const std::string& pixels, uint32_t rows = 28, uint32_t cols = 28,
                       uint32_t magic = 0x00000803) {
  return be32(magic) + be32(count) + be32(rows) + be32(cols) + pixels;
}
// An IDX labels file (uncompressed): magic, count, then the label bytes as given.
std::string idx_labels(uint32_t count, const std::string& labels, uint32_t magic = 0x00000801) {
  return be32(magic) + be32(count) + labels;
}

// The pixel of image k at position p in the fixtures: every image different, every gray value used.
uint8_t pixel(int k, int p) { return static_cast<uint8_t>((k * 31 + p * 7) % 256); }
std::string pixels(int first, int count) {
  std::string s;
  for (int k = first; k < first + count; ++k)
    for (int p = 0; p < 784; ++p) s += static_cast<char>(pixel(k, p));
  return s;
}

// DIR with the four files: n_train images (labels k % 10) and 2 test images (labels 1, 2, pixels of images 100, 101).
void write_fashion_dir(const std::string& dir, int n_train) {
  std::string labels;
  for (int k = 0; k < n_train; ++k) labels += static_cast<char>(k % 10);
  write_file(dir + "/train-images-idx3-ubyte.gz", gzip(idx_images(n_train, pixels(0, n_train))));
  write_file(dir + "/train-labels-idx1-ubyte.gz", gzip(idx_labels(n_train, labels)));
  write_file(dir + "/t10k-images-idx3-ubyte.gz", gzip(idx_images(2, pixels(100, 2))));
  write_file(dir + "/t10k-labels-idx1-ubyte.gz", gzip(idx_labels(2, std::string{1, 2})));
}

// The fixture index k of an image read back (its pixel 1 is 31 k + 7 mod 256, unique for k < 256 / gcd).
int image_id(const lra::Sequence& s) {
  for (int k = 0; k < 256; ++k)
    if (s[1] == pixel(k, 1) && s[2] == pixel(k, 2)) return k;
  return -1;
}

}  // namespace

TEST_CASE("fashion: the reader returns exactly the pixels and labels of hand-written gzip IDX files") {
  TempDir dir("fashion_read");
  const std::string images = dir / "images.gz", labels = dir / "labels.gz";
  write_file(images, gzip(idx_images(5, pixels(0, 5))));
  write_file(labels, gzip(idx_labels(5, std::string{3, 0, 9, 5, 3})));

  CHECK(fashion::read_labels(labels) == std::vector<uint8_t>{3, 0, 9, 5, 3});
  const lra::Dataset d = fashion::load_split(images, labels);
  CHECK(d.task == "image");
  CHECK(d.vocab == 256);
  CHECK(d.num_classes == 10);
  CHECK(d.max_len == 784);
  CHECK(d.pad_id == 0);
  CHECK(d.labels == std::vector<int64_t>{3, 0, 9, 5, 3});
  REQUIRE(d.size() == 5);
  for (int k = 0; k < 5; ++k) {
    REQUIRE(d.inputs[k].size() == 784);
    lra::Sequence want(784);
    for (int p = 0; p < 784; ++p) want[p] = pixel(k, p);  // gray value v -> token v, row by row
    CHECK(d.inputs[k] == want);
  }
  CHECK(d.inputs[0][0] == 0);
  CHECK(d.inputs[4][783] == (4 * 31 + 783 * 7) % 256);
  d.check();
  CHECK(fashion::class_names().size() == 10);
  CHECK(fashion::class_names()[0] == "T-shirt/top");
  CHECK(fashion::class_names()[9] == "Ankle boot");

  // 255 stays 255: bytes are unsigned.
  write_file(images, gzip(idx_images(1, std::string(784, '\xff'))));
  write_file(labels, gzip(idx_labels(1, std::string{7})));
  CHECK(fashion::load_split(images, labels).inputs[0] == lra::Sequence(784, 255));
  // An empty split is a valid file.
  write_file(images, gzip(idx_images(0, "")));
  write_file(labels, gzip(idx_labels(0, "")));
  CHECK(fashion::load_split(images, labels).size() == 0);
}

TEST_CASE("fashion: load_dir carves a seeded val out of train, test is t10k") {
  TempDir dir("fashion_dir");
  write_fashion_dir(dir.path.string(), 20);
  const lra::Splits s = fashion::load_dir(dir.path.string(), 0.25, 7);
  CHECK(s.train.size() == 15);
  CHECK(s.val.size() == 5);
  REQUIRE(s.test.size() == 2);
  CHECK(s.test.labels == std::vector<int64_t>{1, 2});
  CHECK(image_id(s.test.inputs[0]) == 100);
  CHECK(image_id(s.test.inputs[1]) == 101);
  for (const lra::Dataset* d : {&s.train, &s.val, &s.test}) {
    CHECK(d->task == "image");
    CHECK(d->max_len == 784);
    d->check();
  }
  // train and val cover the 20 images once, each with its own label; train keeps the file order.
  std::vector<int> seen(20, 0);
  int last = -1;
  for (int64_t i = 0; i < s.train.size(); ++i) {
    const int k = image_id(s.train.inputs[i]);
    REQUIRE(k >= 0);
    CHECK(k > last);
    last = k;
    CHECK(s.train.labels[i] == k % 10);
    ++seen[k];
  }
  for (int64_t i = 0; i < s.val.size(); ++i) {
    const int k = image_id(s.val.inputs[i]);
    REQUIRE(k >= 0);
    CHECK(s.val.labels[i] == k % 10);
    ++seen[k];
  }
  CHECK(seen == std::vector<int>(20, 1));

  // Same seed, same split; another seed, another val.
  const lra::Splits again = fashion::load_dir(dir.path.string(), 0.25, 7);
  CHECK(again.train.inputs == s.train.inputs);
  CHECK(again.val.inputs == s.val.inputs);
  CHECK(again.val.labels == s.val.labels);
  CHECK(fashion::load_dir(dir.path.string(), 0.25, 8).val.inputs != s.val.inputs);
  CHECK(fashion::load_dir(dir.path.string(), 0.0, 7).train.size() == 20);
  // A trailing slash is the same directory.
  CHECK(fashion::load_dir(dir.path.string() + "/", 0.25, 7).val.inputs == s.val.inputs);
}

TEST_CASE("fashion: every kind of bad file is one line naming the file") {
  TempDir dir("fashion_bad");
  const std::string images = dir / "images.gz", labels = dir / "labels.gz", bad = dir / "bad.gz";
  write_file(images, gzip(idx_images(5, pixels(0, 5))));
  write_file(labels, gzip(idx_labels(5, std::string{3, 0, 9, 5, 3})));
  REQUIRE(fashion::load_split(images, labels).size() == 5);

  struct Case {
    const char* what;
    std::string bytes;
    bool as_images;   // the bad file is the images file (else the labels file)
    const char* says;
  };
  const std::string good_images = idx_images(5, pixels(0, 5));
  const std::string gz_images = gzip(good_images);
  std::string corrupt = gz_images;
  corrupt[corrupt.size() / 2] ^= 0x55;  // a flipped byte inside the deflate data
  std::string bad_crc = gz_images;
  bad_crc[bad_crc.size() - 8] ^= 0x01;  // the CRC-32 of the trailer
  const std::vector<Case> cases = {
      {"labels magic in an images file", gzip(idx_images(5, pixels(0, 5), 28, 28, 0x00000801)), true,
       "magic number 0x00000801, expected 0x00000803 (IDX images: unsigned bytes, 3 dimensions): this is a labels file"},
      {"images magic in a labels file", gzip(idx_labels(5, std::string{3, 0, 9, 5, 3}, 0x00000803)), false,
       "magic number 0x00000803, expected 0x00000801"},
      {"any other magic", gzip(idx_images(5, pixels(0, 5), 28, 28, 0xdeadbeef)), true,
       "magic number 0xdeadbeef, expected 0x00000803"},
      {"gzip cut in the middle", gz_images.substr(0, gz_images.size() / 2), true,
       "truncated: the file ends inside its gzip data"},
      {"gzip cut before its trailer", gz_images.substr(0, gz_images.size() - 4), true,
       "truncated: the file ends inside its gzip data"},
      {"fewer images than announced", gzip(idx_images(5, pixels(0, 4) + std::string(100, '\0'))), true,
       "truncated: the header announces 5 images, the data ends inside image 4"},
      {"fewer labels than announced", gzip(idx_labels(5, std::string{3, 0, 9})), false,
       "truncated: the header announces 5 labels, the data ends after 3"},
      {"header cut short", gzip(be32(0x00000803) + be32(5) + std::string(2, '\0')), true,
       "truncated: the data ends inside the IDX header (at its row count)"},
      {"more images than labels", gzip(idx_images(6, pixels(0, 6))), true, "holds 6 images but "},
      {"fewer images than labels", gzip(idx_images(4, pixels(0, 4))), true, "holds 4 images but "},
      {"label 10", gzip(idx_labels(5, std::string{3, 0, 9, 10, 3})), false, "label 10 at index 3 (expected 0..9)"},
      {"label 255", gzip(idx_labels(5, std::string{3, 0, 9, 5, '\xff'})), false, "label 255 at index 4"},
      {"32 x 32 images", gzip(idx_images(5, std::string(5 * 1024, '\0'), 32, 32)), true,
       "images are 32 x 32 pixels, expected 28 x 28"},
      {"bytes after the last image", gzip(good_images + "x"), true, "more data after the 5 images the header"},
      {"plain text", "hello, world\n", true, "not a gzip file (it starts with 68 65 6c 6c; gzip starts with 1f 8b)"},
      {"an unpacked IDX file", good_images, true, "an uncompressed IDX file? gzip it"},
      {"an empty file", "", false, "not a gzip file (it is empty"},
      {"one byte", "\x1f", false, "not a gzip file (it starts with 1f;"},
      {"corrupt deflate data", corrupt, true, "corrupt gzip data (zlib: "},
      {"wrong CRC-32", bad_crc, true, "corrupt gzip data (zlib: incorrect data check)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    write_file(bad, c.bytes);
    const std::string err = c.as_images ? error_of([&] { fashion::load_split(bad, labels); })
                                        : error_of([&] { fashion::load_split(images, bad); });
    CAPTURE(err);
    CHECK(contains(err, "fashion-mnist: " + bad));
    CHECK(contains(err, c.says));
    CHECK(one_line(err));
    CHECK(testing::printable_line(err));
  }
  // The count mismatch names both files.
  write_file(bad, gzip(idx_images(6, pixels(0, 6))));
  CHECK(contains(error_of([&] { fashion::load_split(bad, labels); }), "but " + labels + " holds 5 labels"));

  // Missing files and directories.
  std::string err = error_of([&] { fashion::load_split(dir / "nope.gz", labels); });
  CHECK(err == "fashion-mnist: missing " + (dir / "nope.gz"));
  err = error_of([&] { fashion::read_labels(dir.path.string()); });
  CHECK(contains(err, "is a directory, expected a gzip IDX file"));
  err = error_of([&] { fashion::load_dir("/nonexistent/fashion"); });
  CHECK(contains(err, "fashion-mnist: missing /nonexistent/fashion/train-images-idx3-ubyte.gz (a Fashion-MNIST directory holds"));
  CHECK(one_line(err));
  write_fashion_dir(dir.path.string(), 3);
  fs::remove(dir / "t10k-labels-idx1-ubyte.gz");
  CHECK(contains(error_of([&] { fashion::load_dir(dir.path.string()); }), "missing " + (dir / "t10k-labels-idx1-ubyte.gz")));
  if (!fs::exists(fashion::kDefaultDir)) {
    err = error_of([&] { fashion::load_dir(); });
    CHECK(contains(err, "install it: sudo apt-get install dataset-fashion-mnist, or sh scripts/install-deps.sh --data"));
    CHECK(one_line(err));
  }
}

TEST_CASE("fashion: a huge claimed count in a small file is refused as truncated, not allocated") {
  TempDir dir("fashion_huge");
  const std::string images = dir / "images.gz", labels = dir / "labels.gz";
  // 10^9 images would be 784 GB of pixels (3 TB as int32 tokens); the files hold 5.
  write_file(images, gzip(idx_images(1000000000u, pixels(0, 5))));
  write_file(labels, gzip(idx_labels(1000000000u, std::string{3, 0, 9, 5, 3})));
  const bool rss_ok = testing::reset_peak_rss();
  const long rss_before = testing::proc_status_kib("VmRSS");
  const auto start = std::chrono::steady_clock::now();
  std::string err = error_of([&] { fashion::load_split(images, labels); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(err == "fashion-mnist: " + labels + ": truncated: the header announces 1000000000 labels, the data ends after 5");
  CHECK(seconds < 1.0);
  if (rss_ok && rss_before > 0) {
    const long grew_kib = testing::proc_status_kib("VmHWM") - rss_before;
    CAPTURE(grew_kib);
    CHECK(grew_kib < 4 * 1024);
  } else {
    MESSAGE("skipped the RSS check: /proc/self/clear_refs is not writable here");
  }
  // With 5 labels, the images file's claim of 4294967295 images is refused before any pixel is read.
  write_file(images, gzip(idx_images(0xffffffffu, pixels(0, 5))));
  write_file(labels, gzip(idx_labels(5, std::string{3, 0, 9, 5, 3})));
  err = error_of([&] { fashion::load_split(images, labels); });
  CHECK(contains(err, images + " holds 4294967295 images but " + labels + " holds 5 labels"));
  // And when both claim it: the labels file runs out first, at its real size.
  write_file(labels, gzip(idx_labels(0xffffffffu, std::string(5, '\1'))));
  CHECK(contains(error_of([&] { fashion::load_split(images, labels); }), "the data ends after 5"));
}

TEST_CASE("fashion: load_task 'image' checks max_len for Fashion-MNIST (784) and for CIFAR-10 with data (1024)") {
  lra::TaskOptions t;
  t.task = "image";
  t.max_len = 1024;
  std::string err = error_of([&] { lra::load_task(t); });
  CHECK(err == "lra: image (Fashion-MNIST) sequences are 784 pixels; max_len 1024 does not fit (leave it 0)");
  t.max_len = 784;
  t.data = "/nonexistent/cifar";
  err = error_of([&] { lra::load_task(t); });
  CHECK(err == "lra: image (CIFAR-10, --data) sequences are 1024 pixels; max_len 784 does not fit (leave it 0)");
  t.max_len = 0;
  CHECK(contains(error_of([&] { lra::load_task(t); }), "/nonexistent/cifar/data_batch_1.bin"));  // CIFAR as before
}

TEST_CASE("fashion: the Debian package's files: 60000 + 10000 images, 6000 and 1000 per class") {
  if (!fs::exists(fashion::kDefaultDir)) {
    const std::string why = std::string("skipped: ") + fashion::kDefaultDir + " is absent (apt-get install dataset-fashion-mnist)";
    MESSAGE(why);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  lra::TaskOptions t;
  t.task = "image";  // no data: Fashion-MNIST from the package, val 10% with seed 0
  t.n_train = t.n_val = t.n_test = std::numeric_limits<int64_t>::max();  // all of each split
  const lra::Splits s = lra::load_task(t);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("loaded Fashion-MNIST (70000 images) in ", seconds, " s");
  CHECK(s.train.size() == 54000);
  CHECK(s.val.size() == 6000);
  CHECK(s.test.size() == 10000);
  CHECK(s.train.max_len == 784);
  CHECK(s.train.vocab == 256);
  CHECK(s.train.num_classes == 10);
  for (const lra::Dataset* d : {&s.train, &s.val, &s.test}) d->check();
  // The 60000 training images are 6000 per class, the 10000 test images 1000 per class.
  const std::vector<int64_t> train = s.train.label_counts(), val = s.val.label_counts();
  for (int c = 0; c < 10; ++c) {
    CAPTURE(c);
    CHECK(train[c] + val[c] == 6000);
  }
  CHECK(s.test.label_counts() == std::vector<int64_t>(10, 1000));
  int64_t longest = 0, shortest = 784;
  for (const lra::Dataset* d : {&s.train, &s.val, &s.test})
    for (const lra::Sequence& seq : d->inputs) {
      longest = std::max<int64_t>(longest, seq.size());
      shortest = std::min<int64_t>(shortest, seq.size());
    }
  CHECK(longest == 784);
  CHECK(shortest == 784);
  // Asked for fewer (the suite's sizes), load_task keeps the first n of each split: the same images, in order.
  t.n_train = 300;
  t.n_val = 20;
  t.n_test = 30;
  const lra::Splits few = lra::load_task(t);
  CHECK(few.train.size() == 300);
  CHECK(few.val.size() == 20);
  CHECK(few.test.size() == 30);
  CHECK(few.train.inputs.back() == s.train.inputs[299]);
  CHECK(few.val.labels == std::vector<int64_t>(s.val.labels.begin(), s.val.labels.begin() + 20));
  CHECK(few.test.inputs.front() == s.test.inputs.front());
}
