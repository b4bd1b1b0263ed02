// core/row_sums.h — sums, dot products and maxima along one contiguous row, in a form the compiler vectorises.
//
// A loop `total += x[j]` is one chain of dependent additions: each waits for the one before (4 cycles for a
// double add), so a 1024-float row takes ~4000 cycles however wide the machine's vectors are, and GCC may not
// reorder the additions without -ffast-math (which the project forbids: it would change results). Here each row
// is summed in 8 independent lanes — lane u takes elements u, u + 8, u + 16, ... — and the lanes are added
// pairwise at the end. That is a different but fixed order: the result is the same on every run and for any
// thread count (a row is always summed by one thread), and the 8 lanes fit in two AVX2 registers of doubles.
// Accumulating in double keeps the sums as accurate as the one-chain double sums they replace.
//
// sum and mean along a contiguous axis (core/ops_reduce.cpp), softmax, log_softmax, layer_norm and cross_entropy
// (core/ops_nn.cpp) use them on their rows, and so do kernels above core (dense attention's softmax, Star's
// satellite scores, Performer's feature maxima, Reformer's hash argmax and softmax sums, Sparse's strided blocks).
#pragma once

#include <cstdint>
#include <limits>

namespace core::detail {

constexpr int kRowLanes = 8;

// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))
inline double add_lanes(const double (&lane)[kRowLanes]) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// Σ_{j < n} term(j), in double: term is any expression of j (an element, a product, a squared deviation).
//   lane_sum(n, [&](int64_t j) { return double(x[j]); })              Σ x
//   lane_sum(n, [&](int64_t j) { return double(a[j]) * b[j]; })       a · b
template <class Term>
inline double lane_sum(int64_t n, Term term) {
  double lane[kRowLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + kRowLanes <= n; j += kRowLanes)
    for (int u = 0; u < kRowLanes; ++u) lane[u] += term(j + u);
  double total = add_lanes(lane);
  for (; j < n; ++j) total += term(j);
  return total;
}

// max_j x[j]; -inf for an empty row or one of all -inf. NaNs are skipped, as by `x > m ? x : m`.
inline float row_max(const float* x, int64_t n) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float lane[kRowLanes] = {kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf};
  int64_t j = 0;
  for (; j + kRowLanes <= n; j += kRowLanes)
    for (int u = 0; u < kRowLanes; ++u) lane[u] = x[j + u] > lane[u] ? x[j + u] : lane[u];
  float m = kNegInf;
  for (int u = 0; u < kRowLanes; ++u) m = lane[u] > m ? lane[u] : m;
  for (; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

// min_j x[j]; +inf for an empty row. NaNs are skipped, as in row_max.
inline float row_min(const float* x, int64_t n) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  float lane[kRowLanes] = {kInf, kInf, kInf, kInf, kInf, kInf, kInf, kInf};
  int64_t j = 0;
  for (; j + kRowLanes <= n; j += kRowLanes)
    for (int u = 0; u < kRowLanes; ++u) lane[u] = x[j + u] < lane[u] ? x[j + u] : lane[u];
  float m = kInf;
  for (int u = 0; u < kRowLanes; ++u) m = lane[u] < m ? lane[u] : m;
  for (; j < n; ++j) m = x[j] < m ? x[j] : m;
  return m;
}

}  // namespace core::detail
