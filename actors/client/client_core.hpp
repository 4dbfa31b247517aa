#pragma once
// The client's protocol logic, sans I/O: fed connection events, encoded
// traces and the time; polled for actions (connect, write, close, events)
// and for when to wake up. The worker actor is a thin shell around it.
//
// Protocol (hypertrace-logger server.js): on each connection the server
// first sends {"lastSeenTraceSessionId":..,"lastSeenTraceNumber":..}; the
// client then sends one JSON trace per message. The client replays what
// the server has not seen: for the same session the traces numbered above
// lastSeenTraceNumber, for another session everything it still holds.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "actors/client/backoff.hpp"
#include "actors/client/trace_buffer.hpp"
#include "messages/bytes.hpp"
#include "messages/client.hpp"
#include "messages/connection.hpp"

namespace ht {

struct client_core_config {
  size_t buffer_bytes = 64ull << 20;
  backoff_config backoff;
  std::chrono::milliseconds connect_timeout{30000};   // until opened
  std::chrono::milliseconds handshake_timeout{10000}; // opened -> handshake
  std::chrono::milliseconds stop_timeout{5000};  // stop(): flush deadline
  std::chrono::milliseconds close_timeout{5000}; // wait for closed(...)
};

class client_core {
public:
  using time_point = std::chrono::steady_clock::time_point;

  struct action {
    enum kind_t {
      connect,  // create a connection (create_socket) and attach to it
      write,    // write `data` on the current connection
      close,    // close the current connection
      abort,    // the current connection does not close: kill it
      emit,     // report `event` to the host
      finished, // the client is done: stop everything
    };
    kind_t kind;
    bytes data;
    client_event event;
  };

  enum class state {
    idle,        // not started (waiting for the initial props)
    connecting,  // asked for a connection, waiting for opened
    handshaking, // opened, waiting for the server's handshake
    streaming,   // handshake done: traces go out as they come
    closing,     // we closed the connection, waiting for closed
    waiting,     // backoff before the next attempt
    finished,
  };

  client_core(client_core_config cfg, std::string session_id,
              std::function<uint32_t(uint32_t)> uniform,
              std::function<bool()> can_reconnect);

  // --- inputs ---------------------------------------------------------------
  void start(time_point now);
  void on_trace(uint64_t number, std::string line);
  /// Traces `first`..`first + n - 1` were dropped before encoding (the host
  /// queue was full): reported as `dropped`; the server will note the gap.
  void on_skipped(uint64_t first, uint64_t n);
  void on_opened(connection_id id, time_point now);
  void on_message(connection_id id, const bytes& data, time_point now);
  void on_closed(connection_id id, const std::string& code,
                 const std::string& text, time_point now);
  /// create_socket failed before giving a connection.
  void on_connect_failed(const std::string& code, const std::string& text,
                         time_point now);
  /// The worker crashed and was restarted: whatever connection it had is
  /// gone; report it and reconnect after a backoff.
  void on_restart(const std::string& reason, time_point now);
  /// The current connection's actor exited without reporting closed.
  void on_connection_down(const std::string& reason, time_point now);
  void on_timeout(time_point now);
  void stop(time_point now);

  // --- outputs --------------------------------------------------------------
  bool poll(action& out);
  std::optional<time_point> next_timeout() const;

  state current_state() const { return state_; }
  bool connected() const {
    return state_ == state::handshaking || state_ == state::streaming;
  }
  bool stopping() const { return stopping_; }
  const trace_buffer& buffer() const { return buffer_; }
  uint64_t connects() const { return connects_; }
  uint32_t backoff_attempts() const { return backoff_.attempts(); }

private:
  void connect_now(time_point now);
  struct handshake {
    bool same_session = false;
    std::optional<uint64_t> last_seen; // this session's last number seen
  };
  std::optional<std::string> read_handshake(const bytes& data,
                                            handshake& out) const;
  void handle_handshake(const bytes& data, time_point now);
  void connection_ended(const std::string& code, const std::string& text,
                        time_point now);
  void request_close(time_point now);
  void finish();
  void emit(client_event ev) { actions_.push_back(action{action::emit, {}, std::move(ev)}); }
  void emit_error(std::string code, std::string message);
  void write_line(uint64_t number, const std::string& line);
  bool owns(connection_id id) const { return conn_id_ && *conn_id_ == id; }
  bool adoptable(connection_id id) const;
  void retire_connection();

  client_core_config cfg_;
  std::string session_id_;
  std::function<bool()> can_reconnect_;
  backoff backoff_;
  trace_buffer buffer_;
  std::deque<action> actions_;
  state state_ = state::idle;
  std::optional<connection_id> conn_id_; // learned from the first event
  bool stopping_ = false;
  std::optional<time_point> deadline_;   // state timer (handshake/close/retry)
  std::optional<time_point> stop_deadline_;
  uint64_t connects_ = 0;
  uint64_t next_number_ = 0;             // one past the last trace seen
  uint64_t reported_lost_until_ = 0;     // traces below this were reported
  uint64_t sent_until_ = 0;              // one past the highest number written
  std::deque<connection_id> retired_;    // ids of connections we gave up
  // Numbers on_skipped reported, [begin, end), not yet below
  // reported_lost_until_: a handshake must not report them again.
  std::deque<std::pair<uint64_t, uint64_t>> skipped_;
};

} // namespace ht
