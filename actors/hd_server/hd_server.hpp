#pragma once
// A HyperDHT server listening in this process (hyperdht's server.listen()).
//
// It registers with the hyperdht node (hd_listen: target = hash(pk) and our
// record), runs the announcer (dht/hyperdht/announcer.hpp) through the dht
// node's requests and queries, and answers PEER_HANDSHAKE as the Noise IK
// responder (dht/hyperdht/server_handshake.hpp). A handshake the firewall
// allows gets a UDX stream on the node's socket with a fresh random id,
// accepted passively (the client's first packet fixes its address), and a
// secret_stream_connection on it; the reply leaves only once the socket
// routes that id. The connection reaches the acceptor (the server root)
// when it is open (actors/hd_server/open_gate.hpp).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include <caf/actor_system.hpp>

#include "actors/connection/secret_stream_connection.hpp"
#include "dht/hyperdht/announcer.hpp"
#include "dht/hyperdht/server_handshake.hpp"
#include "messages/connection.hpp"
#include "messages/hyperdht.hpp"

namespace ht {

using hd_event_atom = caf::atom_constant<caf::atom("hdsevent")>;

/// What the server tells its owner (printed by the binary).
struct hd_server_event {
  enum class kind : uint8_t {
    announced,        // the first time at least one node stores our announce
    no_bootstrap,     // an update's query got no reply at all (retrying)
    reannounced,      // announced again after no_bootstrap
    refused,          // a handshake refused (reason in text)
    unannounced,      // close() is done
  };
  kind what = kind::announced;
  std::string text;
};

struct hd_server_status {
  bool announced = false;
  size_t relays = 0;
  hyperdht::announcer_stats announcer;
  uint64_t handshakes = 0, accepted = 0, resent = 0, refused = 0, bad = 0, flood = 0, error_replies = 0;
  uint64_t pending_streams = 0;   // accepted, not open yet
  uint64_t opened = 0;            // handed to the acceptor
  uint64_t never_opened = 0;      // closed before opening (e.g. a replayed handshake)
  size_t dedupe_entries = 0;
};

struct hd_server_options {
  noise::keypair keys;
  /// Allowed client keys; empty: all.
  std::set<public_key> allow;
  /// Our public address, if we have one (firewall OPEN in the payload).
  std::optional<rpc::ipv4_address> public_address;
  secret_stream_connection_options connection;
  hyperdht::announcer_config announcer;
  hyperdht::server_handshake_config handshake;
  /// Accepted handshakes whose stream is not open yet, at most.
  size_t max_pending_streams = 256;
  /// Events for the owner (called inside the actor).
  std::function<void(const hd_server_event&)> on_event;
};

using hd_server_actor = hd_server_handler_actor::extend<
  caf::replies_to<status_atom>::with<hd_server_status>,
  // Unannounces (bounded by `deadline`), unlistens, then answers and exits.
  caf::replies_to<close_atom, caf::timespan>::with<bool>,
  caf::reacts_to<tick_atom, uint64_t>,
  // Internal: a pending stream settled (opened or not).
  caf::reacts_to<hd_event_atom, bool>>;

struct hd_server_params {
  udx_socket_actor socket;
  dht_node_actor dht;
  hyperdht_node_actor hyperdht;
  acceptor_actor acceptor;
  hd_server_options options;
};

hd_server_actor spawn_hd_server(caf::actor_system& sys, hd_server_params params);

} // namespace ht

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::hd_server_status)
