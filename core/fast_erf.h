// core/fast_erf.h — the standard normal CDF Φ(x) for float, in a form the compiler can vectorise (for gelu).
//
// The C library's erff is a call per element (GCC does not vectorise it without -ffast-math, which we do not use),
// and 1 + erf(x) loses every digit in the left tail, where gelu(x) = x·Φ(x) is tiny but not zero. So we compute
// Φ from the complementary error function, which keeps its relative accuracy in the tail:
//   Φ(x) = erfc(z)/2 for x < 0,   1 − erfc(z)/2 for x ≥ 0,   z = |x|/√2
//   erfc(z) ≈ t·exp(−z² + P(t)),  t = 1/(1 + z/2),  P a degree-9 polynomial
// The form and P's coefficients are the Chebyshev fit of Press et al., Numerical Recipes (2nd ed., §6.2), whose
// fractional error is below 1.2e-7 for every z ≥ 0. In float, rounding −z² adds |z²|·6e-8 to the argument of exp,
// so Φ's relative error is within 5·(1 + x²) float epsilons (3e-7 near 0, 1e-5 at x = −12, where one ulp of x
// itself moves Φ as much); tests/test_ops.cpp measures it against std::erfc in double.
// Special values: Φ(−inf) = 0, Φ(+inf) = 1, Φ(NaN) = NaN.
#pragma once

#include <cmath>

#include "core/fast_exp.h"

namespace core {

inline float fast_normal_cdf(float x) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  const float z = std::fabs(x) * kInvSqrt2;
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;  // P(t), Horner form
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float half_erfc = 0.5f * t * fast_exp(p - z * z);  // erfc(z)/2 = Φ(−|x|)
  return x < 0.0f ? half_erfc : 1.0f - half_erfc;             // NaN: the comparison is false, 1 − NaN = NaN
}

// The standard normal density φ(x) = e^(−x²/2)/√(2π).
inline float fast_normal_pdf(float x) {
  constexpr float kInvSqrt2Pi = 0.39894228040143268f;
  return kInvSqrt2Pi * fast_exp(-0.5f * x * x);
}

}  // namespace core
