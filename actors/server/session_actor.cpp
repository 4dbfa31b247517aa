#include "actors/server/session_actor.hpp"

#include <caf/all.hpp>

#include "actors/server/iso_time.hpp"
#include "actors/store/tail_recovery.hpp"

namespace ht {

namespace {

std::string now_iso() {
  return iso8601_ms(std::chrono::system_clock::now());
}

void send_batch(session_pointer self);
void reconcile_with_store(session_pointer self);

// Every request to the store is watched. An append reply may rightly take
// long (the store withholds it while this client is over its share of
// memory, or while its file cannot be written), so the session does not
// give up on it: once one request has been outstanding for a whole
// store_timeout it tells the root, which checks that the store still
// answers at all and replaces it if not; the new store then reconciles
// this session's batch (store_atom). One timer per period, not one per
// request: batches are frequent.
void watch_request(session_pointer self) {
  auto& st = self->state;
  ++st.request_no;
  if (st.watchdog_armed)
    return;
  st.watchdog_armed = true;
  self->delayed_send(self, st.params.store_timeout, tick_atom::value, st.request_no);
}

void on_watchdog(session_pointer self, uint64_t armed_at) {
  auto& st = self->state;
  st.watchdog_armed = false;
  if (st.batches.empty() && !st.reconciling)
    return; // idle: the next request arms it again
  // The request current when the timer was armed is still the current one
  // and unanswered: it has waited a whole period.
  if (st.request_no == armed_at)
    self->send(st.params.root, stalled_atom::value, st.params.store);
  st.watchdog_armed = true;
  self->delayed_send(self, st.params.store_timeout, tick_atom::value, st.request_no);
}

// Once the connection is closed and the store has every line, the session
// hands its last-seen state back to the root and exits.
void finish_if_drained(session_pointer self) {
  auto& st = self->state;
  if (!st.conn_closed || !st.batches.empty() || !st.pending.empty()
      || !st.in_flight.empty())
    return;
  self->send(st.params.root, drained_atom::value, st.params.client_hex,
             st.protocol->last_seen());
  self->quit();
}

// Backpressure: stop reading while the store lags by a window's worth.
void update_flow(session_pointer self) {
  auto& st = self->state;
  if (st.conn_closed)
    return;
  auto queued = st.pending_bytes + st.in_flight_bytes;
  if (!st.paused && queued > st.params.window_bytes) {
    st.paused = true;
    self->send(st.params.conn, pause_atom::value);
  } else if (st.paused && queued <= st.params.window_bytes / 2) {
    st.paused = false;
    self->send(st.params.conn, resume_atom::value);
  }
}

// Hands the store the next batch: the first when nothing is in flight; a
// second only when it is full (see session_params::batch_bytes). After a
// new store reconciled, whatever is still in flight goes again as one.
void send_batch(session_pointer self) {
  auto& st = self->state;
  if (st.reconciling || !st.params.store)
    return;
  std::vector<std::string> lines;
  session_state::batch b;
  if (st.batches.empty() && !st.in_flight.empty()) {
    lines.assign(st.in_flight.begin(), st.in_flight.end());
    b = {st.in_flight.size(), st.in_flight_bytes};
  } else {
    if (st.pending.empty() || st.batches.size() >= 2
        || (!st.batches.empty() && st.pending_bytes < st.params.batch_bytes))
      return;
    // A bounded batch: a whole window in one request would sit in memory
    // three times (here, in the message, in the store's buffer).
    do {
      auto n = st.pending.front().size() + 1;
      lines.push_back(st.pending.front());
      st.in_flight.emplace_back(std::move(st.pending.front()));
      st.pending.pop_front();
      b.lines += 1;
      b.bytes += n;
      st.pending_bytes -= n;
    } while (!st.pending.empty() && b.bytes < st.params.batch_bytes);
    st.in_flight_bytes += b.bytes;
  }
  st.batches.push_back(b);
  auto generation = st.store_generation;
  watch_request(self);
  // No request timeout: see watch_request.
  self->request(st.params.store, caf::infinite, append_atom::value,
                st.params.client_hex, std::move(lines))
    .then(
      [self, generation](uint64_t) {
        auto& st = self->state;
        // A reply from a store we already gave up on: the batch has been
        // reconciled with its successor, which answers for it now.
        if (generation != st.store_generation || st.batches.empty())
          return;
        // Replies come in order: this one is for the oldest batch.
        auto done = st.batches.front();
        st.batches.pop_front();
        st.in_flight.erase(st.in_flight.begin(),
                           st.in_flight.begin() + static_cast<ptrdiff_t>(done.lines));
        st.in_flight_bytes -= done.bytes;
        update_flow(self);
        send_batch(self);
        finish_if_drained(self);
      },
      [self, generation](caf::error& err) {
        auto& st = self->state;
        if (generation != st.store_generation || st.batches.empty())
          return;
        if (err == caf::sec::invalid_argument) {
          // The store refuses this client's file name; it never will accept
          // it, so there is nothing to retry. Cannot happen for keys from a
          // transport (64 hex), kept for safety.
          st.batches.clear();
          st.in_flight.clear();
          st.in_flight_bytes = 0;
          finish_if_drained(self);
          return;
        }
        // The store died with our batches. Keep them: the root restarts the
        // store and sends us the new handle (store_atom), which reconciles.
        st.batches.clear();
      });
}

// A store that died may have written part of the batch we were waiting
// on (it replies only after the write, and after the fsync when asked to).
// Resending blindly would duplicate those lines, so drop every line up to
// the last trace the file holds. The lines are read with the store's own
// parser (the one recover used on the file), so both agree on what a trace
// line is; this runs only on this rare path.
void drop_written(session_state& st, const last_seen_trace& in_file) {
  if (!in_file.found)
    return;
  for (size_t i = st.in_flight.size(); i-- > 0;) {
    auto t = store::parse_trace_line(st.in_flight[i]);
    if (t && t->session_id == in_file.session_id
        && t->trace_number == in_file.trace_number) {
      for (size_t j = 0; j <= i; ++j)
        st.in_flight_bytes -= st.in_flight[j].size() + 1;
      st.in_flight.erase(st.in_flight.begin(),
                         st.in_flight.begin() + static_cast<ptrdiff_t>(i) + 1);
      return;
    }
  }
}

void reconcile_with_store(session_pointer self) {
  auto& st = self->state;
  if (st.in_flight.empty()) {
    send_batch(self);
    return;
  }
  st.reconciling = true;
  auto generation = st.store_generation;
  watch_request(self);
  self->request(st.params.store, caf::infinite, recover_atom::value,
                st.params.client_hex)
    .then(
      [self, generation](last_seen_trace& in_file) {
        auto& st = self->state;
        if (generation != st.store_generation)
          return; // yet another store: its own reconcile is under way
        st.reconciling = false;
        drop_written(st, in_file);
        update_flow(self);
        send_batch(self);
        finish_if_drained(self);
      },
      [self, generation](caf::error&) {
        // This store died too; the next one starts over.
        if (generation == self->state.store_generation)
          self->state.reconciling = false;
      });
}

void queue_lines(session_pointer self, std::vector<std::string>& lines) {
  auto& st = self->state;
  for (auto& line : lines) {
    st.pending_bytes += line.size() + 1;
    st.pending.emplace_back(std::move(line));
  }
  lines.clear();
  update_flow(self);
  send_batch(self);
}

} // namespace

session_actor::behavior_type session_impl(session_pointer self,
                                          session_params params) {
  auto& st = self->state;
  st.protocol = std::make_unique<session_protocol>(
    params.client_hex, params.connection_no, params.last_seen,
    params.limits);
  st.params = std::move(params);
  auto handshake = st.protocol->handshake();
  self->send(st.params.conn, attach_atom::value,
             caf::actor_cast<connection_handler_actor>(self));
  self->send(st.params.conn, write_atom::value,
             bytes(handshake.begin(), handshake.end()));
  return {
    [self](opened_atom, connection_id, public_key) {
      // The handshake is already queued: the connection sends it first.
    },
    [self](message_atom, connection_id, bytes& data) {
      auto& st = self->state;
      // Once the peer exceeded a limit we only wait for the close.
      if (st.conn_closed || st.protocol->should_close())
        return;
      std::vector<std::string> lines;
      st.protocol->on_message(
        std::string_view(reinterpret_cast<const char*>(data.data()), data.size()),
        now_iso(), lines);
      if (st.protocol->should_close() && !st.closing) {
        st.closing = true;
        self->send(st.params.conn, close_atom::value);
      }
      queue_lines(self, lines);
    },
    [self](closed_atom, connection_id, std::string& code, std::string& text) {
      auto& st = self->state;
      if (st.conn_closed)
        return;
      st.conn_closed = true;
      if (!code.empty()) {
        std::vector<std::string> lines{
          st.protocol->socket_error_line(code, text, now_iso())};
        queue_lines(self, lines);
      }
      finish_if_drained(self);
    },
    [self](store_atom, store_actor& store) {
      auto& st = self->state;
      st.params.store = std::move(store);
      ++st.store_generation;
      st.reconciling = false;
      // Whatever we asked the old store is void now (a dead store may never
      // answer); the new one tells us what reached the file.
      st.batches.clear();
      reconcile_with_store(self);
    },
    [self](shutdown_atom) {
      auto& st = self->state;
      if (!st.conn_closed && !st.closing) {
        st.closing = true;
        self->send(st.params.conn, close_atom::value);
      }
      // A paused connection holds its close behind unread messages.
      if (st.paused) {
        st.paused = false;
        self->send(st.params.conn, resume_atom::value);
      }
    },
    [self](tick_atom, uint64_t armed_at) { on_watchdog(self, armed_at); },
  };
}

} // namespace ht
