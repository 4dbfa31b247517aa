#include "actors/client/trace_ingress.hpp"

namespace ht {

trace_ingress::trace_ingress(size_t max_records, std::function<void()> notify)
  : max_records_(static_cast<int64_t>(max_records)),
    notify_(std::move(notify)),
    head_(&stub_),
    tail_(&stub_) {
}

trace_ingress::~trace_ingress() {
  while (pop())
    ;
}

bool trace_ingress::push(std::unique_ptr<trace_record> r) noexcept {
  if (closed_.load(std::memory_order_acquire)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (queued_.fetch_add(1, std::memory_order_relaxed) >= max_records_) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  auto* node = r.release();
  node->next.store(nullptr, std::memory_order_relaxed);
  auto* prev = head_.exchange(node, std::memory_order_acq_rel);
  prev->next.store(node, std::memory_order_release);
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel) && notify_) {
    try {
      notify_();
    } catch (...) {
      // The record is queued; the next push or the consumer's own
      // rescheduling picks it up.
    }
  }
  return true;
}

// Vyukov's MPSC pop. A producer preempted between its exchange and its link
// makes the queue look empty here; that producer then finds the wake flag
// cleared (drain() clears it before popping) and notifies again.
std::unique_ptr<trace_record> trace_ingress::pop() {
  auto* tail = tail_;
  auto* next = tail->next.load(std::memory_order_acquire);
  if (tail == &stub_) {
    if (!next)
      return nullptr;
    tail_ = next;
    tail = next;
    next = next->next.load(std::memory_order_acquire);
  }
  if (next) {
    tail_ = next;
    return std::unique_ptr<trace_record>(tail);
  }
  if (tail != head_.load(std::memory_order_acquire))
    return nullptr; // a push is half done
  // Re-insert the stub so the last real node can be handed out.
  stub_.next.store(nullptr, std::memory_order_relaxed);
  auto* prev = head_.exchange(&stub_, std::memory_order_acq_rel);
  prev->next.store(&stub_, std::memory_order_release);
  next = tail->next.load(std::memory_order_acquire);
  if (next) {
    tail_ = next;
    return std::unique_ptr<trace_record>(tail);
  }
  return nullptr;
}

} // namespace ht
