// lra/fashion.h — the offline Image task: Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, arXiv 1708.07747) as
// sequences of 784 gray pixels, standing in for LRA's grayscale CIFAR-10 (cifar.h, which stays for users who
// have the CIFAR files and pass --data).
//
// The data: 70 000 grayscale photos of Zalando articles, 28 x 28 pixels, 10 classes; 60 000 for training and
// 10 000 for test, 6 000 and 1 000 of each class. Debian ships them in the package dataset-fashion-mnist
// (`sudo apt-get install dataset-fashion-mnist`, or `sh scripts/install-deps.sh --data`), under kDefaultDir:
//   train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz  t10k-images-idx3-ubyte.gz  t10k-labels-idx1-ubyte.gz
// the files of https://github.com/zalandoresearch/fashion-mnist, in the IDX format of MNIST, gzip-compressed.
//
// IDX, as used here (every number a big-endian uint32, then one unsigned byte per value):
//   images  magic 0x00000803 (ubyte, 3 dims), count, rows (28), cols (28), then count * 28 * 28 pixel bytes,
//           image by image, each row by row from the top left
//   labels  magic 0x00000801 (ubyte, 1 dim),  count, then count label bytes (0..9)
// The images file and the labels file of a split must hold the same count; image i has label i.
//
// Token map: gray value v -> id v (0..255); vocab 256; 10 classes; every sequence is exactly 784 tokens, row by
// row, as cifar.h (pad_id 0 is never needed). The background is black, 0 (the corner pixels of the 60 000
// training images average 0.03), the article lighter. Classes (class_names()): T-shirt/top, Trouser, Pullover, Dress,
// Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.
//
// Splits: test = the t10k files; val = a seeded val_fraction of the 60 000 training images (lra::carve_val, as
// for CIFAR-10 and IMDb); train = the rest, in file order.
//
//   lra::Splits s = lra::fashion::load_dir();            // kDefaultDir, val 10% with seed 0
//   // s.train.size() == 54000, s.val.size() == 6000, s.test.size() == 10000, s.train.max_len == 784
//   const std::string& name = lra::fashion::class_names()[s.test.labels[0]];   // "Ankle boot"
//
// Bad data is one line (core::Error) naming the file: a missing file, a file that is not gzip or is cut short,
// a wrong magic number (printed in hex), images that are not 28 x 28, an image count that differs from the label
// count, a label outside 0..9. Files are decompressed as a stream and read image by image, so memory follows the
// bytes that are really there: a header claiming 10^9 images in a small file is refused as truncated, not
// allocated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lra/dataset.h"

namespace lra::fashion {

inline constexpr const char* kDefaultDir = "/usr/share/datasets/fashion-mnist";  // Debian dataset-fashion-mnist
constexpr int kSide = 28;                          // rows = cols = 28
constexpr int64_t kPixels = kSide * kSide;         // 784 tokens per image
constexpr uint32_t kImagesMagic = 0x00000803;      // IDX: unsigned bytes, 3 dimensions (count, rows, cols)
constexpr uint32_t kLabelsMagic = 0x00000801;      // IDX: unsigned bytes, 1 dimension (count)

// The ten class names, by label: class_names()[9] == "Ankle boot".
const std::vector<std::string>& class_names();

// The label bytes of one gzip IDX labels file (each checked to be in 0..9).
std::vector<uint8_t> read_labels(const std::string& path);
// One split: the images file with its labels file -> task "image" (vocab 256, 10 classes, max_len 784).
Dataset load_split(const std::string& images_path, const std::string& labels_path);
// DIR/train-* as train (a seeded val_fraction moved to val), DIR/t10k-* as test. The first missing file is named
// in the error; for kDefaultDir the error also says how to install the package.
Splits load_dir(const std::string& dir = kDefaultDir, double val_fraction = 0.1, uint64_t seed = 0);

}  // namespace lra::fashion
