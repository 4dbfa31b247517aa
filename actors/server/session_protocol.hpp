#pragma once
// The server side of the hypertrace-logger session protocol, as the JS
// server 1.1.1 speaks it, with no I/O: fed each message of a connection and
// the receive time, it yields the lines for the client's log file.
//
//   server -> client  {"lastSeenTraceSessionId":..,"lastSeenTraceNumber":..}
//   client -> server  one JSON trace per message
//
// Per client key the server remembers the last trace it wrote. A new
// traceSessionId writes a "New session" note, a gap a "Skipped N messages!"
// note, and a trace of the same session at or below the last number is a
// replay: dropped (the JS server would write it twice).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/store.hpp" // last_seen_trace

namespace ht {

struct session_limits {
  /// Messages above this size are rejected (note line, not parsed).
  size_t max_message_bytes = 1u << 20;
  /// After this many malformed messages in a row the connection is closed.
  uint32_t max_bad_messages_in_row = 100;
  /// Longer traceSessionId values are malformed (they end up in notes).
  size_t max_session_id_bytes = 256;
  /// Longer usernames/aliases are cut to this many characters.
  size_t max_user_name_chars = 64;
};

class session_protocol {
public:
  /// `client_hex` is the 64-hex public key of the client, `connection_no`
  /// the server-wide connection counter behind the "User-<n>" fallback.
  session_protocol(std::string client_hex, uint64_t connection_no,
                   last_seen_trace last_seen, session_limits limits = {});

  /// The first message the server sends on a connection.
  std::string handshake() const;

  /// Handles one message received at `now_iso` (see iso8601_ms), appending
  /// the log lines it produces (notes, then the trace line) to `out`.
  void on_message(std::string_view message, const std::string& now_iso,
                  std::vector<std::string>& out);

  /// The line for a transport error ("Socket error. code=.. message=..").
  std::string socket_error_line(const std::string& code,
                                const std::string& message,
                                const std::string& now_iso) const;

  /// A note line with the given text.
  static std::string note_line(std::string_view note, const std::string& now_iso);

  /// True once the peer exceeded a limit; the session closes the connection.
  bool should_close() const { return close_reason_.has_value(); }
  const std::optional<std::string>& close_reason() const { return close_reason_; }

  const last_seen_trace& last_seen() const { return last_seen_; }
  const std::string& client_hex() const { return client_hex_; }

  uint64_t traces_written() const { return traces_written_; }
  uint64_t replays_dropped() const { return replays_dropped_; }
  uint64_t bad_messages() const { return bad_messages_; }

private:
  void reject(std::string reason, const std::string& now_iso,
              std::vector<std::string>& out);
  void note_once(const std::string& reason, const std::string& now_iso,
                 std::vector<std::string>& out);

  std::string client_hex_;
  std::string generated_user_id_;
  last_seen_trace last_seen_;
  session_limits limits_;
  std::optional<std::string> close_reason_;
  std::vector<std::string> noted_; // user-name notes already written
  // The last name's userId as a JSON string (see on_message).
  bool user_id_cached_ = false;
  std::string cached_name_;
  std::string cached_user_id_json_;
  bool cached_name_changed_ = false;
  uint32_t bad_in_row_ = 0;
  uint64_t traces_written_ = 0;
  uint64_t replays_dropped_ = 0;
  uint64_t bad_messages_ = 0;
};

/// userId as the JS server builds it: the name with non-ASCII characters
/// removed and spaces turned into '_', then "___" and the first 8 hex of the
/// client key. We also drop ASCII control characters and cut the name to
/// `max_chars`; `changed` tells whether anything beyond the JS rules applied
/// or non-ASCII characters were removed.
std::string make_user_id(std::string_view name, std::string_view client_hex,
                         size_t max_chars, bool* changed = nullptr);

} // namespace ht
