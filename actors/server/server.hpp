#pragma once
// The server role, ready to attach to a transport: spawn it, then let the
// transport hand it connections (it is an acceptor_actor).
#include <functional>

#include <caf/actor_system.hpp>

#include "actors/server/session_protocol.hpp"
#include "messages/server.hpp"

namespace ht {

struct server_config {
  /// Where the store keeps <client hex>.log files, and how it writes them.
  store_config store;
  /// Limits on what one client may send.
  session_limits limits;
  /// A session stops reading (pauses its connection) while this many bytes
  /// of its lines wait for the store, and resumes below half of it.
  uint64_t session_window_bytes = 4u << 20;
  /// On shutdown, sessions that have not drained by then are abandoned (the
  /// store is still flushed; their clients replay what was not written).
  caf::timespan shutdown_deadline = std::chrono::seconds(10);
  /// How the root makes (and remakes, after a crash) its store. Empty: the
  /// real file system through spawn_store.
  std::function<store_actor(caf::actor_system&, const store_config&)> make_store;
};

/// Spawns the supervising root of the server role.
server_actor spawn_server(caf::actor_system& sys, server_config cfg);

} // namespace ht
