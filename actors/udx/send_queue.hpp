#pragma once
// The socket's outgoing path without blocking: the socket is O_NONBLOCK, so
// when the kernel's send buffer is full sendmmsg fails with EAGAIN instead
// of stalling the CAF worker that runs the socket actor. What the kernel
// refuses waits here, in order, and is flushed by the socket's I/O thread
// when poll reports POLLOUT. The queue is bounded in bytes: past the bound
// datagrams are dropped and counted (UDP semantics, as a full buffer on a
// blocking socket would eventually mean too; UDX retransmits).
//
// Not thread-safe: the socket serializes callers with a mutex. Every call
// makes at most non-blocking syscalls, through `send_fn` (sendmmsg with
// MSG_DONTWAIT in production, a scripted stand-in in tests).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include <sys/socket.h>

namespace ht::udx_detail {

class send_queue {
public:
  using bytes = std::vector<uint8_t>;
  /// sendmmsg semantics: datagrams sent (from the first), or -1 and errno.
  using send_fn = std::function<int(mmsghdr*, unsigned)>;

  explicit send_queue(size_t cap_bytes) : cap_(cap_bytes) {}

  /// Queues the datagrams for one destination behind whatever waits and
  /// sends as much as the kernel takes now. Returns true if datagrams are
  /// left waiting (the caller arranges a flush on POLLOUT).
  bool send(const sockaddr_storage& to, socklen_t len, std::vector<bytes>&& datagrams,
            const send_fn& fn);
  /// One datagram in the caller's own buffer.
  struct view {
    const sockaddr_storage* to;
    socklen_t len;
    const uint8_t* data;
    size_t size;
  };
  /// Sends datagrams (each to its own destination, in order) from the
  /// caller's buffers: when nothing waits ahead of them, sendmmsg reads
  /// them where they are, no copy; what the kernel refuses (EAGAIN) is
  /// copied into the queue, behind which later sends wait. Returns true if
  /// datagrams are left waiting.
  bool send_views(const view* datagrams, size_t n, const send_fn& fn);
  /// Queues one datagram without sending (then flush: several destinations
  /// leave in one sendmmsg).
  void push(const sockaddr_storage& to, socklen_t len, bytes&& datagram);
  /// Sends what waits until the queue is empty, the kernel says EAGAIN or
  /// `max_calls` sendmmsg calls were made (so a caller holding a lock
  /// releases it now and then). Returns true if datagrams are left waiting.
  bool flush(const send_fn& fn, unsigned max_calls = ~0u);

  bool empty() const { return queue_.empty(); }
  size_t queued() const { return queue_.size(); }
  size_t queued_bytes() const { return bytes_; }

  uint64_t would_block = 0; // sendmmsg calls that ended in EAGAIN
  uint64_t dropped = 0;     // datagrams refused because the queue was full
  uint64_t errors = 0;      // datagrams the kernel refused for another reason

private:
  struct item {
    sockaddr_storage to;
    socklen_t len;
    bytes data;
  };
  size_t cap_;
  size_t bytes_ = 0;
  std::deque<item> queue_;
};

} // namespace ht::udx_detail
