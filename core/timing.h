// core/timing.h — the one way the project times a piece of code: a warm-up call, then repeated timed calls, their
// median, and the peak memory the calls allocated (core/memory.h). Lessons, the attention benchmark
// (attention/benchmark.h), the LRA efficiency table and the programs in bench/ all measure through measure().
//
//   core::Cost c = core::measure([&] { attention::dense_attention(q, k, v).backward(g); q.zero_grad(); });
//   c.seconds     // median wall time of one call (this machine, this load: it varies from run to run)
//   c.peak_bytes  // most bytes of tensors a call held above what was live before it: exact, the same everywhere
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

namespace core {

// Seconds since it was made (steady clock). Also the progress and ETA clock of long programs.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// The middle value; for an even count the mean of the two middle values. Throws on an empty list.
double median(std::vector<double> values);

struct Cost {
  double seconds = 0.0;        // median wall time of one call
  int runs = 0;                // how many timed calls the median is over
  std::size_t peak_bytes = 0;  // the most bytes the calls (warm-up included) held on top of what was live before
};

// Time f() and measure its peak memory. One warm-up call first (it pays for first-touch page faults and OpenBLAS
// start-up), then up to `max_runs` timed calls, stopping early once they have taken `budget_seconds` in total; the
// time is their median. A call slower than the whole budget is timed once: its warm-up is the measurement.
// The peak is measured from before the warm-up to the end of the last call, in one scope: per-call scopes were seen
// to vary from run to run (a call can start while buffers of the previous one are still live and free them), one
// scope does not. So a first call that allocates for good (an optimiser's moments) belongs before measure().
// f must drop what it computes before it returns (zero the gradients it made, let its outputs go), so that every
// call starts from the same memory. Peak bytes count tensors only (core::memory).
Cost measure(const std::function<void()>& f, int max_runs = 5, double budget_seconds = 1.0);

}  // namespace core
