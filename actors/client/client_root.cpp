// The client's root: the supervisor. It owns nothing that can fail; it
// watches the worker, and when the worker dies abnormally (a bug, an
// exception that escaped a handler) it starts a new one on the same shared
// state, so no buffered trace is lost; the new worker reports the crash as
// a connection-error and reconnects after a backoff. Too many crashes in a
// short time end the client (close) instead of looping.
#include <deque>

#include <caf/all.hpp>

#include "actors/client/client_shared.hpp"

namespace ht {

namespace {

constexpr size_t max_crashes = 5;
constexpr auto crash_window = std::chrono::seconds(60);

struct root_state {
  std::shared_ptr<client_shared> shared;
  client_worker_actor worker;
  bool started = false;
  bool stopping = false;
  std::deque<caf::actor_clock::time_point> crashes;
  static inline const char* name = "ht.client.root";
};

using root_pointer = client_actor::stateful_pointer<root_state>;

void finish(root_pointer self) {
  auto& sh = *self->state.shared;
  clear_trace_function(sh.intake->trace_fn_token.load());
  sh.ingress->close();
  sh.connected.store(false, std::memory_order_release);
  self->quit();
}

void spawn_worker(root_pointer self, std::string restart_reason) {
  auto& st = self->state;
  st.worker = spawn_client_worker(self->system(), st.shared, std::move(restart_reason));
  // Monitored, not linked: a worker killed with exit_reason::kill must not
  // take the root with it. (The worker monitors the root in turn and ends
  // when the root does.)
  self->monitor(st.worker);
  if (st.started && st.shared->core->current_state() == client_core::state::idle)
    self->send(st.worker, start_atom::value);
  if (st.stopping)
    self->send(st.worker, stop_atom::value);
  // Records may have arrived while no worker was there to be woken.
  self->send(st.worker, drain_atom::value);
}

client_actor::behavior_type root_impl(root_pointer self,
                                      std::shared_ptr<client_shared> shared) {
  self->state.shared = std::move(shared);
  // However the root ends (finished, or killed by the host), tracing into
  // this client stops.
  auto intake = self->state.shared->intake;
  self->attach_functor([intake](const caf::error&) {
    clear_trace_function(intake->trace_fn_token.load());
    intake->ingress->close();
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source != st.worker.address())
      return;
    st.worker = nullptr;
    if (!dm.reason) {
      finish(self); // the worker finished: stopped or no reconnect
      return;
    }
    auto now = self->clock().now();
    st.crashes.push_back(now);
    while (!st.crashes.empty() && now - st.crashes.front() > crash_window)
      st.crashes.pop_front();
    {
      std::lock_guard<std::mutex> guard{st.shared->mtx};
      ++st.shared->stats.restarts;
    }
    auto reason = to_string(dm.reason);
    if (st.crashes.size() > max_crashes) {
      st.shared->deliver(client_event{client_event_kind::connection_error,
                                      "ECLIENTCRASH",
                                      "client worker keeps crashing, giving up: "
                                        + reason,
                                      0});
      st.shared->deliver(client_event{client_event_kind::close, {}, {}, 0});
      finish(self);
      return;
    }
    spawn_worker(self, reason);
  });
  spawn_worker(self, {});
  return {
    [self](drain_atom) {
      if (self->state.worker)
        self->send(self->state.worker, drain_atom::value);
    },
    [self](ready_atom) {
      auto& st = self->state;
      if (st.started)
        return; // the props came after the timeout, or the timeout after them
      st.started = true;
      if (st.worker)
        self->send(st.worker, start_atom::value);
    },
    [self](stop_atom) {
      auto& st = self->state;
      if (st.stopping)
        return;
      st.stopping = true;
      if (st.worker)
        self->send(st.worker, stop_atom::value);
    },
    [self](stats_atom) {
      std::lock_guard<std::mutex> guard{self->state.shared->mtx};
      return self->state.shared->stats;
    },
    [self](worker_atom) { return self->state.worker; },
  };
}

} // namespace

client_actor spawn_client_root(caf::actor_system& sys,
                               std::shared_ptr<client_shared> shared) {
  // Lazy: the root initializes (and spawns its worker, which reads
  // intake->root) only on its first message, which the facade sends after
  // it has set intake->root.
  return sys.spawn<caf::lazy_init>(root_impl, std::move(shared));
}

} // namespace ht
