// lra/cifar.cpp — see cifar.h: CIFAR-10 binary batches to grayscale pixel sequences.
#include "lra/cifar.h"

#include <filesystem>

#include "lra/files.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace lra::cifar {

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

namespace {

Dataset empty_image_dataset() {
  Dataset d;
  d.task = "image";
  d.vocab = 256;
  d.num_classes = 10;
  d.max_len = kSide * kSide;
  d.pad_id = 0;
  return d;
}

void append_batch(const std::string& path, Dataset& d) {
  const std::string shown = files::printable(path);
  std::error_code ec;
  AZ_CHECK(fs::exists(path, ec), "cifar10: missing ", shown,
           " (unpack cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and pass the "
           "cifar-10-batches-bin directory)");
  // A batch holds 10 000 images; reading stops one byte past 50 000 (the whole training set in one file), so
  // a wrong path such as /dev/zero or a huge unrelated file is refused without being read whole.
  constexpr int64_t kMaxRecords = 50000;
  const std::string bytes = files::read_all(path, "cifar10", kMaxRecords * kRecordBytes + 1);
  AZ_CHECK(static_cast<int64_t>(bytes.size()) <= kMaxRecords * kRecordBytes, "cifar10: ", shown,
           ": more than ", kMaxRecords, " records (", kMaxRecords * kRecordBytes,
           " bytes); a CIFAR-10 batch file holds 10000");
  AZ_CHECK(!bytes.empty() && bytes.size() % kRecordBytes == 0, "cifar10: ", shown, ": size ", bytes.size(),
           " bytes is not a positive multiple of ", kRecordBytes, " (1 label byte + 3072 pixel bytes per image)");
  const int64_t n = static_cast<int64_t>(bytes.size()) / kRecordBytes;
  constexpr int kPlane = kSide * kSide;
  for (int64_t r = 0; r < n; ++r) {
    const auto* rec = reinterpret_cast<const uint8_t*>(bytes.data()) + r * kRecordBytes;
    AZ_CHECK(rec[0] < 10, "cifar10: ", shown, ": record ", r, " has label ", int(rec[0]), " (expected 0..9)");
    const uint8_t* red = rec + 1;
    Sequence px(kPlane);
    for (int i = 0; i < kPlane; ++i) px[i] = gray(red[i], red[kPlane + i], red[2 * kPlane + i]);
    d.inputs.push_back(std::move(px));
    d.labels.push_back(rec[0]);
  }
}

}  // namespace

Dataset load_batch(const std::string& path) {
  Dataset d = empty_image_dataset();
  append_batch(path, d);
  return d;
}

Splits load_dir(const std::string& dir, double val_fraction, uint64_t seed) {
  Dataset train = empty_image_dataset();
  for (int k = 1; k <= 5; ++k)
    append_batch((fs::path(dir) / ("data_batch_" + std::to_string(k) + ".bin")).string(), train);
  Dataset test = empty_image_dataset();
  append_batch((fs::path(dir) / "test_batch.bin").string(), test);
  return carve_val(std::move(train), std::move(test), val_fraction, seed);
}

void write_batch(const std::string& path, const std::vector<uint8_t>& labels, const std::vector<uint8_t>& rgb) {
  AZ_CHECK(rgb.size() == labels.size() * (kRecordBytes - 1), "cifar10: write ", files::printable(path), ": ", labels.size(),
           " labels need ", labels.size() * (kRecordBytes - 1), " pixel bytes, got ", rgb.size());
  std::string body;
  body.reserve(labels.size() * kRecordBytes);
  for (size_t i = 0; i < labels.size(); ++i) {
    body += static_cast<char>(labels[i]);
    body.append(reinterpret_cast<const char*>(rgb.data()) + i * (kRecordBytes - 1), kRecordBytes - 1);
  }
  files::write_atomically(path, body, "cifar10");
}

}  // namespace lra::cifar
