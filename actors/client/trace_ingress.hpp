#pragma once
// The hand-off from host threads to the client actor: a lock-free
// multi-producer single-consumer queue (an intrusive Vyukov queue: a push
// is one atomic exchange and one store, wait-free) plus a wake-up flag so
// that only the first push after the consumer went idle notifies it. The
// queue is bounded by a record count so a stalled consumer cannot make the
// host run out of memory; pushes past the bound are dropped and counted.
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
  trace_ingress(size_t max_records, std::function<void()> notify);
  ~trace_ingress();
  trace_ingress(const trace_ingress&) = delete;
  trace_ingress& operator=(const trace_ingress&) = delete;

  /// Host side, any thread. False if dropped (queue full or closed).
  bool push(std::unique_ptr<trace_record> r) noexcept;

  /// Consumer side, one thread at a time: pops up to `max` records in push
  /// order (per producer) and hands each to `f`. Returns how many.
  template <class F>
  size_t drain(F&& f, size_t max) {
    // Acquire pairs with the producers' exchange, so every record pushed
    // before a producer saw the flag set is visible below.
    wake_pending_.exchange(false, std::memory_order_acq_rel);
    size_t n = 0;
    while (n < max) {
      auto r = pop();
      if (!r)
        break;
      ++n;
      f(std::move(r));
    }
    if (n > 0)
      queued_.fetch_sub(static_cast<int64_t>(n), std::memory_order_relaxed);
    return n;
  }

  /// Further pushes are dropped (the client stopped).
  void close() noexcept { closed_.store(true, std::memory_order_release); }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  int64_t queued() const noexcept { return queued_.load(std::memory_order_relaxed); }

private:
  std::unique_ptr<trace_record> pop();

  const int64_t max_records_;
  const std::function<void()> notify_;
  alignas(64) std::atomic<trace_record*> head_; // producers push here
  alignas(64) trace_record* tail_;              // consumer pops here
  trace_record stub_;
  alignas(64) std::atomic<int64_t> queued_{0};
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> dropped_{0};
};

} // namespace ht
