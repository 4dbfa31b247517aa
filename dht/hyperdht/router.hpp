#pragma once
// hyperdht's Router (hyperdht/lib/router.js), sans-IO: the forwards table
// (target -> where the announced server is) and the relay decisions for
// PEER_HANDSHAKE and PEER_HOLEPUNCH, the two commands every node serves.
//
// A forward is either
//  - announced: a server announced hash(its key) == target to us
//    (persistent.js:132-139); `relay` is its address as we saw it. These
//    expire like hyperdht's (xache, maxAge 20 min);
//  - local: a server listening on this node (server.js:177-183, retained,
//    never expires); requests for it go to its handler.
//
// Relay rules (router.js:81-172 handshake, 202-248 holepunch):
//  handshake, not a local server:
//    FROM_CLIENT  relay FROM_RELAY{noise, peerAddress: from} to relayAddress
//                 or the forward's relay; with neither, reply closer nodes
//    FROM_RELAY   with a forward: relay FROM_SECOND_RELAY{noise, peerAddress,
//                 relayAddress: from} to the forward's relay
//    FROM_SERVER  with a peerAddress: reply REPLY{noise, peerAddress: from}
//                 to that peerAddress (the client's tid is kept)
//  handshake, local server: hand it over (handshake_for_server), then
//    server_handshake_reply(): FROM_CLIENT -> reply REPLY{noise};
//    FROM_RELAY -> relay FROM_SERVER{noise, peerAddress} to from;
//    FROM_SECOND_RELAY -> the same to relayAddress
//  holepunch:
//    FROM_CLIENT  relay FROM_RELAY{id, payload, peerAddress: from} to
//                 peerAddress or the forward's relay
//    FROM_RELAY   for a local server with a peerAddress: hand it over, then
//                 relay FROM_SERVER{id 0, payload, peerAddress} to from
//    FROM_SERVER  reply REPLY{id, payload, peerAddress: from} to peerAddress
//                 (or to from when there is none, as dht-rpc's reply does)
// Anything else, and every value that does not decode, is dropped silently.
#include <optional>

#include "dht/hyperdht/cache.hpp"
#include "dht/hyperdht/decision.hpp"

namespace ht::hyperdht {

struct forward {
  std::optional<ipv4_address> relay;  // the announcing server's address; none for a local server
  bytes record;                       // the encoded peer_record FIND_PEER/LOOKUP answer with
  bool local = false;                 // a server listening on this node
};

struct router_config {
  // hyperdht's defaults (index.js:614-623): maxSize 65536, maxAge 20 min.
  cache_limits forwards{65536, std::chrono::minutes(20), 16u << 20};
};

struct router_stats {
  uint64_t dropped = 0;  // requests dropped (bad value, nowhere to send)
  uint64_t relayed = 0;
  uint64_t to_server = 0;
};

class router {
public:
  router(router_config cfg, time_point now);

  // --- the forwards table ---
  /// An announced server (xache set: ignored while a local server holds the target).
  void set_forward(const key32& target, const ipv4_address& relay, bytes record, time_point now);
  /// A server listening on this node: kept until remove() (xache retain).
  void listen(const key32& target, bytes record);
  void remove(const key32& target);
  /// xache get: reading an entry keeps it alive another generation.
  const forward* get(const key32& target, time_point now);
  size_t size() const { return forwards_.size(); }
  void expire(time_point now) { forwards_.expire(now); }

  // --- requests ---
  decision on_peer_handshake(const rpc::incoming_request& req, time_point now);
  decision on_peer_holepunch(const rpc::incoming_request& req, time_point now);

  /// What to send once the local server's handler answered a
  /// handshake_for_server (nullopt: the handler refused; nothing is sent).
  /// `socket` is the one the handler wants its answer sent from (hyperdht's
  /// reply.socket: the holepuncher's socket once it has one).
  decision server_handshake_reply(const rpc::incoming_request& req, const handshake_for_server& hs,
                                  const std::optional<bytes>& reply_noise,
                                  std::optional<uint8_t> socket = std::nullopt);
  /// The same for holepunch_for_server.
  decision server_holepunch_reply(const rpc::incoming_request& req, const holepunch_for_server& hp,
                                  const std::optional<bytes>& reply_payload,
                                  std::optional<uint8_t> socket = std::nullopt);

  const router_stats& stats() const { return stats_; }

private:
  decision dropped() {
    ++stats_.dropped;
    return drop{};
  }
  decision relay(bytes value, const ipv4_address& to, std::optional<uint8_t> socket = std::nullopt) {
    ++stats_.relayed;
    return relay_action{std::move(value), to, socket};
  }

  generation_cache<forward> forwards_;
  router_stats stats_;
};

/// The reply options hyperdht's relays and servers use: no token, no closer nodes.
rpc::reply_options bare_reply(std::optional<bytes> value, std::optional<ipv4_address> to = {});

} // namespace ht::hyperdht
