#include "actors/client/trace_ingress.hpp"

namespace ht {

trace_ingress::trace_ingress(size_t max_bytes, std::function<void()> notify)
  : max_bytes_(static_cast<int64_t>(max_bytes)),
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
  r->charge += sizeof(trace_record) + approx_string_heap_bytes(r->id)
               + approx_string_heap_bytes(r->caller_filename)
               + approx_string_heap_bytes(r->caller_function) + approx_heap_bytes(r->props);
  auto charge = static_cast<int64_t>(r->charge);
  if (queued_bytes_.fetch_add(charge, std::memory_order_relaxed) + charge > max_bytes_) {
    queued_bytes_.fetch_sub(charge, std::memory_order_relaxed);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (r->what == trace_record::kind::trace) {
      skipped_.fetch_add(1, std::memory_order_release);
      wake(); // so the consumer numbers the gap even if no push follows
    }
    return false;
  }
  auto* node = r.release();
  node->next.store(nullptr, std::memory_order_relaxed);
  auto* prev = head_.exchange(node, std::memory_order_acq_rel);
  prev->next.store(node, std::memory_order_release);
  wake();
  return true;
}

void trace_ingress::wake() noexcept {
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel) && notify_) {
    try {
      notify_();
    } catch (...) {
      // The record is queued; the next push or the consumer's own
      // rescheduling picks it up.
    }
  }
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

namespace ht {

namespace {

size_t heap_bytes(const json& j, int depth) noexcept {
  // Host values are rarely deep; past this depth a flat guess is enough
  // (the encoder rejects values nested deeper than 256 anyway).
  constexpr int max_depth = 64;
  constexpr size_t deep_guess = 1024;
  if (depth > max_depth)
    return deep_guess;
  switch (j.type()) {
    case json::value_t::string:
      return sizeof(std::string) + approx_string_heap_bytes(j.get_ref<const std::string&>());
    case json::value_t::binary:
      return sizeof(json::binary_t) + j.get_binary().capacity();
    case json::value_t::array: {
      size_t n = sizeof(json::array_t) + j.size() * sizeof(json);
      for (auto& e : j)
        n += heap_bytes(e, depth + 1);
      return n;
    }
    case json::value_t::object: {
      size_t n = sizeof(json::object_t);
      for (auto it = j.begin(); it != j.end(); ++it)
        n += sizeof(json::object_t::value_type) + approx_string_heap_bytes(it.key())
             + heap_bytes(it.value(), depth + 1);
      return n;
    }
    default:
      return 0;
  }
}

} // namespace

size_t approx_string_heap_bytes(const std::string& s) noexcept {
  // Short strings live inside the std::string (its small-string buffer).
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

size_t approx_heap_bytes(const json& j) noexcept {
  return heap_bytes(j, 0);
}

} // namespace ht
