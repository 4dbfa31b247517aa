#pragma once
// When to give freed heap back to the system (malloc_trim). glibc keeps
// freed memory for reuse: after a burst (bench_connections: 1,000 clients
// sending at once) the server kept 84-107 MB of RSS it no longer used. It
// is given back once the server is idle, not during load, where trimming
// would only make the next allocations fault the pages in again.
#include <cstddef>

namespace ht {

class idle_trim_policy {
public:
  /// free_at_least: trim only when this much is free in the heap.
  explicit idle_trim_policy(size_t free_at_least = 8u << 20) : threshold_(free_at_least) {}

  /// One sample of the heap (bytes in use, bytes free), taken periodically
  /// (the server: every second). True when the caller should trim now: at
  /// least the threshold is free, and what is in use stayed within 1 % over
  /// the last two periods (no traffic to speak of). Once per quiet spell:
  /// after a trim, only activity (use moving) re-arms it.
  bool sample(size_t in_use, size_t free_bytes);

private:
  static bool steady(size_t a, size_t b);
  size_t threshold_;
  size_t prev_ = 0, prev2_ = 0;
  int samples_ = 0;
  bool trimmed_ = false;
};

} // namespace ht
