#pragma once
// The UDP socket actor: owns the file descriptor; a dedicated I/O thread
// receives with recvmmsg and forwards batches to stream actors (by UDX
// stream id) or to the datagram handler; the actor itself sends with
// non-blocking sendmmsg, and what the kernel refuses with EAGAIN is queued
// (bounded) and flushed by the I/O thread on POLLOUT. See docs/udx.md for why I/O reaches the actors this way.
#include <cstdint>
#include <functional>
#include <string>

#include <sys/socket.h>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "messages/udx.hpp"

namespace ht {

struct udx_socket_options {
  std::string host = "0.0.0.0";   // "::" binds IPv6 (dual stack)
  uint16_t port = 0;              // 0: any free port
  int buffer_bytes = 4 << 20;     // SO_RCVBUF / SO_SNDBUF wish
  // Per stream: packets the stream actor has not processed yet beyond this
  // are dropped (as a full kernel buffer would).
  int64_t stream_backlog_cap = 8 << 20;
  // For the datagram handler (DHT RPC), when it was registered with a
  // backlog: datagrams it has not processed yet beyond this, or beyond
  // their source host's share of it (udx_handler_admit), are dropped and
  // counted (udx_socket_info::handler_dropped), so a flood of non-stream
  // datagrams cannot grow its mailbox nor crowd out other peers.
  int64_t handler_backlog_cap = 1 << 20;
  // Datagrams the kernel refused with EAGAIN wait in a queue flushed by the
  // I/O thread; beyond this many bytes they are dropped and counted.
  size_t send_queue_bytes = 4 << 20;
  // Tests only: replaces sendmmsg(fd, msgs, n, MSG_DONTWAIT), e.g. to make
  // the kernel buffer look full. Called with the socket's send lock held.
  std::function<int(int fd, mmsghdr* msgs, unsigned n)> send_hook;
};

/// Binds the socket (synchronously, so bind errors come back here) and
/// spawns its actor. Stop it with an exit message; the I/O thread ends and
/// the fd is closed when the actor terminates.
caf::expected<udx_socket_actor> spawn_udx_socket(caf::actor_system& sys,
                                                 const udx_socket_options& opts);

} // namespace ht
