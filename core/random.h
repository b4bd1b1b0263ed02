// core/random.h — the one seeded random generator of the project, and the tensors drawn from it.
//
// There is no hidden global state: whoever needs randomness takes an Rng& (or a seed). The generator and the
// distributions are written here (not std::normal_distribution, whose output differs between standard
// libraries), so the same seed gives the same bytes on every machine.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace core {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);

  uint64_t next_u64();
  double uniform01();                        // [0, 1), 53 random bits
  float uniform(float lo, float hi);         // [lo, hi)
  float normal(float mean = 0.0f, float std = 1.0f);
  int64_t randint(int64_t lo, int64_t hi);   // [lo, hi), unbiased
  // A new, independent generator derived from this one's state (advances this one).
  Rng split();
  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_;
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

Tensor randn(const Shape& shape, Rng& rng, float mean = 0.0f, float std = 1.0f);
Tensor rand_uniform(const Shape& shape, Rng& rng, float lo = 0.0f, float hi = 1.0f);
IntTensor randint(const Shape& shape, Rng& rng, int64_t lo, int64_t hi);
IntTensor permutation(int64_t n, Rng& rng);
// A random (rows, cols) matrix with orthonormal rows (rows <= cols) or columns (rows >= cols):
// QR of a Gaussian matrix with the signs fixed so that the result is uniformly (Haar) distributed.
Tensor orthogonal(int64_t rows, int64_t cols, Rng& rng);

}  // namespace core
