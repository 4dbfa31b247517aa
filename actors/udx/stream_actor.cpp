#include "actors/udx/stream_actor.hpp"

#include <memory>
#include <optional>

#include <caf/all.hpp>

#include "actors/udx/handler_credit.hpp"
#include "dht/udx/header.hpp"

namespace ht {

namespace {

using std::chrono::duration_cast;

// Coalesce data up to this per event (a quarter of the smallest sensible
// handler window: the window is checked between events).
constexpr size_t max_data_event = 64 << 10;

struct stream_state {
  std::unique_ptr<udx::stream> core;
  udx_socket_actor socket;
  udx_endpoint remote;
  udx_stream_handler_actor handler;
  uint32_t id = 0;
  uint64_t high_water = 0;
  handler_credit credit;       // udx_stream_options::handler_window
  bool paused = false;
  bool finished = false;       // closed delivered to the handler
  bool registered = false;     // the socket routes our id to us
  std::optional<bool> register_answer; // the socket's answer, once it came
  std::vector<caf::typed_response_promise<bool>> waiting_ready;
  // False while a passive stream waits for its first packet: the peer's
  // address is unknown, so nothing can be sent and no timer but the
  // passive deadline runs.
  bool connected = true;
  uint64_t foreign = 0;        // datagrams from other addresses (dropped)
  udx_backlog_ptr backlog = std::make_shared<udx_backlog>();
  std::vector<caf::typed_response_promise<uint64_t>> waiting_writes;
  std::optional<udx::time_point> timer_at;
  // The socket's direct send path (udx_sender), once it is safe to use:
  // packets then go to the kernel from this actor's thread, with no message
  // to the socket actor (one thread hand-off less per ack). Null: send
  // messages (before the switch, or a socket without one).
  udx_sender_ptr sender;
  uint64_t sends_by_message = 0; // udx_send messages sent to the socket so far
  std::vector<bytes> out;        // transmit's batch (its capacity is reused)
  std::vector<udx_datagram_view> views;
  static inline const char* name = "udx_stream";
};

using stream_ptr = udx_stream_actor::stateful_pointer<stream_state>;

constexpr int64_t linger_done = -1;
constexpr int64_t passive_deadline = -2;

// A passive stream takes the address of the first datagram that is a
// well-formed UDX packet (the socket already checked magic, version and
// id). A port of 0 cannot be answered; hyperdht's firewall hook refuses it
// too.
bool accepts_as_first(const udx_datagram& d) {
  return d.from.port != 0 && udx::parse_header(d.data.data(), d.data.size()).has_value();
}

void schedule(stream_ptr self, udx::time_point now) {
  auto& st = self->state;
  auto next = st.core->next_timeout();
  if (!next)
    return;
  if (st.timer_at && *st.timer_at <= *next)
    return; // an earlier tick is pending and will reschedule
  st.timer_at = *next;
  auto delay = *next > now ? *next - now : udx::duration{0};
  self->delayed_send(self, delay, tick_atom::value,
                     static_cast<int64_t>(next->time_since_epoch().count()));
}

void finish(stream_ptr self) {
  auto& st = self->state;
  for (auto& rp : st.waiting_writes)
    rp.deliver(caf::make_error(caf::sec::runtime_error, "udx: stream closed"));
  st.waiting_writes.clear();
  if (st.core->lingering() && st.connected) {
    // Keep answering the peer for a while (like TCP's TIME_WAIT): after a
    // clean close our ack of the peer's END was the last packet (see
    // dht/udx/stream_close.cpp) and, if it is lost, the peer resends its
    // END on its tail probe or RTO (libudx: at least 1 s, then every 2
    // RTOs, giving up after about 13 RTOs in all, some of which the END
    // hold may have used). A destroyed stream answers with DESTROY
    // instead, for a peer whose in-flight packets were all lost. 10 s (or
    // 2 of our RTOs on a slow path) covers four or more of those resends;
    // a lingering stream holds no buffers, only its id.
    auto linger = std::max<udx::duration>(2 * st.core->stats().rto,
                                          std::chrono::seconds(10));
    self->delayed_send(self, linger, tick_atom::value, linger_done);
  } else {
    if (st.registered)
      self->send(st.socket, udx_unregister_atom::value, st.id);
    self->quit();
  }
}

void pump(stream_ptr self);

// One data event to the handler, counted against its window.
void send_data(stream_ptr self, bytes&& data) {
  auto& st = self->state;
  auto n = data.size();
  st.credit.send(self, st.handler, n, [self] {
    if (!self->state.finished)
      pump(self);
  }, udx_data_atom::value, st.id, std::move(data));
}

void deliver_events(stream_ptr self) {
  auto& st = self->state;
  if (!st.handler || st.paused || st.finished)
    return;
  udx::stream_event ev;
  bytes pending;
  auto flush_data = [&] {
    if (!pending.empty())
      send_data(self, std::move(pending));
    pending = bytes{};
  };
  // A full handler window stops the polling: what the core holds counts
  // against its receive window (and end/closed stay behind the data).
  auto full = [&] { return st.credit.full(pending.size()); };
  while (!full() && st.core->poll_event(ev)) {
    switch (ev.kind) {
      case udx::event_kind::data:
        if (pending.empty())
          pending = std::move(ev.payload);
        else
          pending.insert(pending.end(), ev.payload.begin(), ev.payload.end());
        if (pending.size() >= max_data_event)
          flush_data();
        break;
      case udx::event_kind::end:
        flush_data();
        self->send(st.handler, udx_end_atom::value, st.id);
        break;
      case udx::event_kind::message:
        self->send(st.handler, udx_msg_atom::value, st.id, std::move(ev.payload));
        break;
      case udx::event_kind::closed:
        flush_data();
        self->send(st.handler, closed_atom::value, st.id, ev.error);
        st.finished = true;
        break;
    }
  }
  flush_data();
}

// Sends everything the core wants sent now, in one batch.
void transmit(stream_ptr self, udx::time_point now) {
  auto& st = self->state;
  if (!st.connected)
    return; // a passive stream has nowhere to send yet
  auto& out = st.out;
  bytes pkt;
  while (st.core->poll_transmit(now, pkt))
    out.push_back(std::move(pkt));
  if (out.empty())
    return;
  if (!st.sender) {
    ++st.sends_by_message;
    self->send(st.socket, udx_send_atom::value, st.remote, std::move(out));
    out = std::vector<bytes>{};
    return;
  }
  st.views.clear();
  for (auto& d : out)
    st.views.push_back(udx_datagram_view{st.remote, d.data(), d.size()});
  st.sender->send(st.views.data(), st.views.size());
  out.clear();
}

// Asks the socket for its direct send path. The switch must not reorder
// our packets: messages between two actors stay in order, so the answer to
// this request comes after the socket handled every udx_send we sent
// before it (what the kernel refused then waits in the same queue the
// direct path appends to). If we sent more in the meantime, ask again (a
// few times: a stream that never pauses keeps sending messages, which
// works too).
void ask_sender(stream_ptr self, int tries = 8) {
  auto sent_before = self->state.sends_by_message;
  self->request(self->state.socket, caf::infinite, udx_sender_atom::value)
    .then(
      [self, sent_before, tries](udx_sender_ptr& p) {
        auto& st = self->state;
        if (!p)
          return; // no direct path (a virtual socket): messages it is
        if (st.sends_by_message == sent_before)
          st.sender = std::move(p);
        else if (tries > 1)
          ask_sender(self, tries - 1);
      },
      [](caf::error&) {}); // the socket is gone: the down handler closes us
}

// After every input: send what the core wants sent, hand events to the
// handler, answer writers, re-arm the timer.
void pump(stream_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  transmit(self, now);
  bool was_finished = st.finished;
  deliver_events(self);
  // Taking data may have opened the receive window enough for a window
  // update (udx::stream::poll_event): send it now, not with the next packet
  // or timer, since a peer that saw the window closed waits for it.
  transmit(self, now);
  if (!st.core->closed() && st.core->buffered_bytes() <= st.high_water) {
    for (auto& rp : st.waiting_writes)
      rp.deliver(static_cast<uint64_t>(st.core->buffered_bytes()));
    st.waiting_writes.clear();
  }
  if (st.finished && !was_finished)
    finish(self);
  else if (!st.core->closed() && st.connected)
    schedule(self, now);
}

udx_stream_actor::behavior_type stream_actor(stream_ptr self,
                                             udx_socket_actor socket,
                                             udx_stream_options opts) {
  auto& st = self->state;
  st.socket = socket;
  st.remote = opts.remote;
  st.handler = opts.handler;
  st.id = opts.local_id;
  st.high_water = opts.high_water;
  st.credit.set_window(opts.handler_window);
  if (opts.backlog)
    st.backlog = opts.backlog;
  auto cfg = opts.tuning;
  cfg.local_id = opts.local_id;
  cfg.remote_id = opts.remote_id;
  cfg.ipv6 = opts.remote.family == 6;
  st.core = std::make_unique<udx::stream>(cfg, self->clock().now());
  st.connected = !opts.passive;
  if (opts.passive)
    self->delayed_send(self, opts.passive_timeout, tick_atom::value, passive_deadline);
  if (!opts.early.empty()) {
    // Processed by the receive handler below, before anything the socket
    // routes to us (this is queued before the registration is even sent).
    // Their sizes were never added to the backlog: add them so that the
    // handler's subtraction balances.
    int64_t size = 0;
    for (auto& d : opts.early)
      size += static_cast<int64_t>(d.data.size());
    st.backlog->bytes.fetch_add(size, std::memory_order_relaxed);
    self->send(self, udx_recv_atom::value, opts.early);
  }
  // Without its socket a stream can neither send nor hear: close with an
  // error instead of timing out later.
  self->monitor(socket);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source != self->state.socket.address())
      return;
    if (!self->state.core->closed()) {
      self->state.core->fail("ECONNABORTED");
      pump(self);
    } else if (self->state.finished) {
      self->quit(); // lingering is for answering the peer: no socket, no point
    }
  });
  ask_sender(self);
  self->request(socket, caf::infinite, udx_register_atom::value, st.id,
                udx_packet_sink_actor{self}, st.backlog)
    .then([=](bool ok) {
      self->state.registered = ok;
      self->state.register_answer = ok;
      for (auto& rp : self->state.waiting_ready)
        rp.deliver(ok);
      self->state.waiting_ready.clear();
      if (!ok && !self->state.core->closed()) {
        // Another stream owns the id: fail loudly rather than steal traffic.
        self->state.core->fail("EADDRINUSE");
        pump(self);
      }
    });
  return {
    [=](attach_atom, udx_stream_handler_actor h) {
      self->state.handler = std::move(h);
      pump(self);
    },
    [=](write_atom, bytes& data) -> caf::result<uint64_t> {
      auto& st = self->state;
      try {
        st.core->write(std::move(data));
      } catch (const udx::stream_error& e) {
        return caf::make_error(caf::sec::runtime_error, e.what());
      }
      pump(self);
      if (st.core->buffered_bytes() <= st.high_water)
        return static_cast<uint64_t>(st.core->buffered_bytes());
      auto rp = self->make_response_promise<uint64_t>();
      st.waiting_writes.push_back(rp);
      return rp;
    },
    [=](udx_end_atom) {
      if (!self->state.core->closed())
        self->state.core->end();
      pump(self);
    },
    [=](udx_destroy_atom) {
      self->state.core->destroy();
      pump(self);
    },
    [=](udx_msg_atom, const bytes& m) {
      try {
        self->state.core->send_message(m.data(), m.size());
      } catch (const udx::stream_error&) {
        // Unreliable by contract: an unsendable message is dropped.
      }
      pump(self);
    },
    [=](pause_atom) { self->state.paused = true; },
    [=](resume_atom) {
      self->state.paused = false;
      pump(self);
    },
    [=](udx_stats_atom) {
      auto s = self->state.core->stats();
      udx_stream_info info;
      info.packets_sent = s.packets_sent;
      info.packets_received = s.packets_received;
      info.retransmits = s.retransmits;
      info.rto_fired = s.rto_fired;
      info.loss_episodes = s.loss_episodes;
      info.dropped = s.dropped + self->state.foreign;
      info.messages_dropped = s.messages_dropped;
      info.cwnd = s.cwnd;
      info.mtu = s.mtu;
      info.srtt_us = duration_cast<std::chrono::microseconds>(s.srtt).count();
      info.buffered = self->state.core->buffered_bytes();
      info.registered = self->state.registered;
      return info;
    },
    [=](udx_register_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (st.register_answer)
        return *st.register_answer;
      auto rp = self->make_response_promise<bool>();
      st.waiting_ready.push_back(rp);
      return rp;
    },
    [=](udx_recv_atom, udx_datagrams& batch) {
      auto& st = self->state;
      int64_t size = 0;
      auto now = self->clock().now();
      for (auto& d : batch) {
        size += static_cast<int64_t>(d.data.size());
        if (!st.connected) {
          if (st.core->closed() || !accepts_as_first(d)) {
            ++st.foreign;
            continue;
          }
          // The firewall hook: this packet fixes the peer's address, and
          // is processed below like every later one (dropping it would
          // cost the peer a retransmission timeout, 1 s or more).
          st.remote = d.from;
          st.connected = true;
        }
        // A stream is bound to its peer's address: packets with its id from
        // anywhere else are forged or stale.
        if (d.from != st.remote) {
          ++st.foreign;
          continue;
        }
        st.core->on_datagram(d.data.data(), d.data.size(), now);
      }
      st.backlog->bytes.fetch_sub(size, std::memory_order_relaxed);
      if (!st.finished || st.core->lingering()) {
        if (st.finished) {
          transmit(self, now); // lingering: only re-acks go out
        } else {
          pump(self);
        }
      }
    },
    [=](tick_atom, int64_t at) {
      auto& st = self->state;
      if (at == linger_done) {
        if (st.registered)
          self->send(st.socket, udx_unregister_atom::value, st.id);
        self->quit();
        return;
      }
      if (at == passive_deadline) {
        if (!st.connected && !st.core->closed()) {
          st.core->fail("ETIMEDOUT"); // no packet came for our id
          pump(self);
        }
        return;
      }
      if (st.timer_at && st.timer_at->time_since_epoch().count() == at)
        st.timer_at.reset();
      if (st.finished)
        return;
      st.core->on_timeout(self->clock().now());
      pump(self);
    },
  };
}

} // namespace

udx_stream_actor spawn_udx_stream(caf::actor_system& sys, udx_socket_actor socket,
                                  const udx_stream_options& opts) {
  return sys.spawn(stream_actor, std::move(socket), opts);
}

} // namespace ht
