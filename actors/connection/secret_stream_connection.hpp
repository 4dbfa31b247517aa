#pragma once
// A connection (messages/connection.hpp) over the network: one UDX stream on
// the node's shared socket carrying @hyperswarm/secret-stream started from a
// completed PEER_HANDSHAKE, as hyperdht does once its Noise IK is done
// (connect.js and server.js: `rawStream.connect(socket, remoteId, port,
// host)` then `new SecretStream(isInitiator, rawStream, { handshake: { tx,
// rx, hash, publicKey, remotePublicKey }, keepAlive })`).
//
// The actor owns the UDX stream actor and the sans-IO secret-stream:
//   opened(id, remote key)  once the peer's secret-stream header arrived
//   message(id, bytes)      one per remote write; zero-length messages are
//                           keep-alives and dropped while keep-alive is on
//                           (as secret-stream does)
//   closed(id, code, text)  exactly once, last (codes: docs/connection.md)
// pause/resume: while the handler cannot take messages (paused, not
// attached yet, or handler_window bytes of messages still unprocessed in its
// mailbox) and some are held, the UDX stream is paused, so its receive
// window closes and the peer stops sending. write replies (for writers that
// request) are withheld while more than high_water bytes are queued.
#include <chrono>
#include <cstdint>
#include <optional>

#include <caf/actor_system.hpp>

#include "dht/noise/peer_handshake.hpp"
#include "dht/udx/stream.hpp"
#include "messages/connection.hpp"
#include "messages/udx.hpp"

namespace ht {

struct secret_stream_connection_options {
  // hyperdht's connectionKeepAlive (index.js DEFAULTS): a zero-length
  // message after this long without a write; 0 turns it off (and then
  // zero-length messages are delivered, as secret-stream does).
  caf::timespan keepalive = std::chrono::seconds(5);
  // Closes with ETIMEDOUT when nothing at all arrives from the peer this
  // long (its keep-alives and acks count); 0: only UDX's retransmission
  // limit notices a dead peer (~90 s).
  caf::timespan idle_timeout = std::chrono::seconds(30);
  // Closes with ETIMEDOUT when the peer's secret-stream header has not
  // arrived this long after the start (covers the passive wait too).
  caf::timespan open_timeout = std::chrono::seconds(20);
  // After close(): the peer has this long to end its side too; then the
  // stream is destroyed (the peer sees ECONNRESET) and closed is reported.
  caf::timespan close_timeout = std::chrono::seconds(10);
  // Passive stream: how long to wait for the peer's first packet
  // (hyperdht's HANDSHAKE_INITIAL_TIMEOUT is 10 s).
  caf::timespan passive_timeout = std::chrono::seconds(10);
  // Largest incoming message (the server passes --max-message-bytes); a
  // larger one closes the connection with EMSGSIZE, from its length prefix.
  size_t max_message_bytes = 1u << 20;
  // Write replies are withheld while more than this many bytes are handed to
  // the UDX stream and not taken by it yet (it withholds its own replies
  // above udx_high_water).
  uint64_t high_water = 1u << 20;
  uint64_t udx_high_water = 4u << 20;
  // How many bytes of messages may be in the handler's mailbox, delivered
  // but not processed yet; beyond it the rest is held here and the UDX
  // stream pauses (its window closes and the peer stops). Without it a
  // handler slower than the network (a session parsing traces) gathers
  // whatever the peer sends in its mailbox, out of reach of pause, which
  // acts only once the handler processed the messages ahead of it. Every
  // quarter of it one message goes as a request: its (automatic, empty)
  // reply says that the handler processed everything up to it. 0: no bound.
  uint64_t handler_window = 256u << 10;
  // The same bound between the UDX stream and this actor (bytes of
  // stream data; udx_stream_options::handler_window).
  uint64_t udx_handler_window = 1u << 20;
  // Receive window, MTU, RTO bounds, ... (ids and idle timeout come from above).
  udx::stream_config udx_tuning;
};

struct secret_stream_connection_params {
  udx_socket_actor socket;       // the node's shared socket (real or virtual)
  uint32_t local_id = 0;         // the id we offered in our handshake payload
  uint32_t remote_id = 0;        // the id in the peer's payload (udx.id)
  // Where the peer is. Empty: passive, the first valid UDX packet for
  // local_id from any address fixes it (the server, or a client whose peer
  // connects to it first); `passive_family` sizes packets meanwhile.
  std::optional<udx_endpoint> remote;
  uint8_t passive_family = 4;
  // The finished PEER_HANDSHAKE: keys.initiator says which side we are
  // (the client is the initiator), keys.remote_public_key who the peer is.
  noise::peer_handshake_result handshake;
  // Packets for local_id that reached the handshake layer before the
  // stream existed (via the socket's datagram handler): not lost.
  udx_datagrams early;
  secret_stream_connection_options options;
};

/// The connection plus what the handshake layer and tests need. It is also
/// the handler of its own UDX stream (events from any other sender are
/// ignored).
using secret_stream_connection_actor = connection_actor::extend_with<
  udx_stream_handler_actor>::extend<
  // Answers once the socket routes local_id to the stream (false: the id
  // is taken, and the connection closes with EADDRINUSE). Send the reply
  // that carries local_id to the peer only after this.
  caf::replies_to<udx_register_atom>::with<bool>,
  // The UDX stream's counters.
  caf::replies_to<udx_stats_atom>::with<udx_stream_info>,
  // Packets for local_id that reached the handshake layer after the
  // connection was spawned but before its stream's route took over (they
  // were already on their way to the old route): handed to the stream as
  // if the socket had delivered them.
  caf::reacts_to<udx_recv_atom, udx_datagrams>,
  // The connection's own timers (keep-alive, open, close).
  caf::reacts_to<tick_atom, int64_t>>;

/// Spawns the connection and its UDX stream; the secret-stream header goes
/// out at once (or, passive, once the peer's address is known).
secret_stream_connection_actor
spawn_secret_stream_connection(caf::actor_system& sys,
                               secret_stream_connection_params params);

} // namespace ht
