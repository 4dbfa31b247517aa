#pragma once
// Turns trace records into the JSON lines the JS client sends, in its key
// order: traceTimestamp, traceSessionId, traceNumber, id, props,
// object {id, className, props}, caller {filename, functionName, props}.
// Owns what the JS client keeps per start: the session id, the trace
// counter and the props merged by addProps. Runs on the client actor only.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "actors/client/trace_record.hpp"

namespace ht {

/// A fresh traceSessionId: 18 random decimal digits from libsodium (the JS
/// client uses the digits of Math.random(); both are strings of digits).
std::string make_trace_session_id();

/// "2026-11-24T07:02:06.123Z", as JavaScript's Date#toISOString.
std::string iso8601_ms(std::chrono::system_clock::time_point t);

class trace_encoder {
public:
  explicit trace_encoder(std::string session_id);

  const std::string& session_id() const noexcept { return session_id_; }
  /// The traceNumber the next encoded trace gets.
  uint64_t next_number() const noexcept { return next_number_; }
  /// Traces dropped because they could not be serialized.
  uint64_t errors() const noexcept { return errors_; }
  const std::string& last_error() const noexcept { return last_error_; }
  /// The merged client props (null until the first add_props).
  const json& props() const noexcept { return props_; }

  /// addProps: a shallow merge, later keys win, first position kept. Null
  /// counts as {} (JS spreads it to nothing); other non-objects and props
  /// that cannot be serialized are rejected (false, counted as an error).
  bool add_props(const json& p);

  /// Uses up `n` trace numbers for traces dropped before encoding (the
  /// server notes the gap); returns the first of them.
  uint64_t skip(uint64_t n) noexcept {
    auto first = next_number_;
    next_number_ += n;
    return first;
  }

  /// Encodes one trace record with the next traceNumber. On failure the
  /// record is dropped, counted, and no number is used up.
  std::optional<std::string> encode(const trace_record& r);

private:
  std::string session_id_;
  uint64_t next_number_ = 0;
  uint64_t errors_ = 0;
  std::string last_error_;
  json props_;                       // null until add_props
  std::string props_text_ = "null";  // props_ serialized once per change
};

} // namespace ht
