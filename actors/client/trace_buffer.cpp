#include "actors/client/trace_buffer.hpp"

namespace ht {

bool trace_buffer::push(uint64_t number, std::string line, bool written) {
  size_t size = line.size() + entry_overhead;
  if (size > cap_) {
    if (!written)
      ++dropped_unwritten_;
    return false;
  }
  while (!entries_.empty() && bytes_ + size > cap_)
    evict_front();
  bytes_ += size;
  entries_.push_back(entry{number, std::move(line), written});
  return true;
}

void trace_buffer::confirm_through(uint64_t number) {
  while (!entries_.empty() && entries_.front().number <= number) {
    bytes_ -= entries_.front().line.size() + entry_overhead;
    entries_.pop_front();
  }
}

size_t trace_buffer::unwritten() const {
  size_t n = 0;
  for (auto i = entries_.rbegin(); i != entries_.rend() && !i->written; ++i)
    ++n;
  return n;
}

void trace_buffer::evict_front() {
  auto& e = entries_.front();
  if (e.written)
    ++evicted_written_;
  else
    ++dropped_unwritten_;
  bytes_ -= e.line.size() + entry_overhead;
  entries_.pop_front();
}

} // namespace ht
