#include "actors/dht/node_actor.hpp"

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/dht/address.hpp"
#include "actors/dht/socket_handler.hpp"

namespace ht {

namespace {

using namespace std::chrono;

struct query_owner {
  dht_query_sink_actor sink;  // streamed form
  std::optional<caf::typed_response_promise<rpc::query_done_event>> rp;  // one-shot form
};

/// Fair service (issue 9 §5; docs/dht.md, "Fair service"). Admission
/// (udx_handler_admit) bounds what each source host may have queued for
/// the node, but the mailbox is FIFO: a peer's request admitted behind a
/// flooder's full share (~2,500 FIND_NODEs at 1 MiB) would wait for all of
/// them, past its timeout on a slow node. So the node does not serve the
/// socket's batches in arrival order: it moves each datagram (no decoding,
/// a move) into the queue of its source, keyed by the same slot as
/// admission (the backlog's keyed hash of the host), and serves the
/// sources round-robin, one datagram each per turn, in bounded rounds of
/// `serve_budget` datagrams. A source with one request waiting is served in
/// the first round whatever another source has queued.
struct source_queue {
  udx_datagrams items;
  size_t head = 0;     // next to serve
  bool in_ring = false;
};

/// Datagrams served per round: a round ends with the replies handed to
/// the socket, and the next round is a message behind whatever else is in
/// the mailbox (timers, commands, new batches), so nothing waits for a
/// whole backlog.
constexpr size_t serve_budget = 64;

struct node_state {
  std::unique_ptr<rpc::node> node;
  std::vector<udx_socket_actor> sockets;
  std::vector<udx_endpoint> bound;        // per socket, once it answered
  std::vector<udx_handler_backlog_ptr> backlogs;  // per socket
  std::unordered_map<uint64_t, dht_command_handler_actor> handlers;
  std::unordered_map<uint64_t, caf::typed_response_promise<rpc::reply>> requests;
  std::unordered_map<uint64_t, query_owner> queries;
  std::vector<dht_event_sink_actor> subscribers;
  // What subscribers that come later are told first.
  bool bootstrapped = false;
  bool persistent = false;
  std::optional<dht_event> nat;
  // The one armed wake-up: a tick carries the generation it was armed
  // with; an earlier deadline arms a new generation and older ticks are
  // ignored when they arrive.
  std::optional<rpc::time_point> armed;
  uint64_t generation = 0;
  uint64_t unknown_commands = 0;
  uint64_t not_ipv4 = 0;
  bool closing = false;
  // The core's datagrams: [0, outbox_n) wait for the next flush; all keep
  // their buffers for reuse.
  std::vector<rpc::transmit> outbox;
  size_t outbox_n = 0;
  bool flush_scheduled = false;
  std::vector<udx_sender_ptr> senders;     // per socket; null: send messages
  std::vector<udx_datagram_view> views;    // reused by flush_outbox
  // Fair service: one queue per (socket, admission slot), index
  // socket * udx_handler_backlog::slots + slot; the ring holds the indices
  // of the non-empty ones in service order (each at most once). Memory:
  // what is queued was admitted, so it is within the socket's cap.
  std::vector<source_queue> sources;
  std::deque<uint32_t> ring;
  bool serve_scheduled = false;
  static inline const char* name = "dht_node";
};

using node_ptr = dht_node_actor::stateful_pointer<node_state>;

rpc::time_point now_of(node_ptr self) {
  return self->clock().now();
}

dht_error to_dht_error(rpc::request_error e) {
  switch (e) {
    case rpc::request_error::timeout: return dht_error::timeout;
    case rpc::request_error::closing: return dht_error::closing;
    case rpc::request_error::too_many: return dht_error::too_many;
    case rpc::request_error::cancelled: return dht_error::cancelled;
  }
  return dht_error::closing;
}

void publish(node_ptr self, const dht_event& ev) {
  for (auto& s : self->state.subscribers)
    self->send(s, dht_event_atom::value, ev);
}

/// dht-rpc answers a request nobody handles with UNKNOWN_COMMAND, no token,
/// closer nodes when it had a target (index.js _onrequest).
void answer_unknown(node_ptr self, const rpc::incoming_request& req) {
  ++self->state.unknown_commands;
  rpc::reply_options o;
  o.token = false;
  self->state.node->error(req, rpc::error_code::unknown_command, o);
}

void dispatch(node_ptr self, rpc::event& ev) {
  auto& st = self->state;
  if (auto* r = std::get_if<rpc::request_event>(&ev)) {
    auto it = r->req.internal ? st.handlers.end() : st.handlers.find(r->req.command);
    if (it == st.handlers.end())
      answer_unknown(self, r->req);
    else
      self->send(it->second, dht_incoming_atom::value, std::move(r->req));
  } else if (auto* r = std::get_if<rpc::response_event>(&ev)) {
    auto it = st.requests.find(r->handle);
    if (it == st.requests.end())
      return;
    if (r->res)
      it->second.deliver(std::move(*r->res));
    else
      it->second.deliver(make_error(to_dht_error(r->error.value_or(rpc::request_error::closing))));
    st.requests.erase(it);
  } else if (auto* r = std::get_if<rpc::query_reply_event>(&ev)) {
    auto it = st.queries.find(r->handle);
    if (it != st.queries.end() && it->second.sink)
      self->send(it->second.sink, dht_qreply_atom::value, r->handle, std::move(r->res));
  } else if (auto* r = std::get_if<rpc::query_done_event>(&ev)) {
    auto it = st.queries.find(r->handle);
    if (it == st.queries.end())
      return;
    if (it->second.sink)
      self->send(it->second.sink, dht_qdone_atom::value, std::move(*r));
    else if (it->second.rp)
      it->second.rp->deliver(std::move(*r));
    st.queries.erase(it);
  } else if (std::holds_alternative<rpc::bootstrapped_event>(ev)) {
    st.bootstrapped = true;
    publish(self, dht_event{dht_event::kind::bootstrapped, {}, {}});
  } else if (std::holds_alternative<rpc::persistent_event>(ev)) {
    st.persistent = true;
    publish(self, dht_event{dht_event::kind::persistent, {}, {}});
  } else if (std::holds_alternative<rpc::ephemeral_event>(ev)) {
    // New subscribers are told the current state: not persistent.
    st.persistent = false;
    publish(self, dht_event{dht_event::kind::ephemeral, {}, {}});
  } else if (auto* r = std::get_if<rpc::nat_event>(&ev)) {
    st.nat = dht_event{dht_event::kind::nat, r->address, r->firewall};
    publish(self, *st.nat);
  }
}

/// Hands everything the core queued to the socket(s), in the order the
/// core queued it. A socket with a direct send path (udx_sender: the real
/// socket) gets the datagrams straight from the outbox's buffers on this
/// thread (one sendmmsg per 64, no message to the socket actor, no copy);
/// one without (the virtual socket of the scenario tests) gets one
/// udx_send per flush whatever the destinations.
void flush_outbox(node_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.outbox_n == 0)
    return;
  for (size_t s = 0; s < st.sockets.size(); ++s) {
    uint8_t family = st.bound[s].family;
    if (auto& sender = st.senders[s]) {
      st.views.clear();
      for (size_t i = 0; i < st.outbox_n; ++i) {
        auto& t = st.outbox[i];
        if (t.socket == s)
          st.views.push_back(udx_datagram_view{dht::to_endpoint(t.to, family), t.data.data(),
                                               t.data.size()});
      }
      if (!st.views.empty())
        sender->send(st.views.data(), st.views.size());
    } else {
      udx_datagrams out;
      for (size_t i = 0; i < st.outbox_n; ++i) {
        auto& t = st.outbox[i];
        if (t.socket == s)
          out.push_back(udx_datagram{dht::to_endpoint(t.to, family), std::move(t.data)});
      }
      if (!out.empty())
        self->send(st.sockets[s], udx_send_atom::value, std::move(out));
    }
  }
  st.outbox_n = 0;
  // The transmits keep their buffers for the next replies
  // (rpc::node::poll_transmit(transmit&) recycles them); what a burst made
  // grow beyond a round's worth is given back.
  if (st.outbox.size() > 4 * serve_budget)
    st.outbox.resize(4 * serve_budget);
}

/// Collects what the core wants sent, hands its events out and re-arms the
/// timer. Runs after every input. Datagrams leave at once when nothing
/// else waits in the mailbox, or when `flush_now` (the end of a serve
/// round: up to 64 replies in one go); otherwise a flush message to
/// ourselves goes behind what is already in the mailbox, so a burst of
/// commands is answered with one sendmmsg for up to 64 datagrams, whatever
/// their destinations, instead of one per datagram.
void pump(node_ptr self, bool flush_now = false) {
  auto& st = self->state;
  auto& node = *st.node;
  for (;;) {
    if (st.outbox_n == st.outbox.size())
      st.outbox.emplace_back();
    auto& t = st.outbox[st.outbox_n];
    if (!node.poll_transmit(t))
      break;
    if (t.socket < st.sockets.size()) // the core never picks another
      ++st.outbox_n;
  }
  if (st.outbox_n > 0 && !st.flush_scheduled) {
    if (flush_now || self->mailbox().empty()) {
      flush_outbox(self);
    } else {
      st.flush_scheduled = true;
      self->send(self, flush_atom::value);
    }
  }
  while (auto ev = node.poll_event())
    dispatch(self, *ev);
  if (st.closing)
    return;
  if (auto due = node.poll_timeout()) {
    if (!st.armed || *due < *st.armed) {
      st.armed = *due;
      auto delay = std::max(rpc::duration::zero(), *due - now_of(self));
      self->delayed_send(self, delay, tick_atom::value, ++st.generation);
    }
  }
}

void on_datagram(node_ptr self, uint8_t socket, const udx_endpoint& from,
                 const bytes& data) {
  auto& st = self->state;
  if (auto addr = dht::to_ipv4(from))
    st.node->receive(socket, *addr, data.data(), data.size(), now_of(self));
  else
    ++st.not_ipv4;
  // The socket counted this datagram into our backlog when it handed it
  // over; it is processed now.
  if (socket < st.backlogs.size())
    dht_detail::datagram_processed(*st.backlogs[socket], from, data.size());
}

/// Moves one receive batch into the per-source queues.
void enqueue(node_ptr self, uint8_t socket, udx_datagrams& batch) {
  auto& st = self->state;
  for (auto& d : batch) {
    auto key = static_cast<uint32_t>(socket * udx_handler_backlog::slots +
                                     st.backlogs[socket]->slot_of(d.from));
    auto& q = st.sources[key];
    q.items.push_back(std::move(d));
    if (!q.in_ring) {
      q.in_ring = true;
      st.ring.push_back(key);
    }
  }
}

/// Serves at most `budget` queued datagrams round-robin over the sources:
/// the front source gives one datagram and, if it has more, goes to the
/// back of the ring.
void serve_round(node_ptr self, size_t budget) {
  auto& st = self->state;
  for (; budget > 0 && !st.ring.empty(); --budget) {
    auto key = st.ring.front();
    st.ring.pop_front();
    auto& q = st.sources[key];
    auto d = std::move(q.items[q.head++]);
    if (q.head == q.items.size()) {
      q.head = 0;
      q.in_ring = false;
      // Keep a small buffer for the next datagrams; give back what a
      // flood made grow.
      if (q.items.capacity() > serve_budget)
        udx_datagrams{}.swap(q.items);
      else
        q.items.clear();
    } else {
      st.ring.push_back(key);
    }
    on_datagram(self, static_cast<uint8_t>(key / udx_handler_backlog::slots), d.from, d.data);
  }
  pump(self, true);
}

/// After a batch, or a round, with datagrams still queued: the next round
/// is a message to ourselves, behind what the mailbox holds already.
void schedule_serve(node_ptr self) {
  auto& st = self->state;
  if (!st.ring.empty() && !st.serve_scheduled && !st.closing) {
    st.serve_scheduled = true;
    self->send(self, dht_serve_atom::value);
  }
}

dht_node_actor::behavior_type node_actor(node_ptr self, dht_node_options opts) {
  auto& st = self->state;
  st.sockets = opts.sockets;
  st.bound.resize(st.sockets.size());
  st.senders.resize(st.sockets.size());
  st.node = std::make_unique<rpc::node>(opts.config, now_of(self));
  for (size_t i = 0; i < st.sockets.size(); ++i) {
    auto& sock = st.sockets[i];
    // A seeded node is deterministic down to which hosts share a
    // per-source slot of the backlog.
    uint64_t seed = opts.config.seed ? opts.config.seed + i + 1 : 0;
    st.backlogs.push_back(std::make_shared<udx_handler_backlog>(seed));
    st.sources.resize(st.sources.size() + udx_handler_backlog::slots);
    // Socket i tags its batches with i: the node tells its sockets apart
    // without a forwarding actor in between.
    dht_detail::set_datagram_handler(self, sock,
                                     caf::actor_cast<udx_datagram_handler_actor>(self),
                                     st.backlogs.back(), static_cast<uint8_t>(i));
    self->request(sock, caf::infinite, udx_address_atom::value)
      .then([self, i](const udx_endpoint& e) { self->state.bound[i] = e; });
    // Replies go straight into the socket's send queue where it has one
    // (until it answers, and on the virtual socket: messages).
    self->request(sock, caf::infinite, udx_sender_atom::value)
      .then([self, i](udx_sender_ptr& p) { self->state.senders[i] = std::move(p); },
            [](caf::error&) {}); // a socket without one: messages, as before
    // A socket that goes away takes the node with it (a link would too,
    // but the socket is not ours to kill when the node exits).
    self->monitor(sock);
  }
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto& s : st.sockets)
      if (s.address() == dm.source) {
        self->quit(dm.reason ? dm.reason : caf::exit_reason::normal);
        return;
      }
    for (auto it = st.handlers.begin(); it != st.handlers.end();)
      it = it->second.address() == dm.source ? st.handlers.erase(it) : std::next(it);
    st.subscribers.erase(std::remove_if(st.subscribers.begin(), st.subscribers.end(),
                                        [&](auto& s) { return s.address() == dm.source; }),
                         st.subscribers.end());
    std::vector<uint64_t> orphaned;
    for (auto& [handle, q] : st.queries)
      if (q.sink && q.sink.address() == dm.source)
        orphaned.push_back(handle);
    for (auto h : orphaned) {
      st.queries.erase(h);
      st.node->cancel(h);
    }
    pump(self);
  });
  if (opts.bootstrap)
    st.node->bootstrap(now_of(self));
  pump(self);

  return {
    [=](dht_request_atom, const rpc::request_options& o) -> caf::result<rpc::reply> {
      auto& st = self->state;
      if (st.closing)
        return make_error(dht_error::closing);
      if (o.socket >= st.sockets.size())
        return make_error(dht_error::bad_socket);
      auto rp = self->make_response_promise<rpc::reply>();
      st.requests.emplace(st.node->request(o, now_of(self)), rp);
      pump(self);
      return rp;
    },
    [=](dht_query_atom, const rpc::query_options& o,
        dht_query_sink_actor sink) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.closing)
        return make_error(dht_error::closing);
      self->monitor(sink);
      auto handle = st.node->query(o, now_of(self));
      st.queries.emplace(handle, query_owner{std::move(sink), std::nullopt});
      pump(self);
      return handle;
    },
    [=](dht_query_atom, const rpc::query_options& o) -> caf::result<rpc::query_done_event> {
      auto& st = self->state;
      if (st.closing)
        return make_error(dht_error::closing);
      auto rp = self->make_response_promise<rpc::query_done_event>();
      auto handle = st.node->query(o, now_of(self));
      st.queries.emplace(handle, query_owner{{}, rp});
      pump(self);
      return rp;
    },
    [=](dht_cancel_atom, uint64_t handle) {
      self->state.node->cancel(handle);
      pump(self);
    },
    [=](dht_register_atom, uint64_t command, dht_command_handler_actor h) {
      self->monitor(h);
      self->state.handlers[command] = std::move(h);
    },
    [=](dht_unregister_atom, uint64_t command) { self->state.handlers.erase(command); },
    [=](dht_reply_atom, const rpc::incoming_request& req, const rpc::reply_options& o) {
      self->state.node->reply(req, o);
      pump(self);
    },
    [=](dht_error_atom, const rpc::incoming_request& req, uint64_t code,
        const rpc::reply_options& o) {
      self->state.node->error(req, code, o);
      pump(self);
    },
    [=](dht_relay_atom, const rpc::incoming_request& req, const dht_relay_options& o) {
      if (o.socket && *o.socket >= self->state.sockets.size())
        return;
      self->state.node->relay(req, o.value, o.to, o.socket);
      pump(self);
    },
    [=](status_atom) {
      auto& st = self->state;
      auto& node = *st.node;
      dht_status s;
      s.id = node.id();
      s.ephemeral = node.ephemeral();
      s.bootstrapped = node.bootstrapped();
      s.public_address = node.public_address();
      s.firewall = node.firewall();
      s.stats = node.stats();
      s.bound = st.bound;
      for (auto& b : st.backlogs)
        s.backlog_bytes += b->bytes.load(std::memory_order_relaxed);
      s.unknown_commands = st.unknown_commands;
      s.not_ipv4 = st.not_ipv4;
      return s;
    },
    [=](dht_closest_atom, const rpc::key32& target, uint64_t n) {
      return self->state.node->closest(target, static_cast<size_t>(n));
    },
    [=](dht_token_atom, const rpc::ipv4_address& a) {
      return self->state.node->token_for(a);
    },
    [=](dht_subscribe_atom, dht_event_sink_actor sink) {
      auto& st = self->state;
      self->monitor(sink);
      if (st.bootstrapped)
        self->send(sink, dht_event_atom::value, dht_event{dht_event::kind::bootstrapped, {}, {}});
      if (st.persistent)
        self->send(sink, dht_event_atom::value, dht_event{dht_event::kind::persistent, {}, {}});
      if (st.nat)
        self->send(sink, dht_event_atom::value, *st.nat);
      st.subscribers.push_back(std::move(sink));
    },
    [=](close_atom) {
      auto& st = self->state;
      st.node->close();
      pump(self); // delivers every pending request and query as closing
      flush_outbox(self);
      st.closing = true;
      for (auto& [h, rp] : st.requests)
        rp.deliver(make_error(dht_error::closing));
      st.requests.clear();
      // What is still queued will not be served: give it back to the
      // socket's backlog.
      for (auto key : st.ring) {
        auto& q = st.sources[key];
        auto socket = key / udx_handler_backlog::slots;
        for (size_t i = q.head; i < q.items.size(); ++i)
          dht_detail::datagram_processed(*st.backlogs[socket], q.items[i].from,
                                         q.items[i].data.size());
      }
      st.ring.clear();
      self->quit();
    },
    [=](udx_recv_atom, uint8_t socket, udx_datagrams& batch) {
      auto& st = self->state;
      if (socket >= st.backlogs.size() || st.closing)
        return;
      enqueue(self, socket, batch);
      // Nothing else waiting in the mailbox (the usual case below
      // saturation): serve a round now, no extra message. Otherwise the
      // round goes behind the batches already there, so that every
      // source's datagrams are in the queues before the round picks.
      if (!st.serve_scheduled && self->mailbox().empty())
        serve_round(self, serve_budget);
      schedule_serve(self);
    },
    [=](dht_serve_atom) {
      self->state.serve_scheduled = false;
      serve_round(self, serve_budget);
      schedule_serve(self);
    },
    [=](flush_atom) { flush_outbox(self); },
    [=](tick_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.generation || st.closing)
        return; // superseded by an earlier wake-up
      st.armed.reset();
      auto now = now_of(self);
      if (auto due = st.node->poll_timeout(); due && *due <= now)
        st.node->handle_timeout(now);
      pump(self);
    },
  };
}

} // namespace

dht_node_actor spawn_dht_node(caf::actor_system& sys, dht_node_options opts) {
  if (opts.sockets.empty())
    throw std::invalid_argument("dht node: no socket");
  if (opts.sockets.size() > 255)
    throw std::invalid_argument("dht node: too many sockets");
  return sys.spawn(node_actor, std::move(opts));
}

} // namespace ht
