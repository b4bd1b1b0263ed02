// core/memory.cpp — counting allocator (see memory.h).
#include "core/memory.h"

#include <atomic>
#include <cstdlib>

#include "core/error.h"

namespace core::memory {

namespace {
std::atomic<std::size_t> g_current{0};
std::atomic<std::size_t> g_peak{0};
constexpr std::size_t kAlign = 64;
}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes == 0) bytes = 1;  // a zero-size tensor still gets a valid pointer
  const std::size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  AZ_CHECK(rounded >= bytes, "memory: request of ", bytes, " bytes overflows");
  void* p = std::aligned_alloc(kAlign, rounded);
  AZ_CHECK(p != nullptr, "memory: out of memory allocating ", bytes, " bytes (", current_bytes(),
           " bytes already live)");
  const std::size_t now = g_current.fetch_add(bytes) + bytes;
  std::size_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
  return p;
}

void release(void* ptr, std::size_t bytes) noexcept {
  if (ptr == nullptr) return;
  if (bytes == 0) bytes = 1;
  g_current.fetch_sub(bytes);
  std::free(ptr);
}

std::size_t current_bytes() { return g_current.load(); }
std::size_t peak_bytes() { return g_peak.load(); }
void reset_peak() { g_peak.store(g_current.load()); }

PeakScope::PeakScope() : start_(current_bytes()) { reset_peak(); }
std::size_t PeakScope::peak_above_start() const {
  const std::size_t peak = peak_bytes();
  return peak > start_ ? peak - start_ : 0;
}

}  // namespace core::memory
