// core/fast_exp.h — exp(x) for float that the compiler can vectorise.
//
// std::exp is a library call per element: without -ffast-math (which we do not use: it breaks exp/erf edge
// cases and -inf masks) GCC will not turn it into SIMD code, so softmax spends most of its time in expf.
// This is the textbook method, written without branches so that a loop of it vectorises:
//   x = k·ln2 + r,  k = round(x / ln2),  |r| <= ln2/2
//   exp(x) = 2^k · exp(r),  exp(r) by a degree-7 Taylor polynomial (error < 1e-8 relative on that interval)
//   2^k is built directly in the float's exponent bits.
// Accuracy: within 2 ulp of std::exp for x in [-87, 88] (tests/test_ops.cpp checks it over the range).
// Special values: exp(-inf) = 0, exp(+inf) = inf, exp(NaN) = NaN; results below ~1e-38 flush to 0
// (std::exp would return a denormal), which no softmax can tell apart.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

namespace core {

inline float fast_exp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693145751953125f;         // ln 2 split in two so that k·ln2 is exact
  constexpr float kLn2Lo = 1.42860682030941723212e-6f;
  constexpr float kMax = 88.72283935546875f;           // above: overflow to inf
  constexpr float kMin = -87.33654022216796875f;        // below: flush to 0
  // Clamped so that every step below works on a finite number: NaN goes to kMin here (converting a NaN to an
  // integer below would be undefined behaviour) and is given back as NaN at the end.
  const float xc = x > kMin ? (x < kMax ? x : kMax) : kMin;
  // round to the nearest integer by adding and subtracting 1.5·2²³ (pure arithmetic, so it vectorises)
  constexpr float kRound = 12582912.0f;
  const float k = (xc * kLog2e + kRound) - kRound;
  const float r = (xc - k * kLn2Hi) - k * kLn2Lo;
  // exp(r) = 1 + r + r²/2! + ... + r⁷/7!, Horner form
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^k built in the exponent bits, in two halves so that k = 128 (x just below the overflow) and k = -126
  // stay inside the range of normal floats
  const int32_t k1 = static_cast<int32_t>(k) >> 1, k2 = static_cast<int32_t>(k) - k1;
  const int32_t bits1 = (k1 + 127) << 23, bits2 = (k2 + 127) << 23;
  float scale1, scale2;
  std::memcpy(&scale1, &bits1, sizeof scale1);
  std::memcpy(&scale2, &bits2, sizeof scale2);
  float y = (p * scale1) * scale2;
  y = x > kMax ? std::numeric_limits<float>::infinity() : y;
  y = x < kMin ? 0.0f : y;
  return x != x ? x : y;  // NaN in, NaN out
}

}  // namespace core
