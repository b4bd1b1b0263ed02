// core/memory.cpp — counting allocator (see memory.h).
#include "core/memory.h"

#include <unistd.h>  // sysconf: the machine's memory

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"

namespace core::memory {

namespace {
std::atomic<std::size_t> g_current{0};
std::atomic<std::size_t> g_peak{0};
constexpr std::size_t kAlign = 64;

// ---- a cache of big blocks ----
// Large blocks come from the OS by mmap, and every first touch of a fresh page is a page fault: for a 1 MiB
// tensor that costs about as much as a 512×512 matmul's last 10%. Freed blocks of 1 MiB or more are therefore
// kept (up to kCacheCap bytes in all) and handed out again for a request of the same rounded size, as
// PyTorch's caching allocator does. This changes nothing in current_bytes()/peak_bytes(), which count what
// live tensors requested. Under AddressSanitizer the cache is off, so use-after-free is still caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseCache = false;
#else
constexpr bool kUseCache = true;
#endif
constexpr std::size_t kCacheMin = std::size_t(1) << 20;    // blocks below 1 MiB go straight to malloc
constexpr std::size_t kCacheGrain = std::size_t(1) << 16;  // cached sizes are rounded up to 64 KiB
constexpr std::size_t kCacheCap = std::size_t(1) << 30;    // at most 1 GiB of idle cached blocks

// When a freed block does not fit under the cap, the idle blocks of the size least recently asked for or freed
// are given back first: a process that trains one model after another (the LRA suite, the LM suite) would
// otherwise fill the cache with the shapes of its first models and then page-fault on every large tensor of the
// later ones — measured in the LRA suite: full attention's text task ran 4x slower after ListOps than alone.
struct SizeClass {
  std::vector<void*> blocks;  // idle blocks of this rounded size
  std::uint64_t last_use = 0; // BlockCache::tick when a block of this size was last asked for or freed
};
struct BlockCache {
  std::mutex mutex;
  std::map<std::size_t, SizeClass> free_blocks;  // rounded size -> its idle blocks
  std::size_t idle_bytes = 0;
  std::uint64_t tick = 0;
};
BlockCache& cache() {
  static BlockCache* c = new BlockCache();  // never destroyed: tensors may be freed during static destruction
  return *c;
}

std::string gib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / double(1 << 30));
  return text;
}

std::size_t rounded_size(std::size_t bytes) {
  const std::size_t r = (bytes + kAlign - 1) / kAlign * kAlign;
  return r >= kCacheMin ? (r + kCacheGrain - 1) / kCacheGrain * kCacheGrain : r;
}
}  // namespace

// The machine's physical memory, read once. A request that would take the live total past it cannot succeed
// without swapping the machine to a halt or being killed by the OOM killer, so it is refused up front, with the
// size in the message, before a single page is touched.
std::size_t machine_bytes() {
  static const std::size_t total = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page)
                                 : std::numeric_limits<std::size_t>::max();
  }();
  return total;
}

void* allocate(std::size_t bytes) {
  if (bytes == 0) bytes = 1;  // a zero-size tensor still gets a valid pointer
  AZ_CHECK(bytes < (std::size_t(1) << 48), "memory: request of ", bytes, " bytes is too large");
  AZ_CHECK(bytes <= machine_bytes() && current_bytes() <= machine_bytes() - bytes, "memory: this needs ", gib(bytes),
           " more on top of ", gib(current_bytes()), " already in use, beyond this machine's ", gib(machine_bytes()),
           " of memory (try a smaller input, batch or setting)");
  const std::size_t rounded = rounded_size(bytes);
  void* p = nullptr;
  if (kUseCache && rounded >= kCacheMin) {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_blocks.find(rounded);
    if (it != c.free_blocks.end()) {
      it->second.last_use = ++c.tick;
      if (!it->second.blocks.empty()) {
        p = it->second.blocks.back();
        it->second.blocks.pop_back();
        c.idle_bytes -= rounded;
      }
    }
  }
  if (p == nullptr) p = std::aligned_alloc(kAlign, rounded);
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
  const std::size_t rounded = rounded_size(bytes);
  if (kUseCache && rounded >= kCacheMin) {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    // Over the cap: free the idle blocks of the least recently used other sizes until this one fits.
    while (c.idle_bytes + rounded > kCacheCap) {
      auto oldest = c.free_blocks.end();
      for (auto it = c.free_blocks.begin(); it != c.free_blocks.end(); ++it)
        if (it->first != rounded && !it->second.blocks.empty() &&
            (oldest == c.free_blocks.end() || it->second.last_use < oldest->second.last_use))
          oldest = it;
      if (oldest == c.free_blocks.end()) break;  // only blocks of this size are idle
      std::free(oldest->second.blocks.back());
      oldest->second.blocks.pop_back();
      c.idle_bytes -= oldest->first;
      if (oldest->second.blocks.empty()) c.free_blocks.erase(oldest);
    }
    if (c.idle_bytes + rounded <= kCacheCap) {
      try {
        SizeClass& sc = c.free_blocks[rounded];
        sc.blocks.push_back(ptr);
        sc.last_use = ++c.tick;
        c.idle_bytes += rounded;
        return;
      } catch (...) {
        // no room to remember it: free it below
      }
    }
  }
  std::free(ptr);
}

std::size_t cached_bytes() {
  if (!kUseCache) return 0;
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.idle_bytes;
}

void clear_cache() {
  if (!kUseCache) return;
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [size, sc] : c.free_blocks)
    for (void* q : sc.blocks) std::free(q);
  c.free_blocks.clear();
  c.idle_bytes = 0;
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
