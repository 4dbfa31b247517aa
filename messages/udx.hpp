#pragma once
// UDX over actors (actors/udx/). A *socket* actor owns one UDP socket that
// carries both UDX stream packets and other datagrams (DHT RPC), split by
// the UDX header the way udx-native does: datagrams with magic 255 and
// version 1 whose stream id is registered go to that stream's actor, all
// others (including UDX-looking ones for unknown ids) to the handler.
// A *stream* actor drives one sans-IO UDX stream (dht/udx/stream.hpp) with
// CAF timers and talks to whatever implements udx_socket_actor: the real
// UDP socket or the deterministic virtual one used by scenario tests.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/bytes.hpp"

namespace ht {

using udx_send_atom = caf::atom_constant<caf::atom("udxsend")>;
using udx_recv_atom = caf::atom_constant<caf::atom("udxrecv")>;
using udx_register_atom = caf::atom_constant<caf::atom("udxreg")>;
using udx_unregister_atom = caf::atom_constant<caf::atom("udxunreg")>;
using udx_handler_atom = caf::atom_constant<caf::atom("udxhandler")>;
using udx_address_atom = caf::atom_constant<caf::atom("udxaddr")>;
using udx_data_atom = caf::atom_constant<caf::atom("udxdata")>;
using udx_end_atom = caf::atom_constant<caf::atom("udxend")>;
using udx_destroy_atom = caf::atom_constant<caf::atom("udxdestroy")>;
using udx_msg_atom = caf::atom_constant<caf::atom("udxmsg")>;
using udx_stats_atom = caf::atom_constant<caf::atom("udxstats")>;
using udx_sender_atom = caf::atom_constant<caf::atom("udxsender")>;

/// An IPv4 or IPv6 address and port, in binary (no string parsing on the
/// packet path).
struct udx_endpoint {
  uint8_t family = 4;                 // 4 or 6
  std::array<uint8_t, 16> ip{};       // IPv4 in the first 4 bytes
  uint16_t port = 0;

  /// Parses "127.0.0.1" or "::1"; throws std::invalid_argument otherwise.
  static udx_endpoint parse(const std::string& host, uint16_t port);
  std::string host() const;
  std::string to_string() const;      // "127.0.0.1:4000", "[::1]:4000"
  friend bool operator==(const udx_endpoint& a, const udx_endpoint& b) {
    return a.family == b.family && a.port == b.port && a.ip == b.ip;
  }
  friend bool operator!=(const udx_endpoint& a, const udx_endpoint& b) {
    return !(a == b);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, udx_endpoint& x) {
  return f(caf::meta::type_name("udx_endpoint"), x.family, x.ip, x.port);
}

struct udx_datagram {
  udx_endpoint from;
  bytes data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, udx_datagram& x) {
  return f(caf::meta::type_name("udx_datagram"), x.from, x.data);
}

using udx_datagrams = std::vector<udx_datagram>;

/// Bytes a socket has handed to a stream actor
/// that it has not processed yet: the socket adds each datagram's size
/// before sending it, the receiver subtracts it after processing it. The
/// socket drops datagrams for that receiver while this is over its cap, as
/// a kernel drops on a full receive buffer, so a slow receiver (or a flood
/// from a peer) cannot make the process hold unbounded memory. Shared
/// in-process only.
struct udx_backlog {
  std::atomic<int64_t> bytes{0};
};
using udx_backlog_ptr = std::shared_ptr<udx_backlog>;

/// Receives the UDX packets of one registered stream id, in batches.
using udx_packet_sink_actor =
  caf::typed_actor<caf::reacts_to<udx_recv_atom, udx_datagrams>>;

/// What one datagram handed to a datagram handler costs against the
/// handler's backlog: its bytes plus what queuing it costs (the mailbox
/// element, the message, the vector, the endpoint). Without the fixed part a
/// flood of 1-byte datagrams would queue cap/1 messages of ~100 bytes each.
constexpr int64_t udx_handler_datagram_overhead = 128;
constexpr int64_t udx_handler_cost(size_t datagram_bytes) {
  return static_cast<int64_t>(datagram_bytes) + udx_handler_datagram_overhead;
}

/// The datagram handler's backlog (bytes the socket handed it that it has
/// not processed yet), counted in total and per source, so that one source
/// flooding the socket cannot crowd out the others (docs/udx.md, "Bounded
/// memory"; the rule is udx_handler_admit below).
///
/// A source is a *host*, not host:port: ports cost an attacker nothing (one
/// machine can send from 60,000 of them), addresses cost real addresses.
/// An IPv6 source is its /64, which one end site commonly gets whole.
/// IPv4-mapped IPv6 (a dual-stack socket) is the IPv4 host.
///
/// Sources are counted in a fixed table of `slots` counters, the slot
/// chosen by a hash keyed with this backlog's own key: memory stays the
/// same whatever peers send, and which hosts share a slot (two hosts in one
/// slot count as one source) cannot be chosen by someone who does not know
/// the key. Shared in-process only, between the socket's I/O thread (which
/// adds) and the handler (which subtracts), hence the atomics.
struct udx_handler_backlog {
  static constexpr size_t slots = 256;
  std::atomic<int64_t> bytes{0};         // all sources
  std::atomic<int64_t> active{0};        // slots holding bytes
  std::array<std::atomic<int64_t>, slots> by_source{};
  uint64_t key0 = 0, key1 = 0;

