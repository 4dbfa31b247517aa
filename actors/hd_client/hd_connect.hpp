#pragma once
// hyperdht's connect(publicKey) as an actor: findPeer through the dht node,
// PEER_HANDSHAKE through the relays (dht/hyperdht/client_connect decides),
// then a secret-stream over a UDX stream on the stack's shared socket.
//
// What it returns is a connection_actor (messages/connection.hpp) at once:
// writes and pause/resume before the stream exists are held, and the
// handler's events are the inner connection's, renumbered with this
// connection's id. A connect that fails ends with closed(id, code, text)
// where code is hyperdht's (PEER_NOT_FOUND, PEER_CONNECTION_FAILED,
// SERVER_ERROR, SERVER_INCOMPATIBLE, HOLEPUNCH_ABORTED, QUERY_FAILED);
// once the stream runs, the connection's own codes (docs/connection.md).
#include <atomic>
#include <chrono>
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/connection/secret_stream_connection.hpp"
#include "dht/hyperdht/client_connect.hpp"
#include "messages/dht.hpp"
#include "messages/udx.hpp"

namespace ht {

/// What connects report, summed over every connect that shares it
/// (hyperdht_client_socket::stats(): all connects of one client socket).
struct hd_connect_stats {
  uint64_t connects = 0;       // started
  uint64_t opened = 0;         // reached the stream (secret-stream starts)
  uint64_t failed = 0;         // ended before the stream with hyperdht's code
  // Rule 1: the server's packets for our udx id that came before our
  // stream existed, kept and handed to it...
  uint64_t early_kept = 0;
  // ... or dropped: over max_early_bytes, not a well-formed UDX packet, or
  // from an address we cannot answer. The server resends what it needs (its
  // RTO, 1 s at least), so a count here is a slower start, not a loss.
  uint64_t early_dropped = 0;
};

/// The shared, thread-safe counters behind hd_connect_stats.
struct hd_connect_counters {
  std::atomic<uint64_t> connects{0}, opened{0}, failed{0}, early_kept{0}, early_dropped{0};
  hd_connect_stats snapshot() const {
    hd_connect_stats s;
    s.connects = connects.load(std::memory_order_relaxed);
    s.opened = opened.load(std::memory_order_relaxed);
    s.failed = failed.load(std::memory_order_relaxed);
    s.early_kept = early_kept.load(std::memory_order_relaxed);
    s.early_dropped = early_dropped.load(std::memory_order_relaxed);
    return s;
  }
};

struct hd_connect_params {
  udx_socket_actor socket;  // the stack's shared socket
  dht_node_actor dht;       // the dht node on it
  noise::keypair keys;      // ours
  public_key server;        // the server's public key
  hyperdht::client_connect_config connect;
  // One PEER_HANDSHAKE / LAN ping request, retries included (the dht node
  // bounds it too; this is the actor's own guard).
  caf::timespan request_timeout = std::chrono::seconds(10);
  secret_stream_connection_options connection;
  uint32_t udx_id = 0;      // 0: random
  // Rule 1 (connect.js's raw stream exists before the handshake goes out):
  // from before our first PEER_HANDSHAKE until the stream takes over, UDX
  // packets for udx_id are routed to the connect actor and kept, at most
  // this many bytes (beyond: dropped, as a full receive buffer would), and
  // at most until the connect phase ends (handshake_timeout).
  size_t max_early_bytes = 64u << 10;
  // Where this connect counts (null: a fresh one nobody reads).
  std::shared_ptr<hd_connect_counters> counters;
};

using hd_connect_actor = connection_actor
  ::extend_with<connection_handler_actor>
  ::extend_with<dht_query_sink_actor>
  ::extend_with<udx_packet_sink_actor>
  ::extend<caf::reacts_to<tick_atom, uint64_t>>;

hd_connect_actor spawn_hd_connect(caf::actor_system& sys, hd_connect_params params);

} // namespace ht
