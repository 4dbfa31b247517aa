#pragma once
// Reconnect delays: exponential with jitter. Attempt n waits a uniformly
// random time in [d/2, d] with d = min(cap, initial * 2^n), so the first
// retry comes within `initial` (1 s by default) and many clients that lost
// the same server do not come back in lockstep. The JS client waits a fixed
// 10-15 s instead.
#include <chrono>
#include <cstdint>
#include <functional>

namespace ht {

struct backoff_config {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds cap{30000};
};

class backoff {
public:
  /// `uniform(n)` returns a uniformly random integer in [0, n).
  backoff(backoff_config cfg, std::function<uint32_t(uint32_t)> uniform);

  /// The delay before the next attempt; counts the attempt.
  std::chrono::milliseconds next();
  /// A connection got through: start again from `initial`.
  void reset() { attempts_ = 0; }
  uint32_t attempts() const { return attempts_; }
  /// The upper bound of the delay for attempt n (before jitter).
  std::chrono::milliseconds ceiling(uint32_t n) const;

private:
  backoff_config cfg_;
  std::function<uint32_t(uint32_t)> uniform_;
  uint32_t attempts_ = 0;
};

} // namespace ht