  /// seed 0: a random key (std::random_device); else derived from seed
  /// (deterministic scenarios).
  explicit udx_handler_backlog(uint64_t seed = 0);
  size_t slot_of(const udx_endpoint& from) const;
};
using udx_handler_backlog_ptr = std::shared_ptr<udx_handler_backlog>;

/// However many sources are active, one may always hold this much (or the
/// whole cap, if that is less): a peer can queue a few datagrams of any
/// size even when a share would round to nothing.
constexpr int64_t udx_handler_min_share_divisor = 64;
constexpr int64_t udx_handler_min_share = udx_handler_cost(4096);

/// The share of `cap` one source may hold while `others` other sources hold
/// bytes: cap / (others + 2), i.e. an equal share with one share kept free
/// for a source that holds nothing yet, so that a peer arriving during a
/// flood finds room at once rather than after the flood is drained; never
/// below max(cap / 64, udx_handler_min_share). (The total stays within cap
/// in any case.)
int64_t udx_handler_share(int64_t cap, int64_t others);

/// The socket's admission rule for one datagram for the handler: admitted,
/// and counted in the backlog, if its source stays within its share and the
/// total within `cap`; otherwise the socket drops it (and counts the drop).
/// The excess of a heavy source is thus dropped, not the datagrams of
/// others. Empty datagrams are never admitted (they would cost nothing).
bool udx_handler_admit(udx_handler_backlog& b, int64_t cap,
                       const udx_endpoint& from, size_t datagram_bytes);

/// A datagram handler calls this once it has processed a datagram the socket
/// admitted (with the same sender and size).
void udx_handler_release(udx_handler_backlog& b, const udx_endpoint& from,
                         size_t datagram_bytes);

/// Receives every other datagram of a socket (the DHT RPC layer): one
/// message per receive batch (one recvmmsg's worth), with the tag given at
/// registration (a node with several sockets tells them apart by it, with no
/// forwarding actor in between). If it was registered with a backlog, it
/// must release each datagram (udx_handler_release) once it has processed
/// it.
using udx_datagram_handler_actor =
  caf::typed_actor<caf::reacts_to<udx_recv_atom, uint8_t, udx_datagrams>>;

/// One datagram to send, in the caller's own buffer.
struct udx_datagram_view {
  udx_endpoint to;
  const uint8_t* data = nullptr;
  size_t size = 0;
};

/// A socket's send path for a handler that sends a lot (the DHT node): it
/// writes straight into the socket's non-blocking send queue from the
/// caller's thread (sendmmsg from the caller's buffers when nothing waits;
/// what the kernel refuses with EAGAIN is copied into the socket's bounded
/// queue and flushed by its I/O thread), with no message to the socket
/// actor: one thread hand-off less per reply. Thread-safe; datagrams of
/// one call leave in order. After the socket actor has exited, sends are
/// dropped.
class udx_sender {
public:
  virtual ~udx_sender() = default;
  virtual void send(const udx_datagram_view* datagrams, size_t n) = 0;
};
using udx_sender_ptr = std::shared_ptr<udx_sender>;

/// Counters of one socket (docs/udx.md, "Bounded memory").
struct udx_socket_info {
  uint64_t handler_dropped = 0;   // datagrams for the handler dropped: over the cap or their source's share
  uint64_t stream_dropped = 0;    // stream packets dropped: that stream's backlog was over the cap
  uint64_t send_would_block = 0;  // sends the kernel refused with EAGAIN (then queued)
  uint64_t send_dropped = 0;      // datagrams dropped: the send queue was full
  uint64_t send_errors = 0;       // datagrams the kernel refused otherwise (unreachable, ...)
  uint64_t send_queued = 0;       // datagrams waiting for the kernel right now
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, udx_socket_info& x) {
  return f(caf::meta::type_name("udx_socket_info"), x.handler_dropped,
           x.stream_dropped, x.send_would_block, x.send_dropped, x.send_errors,
           x.send_queued);
}

/// A UDP socket shared by UDX streams and DHT RPC.
using udx_socket_actor = caf::typed_actor<
  // Sends datagrams to one destination (sendmmsg batches on Linux).
  caf::reacts_to<udx_send_atom, udx_endpoint, std::vector<bytes>>,
  // Sends each datagram to its own destination (the `from` field names the
  // destination here), in order, in as few sendmmsg calls as the kernel
  // takes: the replies to one receive batch leave in one message.
  caf::reacts_to<udx_send_atom, udx_datagrams>,
  // Routes UDX packets with this stream id to the sink; false if the id is
  // taken. The backlog counter may be null (no accounting).
  caf::replies_to<udx_register_atom, uint32_t, udx_packet_sink_actor,
                  udx_backlog_ptr>::with<bool>,
  caf::reacts_to<udx_unregister_atom, uint32_t>,
  // Sets the receiver of non-stream datagrams (replaces the previous one)
  // and the tag its batches carry. With a backlog, datagrams for it are
  // admitted by udx_handler_admit (per-source share of the socket's cap),
  // the others dropped and counted; null: no accounting, no cap.
  caf::reacts_to<udx_handler_atom, udx_datagram_handler_actor,
                 udx_handler_backlog_ptr, uint8_t>,
  caf::replies_to<udx_stats_atom>::with<udx_socket_info>,
  // The bound local address (port resolved when 0 was asked for).
  caf::replies_to<udx_address_atom>::with<udx_endpoint>,
  // The socket's direct send path (udx_sender), or null where there is
  // none (the virtual socket of the scenario tests): then send messages.
  caf::replies_to<udx_sender_atom>::with<udx_sender_ptr>>;

/// Counters of one stream, for tests, metrics and the benchmark.
struct udx_stream_info {
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  uint64_t retransmits = 0;
  uint64_t rto_fired = 0;
  uint64_t loss_episodes = 0;
  uint64_t dropped = 0;
  uint64_t messages_dropped = 0; // unordered messages dropped: queue over its cap
  uint32_t cwnd = 0;
  uint32_t mtu = 0;
  int64_t srtt_us = 0;
  uint64_t buffered = 0;
  bool registered = false;  // the socket routes this stream's id to it
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, udx_stream_info& x) {
  return f(caf::meta::type_name("udx_stream_info"), x.packets_sent,
           x.packets_received, x.retransmits, x.rto_fired, x.loss_episodes,
           x.dropped, x.messages_dropped, x.cwnd, x.mtu, x.srtt_us, x.buffered, x.registered);
}

/// What a stream reports to the handler attached to it. Each event names
/// the stream by its local id. closed comes exactly once, last: the text is
/// empty for a clean close (both sides ended, or we destroyed it) and an
/// errno name otherwise ("ECONNRESET": the peer destroyed it, "ETIMEDOUT":
/// the peer stopped answering).
using udx_stream_handler_actor = caf::typed_actor<
  caf::reacts_to<udx_data_atom, uint32_t, bytes>,
  caf::reacts_to<udx_end_atom, uint32_t>,
  caf::reacts_to<udx_msg_atom, uint32_t, bytes>,
  caf::reacts_to<closed_atom, uint32_t, std::string>>;

/// One UDX stream. Events that happen before attach are held.
using udx_stream_actor = caf::typed_actor<
  caf::reacts_to<attach_atom, udx_stream_handler_actor>,
  // Queues bytes for ordered delivery. The reply (bytes buffered and not
  // yet acknowledged) is withheld while the stream buffers more than its
  // high-water mark: writers that wait for it get backpressure. Fails after
  // end or close.
  caf::replies_to<write_atom, bytes>::with<uint64_t>,
  caf::reacts_to<udx_end_atom>,      // half-close after pending writes
  caf::reacts_to<udx_destroy_atom>,  // abort; the peer sees ECONNRESET
  caf::reacts_to<udx_msg_atom, bytes>, // one unordered datagram
  // Stop / restart delivering events; unread data closes the receive window.
  caf::reacts_to<pause_atom>,
  caf::reacts_to<resume_atom>,
  caf::replies_to<udx_stats_atom>::with<udx_stream_info>,
  // Answers once the socket has answered the stream's registration: true if
  // the socket routes the local id to this stream (false: the id is taken).
  // A handshake layer waits for it before telling the peer the id, so that
  // no packet for the id can reach the socket before the route exists.
  caf::replies_to<udx_register_atom>::with<bool>,
  // From the socket.
  caf::reacts_to<udx_recv_atom, udx_datagrams>,
  // The stream's own timer.
  caf::reacts_to<tick_atom, int64_t>>;

} // namespace ht

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::udx_backlog_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::udx_handler_backlog_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::udx_sender_ptr)
