#pragma once
// The hand-off from host threads to the client actor: a lock-free
// multi-producer single-consumer queue (an intrusive Vyukov queue: a push
// is one atomic exchange and one store, wait-free) plus a wake-up flag so
// that only the first push after the consumer went idle notifies it. The
// queue is bounded in bytes (each record's approximate footprint, its
// `charge`) so a stalled consumer cannot make the host run out of memory.
// A trace dropped at the bound is not silent: it is counted as skipped, and
// the consumer gives each skipped trace a trace number (take_skipped), so
// the server sees the gap and notes it. A drop wakes the consumer as a
// push does, so the count is taken soon even if nothing follows.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "actors/client/trace_record.hpp"

namespace ht {

class trace_ingress {
public:
  /// `notify` is called (on the pushing thread) when the consumer must
  /// drain; it must not block (the client sends an actor message).
  trace_ingress(size_t max_bytes, std::function<void()> notify);
  ~trace_ingress();
  trace_ingress(const trace_ingress&) = delete;
  trace_ingress& operator=(const trace_ingress&) = delete;

  /// Host side, any thread. False if dropped (queue full or closed).
  bool push(std::unique_ptr<trace_record> r) noexcept;

  /// Consumer side: traces dropped at the byte bound since the last call
  /// (not add_props records, not drops after close()).
  uint64_t take_skipped() noexcept {
    return skipped_.exchange(0, std::memory_order_acq_rel);
  }

  /// Consumer side, one thread at a time: pops up to `max` records in push
  /// order (per producer) and hands each to `f`. Returns how many.
  template <class F>
  size_t drain(F&& f, size_t max) {
    // Acquire pairs with the producers' exchange, so every record pushed
    // before a producer saw the flag set is visible below.
    wake_pending_.exchange(false, std::memory_order_acq_rel);
    size_t n = 0;
    int64_t freed = 0;
    while (n < max) {
      auto r = pop();
      if (!r)
        break;
      ++n;
      freed += static_cast<int64_t>(r->charge);
      f(std::move(r));
    }
    if (n > 0)
      queued_bytes_.fetch_sub(freed, std::memory_order_relaxed);
    return n;
  }

  /// Further pushes are dropped (the client stopped).
  void close() noexcept { closed_.store(true, std::memory_order_release); }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  int64_t queued_bytes() const noexcept {
    return queued_bytes_.load(std::memory_order_relaxed);
  }

private:
  std::unique_ptr<trace_record> pop();
  void wake() noexcept;

  const int64_t max_bytes_;
  const std::function<void()> notify_;
  alignas(64) std::atomic<trace_record*> head_; // producers push here
  alignas(64) trace_record* tail_;              // consumer pops here
  trace_record stub_;
  alignas(64) std::atomic<int64_t> queued_bytes_{0};
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> skipped_{0};
};

} // namespace ht
