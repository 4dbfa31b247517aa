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
#include <algorithm>
#include <deque>
#include <iostream>
#include <list>
#include <map>
#include <set>
#include <unordered_map>

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

// What the root remembers of keys between sessions, least recently used
// first out: everything in it can be recovered from the files.
class last_seen_cache {
public:
  explicit last_seen_cache(size_t cap) : cap_(cap) {}

  const last_seen_trace* find(const std::string& hex) {
    auto i = map_.find(hex);
    if (i == map_.end())
      return nullptr;
    order_.splice(order_.end(), order_, i->second.second); // now the newest
    return &i->second.first;
  }

  void put(const std::string& hex, last_seen_trace t) {
    if (cap_ == 0)
      return;
    auto i = map_.find(hex);
    if (i != map_.end()) {
      i->second.first = std::move(t);
      order_.splice(order_.end(), order_, i->second.second);
      return;
    }
    if (map_.size() >= cap_) {
      map_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(hex);
    map_.emplace(hex, std::make_pair(std::move(t), std::prev(order_.end())));
  }

  void erase(const std::string& hex) {
    auto i = map_.find(hex);
    if (i == map_.end())
      return;
    order_.erase(i->second.second);
    map_.erase(i);
  }

  size_t size() const { return map_.size(); }

private:
  size_t cap_;
  std::list<std::string> order_; // oldest first
  std::unordered_map<std::string,
                     std::pair<last_seen_trace, std::list<std::string>::iterator>>
    map_;
};

struct recovery_backoff {
  uint32_t failures = 0;
  caf::timespan delay{0};
};

struct server_state {
  server_config cfg;
  store_actor store;
  std::map<caf::actor_addr, session_entry> sessions;
  std::map<std::string, caf::actor_addr> active;       // key -> session
  std::set<std::string> recovering;                    // key -> request out
  std::map<std::string, recovery_backoff> recovery_failures; // keys retrying
  std::map<std::string, std::deque<waiting_connection>> waiting;
  size_t waiting_count = 0;
  bool refusing = false;                               // noted once per episode
  last_seen_cache last_seen{0};                        // between sessions
  bool probing_store = false;   // a status request checks a stalled store
  bool replacing_store = false; // told the store to exit, waiting for it
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

void note(const std::string& text) {
  std::cerr << "hypertrace-logger server: " << text << std::endl;
}

store_actor make_store(server_pointer self) {
  auto& cfg = self->state.cfg;
  auto store = cfg.make_store ? cfg.make_store(self->system(), cfg.store)
                              : spawn_store(self->system(), cfg.store);
  // Monitored: the root learns of a crash and restarts the store. (It dies
  // with the root: see ~server_state.)
  self->monitor(store);
  return store;
}

// Best effort: a note line in a client's log.
void append_note(server_pointer self, const std::string& hex, const std::string& text) {
  auto line = session_protocol::note_line(text, iso8601_ms(std::chrono::system_clock::now()));
  self->request(self->state.store, self->state.cfg.store_timeout, append_atom::value,
                hex, std::vector<std::string>{line})
    .then([](uint64_t) {}, [](caf::error&) {});
}

void try_start(server_pointer self, const std::string& hex);
void maybe_finish_shutdown(server_pointer self);

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
  // A full batch reaches the store's write threshold: written at once.
  p.batch_bytes = std::max<uint64_t>(st.cfg.store.flush_bytes, 1);
  p.store_timeout = st.cfg.store_timeout;
  auto session = self->spawn<caf::monitored>(session_impl, std::move(p));
  st.sessions.emplace(session.address(), session_entry{session, hex, wc.conn});
  st.active[hex] = session.address();
  st.status.active_sessions = st.sessions.size();
}

// --- the store: restarted when it dies, replaced when it stops answering --

void use_new_store(server_pointer self) {
  auto& st = self->state;
  st.replacing_store = false;
  st.store = make_store(self);
  for (auto& kv : st.sessions)
    self->send(kv.second.handle, store_atom::value, st.store);
}

// The store did not answer in time. It is told to exit (its on_exit writes
// what it can, then it goes down and on_store_down makes the next one, so
// the successor only starts once the files hold everything the old one
// wrote); a store stuck in a system call cannot even exit, and is
// abandoned after another timeout.
void replace_store(server_pointer self) {
  auto& st = self->state;
  if (st.replacing_store || st.shutdown_done)
    return;
  st.replacing_store = true;
  ++st.status.store_timeouts;
  note("the store did not answer a status request within "
       + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                          st.cfg.store_timeout).count())
       + " ms; restarting it");
  caf::anon_send_exit(st.store, caf::exit_reason::kill);
  self->delayed_send(self, st.cfg.store_timeout, tick_atom::value, st.store);
}

