// The supervising root of the server role. It owns the store and one
// session per connected client key, and it keeps per key what the server
// has seen between sessions:
//  - one session per key at a time: a reconnecting client supersedes its
//    old session, whose final state (handed back on exit) seeds the next,
//    so replays are recognised across reconnects;
//  - a key with no remembered state (first contact since start, or after
//    its session crashed) is recovered from the tail of its log file after
//    a store flush, which makes a restart, even after SIGKILL, exactly-once
//    together with the client's replay;
//  - a crashed store is restarted and every session resends what it had not
//    acknowledged.
#include <deque>
#include <map>

#include <caf/all.hpp>

#include "actors/server/iso_time.hpp"
#include "actors/server/session_actor.hpp"
#include "actors/store/store.hpp"

namespace ht {

namespace {

struct waiting_connection {
  connection_actor conn;
  uint64_t connection_no = 0;
};

struct session_entry {
  session_actor handle;
  std::string client_hex;
  connection_actor conn;
};

struct server_state {
  server_config cfg;
  store_actor store;
  std::map<caf::actor_addr, session_entry> sessions;
  std::map<std::string, caf::actor_addr> active;       // key -> session
  std::map<std::string, bool> recovering;              // key -> request out
  std::map<std::string, std::deque<waiting_connection>> waiting;
  std::map<std::string, last_seen_trace> last_seen;    // between sessions
  server_status status;
  bool shutting_down = false;
  bool shutdown_done = false;
  caf::typed_response_promise<bool> shutdown_promise;
  static inline const char* name = "server_root";

