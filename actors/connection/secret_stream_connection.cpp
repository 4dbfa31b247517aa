// The secret-stream-over-UDX connection actor. It keeps the events for its
// handler in one ordered queue (opened, messages, closed) so the contract of
// messages/connection.hpp holds whatever the timing, feeds what the UDX
// stream delivers through the secret-stream core, and hands our writes to
// the UDX stream as frames.
#include "actors/connection/secret_stream_connection.hpp"

#include <algorithm>
#include <memory>

#include <caf/all.hpp>

#include "actors/connection/close_reason.hpp"
#include "actors/transport/handler_events.hpp"
#include "actors/udx/handler_credit.hpp"
#include "actors/udx/stream_actor.hpp"
#include "dht/secret_stream/secret_stream.hpp"

namespace ht {

namespace {

// Timers the actor sends itself (tick_atom, kind).
enum timer_kind : int64_t { keepalive_timer = 1, open_timer = 2, close_timer = 3 };

struct conn_state {
  connection_id id = next_connection_id();
  secret_stream_connection_options opts;
  connection_handler_actor handler;      // invalid until attach
  public_key remote_key{};
  std::unique_ptr<secret_stream::stream> ss;
  udx_stream_actor stream;
  // Shared with the stream: packets we hand it ourselves are added first.
  udx_backlog_ptr backlog = std::make_shared<udx_backlog>();

  handler_events events;                 // not yet delivered to the handler
  bool paused = false;                   // by the owner
  handler_credit credit;                 // options' handler_window
  bool udx_paused = false;               // we paused the UDX stream
  bool opened = false;                   // opened queued
  bool closed = false;                   // closed queued
  bool ending = false;                   // our END is on its way
  bool stream_done = false;              // the UDX stream reported closed

  // backpressure: bytes handed to the UDX stream whose write reply has
  // not come back yet, and owners waiting for their write reply
  uint64_t outstanding = 0;
  std::vector<caf::response_promise> waiting_writes;

