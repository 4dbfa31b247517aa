#pragma once
// The per-stream actor: drives one sans-IO UDX stream (dht/udx/stream.hpp)
// with CAF timers, sends through any udx_socket_actor (real or virtual) and
// reports events to the attached udx_stream_handler_actor.
#include <chrono>
#include <cstdint>

#include <caf/actor_system.hpp>

#include "dht/udx/stream.hpp"
#include "messages/udx.hpp"

namespace ht {

struct udx_stream_options {
  uint32_t local_id = 0;
  uint32_t remote_id = 0;
  // The peer's address. Ignored when passive, except its family, which
  // sizes the packets (IPv4 unless told otherwise).
  udx_endpoint remote;
  // Passive accept (the "firewall hook" of hyperdht's raw streams): the
  // peer's address is not known yet. The first datagram for local_id with a
  // valid UDX header, from any address with a non-zero port, connects the
  // stream to that address and is processed like every later one. Until
  // then nothing is sent (writes wait), and if no such datagram comes
  // within passive_timeout the stream closes with ETIMEDOUT.
  bool passive = false;
  caf::timespan passive_timeout = std::chrono::seconds(10);
  // Datagrams for local_id that reached the owner before the stream was
  // registered (through the socket's datagram handler): processed first,
  // as if the socket had just delivered them, so none is lost.
  udx_datagrams early;
  // The counter of bytes routed to the stream and not processed yet (the
  // socket's cap applies to it). Null: the stream makes its own. An owner
  // that also hands the stream packets itself (udx_recv_atom, e.g. ones
  // that reached it just before the stream registered) shares it and adds
  // their sizes first, so the stream's subtraction balances.
  udx_backlog_ptr backlog;
  udx::stream_config tuning;      // ids and ipv6 are filled in from above
  // write replies are withheld while more than this is buffered
  uint64_t high_water = 4u << 20;
  // Data bytes handed to the handler and not known to be processed: beyond
  // this the stream stops taking data from the core (as when paused), so
  // its receive window closes and the peer stops, instead of the data
  // piling up in a slow handler's mailbox. Every quarter of it one data
  // event goes as a request, whose (automatic, empty) reply says that the
  // handler processed everything up to it. 0: no bound.
  uint64_t handler_window = 1u << 20;
  // optional: attached from the start
  udx_stream_handler_actor handler;
};

/// Spawns the stream actor; it registers its local id with the socket. The
/// peer must create its side with the ids swapped (UDX has no handshake:
/// ids travel in the application's own handshake, e.g. HyperDHT's).
udx_stream_actor spawn_udx_stream(caf::actor_system& sys, udx_socket_actor socket,
                                  const udx_stream_options& opts);

} // namespace ht
