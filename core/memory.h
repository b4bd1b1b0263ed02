// core/memory.h — the counting allocator every tensor's storage goes through.
//
// current_bytes() is what live tensors hold now; peak_bytes() the most they held since the last reset_peak().
// Lessons and benchmarks measure activation memory as peak_bytes() - current_bytes() taken before a forward
// pass, so every tensor (float and integer) must allocate here. Counters are atomic: ops may allocate from
// OpenMP threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>

namespace core::memory {

// Raw storage, 64-byte aligned, uninitialised. Throws core::Error when the request cannot be met — and before
// trying, when it would take the live total past the machine's physical memory (the message gives the sizes).
void* allocate(std::size_t bytes);
std::size_t machine_bytes();  // physical memory of this machine (sysconf), the limit allocate() guards
void release(void* ptr, std::size_t bytes) noexcept;

std::size_t current_bytes();
std::size_t peak_bytes();
void reset_peak();  // peak := current

// Freed blocks of 1 MiB or more are kept for reuse (at most 1 GiB in all; over it, the sizes least recently used
// are given back first). cached_bytes() is what is kept idle now; clear_cache() gives it all back to the OS.
// Both are 0 / no-ops under AddressSanitizer, which sees every free.
std::size_t cached_bytes();
void clear_cache();

// A std allocator over the counting allocator, for std::vector-backed storage (integer tensors).
template <class T>
struct CountingAllocator {
  using value_type = T;
  CountingAllocator() = default;
  template <class U>
  CountingAllocator(const CountingAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(memory::allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { memory::release(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const CountingAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const CountingAllocator<U>&) const { return false; }
};

// RAII: measures the peak bytes allocated on top of what was live when it was made.
//   memory::PeakScope scope;  ... forward pass ...  size_t activation_bytes = scope.peak_above_start();
class PeakScope {
 public:
  PeakScope();
  std::size_t peak_above_start() const;

 private:
  std::size_t start_;
};

}  // namespace core::memory
