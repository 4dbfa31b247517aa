#pragma once
// The actor behind one client connection: runs session_protocol on its
// messages and hands the resulting lines to the store in order, one batch
// in flight (two while the second is a full one), keeping every batch until
// the store acknowledges it (so a store restart loses nothing acknowledged
// and nothing accepted).
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <caf/message.hpp>

#include "actors/server/server.hpp"

namespace ht {

struct session_params {
  connection_actor conn;
  std::string client_hex;
  uint64_t connection_no = 0;
  last_seen_trace last_seen;
  store_actor store;
  server_actor root;
  session_limits limits;
  uint64_t window_bytes = 4u << 20;
  // A batch sent to the store carries at most this many bytes of lines (at
  // least one line). The server sets it to the store's flush_bytes, so a
  // full batch is written at once, not after the store's flush interval.
  // It bounds what the batch holds twice (here until acknowledged, and the
  // copy in the append message) and the store's buffer for this client.
  // While one batch waits (the store writes a small one after its flush
  // interval), a second goes as soon as it is full: the store then writes
  // both at once, instead of this session gathering a flush interval's
  // worth of lines (at 50,000 traces/s, 50 ms is over 1 MB) meanwhile.
  uint64_t batch_bytes = 512u << 10;
  caf::timespan store_timeout = std::chrono::seconds(30);
};

struct session_state {
  std::unique_ptr<session_protocol> protocol;
  session_params params;
  std::deque<std::string> pending;    // lines not yet sent to the store
  uint64_t pending_bytes = 0;
  // Append requests sent and not acknowledged, oldest first (at most two
  // in normal operation). The lines live in the request's message only:
  // CAF shares it with the store's mailbox (no copy), and the session still
  // has them to resend to a new store after a crash.
  struct batch {
    caf::message msg;   // (append_atom, client hex, std::vector<std::string>)
    size_t lines = 0;
    uint64_t bytes = 0;
  };
  std::deque<batch> in_flight;
  uint64_t in_flight_bytes = 0;
  // Of in_flight, how many the current store has not answered yet: all of
  // them, or none after the store died (they wait to be reconciled).
  size_t awaiting = 0;
  uint64_t store_generation = 0;      // bumped on every new store handle
  bool reconciling = false;           // asking a new store what it has
  uint64_t request_no = 0;            // numbers store requests for the watchdog
  bool watchdog_armed = false;
  bool paused = false;
  bool conn_closed = false;
  bool closing = false;               // we asked the connection to close
  static inline const char* name = "session";
};

using session_pointer = session_actor::stateful_pointer<session_state>;

session_actor::behavior_type session_impl(session_pointer self,
                                          session_params params);

} // namespace ht
