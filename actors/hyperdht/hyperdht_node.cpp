#include "actors/hyperdht/hyperdht_node.hpp"

#include <memory>
#include <unordered_map>

#include <caf/all.hpp>

#include "dht/hyperdht/cache.hpp"

namespace ht {

namespace {

using namespace std::chrono;
namespace hd = hyperdht;

struct hd_state {
  dht_node_actor dht;
  hyperdht_node_options opts;
  std::unique_ptr<hd::router> router;
  std::unique_ptr<hd::persistent> store;  // once the dht node is persistent
  std::optional<rpc::key32> own_id;       // the dht node's id, then
  bool store_pending = false;             // asked the dht node for its id
  bool serving = false;                   // persistent now: storage commands are served
  std::unordered_map<rpc::key32, hd_server_handler_actor, hd::key32_hash> servers;
  // ANNOUNCE's bump is compared with wall-clock ms; derived from the actor
  // clock so virtual time moves it too.
  hd::time_point start{};
  uint64_t start_unix_ms = 0;
  uint64_t requests = 0, handler_failures = 0, no_handler = 0, server_overload = 0;
  size_t pending_to_servers = 0;  // handler requests not answered yet
  static inline const char* name = "hyperdht_node";
};

using hd_ptr = hyperdht_node_actor::stateful_pointer<hd_state>;

hd::time_point now_of(hd_ptr self) {
  return self->clock().now();
}

uint64_t unix_ms_of(hd_ptr self) {
  auto& st = self->state;
  auto since = duration_cast<milliseconds>(now_of(self) - st.start).count();
  return st.start_unix_ms + static_cast<uint64_t>(std::max<int64_t>(0, since));
}

void carry_out(hd_ptr self, const rpc::incoming_request& req, hd::decision d);

/// The router's turn once a server's handler answered (nullopt: refused).
template <class ForServer>
using server_reply_fn = hd::decision (hd::router::*)(const rpc::incoming_request&, const ForServer&,
                                                     const std::optional<bytes>&,
                                                     std::optional<uint8_t>);

/// A handshake or holepunch for a server listening here: ask its handler
/// with `atom`, then let the router turn the answer into what goes out
/// (`reply`: router::server_handshake_reply or server_holepunch_reply).
template <class Atom, class ForServer>
void ask_server(hd_ptr self, const rpc::incoming_request& req, const ForServer& x, Atom atom,
                server_reply_fn<ForServer> reply) {
  auto& st = self->state;
  auto it = st.servers.find(x.target);
  if (it == st.servers.end()) {
    ++st.no_handler;
    return;
  }
  if (st.pending_to_servers >= st.opts.max_pending_server_requests) {
    ++st.server_overload;
    return;
  }
  ++st.pending_to_servers;
  self->request(it->second, st.opts.handler_timeout, atom, req, x)
    .then(
      [=](const std::optional<bytes>& answer) {
        --self->state.pending_to_servers;
        auto& router = *self->state.router;
        carry_out(self, req, (router.*reply)(req, x, answer, std::nullopt));
      },
      [=](const caf::error&) {
        --self->state.pending_to_servers;
        ++self->state.handler_failures;
      });
}

void carry_out(hd_ptr self, const rpc::incoming_request& req, hd::decision d) {
  auto& dht = self->state.dht;
  std::visit(
    [&](auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, hd::reply_action>) {
        self->send(dht, dht_reply_atom::value, req, x.opts);
      } else if constexpr (std::is_same_v<T, hd::error_action>) {
        self->send(dht, dht_error_atom::value, req, x.code, x.opts);
      } else if constexpr (std::is_same_v<T, hd::relay_action>) {
        self->send(dht, dht_relay_atom::value, req,
                   dht_relay_options{std::move(x.value), x.to, x.socket});
      } else if constexpr (std::is_same_v<T, hd::handshake_for_server>) {
        ask_server(self, req, x, hd_handshake_atom::value, &hd::router::server_handshake_reply);
      } else if constexpr (std::is_same_v<T, hd::holepunch_for_server>) {
        ask_server(self, req, x, hd_holepunch_atom::value, &hd::router::server_holepunch_reply);
      }
      // hd::drop: hyperdht answers invalid requests with nothing.
    },
    d);
}

/// hyperdht creates its Persistent on dht-rpc's 'persistent' event, with
/// fresh caches, and serves storage only while it has one and an id
/// (index.js:414: `this.id` is null while dht-rpc is ephemeral). A node
/// that turns ephemeral again keeps its Persistent (hyperdht listens with
/// `once`) and serves from it again when it is persistent again.
void become_persistent(hd_ptr self) {
  auto& st = self->state;
  if (st.store_pending)
    return;
  st.store_pending = true;
  self->request(st.dht, caf::infinite, status_atom::value)
    .then([=](const dht_status& s) {
      auto& st = self->state;
      st.store_pending = false;
      if (s.ephemeral)
        return;
      st.own_id = s.id;
      st.serving = true;
      if (!st.store)
        st.store = std::make_unique<hd::persistent>(*st.router, st.opts.persistent, now_of(self));
    },
    [=](const caf::error&) { self->state.store_pending = false; });
}

void unlisten(hd_ptr self, const rpc::key32& target) {
  auto& st = self->state;
  if (st.servers.erase(target) == 0)
    return;
  if (auto* f = st.router->get(target, now_of(self)); f && f->local && st.store) {
    // A closing server unannounces; like hyperdht's lookupAndUnannounce it
    // first unlinks itself from our own storage (index.js:213-216).
    try {
      auto rec = hd::decode_value<hd::peer_record>(f->record);
      st.store->unannounce(target, rec.public_key, now_of(self));
    } catch (const std::exception&) {
      // not a record we can read: nothing of it was stored under its key
    }
  }
  st.router->remove(target);
}

hyperdht_node_actor::behavior_type hyperdht_node(hd_ptr self, dht_node_actor dht,
                                                 hyperdht_node_options opts) {
  auto& st = self->state;
  st.dht = dht;
  st.opts = opts;
  st.start = now_of(self);
  st.start_unix_ms = static_cast<uint64_t>(
    duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  st.router = std::make_unique<hd::router>(opts.router, st.start);

  auto as_handler = caf::actor_cast<dht_command_handler_actor>(self);
  for (uint64_t cmd = hd::command::peer_handshake; cmd <= hd::command::plugin; ++cmd)
    self->send(dht, dht_register_atom::value, cmd, as_handler);
  self->send(dht, dht_subscribe_atom::value, caf::actor_cast<dht_event_sink_actor>(self));
  self->monitor(dht);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.dht.address()) {
      self->quit(dm.reason);
      return;
    }
    std::vector<rpc::key32> gone;
    for (auto& [target, h] : st.servers)
      if (h.address() == dm.source)
        gone.push_back(target);
    for (auto& t : gone)
      unlisten(self, t);
  });
  self->delayed_send(self, opts.expiry_interval, tick_atom::value);

  return {
    [=](hd_listen_atom, const rpc::key32& target, bytes& record, hd_server_handler_actor h) {
      auto& st = self->state;
      self->monitor(h);
      st.servers[target] = std::move(h);
      st.router->listen(target, std::move(record));
    },
    [=](hd_unlisten_atom, const rpc::key32& target) { unlisten(self, target); },
    [=](hd_dht_atom) { return self->state.dht; },
    [=](status_atom) -> caf::result<hd_status> {
      auto rp = self->make_response_promise<hd_status>();
      self->request(self->state.dht, caf::infinite, status_atom::value)
        .then(
          [=](const dht_status& ds) mutable {
            auto& st = self->state;
            hd_status s;
            s.dht = ds;
            s.serving_storage = st.store != nullptr && st.serving;
            s.router = st.router->stats();
            s.forwards = st.router->size();
            s.local_servers = st.servers.size();
            if (st.store) {
              s.store = st.store->stats();
              s.records = st.store->record_count();
              s.mutables = st.store->mutable_count();
              s.immutables = st.store->immutable_count();
            }
            s.requests = st.requests;
            s.handler_failures = st.handler_failures;
            s.no_handler = st.no_handler;
            s.server_overload = st.server_overload;
            rp.deliver(std::move(s));
          },
          [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](dht_incoming_atom, const rpc::incoming_request& req) {
      auto& st = self->state;
      ++st.requests;
      auto now = now_of(self);
      auto* store = st.serving ? st.store.get() : nullptr;
      carry_out(self, req,
                hd::handle_request(*st.router, store, st.own_id, req, now, unix_ms_of(self)));
    },
    [=](dht_event_atom, const dht_event& ev) {
      if (ev.what == dht_event::kind::persistent)
        become_persistent(self);
      else if (ev.what == dht_event::kind::ephemeral)
        self->state.serving = false;  // UNKNOWN_COMMAND until persistent again
    },
    [=](tick_atom) {
      auto& st = self->state;
      auto now = now_of(self);
      st.router->expire(now);
      if (st.store)
        st.store->expire(now);
      self->delayed_send(self, st.opts.expiry_interval, tick_atom::value);
    },
  };
}

} // namespace

hyperdht_node_actor spawn_hyperdht_node(caf::actor_system& sys, dht_node_actor dht,
                                        hyperdht_node_options opts) {
  return sys.spawn(hyperdht_node, std::move(dht), std::move(opts));
}

} // namespace ht
