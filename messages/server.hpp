#pragma once
// The server role: a supervising root actor that accepts connections from
// a transport, runs one session actor per connected client key, and owns
// the store (see actors/server/).
#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/connection.hpp"
#include "messages/store.hpp"

namespace ht {

/// Counters of the server, for metrics, tests and benchmarks.
struct server_status {
  uint64_t connections = 0;      // accepted since start
  uint64_t active_sessions = 0;
  uint64_t session_crashes = 0;
  uint64_t store_restarts = 0;
  // Added with the bounded root (additive):
  uint64_t refused_connections = 0; // closed by the waiting-queue bounds
  uint64_t recovery_failures = 0;   // keys given up on after the last attempt
  uint64_t store_timeouts = 0;      // stores replaced for not answering
  uint64_t remembered_keys = 0;     // last-seen states held (bounded)
  uint64_t waiting_connections = 0; // accepted, waiting for their session
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, server_status& x) {
  return f(caf::meta::type_name("server_status"), x.connections,
           x.active_sessions, x.session_crashes, x.store_restarts,
           x.refused_connections, x.recovery_failures, x.store_timeouts,
           x.remembered_keys, x.waiting_connections);
}

/// One client's session: the owner of its connection.
using session_actor = connection_handler_actor::extend<
  // The store was restarted: resend what the old one did not acknowledge.
  caf::reacts_to<store_atom, store_actor>,
  // Close the connection, hand everything received to the store, exit.
  caf::reacts_to<shutdown_atom>,
  // Internal watchdog: store request number n is still unanswered after
  // the store timeout.
  caf::reacts_to<tick_atom, uint64_t>>;

/// The server root.
using server_actor = acceptor_actor::extend<
  // Orderly shutdown: stop accepting, drain sessions, flush and fsync the
  // store; the reply (true when everything reached the disk) comes last.
  caf::replies_to<shutdown_atom>::with<bool>,
  // A session hands back the last trace it accepted before it exits.
  caf::reacts_to<drained_atom, std::string /* client hex */, last_seen_trace>,
  // A session's request to this store went unanswered for the store
  // timeout: the root checks the store and replaces it if it is stuck.
  caf::reacts_to<stalled_atom, store_actor>,
  // Internal timers of the root:
  caf::reacts_to<tick_atom, shutdown_atom>,  // the shutdown deadline passed
  caf::reacts_to<tick_atom, flush_atom>,     // flush again while draining
  caf::reacts_to<tick_atom, recover_atom, std::string /* client hex */>, // retry
  caf::reacts_to<tick_atom, store_actor>,    // a store told to exit is still up
  caf::replies_to<status_atom>::with<server_status>,
  // The session currently serving a client (invalid if none): for
  // diagnostics and fault-injection tests.
  caf::replies_to<status_atom, std::string /* client hex */>::with<caf::actor>>;

} // namespace ht
