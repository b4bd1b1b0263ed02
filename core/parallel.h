// core/parallel.h — how the engine's loops use several cores, and the broadcasting index arithmetic they share.
//
// Every loop that touches many elements splits its *rows* (or flat chunks) across OpenMP threads once the work
// is large enough to pay for starting them. A row is always computed by one thread from start to end, so the
// summation order inside a row — and therefore every result bit — is the same for 1 or N threads.
//
// The loop bodies are lambdas passed as template parameters: they are inlined, not called through
// std::function per element.
#pragma once

#include <omp.h>

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace core::detail {

// Below this many elements of work, one thread is faster than waking the others.
constexpr int64_t kParallelWork = 1 << 15;

// f(r) for r in [0, rows), across threads when rows * work_per_row is large.
template <class F>
inline void parallel_rows(int64_t rows, int64_t work_per_row, F&& f) {
  if (rows <= 1 || rows * work_per_row < kParallelWork || omp_in_parallel()) {
    for (int64_t r = 0; r < rows; ++r) f(r);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) f(r);
}

// f(begin, end) over [0, n) in contiguous chunks, one chunk per thread when n is large.
template <class F>
inline void parallel_chunks(int64_t n, F&& f) {
  if (n < kParallelWork || omp_in_parallel()) {
    f(int64_t(0), n);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t t = omp_get_thread_num();
    const int64_t begin = n * t / threads;
    const int64_t end = n * (t + 1) / threads;
    f(begin, end);
  }
}

// Strides of `in` (row-major) laid against the broadcast shape `out`: 0 on axes where `in` is stretched.
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  const size_t rank = out.size();
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t d_in = in.size() - 1 - k;
    const size_t d_out = rank - 1 - k;
    strides[d_out] = in[d_in] == 1 ? 0 : stride;
    stride *= in[d_in];
  }
  return strides;
}

// Offset, in an input with `strides`, of the first element of output row r (rows = all axes but the last).
inline int64_t row_offset(int64_t r, const Shape& out, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (int64_t d = static_cast<int64_t>(out.size()) - 2; d >= 0; --d) {
    const int64_t coord = r % out[d];
    r /= out[d];
    offset += coord * strides[d];
  }
  return offset;
}

// Split a shape around one axis: outer = product before it, len = its size, inner = product after it.
struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};
inline AxisSplit split_at(const Shape& s, int64_t axis) {
  AxisSplit a;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    if (d < axis) a.outer *= s[d];
    else if (d == axis) a.len = s[d];
    else a.inner *= s[d];
  }
  return a;
}

}  // namespace core::detail
