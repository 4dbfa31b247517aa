#pragma once
// The hyperdht node actor (messages/hyperdht.hpp): a thin owner of one
// hyperdht::router and, once its dht node is persistent, one
// hyperdht::persistent. Every user request the dht node hands over is fed
// to hyperdht::handle_request() with the actor clock's now and the decision
// is carried out through the dht node (reply / error / relay), or, for a
// server listening here, through that server's handler first. An expiry
// timer runs the caches' gc between requests, so memory is given back when
// nothing arrives. On CAF's test_coordinator it runs on virtual time.
#include <chrono>

#include <caf/actor_system.hpp>

#include "messages/hyperdht.hpp"

namespace ht {

struct hyperdht_node_options {
  hyperdht::router_config router;
  hyperdht::persistent_config persistent;
  /// How long a local server's handler may take to answer (then: refused).
  std::chrono::milliseconds handler_timeout{5000};
  /// Handshakes/holepunches waiting for local servers' handlers, at most;
  /// beyond it they are dropped (a remote flood must not grow our memory;
  /// the clients' retries come back later).
  size_t max_pending_server_requests = 1024;
  /// How often the caches' expiry runs without requests (the caches rotate
  /// a generation every ceil(2/3 maxAge); this only bounds the lag).
  std::chrono::milliseconds expiry_interval{60000};
};

/// Spawns the hyperdht node on `dht`: it registers with `dht` for the user
/// commands 0-10 and subscribes to its events. It exits when `dht` does.
hyperdht_node_actor spawn_hyperdht_node(caf::actor_system& sys, dht_node_actor dht,
                                        hyperdht_node_options opts = {});

} // namespace ht
