#pragma once
// What the facade (host threads), the trace function (host threads) and
// the client's actors share. The encoder and the core belong to whichever
// worker is alive; the root touches them only after that worker is gone,
// so they survive a worker crash with every buffered trace.
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include <caf/actor_addr.hpp>

#include "actors/client/client.hpp"
#include "actors/client/client_core.hpp"
#include "actors/client/trace_encoder.hpp"
#include "actors/client/trace_ingress.hpp"

namespace ht {

/// The host-side part the trace function holds. Kept apart because host
/// threads may cache the trace function (and so this) after the client is
/// gone: it must stay small and must not keep the replay buffer alive.
struct client_intake {
  std::vector<std::string> ignore_class_names;
  caf::actor_addr root; // set before any push can happen
  std::unique_ptr<trace_ingress> ingress;
  std::atomic<uint64_t> trace_fn_token{0}; // 0: not installed

  bool ignored(std::string_view class_name) const {
    for (auto& n : ignore_class_names)
      if (n == class_name)
        return true;
    return false;
  }
};

struct client_shared {
  client_options opts;
  std::string session_id;
  std::shared_ptr<client_intake> intake;
  trace_ingress* ingress = nullptr;       // intake->ingress
  std::unique_ptr<trace_encoder> encoder; // worker only
  std::unique_ptr<client_core> core;      // worker only

  std::atomic<bool> connected{false};
  mutable std::mutex mtx; // guards the two below
  client_stats stats;
  std::optional<client_event> last_error;

  /// Calls the host's on_event; a throwing callback is the host's bug and
  /// must not take the client down.
  void deliver(const client_event& ev) {
    if (ev.kind == client_event_kind::connection_error) {
      std::lock_guard<std::mutex> guard{mtx};
      last_error = ev;
    }
    if (opts.on_event) {
      try {
        opts.on_event(ev);
      } catch (...) {
      }
    }
  }
};

/// Spawns the root (which spawns the worker).
client_actor spawn_client_root(caf::actor_system& sys,
                               std::shared_ptr<client_shared> shared);

/// Spawns a worker; `restart_reason` non-empty when it replaces a crashed one.
client_worker_actor spawn_client_worker(caf::actor_system& sys,
                                        std::shared_ptr<client_shared> shared,
                                        std::string restart_reason);

} // namespace ht
