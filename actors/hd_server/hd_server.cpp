#include "actors/hd_server/hd_server.hpp"

#include <sodium.h>

#include <caf/all.hpp>

#include "actors/hd_server/open_gate.hpp"

namespace ht {

namespace {

constexpr uint64_t close_deadline_tick = 0;

struct hd_server_state {
  hd_server_params p;
  std::unique_ptr<hyperdht::announcer> ann;
  std::unique_ptr<hyperdht::server_handshake> responder;
  hd_server_status status;
  uint64_t timer_gen = 1;
  bool reported_announced = false;
  bool reported_empty = false;
  bool closing = false;
  caf::response_promise close_promise;
  bool close_answered = false;
  rpc::time_point last_flood_report{};
  static inline const char* name = "hd_server";
};

using server_ptr = hd_server_actor::stateful_pointer<hd_server_state>;

rpc::time_point now_of(server_ptr self) { return self->clock().now(); }

void report(server_ptr self, hd_server_event::kind k, std::string text) {
  if (self->state.p.options.on_event)
    self->state.p.options.on_event(hd_server_event{k, std::move(text)});
}

void finish_close(server_ptr self, bool clean) {
  auto& st = self->state;
  if (st.close_answered)
    return;
  st.close_answered = true;
  report(self, hd_server_event::kind::unannounced, clean ? "unannounced" : "unannounce timed out");
  st.close_promise.deliver(clean);
  self->quit();
}

void check_progress(server_ptr self) {
  auto& st = self->state;
  auto& a = *st.ann;
  st.status.announced = a.announced();
  st.status.relays = a.relays().size();
  st.status.announcer = a.stats();
  if (st.closing) {
    if (a.stopped())
      finish_close(self, true);
    return;
  }
  if (a.announced()) {
    if (!st.reported_announced) {
      st.reported_announced = true;
      st.reported_empty = false;
      report(self, hd_server_event::kind::announced, std::to_string(a.relays().size()) + " relays");
    } else if (st.reported_empty) {
      st.reported_empty = false;
      report(self, hd_server_event::kind::reannounced, std::to_string(a.relays().size()) + " relays");
    }
  } else if (a.last_update_empty() && !st.reported_empty) {
    st.reported_empty = true;
    report(self, hd_server_event::kind::no_bootstrap, "no DHT node answered");
  }
}

// Carries out what the announcer asks for, then re-arms its timer.
void pump(server_ptr self) {
  auto& st = self->state;
  while (auto out = st.ann->poll_output()) {
    if (auto* q = std::get_if<hyperdht::announcer_query>(&*out)) {
      uint64_t id = q->id;
      self->request(st.p.dht, caf::infinite, dht_query_atom::value, std::move(q->opts))
        .then(
          [self, id](rpc::query_done_event& done) {
            self->state.ann->on_query_done(id, done.closest, now_of(self));
            pump(self);
          },
          [self, id](caf::error&) {
            self->state.ann->on_query_done(id, {}, now_of(self));
            pump(self);
          });
    } else {
      auto& r = std::get<hyperdht::announcer_request>(*out);
      uint64_t id = r.id;
      self->request(st.p.dht, std::chrono::seconds(60), dht_request_atom::value, std::move(r.opts))
        .then(
          [self, id](rpc::reply& res) {
            self->state.ann->on_response(id, res, now_of(self));
            pump(self);
          },
          [self, id](caf::error&) {
            self->state.ann->on_response(id, std::nullopt, now_of(self));
            pump(self);
          });
    }
  }
  if (auto wake = st.ann->poll_timeout()) {
    auto delay = *wake - now_of(self);
    if (delay.count() < 0)
      delay = delay.zero();
    self->delayed_send(self, delay, tick_atom::value, ++st.timer_gen);
  }
  check_progress(self);
}

uint32_t fresh_stream_id() {
  uint32_t id = 0;
  while (id == 0)
    id = randombytes_random();
  return id;
}

void refused(server_ptr self, const hyperdht::handshake_answer& ans, const hyperdht::handshake_for_server& hs) {
  auto& st = self->state;
  using hyperdht::handshake_verdict;
  switch (ans.verdict) {
    case handshake_verdict::refused: ++st.status.refused; break;
    case handshake_verdict::bad_noise: ++st.status.bad; break;
    case handshake_verdict::flood: ++st.status.flood; break;
    case handshake_verdict::error_reply: ++st.status.error_replies; break;
    case handshake_verdict::resent: ++st.status.resent; return;
    default: break;
  }
  // A flood is reported at most once a second, so stderr stays readable.
  if (ans.verdict == handshake_verdict::flood) {
    auto now = now_of(self);
    if (now - st.last_flood_report < std::chrono::seconds(1))
      return;
    st.last_flood_report = now;
  }
  std::string who = hs.peer_address ? hs.peer_address->host_string() + ":" + std::to_string(hs.peer_address->port)
                                    : std::string("a direct peer");
  report(self, hd_server_event::kind::refused, "handshake from " + who + " refused: " + ans.reason);
}

} // namespace

hd_server_actor::behavior_type hd_server(server_ptr self, hd_server_params params) {
  auto& st = self->state;
  st.p = std::move(params);
  auto& opts = st.p.options;
  st.ann = std::make_unique<hyperdht::announcer>(opts.keys, opts.announcer);
  st.responder = std::make_unique<hyperdht::server_handshake>(opts.keys, opts.handshake);
  if (!opts.allow.empty()) {
    // The firewall hook: decided on the client's key before anything about
    // the client is kept.
    st.responder->set_firewall([self](const hyperdht::key32& pk, const noise::noise_payload&,
                                      const rpc::ipv4_address&) {
      return self->state.p.options.allow.count(pk) == 0;
    });
  }
  self->send(st.p.hyperdht, hd_listen_atom::value, st.ann->target(), st.ann->record(),
             caf::actor_cast<hd_server_handler_actor>(self));
  st.ann->start(now_of(self));
  pump(self);

  return {
    [self](hd_handshake_atom, rpc::incoming_request& req,
           hyperdht::handshake_for_server& hs) -> caf::result<std::optional<bytes>> {
      auto& st = self->state;
      ++st.status.handshakes;
      if (st.closing)
        return std::optional<bytes>{};
      // Streams that never open are bounded as a whole; the responder bounds
      // each source (a resend of a known handshake is still answered).
      if (st.status.pending_streams >= st.p.options.max_pending_streams) {
        hyperdht::handshake_answer a;
        a.verdict = hyperdht::handshake_verdict::flood;
        a.reason = "too many connections still opening";
        refused(self, a, hs);
        return std::optional<bytes>{};
      }
      hyperdht::server_address_info addrs;
      addrs.public_address = st.p.options.public_address;
      uint32_t id = fresh_stream_id();
      auto ans = st.responder->on_handshake(hs, req.from, addrs, id, now_of(self));
      st.status.dedupe_entries = st.responder->size();
      if (!ans.accepted) {
        refused(self, ans, hs);
        return ans.reply;
      }
      ++st.status.accepted;
      auto& acc = *ans.accepted;
      secret_stream_connection_params cp;
      cp.socket = st.p.socket;
      cp.local_id = acc.local_stream_id;
      cp.remote_id = acc.remote_stream_id;
      cp.handshake = acc.result;
      cp.options = st.p.options.connection;
      auto conn = spawn_secret_stream_connection(self->system(), std::move(cp));
      ++st.status.pending_streams;
      auto rp = self->make_response_promise<std::optional<bytes>>();
      auto reply = std::move(ans.reply);
      // The reply names our stream id: send it only once the socket routes it.
      self->request(conn, std::chrono::seconds(5), udx_register_atom::value)
        .then(
          [self, conn, rp, reply](bool ok) mutable {
            auto& st = self->state;
            if (!ok) {
              --st.status.pending_streams;
              self->send(conn, close_atom::value);
              rp.deliver(std::optional<bytes>{});
              return;
            }
            auto me = caf::actor_cast<hd_server_actor>(self);
            spawn_open_gate(self->system(), caf::actor_cast<connection_actor>(conn), st.p.acceptor,
                            [me](bool opened) { caf::anon_send(me, hd_event_atom::value, opened); });
            rp.deliver(reply);
          },
          [self, rp](caf::error&) mutable {
            --self->state.status.pending_streams;
            rp.deliver(std::optional<bytes>{});
          });
      return rp;
    },
    [](hd_holepunch_atom, rpc::incoming_request&, hyperdht::holepunch_for_server&) {
      // We offer no holepunch (holepunch null in our payload): nothing to answer.
      return std::optional<bytes>{};
    },
    [self](hd_event_atom, bool opened) {
      auto& st = self->state;
      if (st.status.pending_streams > 0)
        --st.status.pending_streams;
      if (opened)
        ++st.status.opened;
      else
        ++st.status.never_opened;
    },
    [self](status_atom) {
      auto& st = self->state;
      st.responder->expire(now_of(self));
      st.status.dedupe_entries = st.responder->size();
      return st.status;
    },
    [self](tick_atom, uint64_t gen) {
      auto& st = self->state;
      if (gen == close_deadline_tick) {
        if (st.closing)
          finish_close(self, false);
        return;
      }
      if (gen != st.timer_gen)
        return;
      st.ann->on_timeout(now_of(self));
      st.responder->expire(now_of(self));
      pump(self);
    },
    [self](close_atom, caf::timespan deadline) -> caf::result<bool> {
      auto& st = self->state;
      if (st.closing)
        return false;
      st.closing = true;
      st.close_promise = self->make_response_promise<bool>();
      self->send(st.p.hyperdht, hd_unlisten_atom::value, st.ann->target());
      st.ann->stop(now_of(self));
      self->delayed_send(self, deadline, tick_atom::value, close_deadline_tick);
      auto rp = st.close_promise;
      pump(self);
      return rp;
    },
  };
}

hd_server_actor spawn_hd_server(caf::actor_system& sys, hd_server_params params) {
  return sys.spawn(hd_server, std::move(params));
}

} // namespace ht
