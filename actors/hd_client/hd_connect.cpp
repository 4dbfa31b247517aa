#include "actors/hd_client/hd_connect.hpp"

#include <deque>
#include <functional>
#include <random>

#include <caf/all.hpp>

#include "actors/dht/address.hpp"
#include "dht/udx/header.hpp"

namespace ht {
namespace {

using hd = hyperdht::client_connect;

struct hd_connect_state {
  static inline const char* name = "hd_connect";
  hd_connect_params p;
  std::unique_ptr<hd> core;
  connection_id id = next_connection_id();
  // The owner's side.
  connection_handler_actor handler;
  std::deque<std::function<void(const connection_handler_actor&)>> held_events;
  std::deque<bytes> held_writes;
  bool paused = false;
  bool close_requested = false;
  // The network side.
  std::optional<uint64_t> query;
  bool query_cancelled = false;
  secret_stream_connection_actor inner;
  uint64_t timer_gen = 0;
  bool finished = false;  // closed(...) emitted
  // Rule 1: the socket routes our udx id to us from before the first
  // handshake until the stream's own route takes over (`route_owned`, shared
  // with the exit hook so a dying connect actor gives the id back).
  std::shared_ptr<bool> route_owned = std::make_shared<bool>(false);
  udx_backlog_ptr route_backlog = std::make_shared<udx_backlog>();
  udx_datagrams early;        // kept for the stream, in arrival order
  size_t early_bytes = 0;     // in `early`, plus late ones forwarded
};

// One of the connect's figures (hd_connect_stats).
void count(std::atomic<uint64_t>& figure, uint64_t n = 1) {
  figure.fetch_add(n, std::memory_order_relaxed);
}

using self_ptr = hd_connect_actor::stateful_pointer<hd_connect_state>;

void emit(self_ptr self, std::function<void(const connection_handler_actor&)> f) {
  auto& st = self->state;
  if (st.handler)
    f(st.handler);
  else
    st.held_events.push_back(std::move(f));
}

// Gives the udx id's route back to the socket (the stream registers its own).
void release_route(self_ptr self) {
  auto& st = self->state;
  if (!*st.route_owned) return;
  *st.route_owned = false;
  self->send(st.p.socket, udx_unregister_atom::value, st.p.udx_id);
}

void finish(self_ptr self, std::string code, std::string text) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  if (!st.inner && !code.empty()) count(st.p.counters->failed);
  release_route(self);
  st.early.clear();
  auto id = st.id;
  emit(self, [self, id, code, text](const connection_handler_actor& h) {
    self->send(h, closed_atom::value, id, code, text);
  });
  if (st.handler) self->quit();
}

void drive(self_ptr self);

void arm_timer(self_ptr self) {
  auto& st = self->state;
  auto at = st.core ? st.core->wake_at() : std::nullopt;
  if (!at) return;
  auto gen = ++st.timer_gen;
  auto now = self->clock().now();
  auto delay = *at > now ? *at - now : caf::timespan{0};
  self->delayed_send(self, std::chrono::duration_cast<caf::timespan>(delay), tick_atom::value, gen);
}

void open_stream(self_ptr self, hyperdht::open_stream o) {
  auto& st = self->state;
  secret_stream_connection_params cp;
  cp.socket = st.p.socket;
  cp.local_id = st.p.udx_id;
  cp.remote_id = o.remote_udx_id;
  cp.remote = dht::to_endpoint(o.to);
  cp.handshake = std::move(o.handshake);
  cp.options = st.p.connection;
  // The server's packets that came before the stream (rule 1, or sent
  // right after its reply) are processed first. The route moves to the
  // stream: our unregister reaches the socket before the stream (spawned
  // below) asks for its own, and what is already on its way to us is
  // forwarded (udx_recv_atom below).
  cp.early = std::move(st.early);
  st.early.clear();
  release_route(self);
  count(st.p.counters->opened);
  st.inner = spawn_secret_stream_connection(self->system(), std::move(cp));
  self->send(st.inner, attach_atom::value, caf::actor_cast<connection_handler_actor>(self));
  if (st.paused) self->send(st.inner, pause_atom::value);
  while (!st.held_writes.empty()) {
    self->send(st.inner, write_atom::value, std::move(st.held_writes.front()));
    st.held_writes.pop_front();
  }
  if (st.close_requested) self->send(st.inner, close_atom::value);
}

void drive(self_ptr self) {
  auto& st = self->state;
  if (!st.core) return;
  while (auto a = st.core->next_action()) {
    if (auto* s = std::get_if<hyperdht::send_handshake>(&*a)) {
      auto attempt = s->attempt;
      self->request(st.p.dht, st.p.request_timeout, dht_request_atom::value, s->request)
        .then(
          [self, attempt](const rpc::reply& r) {
            if (!self->state.core) return;
            self->state.core->on_handshake_reply(attempt, r, self->clock().now());
            drive(self);
          },
          [self, attempt](const caf::error& e) {
            if (!self->state.core) return;
            self->state.core->on_handshake_failed(attempt, describe(e));
            drive(self);
          });
    } else if (auto* l = std::get_if<hyperdht::lan_ping>(&*a)) {
      rpc::request_options ping;
      ping.to = l->to;
      ping.internal = true;
      ping.command = static_cast<uint64_t>(rpc::internal_command::ping);
      self->request(st.p.dht, st.p.request_timeout, dht_request_atom::value, ping)
        .then(
          [self](const rpc::reply& r) {
            if (!self->state.core) return;
            self->state.core->on_lan_ping(r.error == 0);
            drive(self);
          },
          [self](const caf::error&) {
            if (!self->state.core) return;
            self->state.core->on_lan_ping(false);
            drive(self);
          });
    } else if (std::holds_alternative<hyperdht::cancel_query>(*a)) {
      if (!st.query_cancelled) {
        st.query_cancelled = true;
        if (st.query) self->send(st.p.dht, dht_cancel_atom::value, *st.query);
      }
    } else if (auto* o = std::get_if<hyperdht::open_stream>(&*a)) {
      auto ok = std::move(*o);
      st.core.reset();
      open_stream(self, std::move(ok));
      return;
    } else if (auto* f = std::get_if<hyperdht::connect_failed>(&*a)) {
      auto code = hyperdht::to_code(f->error);
      auto text = f->text;
      st.core.reset();
      finish(self, code, text);
      return;
    }
  }
  arm_timer(self);
}

void start_query(self_ptr self) {
  auto& st = self->state;
  rpc::query_options q;
  q.target = st.core->target();
  q.command = hyperdht::command::find_peer;
  self->request(st.p.dht, caf::infinite, dht_query_atom::value, q,
                caf::actor_cast<dht_query_sink_actor>(self))
    .then(
      [self](uint64_t handle) {
        auto& st = self->state;
        st.query = handle;
        if (st.query_cancelled) self->send(st.p.dht, dht_cancel_atom::value, handle);
      },
      [self](const caf::error& e) {
        if (!self->state.core) return;
        self->state.core->on_find_peer_done(describe(e));
        drive(self);
      });
}

hd_connect_actor::behavior_type hd_connect_impl(self_ptr self, hd_connect_params p) {
  auto& st = self->state;
  if (p.udx_id == 0) {
    std::random_device rd;
    std::uniform_int_distribution<uint32_t> dist(1, UINT32_MAX);
    p.udx_id = dist(rd);
  }
  st.p = std::move(p);
  if (!st.p.counters) st.p.counters = std::make_shared<hd_connect_counters>();
  count(st.p.counters->connects);
  noise::key32 server{};
  std::copy(st.p.server.begin(), st.p.server.end(), server.begin());
  st.core = std::make_unique<hd>(st.p.keys, server, st.p.udx_id, self->clock().now(), st.p.connect);

  // Rule 1 needs the route before any handshake names our udx id: the
  // FIND_PEER query (and so every handshake) starts once the socket routes
  // the id to us.
  auto owned = st.route_owned;
  self->attach_functor([owned, sock = st.p.socket, id = st.p.udx_id] {
    if (*owned) caf::anon_send(sock, udx_unregister_atom::value, id);
  });
  self->request(st.p.socket, caf::infinite, udx_register_atom::value, st.p.udx_id,
                caf::actor_cast<udx_packet_sink_actor>(self), st.route_backlog)
    .then(
      [self](bool ok) {
        auto& st = self->state;
        if (ok) *st.route_owned = true;
        if (!st.core) {
          release_route(self); // closed meanwhile
          return;
        }
        if (!ok) {
          st.core.reset();
          finish(self, "EADDRINUSE", "udx id " + std::to_string(st.p.udx_id) + " is taken on the socket");
          return;
        }
        start_query(self);
      },
      [self](const caf::error& e) {
        if (!self->state.core) return;
        self->state.core.reset();
        finish(self, "ECONNABORTED", "the socket went away: " + describe(e));
      });
  arm_timer(self);
  // Stray replies (e.g. to a send the receiver answers) are not ours to act on.
  self->set_default_handler(caf::drop);
  // The dht node (or the socket) going away ends the connect too.
  self->set_down_handler([self](const caf::down_msg&) {
    if (self->state.core) {
      self->state.core.reset();
      finish(self, "ECONNABORTED", "the hyperdht node went away");
    }
  });
  self->monitor(st.p.dht);

  return {
    // --- connection_actor (the owner's side) ---
    [self](attach_atom, connection_handler_actor h) {
      auto& st = self->state;
      st.handler = h;
      while (!st.held_events.empty()) {
        st.held_events.front()(h);
        st.held_events.pop_front();
      }
      if (st.finished) self->quit();
    },
    [self](write_atom, bytes& b) -> caf::result<void> {
      auto& st = self->state;
      if (st.inner) {
        // A writer that requests gets the stream's own (withheld) reply;
        // a plain send stays a plain send (a delegated one would bring the
        // writer an empty reply it does not expect).
        if (self->current_message_id().is_request())
          return self->delegate(st.inner, write_atom::value, std::move(b));
        self->send(st.inner, write_atom::value, std::move(b));
        return caf::unit;
      }
      if (!st.finished) st.held_writes.push_back(std::move(b));
      return caf::unit;
    },
    [self](close_atom) {
      auto& st = self->state;
      if (st.inner) {
        self->send(st.inner, close_atom::value);
        return;
      }
      st.close_requested = true;
      if (st.core) {
        // Still connecting: stop and end cleanly, as the owner asked.
        st.core.reset();
        if (st.query && !st.query_cancelled) self->send(st.p.dht, dht_cancel_atom::value, *st.query);
        st.query_cancelled = true;
        finish(self, "", "");
      }
    },
    [self](pause_atom) {
      auto& st = self->state;
      st.paused = true;
      if (st.inner) self->send(st.inner, pause_atom::value);
    },
    [self](resume_atom) {
      auto& st = self->state;
      st.paused = false;
      if (st.inner) self->send(st.inner, resume_atom::value);
    },
    // --- connection_handler_actor (events of the inner connection) ---
    [self](opened_atom, connection_id, public_key key) {
      auto id = self->state.id;
      emit(self, [self, id, key](const connection_handler_actor& h) {
        self->send(h, opened_atom::value, id, key);
      });
    },
    [self](message_atom, connection_id, bytes& b) {
      auto id = self->state.id;
      if (self->state.handler) {
        self->send(self->state.handler, message_atom::value, id, std::move(b));
        return;
      }
      emit(self, [self, id, b = std::move(b)](const connection_handler_actor& h) {
        self->send(h, message_atom::value, id, b);
      });
    },
    [self](closed_atom, connection_id, std::string& code, std::string& text) {
      finish(self, std::move(code), std::move(text));
    },
    // --- dht_query_sink_actor (FIND_PEER) ---
    [self](dht_qreply_atom, uint64_t, rpc::reply& r) {
      if (!self->state.core) return;
      self->state.core->on_find_peer_reply(r);
      drive(self);
    },
    [self](dht_qdone_atom, rpc::query_done_event& ev) {
      if (!self->state.core) return;
      self->state.core->on_find_peer_done(ev.error);
      drive(self);
    },
    // --- udx_packet_sink_actor (our udx id, before the stream owns it) ---
    [self](udx_recv_atom, udx_datagrams& batch) {
      auto& st = self->state;
      int64_t routed = 0;
      for (auto& d : batch)
        routed += static_cast<int64_t>(d.data.size());
      st.route_backlog->bytes.fetch_sub(routed, std::memory_order_relaxed);
      if (st.inner) {
        // On its way to us before the stream's route took over.
        if (st.early_bytes + static_cast<size_t>(routed) > st.p.max_early_bytes) {
          count(st.p.counters->early_dropped, batch.size());
          return;
        }
        st.early_bytes += static_cast<size_t>(routed);
        count(st.p.counters->early_kept, batch.size());
        self->send(st.inner, udx_recv_atom::value, std::move(batch));
        return;
      }
      if (!st.core) return; // the connect ended: nobody to give them to
      for (auto& d : batch) {
        auto from = dht::to_ipv4(d.from);
        // As the stream's passive accept: a well-formed UDX packet from an
        // address we can answer (hyperdht's firewall hook refuses port 0).
        if (!from || d.from.port == 0 || !udx::parse_header(d.data.data(), d.data.size())
            || st.early_bytes + d.data.size() > st.p.max_early_bytes) {
          count(st.p.counters->early_dropped);
          continue;
        }
        st.early_bytes += d.data.size();
        count(st.p.counters->early_kept);
        st.core->on_server_packet(*from);
        st.early.push_back(std::move(d));
      }
      drive(self);
    },
    [self](tick_atom, uint64_t gen) {
      auto& st = self->state;
      if (!st.core || gen != st.timer_gen) return;
      st.core->on_timeout(self->clock().now());
      drive(self);
    },
  };
}

} // namespace

hd_connect_actor spawn_hd_connect(caf::actor_system& sys, hd_connect_params params) {
  return sys.spawn(hd_connect_impl, std::move(params));
}

} // namespace ht