  // When the root ends, for whatever reason, its children end with it, as
  // they would in a process crash; an orderly shutdown has drained them
  // already, and the store flushes on its way out.
  ~server_state() {
    for (auto& kv : sessions)
      caf::anon_send_exit(kv.second.handle, caf::exit_reason::user_shutdown);
    if (store)
      caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  }
};

using server_pointer = server_actor::stateful_pointer<server_state>;

store_actor make_store(server_pointer self) {
  auto& cfg = self->state.cfg;
  auto store = cfg.make_store ? cfg.make_store(self->system(), cfg.store)
                              : spawn_store(self->system(), cfg.store);
  // Monitored: the root learns of a crash and restarts the store. (It dies
  // with the root: see ~server_state.)
  self->monitor(store);
  return store;
}

void try_start(server_pointer self, const std::string& hex);

void start_session(server_pointer self, const std::string& hex,
                   waiting_connection wc, last_seen_trace seen) {
  auto& st = self->state;
  session_params p;
  p.conn = wc.conn;
  p.client_hex = hex;
  p.connection_no = wc.connection_no;
  p.last_seen = std::move(seen);
  p.store = st.store;
  p.root = self;
  p.limits = st.cfg.limits;
  p.window_bytes = st.cfg.session_window_bytes;
  auto session = self->spawn<caf::monitored>(session_impl, std::move(p));
  st.sessions.emplace(session.address(), session_entry{session, hex, wc.conn});
  st.active[hex] = session.address();
  st.status.active_sessions = st.sessions.size();
}

// While shutting down, the store is flushed over and over: sessions drain
// only when the store acknowledges their lines, and a store with a long
// flush interval would otherwise make them wait for it.
void flush_while_draining(server_pointer self) {
  auto& st = self->state;
  if (st.shutdown_done || st.sessions.empty())
    return;
  self->request(st.store, caf::infinite, flush_atom::value)
    .then(
      [self](bool) {
        self->delayed_send(self, std::chrono::milliseconds(5), retry_atom::value,
                           std::string{"flush"});
      },
      [self](caf::error&) {
        self->delayed_send(self, std::chrono::milliseconds(5), retry_atom::value,
                           std::string{"flush"});
      });
}

void finish_shutdown(server_pointer self) {
  auto& st = self->state;
  if (st.shutdown_done)
    return;
  st.shutdown_done = true;
  self->request(st.store, caf::infinite, flush_atom::value)
    .then(
      [self](bool ok) {
        self->state.shutdown_promise.deliver(ok);
        self->quit();
      },
      [self](caf::error&) {
        self->state.shutdown_promise.deliver(false);
        self->quit();
      });
}

void maybe_finish_shutdown(server_pointer self) {
  auto& st = self->state;
  if (st.shutting_down && st.sessions.empty() && st.recovering.empty())
    finish_shutdown(self);
}

// Starts the next waiting connection of `hex` once no session runs for it
// and its last-seen state is known.
void try_start(server_pointer self, const std::string& hex) {
  auto& st = self->state;
  auto w = st.waiting.find(hex);
  if (w == st.waiting.end() || w->second.empty() || st.active.count(hex)
      || st.recovering.count(hex))
    return;
  if (st.shutting_down) {
    for (auto& wc : w->second)
      self->send(wc.conn, close_atom::value);
    st.waiting.erase(w);
    return;
  }
  auto seen = st.last_seen.find(hex);
  if (seen != st.last_seen.end()) {
    auto wc = w->second.front();
    w->second.pop_front();
    if (w->second.empty())
      st.waiting.erase(w);
    start_session(self, hex, std::move(wc), seen->second);
    return;
  }
  // Unknown state: flush, so the file holds everything accepted so far,
  // then recover the last trace from the file's tail.
  st.recovering[hex] = true;
  auto fail = [self, hex](caf::error&) {
    // The store died meanwhile; try again once it is back.
    self->state.recovering.erase(hex);
    self->delayed_send(self, std::chrono::milliseconds(100), retry_atom::value, hex);
  };
  self->request(st.store, caf::infinite, flush_atom::value)
    .then(
      [self, hex, fail](bool) {
        self->request(self->state.store, caf::infinite, recover_atom::value, hex)
          .then(
            [self, hex](last_seen_trace& r) {
              self->state.recovering.erase(hex);
              self->state.last_seen[hex] = std::move(r);
              try_start(self, hex);
              maybe_finish_shutdown(self);
            },
            fail);
      },
      fail);
}

void on_session_down(server_pointer self, caf::down_msg& dm) {
  auto& st = self->state;
  auto i = st.sessions.find(dm.source);
  if (i == st.sessions.end())
    return;
  auto entry = std::move(i->second);
  st.sessions.erase(i);
  st.status.active_sessions = st.sessions.size();
  if (st.active[entry.client_hex] == dm.source)
    st.active.erase(entry.client_hex);
  if (dm.reason) {
    // A crash: its connection is useless now, and what it had accepted but
    // not handed to the store is gone. Forget the key's state, so the next
    // session recovers it from the file and the client replays the rest.
    ++st.status.session_crashes;
    st.last_seen.erase(entry.client_hex);
    self->send(entry.conn, close_atom::value);
    auto note = session_protocol::note_line(
      "Session crashed: " + to_string(dm.reason),
      iso8601_ms(std::chrono::system_clock::now()));
    self->request(st.store, caf::infinite, append_atom::value, entry.client_hex,
                  std::vector<std::string>{note})
      .then([](uint64_t) {}, [](caf::error&) {});
  }
  try_start(self, entry.client_hex);
  maybe_finish_shutdown(self);
}

void on_store_down(server_pointer self, caf::down_msg& dm) {
  auto& st = self->state;
  if (dm.source != st.store.address() || st.shutdown_done)
    return;
  ++st.status.store_restarts;
  st.store = make_store(self);
  for (auto& kv : st.sessions)
    self->send(kv.second.handle, store_atom::value, st.store);
}

server_actor::behavior_type server_impl(server_pointer self, server_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.store = make_store(self);
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.source == self->state.store.address())
      on_store_down(self, dm);
    else
      on_session_down(self, dm);
  });
  return {
    [self](accept_atom, connection_actor& conn, public_key& remote) {
      auto& st = self->state;
      if (st.shutting_down) {
        self->send(conn, close_atom::value);
        return;
      }
      auto hex = to_hex(remote);
      ++st.status.connections;
      st.waiting[hex].push_back({conn, st.status.connections});
      // A client that reconnects while its old session lingers (its old
      // connection not yet known dead) supersedes it.
      auto active = st.active.find(hex);
      if (active != st.active.end()) {
        auto s = st.sessions.find(active->second);
        if (s != st.sessions.end())
          self->send(s->second.handle, shutdown_atom::value);
      }
      try_start(self, hex);
    },
    [self](drained_atom, std::string& hex, last_seen_trace& seen) {
      self->state.last_seen[hex] = std::move(seen);
    },
    [self](retry_atom, std::string& hex) {
      if (hex.empty()) {
        // The shutdown deadline: stop waiting for sessions that do not drain.
        if (self->state.shutting_down)
          finish_shutdown(self);
        return;
      }
      if (hex == "flush") {
        flush_while_draining(self);
        return;
      }
      try_start(self, hex);
      maybe_finish_shutdown(self);
    },
    [self](status_atom) { return self->state.status; },
    [self](status_atom, std::string& hex) -> caf::actor {
      auto& st = self->state;
      auto a = st.active.find(hex);
      if (a == st.active.end())
        return {};
      auto s = st.sessions.find(a->second);
      return s == st.sessions.end() ? caf::actor{}
                                    : caf::actor_cast<caf::actor>(s->second.handle);
    },
    [self](shutdown_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (st.shutting_down)
        return caf::make_error(caf::sec::runtime_error, "already shutting down");
      st.shutting_down = true;
      st.shutdown_promise = self->make_response_promise<bool>();
      for (auto& kv : st.waiting)
        for (auto& wc : kv.second)
          self->send(wc.conn, close_atom::value);
      st.waiting.clear();
      for (auto& kv : st.sessions)
        self->send(kv.second.handle, shutdown_atom::value);
      if (st.sessions.empty() && st.recovering.empty()) {
        finish_shutdown(self);
      } else {
        flush_while_draining(self);
        self->delayed_send(self, st.cfg.shutdown_deadline, retry_atom::value,
                           std::string{});
      }
      return st.shutdown_promise;
    },
  };
}

} // namespace

server_actor spawn_server(caf::actor_system& sys, server_config cfg) {
  return sys.spawn(server_impl, std::move(cfg));
}

} // namespace ht
