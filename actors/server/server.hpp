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
  /// of its lines wait for the store, and resumes below half of it. With a
  /// second batch sent as soon as it is full (session_params::batch_bytes)
  /// two batches' worth is enough to keep the store busy.
  uint64_t session_window_bytes = 512u << 10;
  /// On shutdown, sessions that have not drained by then are abandoned (the
  /// store is still flushed; their clients replay what was not written).
  caf::timespan shutdown_deadline = std::chrono::seconds(10);
  /// Every request to the store gets this long. A session whose append is
  /// unanswered this long (replies are withheld under backpressure, so that
  /// alone proves nothing) reports it; the root then asks the store for its
  /// status, and a store that does not answer that either is replaced.
  caf::timespan store_timeout = std::chrono::seconds(30);
  /// Last-seen states kept between sessions (least recently used first
  /// out); a forgotten key is recovered from its file on its next connect.
  size_t max_remembered_keys = 100000;
  /// Connections waiting for their session to start: per key (a newer
  /// connection of the key closes its oldest waiting one) and in all (a
  /// connection beyond it is refused: closed at once).
  size_t max_waiting_per_key = 4;
  size_t max_waiting_connections = 4096;
  /// Recovering a key's last trace from its file: retried with backoff
  /// (min doubling to max); after this many failed attempts its waiting
  /// connections are closed, with a note on stderr and in its log.
  caf::timespan recovery_retry_min = std::chrono::milliseconds(100);
  caf::timespan recovery_retry_max = std::chrono::seconds(10);
  uint32_t recovery_attempts = 10;
  /// How the root makes (and remakes, after a crash) its store. Empty: the
  /// real file system through spawn_store.
  std::function<store_actor(caf::actor_system&, const store_config&)> make_store;
};

/// Spawns the supervising root of the server role.
server_actor spawn_server(caf::actor_system& sys, server_config cfg);

} // namespace ht
