#pragma once
// The client a host application embeds: the JS `Client.start(...)` of
// hypertrace-logger, as a handful of actors inside the host's actor system
// behind a small facade.
//
//   ht::client_options opts;
//   opts.create_socket = [&] { return ht::inprocess_connect(sys, net, me, server); };
//   opts.on_event = [](const ht::client_event& e) { /* open, close, ... */ };
//   auto client = ht::client::start(sys, std::move(opts));
//   ... tracers created from now on trace to the server ...
//   client.stop();
//
// Threading: every method may be called from any thread. trace() and
// add_trace() never block and never do I/O: they hand the trace to the
// client's actors through a lock-free queue. on_event is called on the
// client's actor thread (keep it short; exceptions are swallowed).
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/client/backoff.hpp"
#include "actors/client/js_json.hpp"
#include "actors/client/tracer.hpp"
#include "messages/client.hpp"
#include "messages/connection.hpp"

namespace ht {

struct client_options {
  /// Yields a new connection for each attempt (required). A factory that
  /// throws or yields an invalid handle counts as a failed attempt.
  std::function<connection_actor()> create_socket;
  /// Asked after a connection ends; false ends the client (close event).
  /// Called on the client's actor thread. Default: always reconnect.
  std::function<bool()> can_reconnect;
  /// Traces whose object's or parent's class has one of these names are
  /// dropped on the host thread.
  std::vector<std::string> ignore_class_names;
  /// Merged into every trace's props before the first connection.
  json initial_props = nullptr;
  /// Props computed asynchronously: called once at start with a callback
  /// the host calls (from any thread) with the props. The first connection
  /// waits for it, at most initial_props_timeout; traces are buffered
  /// meanwhile, and those made before the callback have the earlier props.
  std::function<void(std::function<void(json)>)> initial_props_async;
  std::chrono::milliseconds initial_props_timeout{10000};
  /// The memory budget for traces the client holds: the host-to-client
  /// queue (queue_bytes of it) plus the replay buffer (the rest, traces
  /// kept until a handshake confirms them; the oldest go first).
  size_t buffer_bytes = 64ull << 20;
  /// The queue's share of buffer_bytes (0: a quarter). A trace that finds
  /// the queue full is dropped but uses up its trace number, so the server
  /// notes the gap ("Skipped N messages!"); a `dropped` event reports it.
  size_t queue_bytes = 0;
  backoff_config backoff;
  std::chrono::milliseconds connect_timeout{30000};
  std::chrono::milliseconds handshake_timeout{10000};
  /// stop(): how long to try to deliver what is buffered.
  std::chrono::milliseconds stop_timeout{5000};
  /// Receives open, close, reconnect, connection-error and dropped.
  std::function<void(const client_event&)> on_event;
  /// Install the client as the global trace function (the JS client
  /// always does). Off: only add_trace() feeds it.
  bool install_trace_function = true;
};

/// A trace that does not come from a tracer (the JS addTrace({...})).
struct manual_trace {
  std::string id;                 // empty: null
  std::string class_name;         // object.className
  uint64_t object_id = 0;         // object.id
  json object_props = nullptr;    // object.props
  std::string parent_class_name;  // only for the ignore list
  std::string filename;           // caller.filename
  std::string function_name;      // caller.functionName
  std::optional<json> caller_props; // caller.props (left out when empty)
};

struct client_shared; // the state the facade, the trace function and the actors share

class client {
public:
  /// Starts the client in `sys`. Throws std::invalid_argument if
  /// create_socket is missing; nothing else throws.
  static client start(caf::actor_system& sys, client_options opts);

  client(client&&) noexcept;
  client& operator=(client&&) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  /// Stops the client if it still runs.
  ~client();

  /// addProps: merged into the props of every later trace.
  void add_props(json props) noexcept;
  /// addTrace for traces that do not come from a tracer.
  void add_trace(manual_trace t) noexcept;
  /// Stops tracing now (the trace function is removed), delivers what is
  /// buffered within stop_timeout, then closes (close event).
  void stop() noexcept;

  /// A connection is open (the JS isRunning()).
  bool is_running() const noexcept;
  /// The last connection-error event, if any.
  std::optional<client_event> last_connection_error() const;
  client_stats stats() const;
  const std::string& session_id() const noexcept;
  /// The root actor (a host may monitor it: it exits when the client ends).
  const client_actor& actor() const noexcept { return root_; }

private:
  client() = default;
  std::shared_ptr<client_shared> shared_;
  client_actor root_;
};

} // namespace ht