// Something waited long for the store. A store withholding replies under
// backpressure still answers status at once; one that does not is stuck.
void check_store(server_pointer self, const store_actor& suspect) {
  auto& st = self->state;
  if (suspect != st.store || st.probing_store || st.replacing_store || st.shutdown_done)
    return;
  st.probing_store = true;
  self->request(st.store, st.cfg.store_timeout, status_atom::value)
    .then(
      [self](store_status&) { self->state.probing_store = false; },
      [self, suspect](caf::error& err) {
        self->state.probing_store = false;
        if (err == caf::sec::request_timeout && suspect == self->state.store)
          replace_store(self);
      });
}

// A root request to the store timed out: check the store as for a session.
void on_store_error(server_pointer self, const caf::error& err) {
  if (err == caf::sec::request_timeout)
    check_store(self, self->state.store);
}

// While shutting down, the store is flushed over and over: sessions drain
// only when the store acknowledges their lines, and a store with a long
// flush interval would otherwise make them wait for it.
void flush_while_draining(server_pointer self) {
  auto& st = self->state;
  if (st.shutdown_done || st.sessions.empty())
    return;
  auto again = [self] {
    self->delayed_send(self, std::chrono::milliseconds(5), tick_atom::value,
                       flush_atom::value);
  };
  self->request(st.store, st.cfg.store_timeout, flush_atom::value)
    .then([again](bool) { again(); },
          [self, again](caf::error& err) {
            on_store_error(self, err);
            again();
          });
}

