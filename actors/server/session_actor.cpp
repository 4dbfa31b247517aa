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
  if (st.awaiting == 0 && !st.reconciling)
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
  if (!st.conn_closed || st.awaiting > 0 || !st.pending.empty()
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

const std::vector<std::string>& lines_of(const session_state::batch& b) {
  return b.msg.get_as<std::vector<std::string>>(2);
}

// One append request for a batch in in_flight. Replies come in order.
void request_append(session_pointer self, const caf::message& msg) {
  auto& st = self->state;
  auto generation = st.store_generation;
  watch_request(self);
  // No request timeout: see watch_request. The message goes as it is (the
  // store reads the lines through a const reference: shared, not copied).
  self->request(caf::actor_cast<caf::actor>(st.params.store), caf::infinite, msg)
    .then(
      [self, generation](uint64_t) {
        auto& st = self->state;
        // A reply from a store we already gave up on: the batch has been
        // reconciled with its successor, which answers for it now.
        if (generation != st.store_generation || st.awaiting == 0)
          return;
        --st.awaiting;
        st.in_flight_bytes -= st.in_flight.front().bytes;
        st.in_flight.pop_front();
        update_flow(self);
        send_batch(self);
        finish_if_drained(self);
      },
      [self, generation](caf::error& err) {
        auto& st = self->state;
        if (generation != st.store_generation || st.awaiting == 0)
          return;
        st.awaiting = 0;
        if (err == caf::sec::invalid_argument) {
          // The store refuses this client's file name; it never will accept
          // it, so there is nothing to retry. Cannot happen for keys from a
          // transport (64 hex), kept for safety.
          st.in_flight.clear();
          st.in_flight_bytes = 0;
          finish_if_drained(self);
        }
        // Otherwise the store died with our batches. Keep them: the root
        // restarts the store and sends us the new handle (store_atom),
        // which reconciles.
      });
}

// Hands the store the next batch: the first when nothing is in flight; a
// second only when it is full (see session_params::batch_bytes). After a
// new store reconciled, what is still in flight goes again.
void send_batch(session_pointer self) {
  auto& st = self->state;
  if (st.reconciling || !st.params.store)
    return;
  if (st.awaiting == 0 && !st.in_flight.empty()) {
    st.awaiting = st.in_flight.size();
    for (auto& b : st.in_flight)
      request_append(self, b.msg);
    return;
  }
  if (st.pending.empty() || st.awaiting >= 2
      || (st.awaiting > 0 && st.pending_bytes < st.params.batch_bytes))
    return;
  // A bounded batch: a whole window in one request would sit in memory
  // twice (here until acknowledged, in the store's buffer).
  std::vector<std::string> lines;
  session_state::batch b;
  do {
    auto n = st.pending.front().size() + 1;
    lines.emplace_back(std::move(st.pending.front()));
    st.pending.pop_front();
    b.bytes += n;
    st.pending_bytes -= n;
  } while (!st.pending.empty() && b.bytes < st.params.batch_bytes);
  b.lines = lines.size();
  b.msg = caf::make_message(append_atom::value, st.params.client_hex, std::move(lines));
  st.in_flight_bytes += b.bytes;
  st.in_flight.push_back(b);
  ++st.awaiting;
  request_append(self, st.in_flight.back().msg);
}

// A store that died may have written part of the batches we were waiting
// on (it replies only after the write, and after the fsync when asked to).
// Resending blindly would duplicate those lines, so drop every line up to
// the last trace the file holds. The lines are read with the store's own
// parser (the one recover used on the file), so both agree on what a trace
// line is; this runs only on this rare path, which also regroups what is
// left into one batch.
void drop_written(session_state& st, const last_seen_trace& in_file) {
  if (!in_file.found || st.in_flight.empty())
    return;
  std::vector<std::string> all;
  for (auto& b : st.in_flight)
    for (auto& l : lines_of(b))
      all.push_back(l);
  size_t keep_from = 0;
  for (size_t i = all.size(); i-- > 0;) {
    auto t = store::parse_trace_line(all[i]);
    if (t && t->session_id == in_file.session_id
        && t->trace_number == in_file.trace_number) {
      keep_from = i + 1;
      break;
    }
  }
  all.erase(all.begin(), all.begin() + static_cast<ptrdiff_t>(keep_from));
  st.in_flight.clear();
  st.in_flight_bytes = 0;
  if (all.empty())
    return;
  session_state::batch b;
  b.lines = all.size();
  for (auto& l : all)
    b.bytes += l.size() + 1;
  b.msg = caf::make_message(append_atom::value, st.params.client_hex, std::move(all));
  st.in_flight_bytes = b.bytes;
  st.in_flight.push_back(std::move(b));
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
      st.awaiting = 0;
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
