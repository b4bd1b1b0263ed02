// lra/cifar.h — LRA's Image task: CIFAR-10 (Krizhevsky 2009) as sequences of 1024 grayscale pixels.
//
// Reads the binary version (cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, unpacked to
// cifar-10-batches-bin/): data_batch_1.bin .. data_batch_5.bin (train, 10 000 images each) and test_batch.bin.
// A record is 3073 bytes: the label (0..9), then 1024 red, 1024 green, 1024 blue values, rows top to bottom.
// Gray = round(0.299 R + 0.587 G + 0.114 B) (ITU-R BT.601 luma, as tf.image.rgb_to_grayscale), computed in
// integers: (299 R + 587 G + 114 B + 500) / 1000.
//
// Token map: gray value v -> id v; vocab 256; 10 classes; every sequence is exactly 1024 tokens, row by row
// (pad_id 0 is never needed). Classes: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lra/dataset.h"

namespace lra::cifar {

constexpr int kSide = 32;
constexpr int64_t kRecordBytes = 1 + 3 * kSide * kSide;  // 3073
const std::vector<std::string>& class_names();

// round(0.299 r + 0.587 g + 0.114 b) in integer arithmetic.
inline uint8_t gray(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((299 * r + 587 * g + 114 * b + 500) / 1000);
}

// One batch file -> task "image" (vocab 256, 10 classes, max_len 1024). Throws core::Error with one line:
// "cifar10: missing PATH", or "cifar10: PATH: size N bytes is not a multiple of 3073", or
// "cifar10: PATH: record R has label L (expected 0..9)".
Dataset load_batch(const std::string& path);
// DIR/data_batch_1..5.bin as train (a seeded val_fraction moved to val), DIR/test_batch.bin as test. The first
// missing file is named in the error.
Splits load_dir(const std::string& dir, double val_fraction = 0.1, uint64_t seed = 0);
// Writes images in the same binary layout: labels[i] and 3072 bytes per image in rgb (its R plane, G plane,
// B plane, each 32 rows of 32). For fixtures and small experiments.
void write_batch(const std::string& path, const std::vector<uint8_t>& labels, const std::vector<uint8_t>& rgb);

}  // namespace lra::cifar