void finish_shutdown(server_pointer self) {
  auto& st = self->state;
  if (st.shutdown_done)
    return;
  st.shutdown_done = true;
  self->request(st.store, st.cfg.store_timeout, flush_atom::value)
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

// --- connections waiting for their session -------------------------------

void close_waiting(server_pointer self, const std::string& hex) {
  auto& st = self->state;
  auto w = st.waiting.find(hex);
  if (w == st.waiting.end())
    return;
  for (auto& wc : w->second)
    self->send(wc.conn, close_atom::value);
  st.waiting_count -= w->second.size();
  st.waiting.erase(w);
}

// Takes a connection in, within the bounds: a key's newest connection
// supersedes its oldest waiting one; past the total, it is refused.
bool enqueue_waiting(server_pointer self, const std::string& hex, waiting_connection wc) {
  auto& st = self->state;
  auto& q = st.waiting[hex];
  if (q.size() >= st.cfg.max_waiting_per_key && !q.empty()) {
    auto old = q.front();
    q.pop_front();
    --st.waiting_count;
    ++st.status.refused_connections;
    self->send(old.conn, close_atom::value);
    note("closed connection " + std::to_string(old.connection_no) + " of " + hex
         + ": superseded while waiting (more than "
         + std::to_string(st.cfg.max_waiting_per_key) + " waiting for this key)");
  }
  if (st.waiting_count >= st.cfg.max_waiting_connections) {
    if (q.empty())
      st.waiting.erase(hex);
    ++st.status.refused_connections;
    self->send(wc.conn, close_atom::value);
    if (!st.refusing) {
      st.refusing = true; // once per episode: a flood must not flood stderr
      note("refusing connections: " + std::to_string(st.waiting_count)
           + " are waiting for their sessions (max_waiting_connections)");
    }
    return false;
  }
  if (st.refusing && st.waiting_count < st.cfg.max_waiting_connections / 2) {
    st.refusing = false;
    note("accepting connections again");
  }
  q.push_back(std::move(wc));
  ++st.waiting_count;
  return true;
}

// --- recovering a key's state from its file ------------------------------

void recovery_failed(server_pointer self, const std::string& hex, const caf::error& err) {
  auto& st = self->state;
  st.recovering.erase(hex);
  on_store_error(self, err);
  auto& b = st.recovery_failures[hex];
  ++b.failures;
  if (b.failures >= st.cfg.recovery_attempts) {
    auto why = "cannot recover the last trace of " + hex + " after "
               + std::to_string(b.failures) + " attempts (" + to_string(err)
               + "); closing its connection";
    st.recovery_failures.erase(hex);
    ++st.status.recovery_failures;
    note(why);
    append_note(self, hex, "Recovery failed: " + why);
    close_waiting(self, hex);
    maybe_finish_shutdown(self);
    return;
  }
  b.delay = b.failures == 1 ? st.cfg.recovery_retry_min
                            : std::min(b.delay * 2, st.cfg.recovery_retry_max);
  self->delayed_send(self, b.delay, tick_atom::value, recover_atom::value, hex);
  maybe_finish_shutdown(self);
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
    close_waiting(self, hex);
    return;
  }
  if (auto* seen = st.last_seen.find(hex)) {
    auto wc = w->second.front();
    w->second.pop_front();
    --st.waiting_count;
    if (w->second.empty())
      st.waiting.erase(w);
    start_session(self, hex, std::move(wc), *seen);
    return;
  }
  // A retry is already scheduled: wait for it (its backoff).
  if (st.recovery_failures.count(hex))
    return;
  // Unknown state: flush, so the file holds everything accepted so far,
  // then recover the last trace from the file's tail.
  st.recovering.insert(hex);
  auto fail = [self, hex](caf::error& err) { recovery_failed(self, hex, err); };
  self->request(st.store, st.cfg.store_timeout, flush_atom::value)
    .then(
      [self, hex, fail](bool) {
        self->request(self->state.store, self->state.cfg.store_timeout,
                      recover_atom::value, hex)
          .then(
            [self, hex](last_seen_trace& r) {
              auto& st = self->state;
              st.recovering.erase(hex);
              st.recovery_failures.erase(hex);
              st.last_seen.put(hex, std::move(r));
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
    append_note(self, entry.client_hex, "Session crashed: " + to_string(dm.reason));
  }
  try_start(self, entry.client_hex);
  maybe_finish_shutdown(self);
}

void on_store_down(server_pointer self, caf::down_msg& dm) {
  auto& st = self->state;
  if (dm.source != st.store.address() || st.shutdown_done)
    return;
  ++st.status.store_restarts;
  use_new_store(self);
}

server_actor::behavior_type server_impl(server_pointer self, server_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.last_seen = last_seen_cache{self->state.cfg.max_remembered_keys};
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
      if (!enqueue_waiting(self, hex, {conn, st.status.connections}))
        return;
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
      self->state.last_seen.put(hex, std::move(seen));
    },
    [self](stalled_atom, store_actor& store) { check_store(self, store); },
    [self](tick_atom, shutdown_atom) {
      // The shutdown deadline: stop waiting for sessions that do not drain.
      if (self->state.shutting_down)
        finish_shutdown(self);
    },
    [self](tick_atom, flush_atom) { flush_while_draining(self); },
    [self](tick_atom, recover_atom, std::string& hex) {
      auto& st = self->state;
      if (!st.recovery_failures.count(hex))
        return; // given up meanwhile
      // Retry now: recovery_failures keeps counting until one succeeds.
      auto b = st.recovery_failures[hex];
      st.recovery_failures.erase(hex);
      if (!st.waiting.count(hex)) {
        maybe_finish_shutdown(self);
        return; // nobody waits any more
      }
      try_start(self, hex);
      if (st.recovering.count(hex))
        st.recovery_failures[hex] = b;
      maybe_finish_shutdown(self);
    },
    [self](tick_atom, store_actor& old) {
      auto& st = self->state;
      if (old != st.store || !st.replacing_store || st.shutdown_done)
        return; // it went down and was restarted
      note("the store did not exit within the timeout; abandoning it");
      self->demonitor(old.address());
      ++st.status.store_restarts;
      use_new_store(self);
    },
    [self](status_atom) {
      auto& st = self->state;
      st.status.remembered_keys = st.last_seen.size();
      st.status.waiting_connections = st.waiting_count;
      return st.status;
    },
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
      st.waiting_count = 0;
      for (auto& kv : st.sessions)
        self->send(kv.second.handle, shutdown_atom::value);
      if (st.sessions.empty() && st.recovering.empty()) {
        finish_shutdown(self);
      } else {
        flush_while_draining(self);
        self->delayed_send(self, st.cfg.shutdown_deadline, tick_atom::value,
                           shutdown_atom::value);
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
