#pragma once
// What the hyperdht layer decides about one incoming dht-rpc user request,
// for the node actor to carry out through ht::rpc::node (reply(), error(),
// relay()). Nothing here sends: router and persistent are sans-IO.
#include <optional>
#include <variant>

#include "dht/hyperdht/messages.hpp"
#include "dht/rpc/node.hpp"

namespace ht::hyperdht {

/// No answer at all: hyperdht drops invalid requests silently.
struct drop {};

/// node.reply(req, opts): opts.value, opts.token, opts.closer_nodes, opts.to.
struct reply_action {
  rpc::reply_options opts;
};

/// node.error(req, code, opts). hyperdht's req.error() sends no token unless
/// asked and closer nodes unless told not to (dht-rpc io.js:419-423).
struct error_action {
  uint64_t code = 0;
  rpc::reply_options opts;
};

/// node.relay(req, value, to, socket): the same tid, command and target to the next hop.
struct relay_action {
  bytes value;
  ipv4_address to;
  std::optional<uint8_t> socket;  // a local server's answer may leave from another socket
};

/// A PEER_HANDSHAKE for a server listening on this node: hand it to that
/// server's handler (router.js:87-99, it runs for every mode), then pass
/// the handler's reply noise to router::server_handshake_reply().
struct handshake_for_server {
  key32 target{};
  uint64_t mode = 0;
  bytes noise;
  std::optional<ipv4_address> peer_address;
  std::optional<ipv4_address> relay_address;
};

/// A PEER_HOLEPUNCH FROM_RELAY for a server listening on this node
/// (router.js:221-230); its answer goes to router::server_holepunch_reply().
struct holepunch_for_server {
  key32 target{};
  uint64_t id = 0;
  bytes payload;
  ipv4_address peer_address;
};

using decision = std::variant<drop, reply_action, error_action, relay_action, handshake_for_server,
                              holepunch_for_server>;

} // namespace ht::hyperdht
