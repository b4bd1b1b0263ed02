// core/machine.cpp — the machine's peak float32 rate (sgemm) and memory bandwidth (STREAM triad), measured.
#include "core/machine.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/timing.h"

namespace core {

double MachineLimits::roofline_seconds(double flops, double bytes) const {
  if (!measured() || std::isnan(flops) || std::isnan(bytes)) return std::numeric_limits<double>::quiet_NaN();
  return std::max(flops / (peak_gflops * 1e9), bytes / (bandwidth_gbs * 1e9));
}

double measure_sgemm_gflops(int n, int runs) {
  AZ_CHECK(n > 0 && runs > 0, "measure_sgemm_gflops: n and runs must be positive, got ", n, " and ", runs);
  const size_t size = static_cast<size_t>(n) * static_cast<size_t>(n);
  std::vector<float> a(size), b(size), c(size);
  for (size_t i = 0; i < size; ++i) {  // any values away from denormals; the same on every machine
    a[i] = 0.5f + static_cast<float>(i % 7) * 0.125f;
    b[i] = 1.0f - static_cast<float>(i % 5) * 0.125f;
  }
  double best = 0;
  for (int r = 0; r <= runs; ++r) {  // run 0 is the warm-up (OpenBLAS start-up, page faults)
    Stopwatch clock;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    const double s = clock.seconds();
    if (r > 0 && s > 0) best = std::max(best, 2.0 * n * static_cast<double>(n) * n / s / 1e9);
  }
  return best;
}

double measure_triad_gbs(int64_t floats, int runs) {
  AZ_CHECK(floats > 0 && runs > 0, "measure_triad_gbs: floats and runs must be positive, got ", floats, " and ",
           runs);
  const size_t size = static_cast<size_t>(floats);
  // Not std::vector: its value-initialisation would touch every page from one thread. Here each thread touches
  // (first) the part of the arrays it will stream, as the engine's parallel loops do.
  std::unique_ptr<float[]> a(new float[size]), b(new float[size]), c(new float[size]);
  float* pa = a.get();
  float* pb = b.get();
  float* pc = c.get();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < floats; ++i) {
    pa[i] = 0.0f;
    pb[i] = 1.0f;
    pc[i] = 2.0f;
  }
  const float s = 3.0f;
  double best = 0;
  for (int r = 0; r <= runs; ++r) {
    Stopwatch clock;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < floats; ++i) pa[i] = pb[i] + s * pc[i];
    const double t = clock.seconds();
    if (r > 0 && t > 0) best = std::max(best, 12.0 * static_cast<double>(floats) / t / 1e9);
  }
  AZ_CHECK(pa[floats / 2] == 7.0f, "measure_triad_gbs: the triad computed ", pa[floats / 2], " instead of 7");
  return best;
}

MachineLimits measure_machine(int sgemm_n, int64_t triad_floats, int runs) {
  MachineLimits m;
  m.peak_gflops = measure_sgemm_gflops(sgemm_n, runs);
  m.bandwidth_gbs = measure_triad_gbs(triad_floats, runs);
  m.threads = omp_get_max_threads();
  return m;
}

}  // namespace core
