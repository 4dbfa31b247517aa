// The worker: owns the connection and runs client_core. It drains the host
// queue, encodes traces (trace_encoder), feeds the core, and carries out
// what the core asks (connect, write, close, events), then sets its timer.
#include <caf/all.hpp>

#include "actors/client/client_shared.hpp"

namespace ht {

namespace {

constexpr size_t drain_batch = 1024;

struct worker_state {
  std::shared_ptr<client_shared> shared;
  connection_actor conn;
  std::optional<client_core::time_point> timer; // earliest timeout scheduled
  static inline const char* name = "ht.client.worker";
};

using worker_pointer = client_worker_actor::stateful_pointer<worker_state>;

void publish_stats(worker_pointer self) {
  auto& sh = *self->state.shared;
  auto& core = *sh.core;
  auto& buf = core.buffer();
  sh.connected.store(core.connected(), std::memory_order_release);
  std::lock_guard<std::mutex> guard{sh.mtx};
  auto& s = sh.stats;
  s.connected = core.connected();
  s.traces = sh.encoder->next_number();
  s.buffered_traces = buf.entries().size();
  s.buffered_bytes = buf.bytes();
  s.unwritten_traces = buf.unwritten();
  s.dropped_unwritten = buf.dropped_unwritten();
  s.evicted_written = buf.evicted_written();
  s.dropped_queue = sh.ingress->dropped();
  s.encode_errors = sh.encoder->errors();
  s.connects = core.connects();
}

void connect(worker_pointer self, client_core::time_point now) {
  auto& sh = *self->state.shared;
  std::string why;
  try {
    self->state.conn = sh.opts.create_socket();
    if (!self->state.conn)
      why = "create_socket returned no connection";
  } catch (const std::exception& e) {
    why = std::string{"create_socket threw: "} + e.what();
  } catch (...) {
    why = "create_socket threw";
  }
  if (!why.empty()) {
    self->state.conn = nullptr;
    sh.core->on_connect_failed("ECREATE", why, now);
    return;
  }
  // A connection actor that dies without reporting closed (killed, a bug)
  // must not leave the client waiting forever.
  self->monitor(self->state.conn);
  self->send(self->state.conn, attach_atom::value,
             caf::actor_cast<connection_handler_actor>(self));
}

// Carries out every action the core has, then arms the timer.
void process(worker_pointer self) {
  auto& sh = *self->state.shared;
  auto& core = *sh.core;
  auto now = self->clock().now();
  client_core::action a;
  while (core.poll(a)) {
    switch (a.kind) {
      case client_core::action::connect:
        connect(self, now);
        break;
      case client_core::action::write:
        if (self->state.conn)
          self->send(self->state.conn, write_atom::value, std::move(a.data));
        break;
      case client_core::action::close:
        if (self->state.conn)
          self->send(self->state.conn, close_atom::value);
        break;
      case client_core::action::abort:
        if (self->state.conn)
          self->send_exit(self->state.conn, caf::exit_reason::kill);
        self->state.conn = nullptr;
        break;
      case client_core::action::emit:
        sh.deliver(a.event);
        break;
      case client_core::action::finished:
        publish_stats(self);
        self->quit();
        return;
    }
  }
  publish_stats(self);
  if (auto t = core.next_timeout()) {
    auto& armed = self->state.timer;
    if (!armed || *t < *armed) {
      armed = *t;
      auto delay = *t > now ? *t - now : caf::timespan{0};
      self->delayed_send(self, delay, timeout_atom::value);
    }
  }
}

// Moves up to `max` records from the host queue into the core, then gives
// the traces the queue dropped their numbers.
size_t drain(worker_pointer self, size_t max) {
  auto& sh = *self->state.shared;
  auto n = sh.ingress->drain(
    [&](std::unique_ptr<trace_record> r) {
      if (r->what == trace_record::kind::add_props) {
        sh.encoder->add_props(r->props);
        return;
      }
      auto number = sh.encoder->next_number();
      if (auto line = sh.encoder->encode(*r))
        sh.core->on_trace(number, std::move(*line));
    },
    max);
  // Taken after the batch: a drop happens while the queue is full, so the
  // traces queued before it are numbered first (across host threads the
  // order is not defined anyway). The count is exact either way.
  if (auto skipped = sh.ingress->take_skipped())
    sh.core->on_skipped(sh.encoder->skip(skipped), skipped);
  return n;
}

client_worker_actor::behavior_type worker_impl(worker_pointer self,
                                               std::shared_ptr<client_shared> shared,
                                               std::string restart_reason) {
  self->state.shared = std::move(shared);
  // The worker lives as long as its root: a root killed by the host ends
  // it too (the root only monitors the worker, so a worker crash cannot
  // take the root down).
  if (auto root = caf::actor_cast<caf::actor>(self->state.shared->intake->root))
    self->monitor(root);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.shared->intake->root) {
      self->quit(dm.reason);
    } else if (st.conn && dm.source == st.conn.address()) {
      // Events it sent before exiting were handled first (same sender).
      st.conn = nullptr;
      st.shared->core->on_connection_down(to_string(dm.reason), self->clock().now());
      process(self);
    }
  });
  if (!restart_reason.empty()) {
    self->state.shared->core->on_restart(restart_reason, self->clock().now());
    process(self);
  }
  return {
    [self](opened_atom, connection_id id, const public_key&) {
      self->state.shared->core->on_opened(id, self->clock().now());
      process(self);
    },
    [self](message_atom, connection_id id, const bytes& data) {
      self->state.shared->core->on_message(id, data, self->clock().now());
      process(self);
    },
    [self](closed_atom, connection_id id, const std::string& code,
           const std::string& text) {
      self->state.shared->core->on_closed(id, code, text, self->clock().now());
      process(self);
    },
    [self](drain_atom) {
      // Bounded batches keep connection events flowing under a trace flood.
      if (drain(self, drain_batch) == drain_batch)
        self->send(self, drain_atom::value);
      process(self);
    },
    [self](start_atom) {
      self->state.shared->core->start(self->clock().now());
      process(self);
    },
    [self](stop_atom) {
      // Everything traced before stop() goes into the flush.
      while (drain(self, drain_batch) > 0)
        ;
      self->state.shared->core->stop(self->clock().now());
      process(self);
    },
    [self](timeout_atom) {
      auto now = self->clock().now();
      if (self->state.timer && *self->state.timer <= now)
        self->state.timer.reset();
      self->state.shared->core->on_timeout(now);
      process(self);
    },
  };
}

} // namespace

client_worker_actor spawn_client_worker(caf::actor_system& sys,
                                        std::shared_ptr<client_shared> shared,
                                        std::string restart_reason) {
  return sys.spawn(worker_impl, std::move(shared), std::move(restart_reason));
}

} // namespace ht
