#pragma once
// The client: a root actor (the supervisor the host's facade talks to) and
// its worker (the connection owner). See actors/client/client.hpp for the
// host-facing API.
#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/connection.hpp"

namespace ht {

using drain_atom = caf::atom_constant<caf::atom("drain")>;     // ingress has records
using ready_atom = caf::atom_constant<caf::atom("ready")>;     // initial props are in
using start_atom = caf::atom_constant<caf::atom("start")>;     // begin connecting
using stop_atom = caf::atom_constant<caf::atom("stop")>;       // flush, then close
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>; // worker's own timer
using worker_atom = caf::atom_constant<caf::atom("worker")>;   // for tests: who works

/// Events the client reports to the host (the JS client's events, plus
/// `dropped`, which explains a gap the server will note).
enum class client_event_kind : uint8_t {
  open,             // a connection opened
  close,            // the client ended (stopped, or can_reconnect said no)
  reconnect,        // a connection ended; the client will try again
  connection_error, // a connection failed, or a client part crashed
  dropped,          // `count` traces will never reach the server
};

struct client_event {
  client_event_kind kind = client_event_kind::open;
  std::string code;    // connection_error: e.g. "ECONNRESET", "ECLIENTCRASH"
  std::string message; // connection_error: human-readable
  uint64_t count = 0;  // dropped: how many traces
};

const char* to_string(client_event_kind k);

/// A snapshot of the client's counters.
struct client_stats {
  bool connected = false;          // is_running()
  uint64_t traces = 0;             // traces encoded (next traceNumber)
  uint64_t buffered_traces = 0;    // kept for replay
  uint64_t buffered_bytes = 0;
  uint64_t unwritten_traces = 0;   // buffered, never written yet
  uint64_t dropped_unwritten = 0;  // evicted by the byte cap before sending
  uint64_t evicted_written = 0;    // evicted after sending, unconfirmed
  uint64_t dropped_queue = 0;      // host hand-off queue full or closed
  uint64_t encode_errors = 0;      // traces/props that cannot be serialized
  uint64_t connects = 0;           // connection attempts
  uint64_t restarts = 0;           // worker crashes recovered from
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_stats& x) {
  return f(caf::meta::type_name("client_stats"), x.connected, x.traces,
           x.buffered_traces, x.buffered_bytes, x.unwritten_traces,
           x.dropped_unwritten, x.evicted_written, x.dropped_queue,
           x.encode_errors, x.connects, x.restarts);
}

/// The connection owner: the transport's handler plus its own commands.
using client_worker_actor = connection_handler_actor::extend<
  caf::reacts_to<drain_atom>,
  caf::reacts_to<start_atom>,
  caf::reacts_to<stop_atom>,
  caf::reacts_to<timeout_atom>>;

/// The client's root: supervises the worker, restarts it after a crash.
using client_actor = caf::typed_actor<
  caf::reacts_to<drain_atom>,
  caf::reacts_to<ready_atom>,
  caf::reacts_to<stop_atom>,
  caf::replies_to<stats_atom>::with<client_stats>,
  caf::replies_to<worker_atom>::with<client_worker_actor>>;

} // namespace ht
