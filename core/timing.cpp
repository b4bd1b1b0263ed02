// core/timing.cpp — measure(): warm-up, timed repeats, median, peak memory.
#include "core/timing.h"

#include <algorithm>

#include "core/error.h"
#include "core/memory.h"

namespace core {

double median(std::vector<double> values) {
  AZ_CHECK(!values.empty(), "median: no values");
  std::sort(values.begin(), values.end());
  const size_t m = values.size();
  return m % 2 ? values[m / 2] : 0.5 * (values[m / 2 - 1] + values[m / 2]);
}

Cost measure(const std::function<void()>& f, int max_runs, double budget_seconds) {
  AZ_CHECK(max_runs >= 1, "measure: max_runs must be >= 1, got ", max_runs);
  // One scope over every call: the peak is the most bytes live at any moment of any call, above what was live
  // before the warm-up started.
  memory::PeakScope scope;
  auto timed_call = [&f]() {
    Stopwatch clock;
    f();
    return clock.seconds();
  };
  Cost cost;
  const double first = timed_call();
  std::vector<double> times;
  if (first >= budget_seconds) {
    times.push_back(first);
  } else {
    double total = 0.0;
    while (static_cast<int>(times.size()) < max_runs && (times.empty() || total < budget_seconds)) {
      times.push_back(timed_call());
      total += times.back();
    }
  }
  cost.seconds = median(times);
  cost.runs = static_cast<int>(times.size());
  cost.peak_bytes = scope.peak_above_start();
  return cost;
}

}  // namespace core
