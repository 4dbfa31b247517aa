#pragma once
// One whole hyperdht endpoint on a real UDP socket: the UDX socket on
// host:port, the dht node on it and the hyperdht node on that. The server
// and the client both start from here (the server keeps the socket handle to
// open UDX streams on the same socket, as hyperdht does).
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "actors/dht/node_actor.hpp"
#include "actors/hyperdht/hyperdht_node.hpp"
#include "messages/udx.hpp"

namespace ht {

struct hyperdht_stack_options {
  std::string host = "0.0.0.0";
  uint16_t port = 0;                               // 0: any free port
  rpc::node_mode mode = rpc::node_mode::ephemeral;
  std::vector<rpc::ipv4_address> bootstrap;
  /// Persistent mode: the address the node's id is derived from. Its port 0
  /// means "the port the socket got" (so --port 0 works for persistent nodes).
  std::optional<rpc::ipv4_address> public_address;
  uint64_t seed = 0;
  hyperdht_node_options hyperdht;
};

struct hyperdht_stack {
  udx_socket_actor socket;
  dht_node_actor dht;
  hyperdht_node_actor hyperdht;
  udx_endpoint bound;   // where the socket listens
};

/// Binds the socket (errors come back here) and spawns the two nodes.
/// Blocks briefly to learn the bound port; for real sockets only (scenario
/// tests build the same three actors on virtual sockets themselves).
caf::expected<hyperdht_stack> spawn_hyperdht_stack(caf::actor_system& sys,
                                                   hyperdht_stack_options opts);

} // namespace ht