  caf::actor_clock::time_point last_write;
  static inline const char* name = "secret_stream_connection";
};

using conn_ptr = secret_stream_connection_actor::stateful_pointer<conn_state>;

// Flow control: the UDX stream stops delivering (its receive window
// closes and the peer stops) while we hold messages the handler cannot
// take yet (deliver() hands over all it can); it resumes once they are
// delivered.
void update_flow(conn_ptr self) {
  auto& st = self->state;
  if (st.stream_done)
    return;
  bool want_paused = st.events.held_messages() > 0;
  if (want_paused == st.udx_paused)
    return;
  st.udx_paused = want_paused;
  if (want_paused)
    self->send(st.stream, pause_atom::value);
  else
    self->send(st.stream, resume_atom::value);
}

void deliver(conn_ptr self);

// One message to the handler, counted against its window (empty messages
// count too).
void send_message(conn_ptr self, bytes&& data) {
  auto& st = self->state;
  auto n = data.size() + 1;
  st.credit.send(self, st.handler, n, [self] { deliver(self); }, message_atom::value, st.id,
                 std::move(data));
}

void release_writers(conn_ptr self) {
  auto& st = self->state;
  if (st.outstanding > st.opts.high_water && !st.closed)
    return;
  for (auto& rp : st.waiting_writes)
    rp.deliver(caf::unit);
  st.waiting_writes.clear();
}

// Delivers queued events in order; a paused connection stops at the first
// message. After closed the actor has nothing left to do and exits.
void deliver(conn_ptr self) {
  auto& st = self->state;
  // Messages go while the owner has not paused and the handler's window
  // has room; each through send_message (its window accounting).
  auto may_send = [&st] { return !st.paused && !st.credit.full(); };
  auto send = [self](bytes&& data) { send_message(self, std::move(data)); };
  if (st.handler && st.events.deliver(self, st.handler, st.id, may_send, send)) {
    release_writers(self);
    // The UDX stream finishes on its own (it lingers after a clean
    // close); one still open is aborted, so it cannot outlive us.
    if (!st.stream_done)
      self->send(st.stream, udx_destroy_atom::value);
    self->quit();
    return;
  }
  update_flow(self);
}

void queue_closed(conn_ptr self, close_reason reason) {
  auto& st = self->state;
  if (st.closed)
    return;
  st.closed = true;
  st.events.closed(std::move(reason.code), std::move(reason.text));
  deliver(self);
}

// Hands what the secret-stream core has to send to the UDX stream, as one
// write whose reply tells when the stream has taken it.
void flush(conn_ptr self) {
  auto& st = self->state;
  if (!st.ss->has_transmit())
    return;
  bytes out = st.ss->take_transmit();
  uint64_t n = out.size();
  st.outstanding += n;
  self->request(st.stream, caf::infinite, write_atom::value, std::move(out))
    .then(
      [=](uint64_t) {
        self->state.outstanding -= n;
        release_writers(self);
      },
      [=](caf::error&) {
        // The stream closed under the write: its closed event follows.
        self->state.outstanding -= n;
        release_writers(self);
      });
}

// Bad bytes from the peer: what authenticated before stays queued ahead of
// closed; the stream is aborted (the peer sees ECONNRESET, as when a JS
// secret-stream destroys itself).
void fail_secret_stream(conn_ptr self, const secret_stream::error& e) {
  auto& st = self->state;
  if (!st.stream_done)
    self->send(st.stream, udx_destroy_atom::value);
  queue_closed(self, secret_stream_close_reason(e));
}

void on_data(conn_ptr self, const bytes& data) {
  auto& st = self->state;
  if (st.closed)
    return;
  std::optional<secret_stream::error> failure;
  try {
    st.ss->feed(data);
  } catch (const secret_stream::error& e) {
    failure = e; // what authenticated before the bad frame still counts
  }
  if (!st.opened && st.ss->is_established()) {
    st.opened = true;
    st.events.opened(st.remote_key);
  }
  // After the owner's close() nothing more is delivered but closed (as the
  // in-process transport does); the bytes still go through the core so a
  // bad frame is noticed.
  while (auto m = st.ss->poll_message()) {
    if (st.ending)
      continue;
    st.events.message(std::move(*m));
  }
  if (failure)
    fail_secret_stream(self, *failure);
  else
    deliver(self);
}

// Half-closes our side after everything written so far.
void end_stream(conn_ptr self) {
  auto& st = self->state;
  if (st.ending || st.stream_done)
    return;
  st.ending = true;
  self->send(st.stream, udx_end_atom::value);
}

void schedule_keepalive(conn_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto due = st.last_write + st.opts.keepalive;
  self->delayed_send(self, due > now ? due - now : caf::timespan{0}, tick_atom::value,
                     static_cast<int64_t>(keepalive_timer));
}


secret_stream_connection_actor::behavior_type
connection_impl(conn_ptr self, secret_stream_connection_params p) {
  auto& st = self->state;
  st.opts = p.options;
  st.credit.set_window(st.opts.handler_window);
  st.remote_key = p.handshake.keys.remote_public_key;
  st.last_write = self->clock().now();

  secret_stream::options so;
  // secret-stream filters zero-length messages whenever keep-alive is on.
  so.filter_zero_length = st.opts.keepalive.count() > 0;
  so.max_incoming_message = std::min(st.opts.max_message_bytes, secret_stream::max_message);
  st.ss = std::make_unique<secret_stream::stream>(p.handshake.keys, so);

  udx_stream_options uo;
  uo.local_id = p.local_id;
  uo.remote_id = p.remote_id;
  uo.passive = !p.remote.has_value();
  if (p.remote)
    uo.remote = *p.remote;
  else
    uo.remote.family = p.passive_family;
  uo.passive_timeout = st.opts.passive_timeout;
  uo.early = std::move(p.early);
  uo.backlog = st.backlog;
  uo.tuning = st.opts.udx_tuning;
  uo.tuning.idle_timeout = std::chrono::duration_cast<udx::duration>(st.opts.idle_timeout);
  uo.high_water = st.opts.udx_high_water;
  uo.handler_window = st.opts.udx_handler_window;
  st.stream = spawn_udx_stream(self->system(), p.socket, uo);
  self->monitor(st.stream);
  // The connection is its stream's handler.
  self->send(st.stream, attach_atom::value, udx_stream_handler_actor{self});

  // The header (and anything written later) goes out at once: the UDX
  // stream queues it until a passive stream learns the peer's address.
  flush(self);

  if (st.opts.keepalive.count() > 0)
    schedule_keepalive(self);
  if (st.opts.open_timeout.count() > 0)
    self->delayed_send(self, st.opts.open_timeout, tick_atom::value,
                       static_cast<int64_t>(open_timer));

  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.stream.address()) {
      if (!st.stream_done) {
        st.stream_done = true;
        queue_closed(self, {"ECONNABORTED", "the UDX stream actor exited: " + to_string(dm.reason)});
      }
    } else if (st.handler && dm.source == st.handler.address()) {
      // Our owner is gone: nobody will read or close us. Abort the stream
      // so the peer learns at once.
      if (!st.stream_done)
        self->send(st.stream, udx_destroy_atom::value);
      self->quit();
    }
  });

  return {
    [self](attach_atom, connection_handler_actor& handler) {
      auto& st = self->state;
      if (st.handler)
        return; // one owner for life
      st.handler = std::move(handler);
      self->monitor(st.handler);
      deliver(self);
    },
    [self](write_atom, bytes& data) -> caf::result<void> {
      auto& st = self->state;
      // Only a request gets a reply (its backpressure signal). A plain
      // send must get nothing back: CAF would return an empty message to
      // the sender for `unit`, so answer those as "delegated" (no reply).
      bool request = self->current_message_id().is_request();
      auto done = [request]() -> caf::result<void> {
        if (request)
          return caf::unit;
        return caf::delegated<void>{};
      };
      if (st.closed || st.ending)
        return done();
      if (data.size() > secret_stream::max_message) {
        queue_closed(self, {"EMSGSIZE", "a write of " + std::to_string(data.size())
                                          + " bytes is above secret-stream's maximum of "
                                          + std::to_string(secret_stream::max_message)});
        return done(); // (closed aborts the stream, as secret-stream destroys itself)
      }
      st.ss->write(data);
      st.last_write = self->clock().now();
      flush(self);
      if (!request || st.outstanding <= st.opts.high_water)
        return done();
      auto rp = self->make_response_promise();
      st.waiting_writes.push_back(rp);
      return rp;
    },
    [self](close_atom) {
      auto& st = self->state;
      if (st.closed || st.ending)
        return;
      end_stream(self);
      if (st.opts.close_timeout.count() > 0)
        self->delayed_send(self, st.opts.close_timeout, tick_atom::value,
                           static_cast<int64_t>(close_timer));
    },
    [self](pause_atom) {
      self->state.paused = true;
      update_flow(self);
    },
    [self](resume_atom) {
      self->state.paused = false;
      deliver(self);
    },
    // The UDX stream's events.
    [self](udx_data_atom, uint32_t, const bytes& data) {
      if (self->current_sender() == self->state.stream.address())
        on_data(self, data);
    },
    [self](udx_end_atom, uint32_t) {
      // The peer ended its side: no more messages. End ours too (a
      // finished connection); closed follows once the UDX stream closed.
      if (self->current_sender() == self->state.stream.address())
        end_stream(self);
    },
    [](udx_msg_atom, uint32_t, const bytes&) {
      // Unordered UDX datagrams are not part of a connection: dropped.
    },
    [self](closed_atom, uint32_t, const std::string& error) {
      auto& st = self->state;
      if (self->current_sender() != st.stream.address() || st.stream_done)
        return;
      st.stream_done = true;
      queue_closed(self, udx_close_reason(error));
    },
    [self](udx_register_atom) -> caf::result<bool> {
      return self->delegate(self->state.stream, udx_register_atom::value);
    },
    [self](udx_recv_atom, udx_datagrams& late) {
      auto& st = self->state;
      if (st.stream_done || late.empty())
        return;
      int64_t size = 0;
      for (auto& d : late)
        size += static_cast<int64_t>(d.data.size());
      st.backlog->bytes.fetch_add(size, std::memory_order_relaxed);
      self->send(st.stream, udx_recv_atom::value, std::move(late));
    },
    [self](udx_stats_atom) -> caf::result<udx_stream_info> {
      return self->delegate(self->state.stream, udx_stats_atom::value);
    },
    [self](tick_atom, int64_t kind) {
      auto& st = self->state;
      if (st.closed)
        return;
      switch (kind) {
        case keepalive_timer: {
          if (st.ending || st.opts.keepalive.count() <= 0)
            return;
          auto now = self->clock().now();
          if (now >= st.last_write + st.opts.keepalive) {
            st.ss->write_keepalive();
            st.last_write = now;
            flush(self);
          }
          schedule_keepalive(self);
          break;
        }
        case open_timer:
          if (!st.opened) {
            if (!st.stream_done)
              self->send(st.stream, udx_destroy_atom::value);
            queue_closed(self, {"ETIMEDOUT", "the peer's secret-stream header did not arrive in time"});
          }
          break;
        case close_timer:
          // The peer did not end its side in time: abort the stream. Our
          // close was asked for, so it still counts as a clean end. closed
          // waits for the stream's own report (a destroy it made is clean):
          // by then its DESTROY is on its way to the socket, so an owner
          // that stops the socket right after closed does not swallow it
          // (the peer would only notice by a timeout).
          if (!st.stream_done)
            self->send(st.stream, udx_destroy_atom::value);
          else
            queue_closed(self, {});
          break;
      }
    },
  };
}

} // namespace

secret_stream_connection_actor
spawn_secret_stream_connection(caf::actor_system& sys,
                               secret_stream_connection_params params) {
  return sys.spawn(connection_impl, std::move(params));
}

} // namespace ht
