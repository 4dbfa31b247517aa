#pragma once
// The UDP socket actor: owns the file descriptor; a dedicated I/O thread
// receives with recvmmsg and forwards batches to stream actors (by UDX
// stream id) or to the datagram handler; the actor itself sends with
// sendmmsg. See docs/udx.md for why I/O reaches the actors this way.
#include <cstdint>
#include <string>

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
};

/// Binds the socket (synchronously, so bind errors come back here) and
/// spawns its actor. Stop it with an exit message; the I/O thread ends and
/// the fd is closed when the actor terminates.
caf::expected<udx_socket_actor> spawn_udx_socket(caf::actor_system& sys,
                                                 const udx_socket_options& opts);

} // namespace ht
