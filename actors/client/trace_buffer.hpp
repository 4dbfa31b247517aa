#pragma once
// The traces a server may still need. The protocol has no acks: the server
// only says, in the handshake of each new connection, the last trace it has
// seen. So every trace stays here after it was written, until a handshake
// confirms it or the byte cap pushes it out (oldest first).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace ht {

class trace_buffer {
public:
  struct entry {
    uint64_t number;
    std::string line;
    bool written; // sent on some connection (maybe lost with it)
  };

  /// Bookkeeping per entry, counted against the cap with the line itself.
  static constexpr size_t entry_overhead = sizeof(entry);

  explicit trace_buffer(size_t cap_bytes) : cap_(cap_bytes) {}

  /// Appends a trace (numbers must increase). Evicts the oldest traces to
  /// stay within the cap; a trace larger than the whole cap is not kept
  /// (false, counted as dropped unwritten).
  bool push(uint64_t number, std::string line, bool written);

  /// The server has seen every trace up to and including `number`.
  void confirm_through(uint64_t number);

  /// Forgets everything (a handshake of a new session confirms nothing,
  /// but a stop that gives up does).
  void clear() { entries_.clear(); bytes_ = 0; }

  std::deque<entry>& entries() { return entries_; }
  const std::deque<entry>& entries() const { return entries_; }
  std::optional<uint64_t> first_number() const {
    if (entries_.empty())
      return std::nullopt;
    return entries_.front().number;
  }
  size_t bytes() const { return bytes_; }
  size_t cap() const { return cap_; }
  size_t unwritten() const;

  /// Evicted before ever being written: lost for sure.
  uint64_t dropped_unwritten() const { return dropped_unwritten_; }
  /// Evicted after being written but before a handshake confirmed them.
  uint64_t evicted_written() const { return evicted_written_; }

private:
  void evict_front();

  size_t cap_;
  size_t bytes_ = 0;
  std::deque<entry> entries_;
  uint64_t dropped_unwritten_ = 0;
  uint64_t evicted_written_ = 0;
};

} // namespace ht
