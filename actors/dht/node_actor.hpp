#pragma once
// The dht-rpc node actor (messages/dht.hpp): a thin owner of one sans-IO
// rpc::node, the UDX socket(s) whose non-stream datagrams it handles, and
// one timer. Every input (a datagram, a command, the timer) is fed to the
// core with the actor clock's now, then the core is drained: datagrams go
// to the socket, events to whoever asked (request promises, query sinks,
// command handlers, subscribers), and the timer is re-armed to
// poll_timeout(). With CAF's test_coordinator the same code runs on virtual
// time over virtual sockets.
#include <vector>

#include <caf/actor_system.hpp>

#include "dht/rpc/node.hpp"
#include "messages/dht.hpp"

namespace ht {

struct dht_node_options {
  rpc::node_config config;
  /// Socket i is socket index i of the core. One today; NAT traversal adds
  /// a second. The node becomes the datagram handler of each.
  std::vector<udx_socket_actor> sockets;
  /// Start bootstrapping at once (else on the core's first timeout).
  bool bootstrap = true;
};

/// Spawns the node. Throws std::invalid_argument without a socket.
dht_node_actor spawn_dht_node(caf::actor_system& sys, dht_node_options opts);

} // namespace ht
