#include "actors/client/client_core.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace ht {

const char* to_string(client_event_kind k) {
  switch (k) {
    case client_event_kind::open: return "open";
    case client_event_kind::close: return "close";
    case client_event_kind::reconnect: return "reconnect";
    case client_event_kind::connection_error: return "connection-error";
    case client_event_kind::dropped: return "dropped";
  }
  return "?";
}

client_core::client_core(client_core_config cfg, std::string session_id,
                         std::function<uint32_t(uint32_t)> uniform,
                         std::function<bool()> can_reconnect)
  : cfg_(cfg),
    session_id_(std::move(session_id)),
    can_reconnect_(std::move(can_reconnect)),
    backoff_(cfg.backoff, std::move(uniform)),
    buffer_(cfg.buffer_bytes) {
}

void client_core::start(time_point now) {
  if (state_ != state::idle)
    return;
  if (stopping_) {
    finish();
    return;
  }
  connect_now(now);
}

void client_core::connect_now(time_point now) {
  state_ = state::connecting;
  conn_id_.reset();
  ++connects_;
  deadline_ = now + cfg_.connect_timeout;
  actions_.push_back(action{action::connect, {}, {}});
}

void client_core::on_trace(uint64_t number, std::string line) {
  next_number_ = number + 1;
  if (state_ == state::streaming) {
    write_line(number, line);
    buffer_.push(number, std::move(line), true);
  } else {
    buffer_.push(number, std::move(line), false);
  }
}

void client_core::on_skipped(uint64_t first, uint64_t n) {
  if (n == 0)
    return;
  next_number_ = first + n;
  if (!skipped_.empty() && skipped_.back().second == first)
    skipped_.back().second = first + n;
  else
    skipped_.emplace_back(first, first + n);
  // Bounded: should ranges pile up over a long outage, forgetting the
  // oldest can only make a later `dropped` count them twice.
  if (skipped_.size() > 4096)
    skipped_.pop_front();
  emit(client_event{client_event_kind::dropped, {}, {}, n});
}

void client_core::write_line(uint64_t number, const std::string& line) {
  sent_until_ = std::max(sent_until_, number + 1);
  actions_.push_back(action{action::write, bytes(line.begin(), line.end()), {}});
}

bool client_core::adoptable(connection_id id) const {
  if (conn_id_)
    return false;
  if (state_ != state::connecting && state_ != state::closing)
    return false;
  return std::find(retired_.begin(), retired_.end(), id) == retired_.end();
}

void client_core::retire_connection() {
  if (conn_id_) {
    retired_.push_back(*conn_id_);
    if (retired_.size() > 16)
      retired_.pop_front();
  }
  conn_id_.reset();
}

void client_core::on_opened(connection_id id, time_point now) {
  if (!adoptable(id))
    return; // a late or duplicate event of a connection we left
  conn_id_ = id;
  if (state_ == state::closing)
    return; // we asked it to close before it opened; closed(...) follows
  state_ = state::handshaking;
  deadline_ = now + cfg_.handshake_timeout;
  emit(client_event{client_event_kind::open, {}, {}, 0});
}

void client_core::on_message(connection_id id, const bytes& data, time_point now) {
  if (state_ != state::handshaking || !owns(id))
    return; // the JS client reads only the first message too
  handle_handshake(data, now);
}

namespace {

// JS numbers are exact integers up to 2^53 - 1: a JS server cannot have
// seen a trace numbered above that.
constexpr double max_safe_integer = 9007199254740991.0;

} // namespace

// Reads the handshake; on a bad one returns why (and leaves `out` unset).
std::optional<std::string> client_core::read_handshake(const bytes& data,
                                                       handshake& out) const {
  auto hs = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
  if (hs.is_discarded())
    return std::string{"the server's handshake is not JSON"};
  if (!hs.is_object())
    return std::string{"the server's handshake is not a JSON object"};
  auto sid = hs.find("lastSeenTraceSessionId");
  auto num = hs.find("lastSeenTraceNumber");
  if (sid == hs.end())
    return std::string{"the server's handshake has no lastSeenTraceSessionId"};
  if (num == hs.end())
    return std::string{"the server's handshake has no lastSeenTraceNumber"};
  if (!sid->is_null() && !sid->is_string())
    return "the server's handshake has lastSeenTraceSessionId "
           + sid->dump().substr(0, 64) + ": not a string or null";
  out = handshake{};
  if (sid->is_string())
    out.same_session = sid->get_ref<const std::string&>() == session_id_;
  if (num->is_null())
    return std::nullopt;
  // An integer in [0, 2^53 - 1], as a JS server writes one; an integral
  // float (3.0) is the same JS number. Anything else would be cast blindly.
  // (Integers above 2^53 - 1 become doubles of at least 2^53 here.)
  double v = num->is_number() ? num->get<double>() : -1;
  if (!(v >= 0 && v <= max_safe_integer && v == std::floor(v)))
    return "the server's handshake has lastSeenTraceNumber "
           + num->dump().substr(0, 64) + ": not an integer in [0, 2^53-1]";
  auto last = static_cast<uint64_t>(v);
  // Only this session's number says what the server holds; another
  // session's number is not ours to check.
  if (out.same_session && last >= sent_until_)
    return "the server's handshake has lastSeenTraceNumber " + std::to_string(last)
           + " of this session, but this client sent "
           + (sent_until_ == 0 ? std::string{"none yet"}
                               : "up to " + std::to_string(sent_until_ - 1));
  out.last_seen = last;
  return std::nullopt;
}

void client_core::handle_handshake(const bytes& data, time_point now) {
  handshake hs;
  if (auto why = read_handshake(data, hs)) {
    // Nothing is confirmed by a handshake we cannot trust: every buffered
    // trace stays for the next connection.
    emit_error("EPROTO", *why);
    request_close(now);
    return;
  }
  uint64_t expected = 0; // the first trace the server has not seen
  if (hs.same_session && hs.last_seen) {
    buffer_.confirm_through(*hs.last_seen);
    expected = *hs.last_seen + 1;
  }
  // Traces the server expects but we no longer hold: the server will note
  // the gap ("Skipped N messages"); say how many went missing here.
  // Numbers skipped at the host queue were reported when they were skipped.
  uint64_t first = buffer_.first_number().value_or(next_number_);
  uint64_t from = std::max(expected, reported_lost_until_);
  if (first > from) {
    uint64_t lost = first - from;
    for (auto& [b, e] : skipped_)
      if (b < first && e > from)
        lost -= std::min(e, first) - std::max(b, from);
    if (lost > 0)
      emit(client_event{client_event_kind::dropped, {}, {}, lost});
  }
  reported_lost_until_ = std::max(reported_lost_until_, first);
  while (!skipped_.empty() && skipped_.front().second <= reported_lost_until_)
    skipped_.pop_front();
  for (auto& e : buffer_.entries()) {
    write_line(e.number, e.line);
    e.written = true;
  }
  state_ = state::streaming;
  deadline_.reset();
  backoff_.reset();
  if (stopping_)
    request_close(now);
}

void client_core::on_closed(connection_id id, const std::string& code,
                            const std::string& text, time_point now) {
  if (!owns(id) && !adoptable(id))
    return;
  conn_id_ = id;
  connection_ended(code, text, now);
}

void client_core::on_connection_down(const std::string& reason, time_point now) {
  if (state_ != state::connecting && state_ != state::handshaking
      && state_ != state::streaming && state_ != state::closing)
    return;
  connection_ended("ECONNRESET", "connection actor exited: " + reason, now);
}

void client_core::on_connect_failed(const std::string& code,
                                    const std::string& text, time_point now) {
  if (state_ != state::connecting)
    return;
  connection_ended(code.empty() ? "ECREATE" : code, text, now);
}

void client_core::on_restart(const std::string& reason, time_point now) {
  if (state_ == state::finished)
    return;
  // The old worker's connection went with it (the transport sees its owner
  // exit). Whatever it wrote is unconfirmed; the next handshake sorts it.
  retire_connection();
  state_ = state::connecting; // so connection_ended takes the usual path
  connection_ended("ECLIENTCRASH", "client worker crashed: " + reason, now);
}

void client_core::connection_ended(const std::string& code,
                                   const std::string& text, time_point now) {
  retire_connection();
  deadline_.reset();
  if (!code.empty())
    emit_error(code, text);
  if (stopping_ && (buffer_.unwritten() == 0 || (stop_deadline_ && now >= *stop_deadline_))) {
    finish();
    return;
  }
  bool again = false;
  try {
    again = !can_reconnect_ || can_reconnect_();
  } catch (...) {
    again = false; // a throwing predicate is a no
  }
  if (!again) {
    finish();
    return;
  }
  emit(client_event{client_event_kind::reconnect, {}, {}, 0});
  state_ = state::waiting;
  deadline_ = now + backoff_.next();
}

void client_core::request_close(time_point now) {
  state_ = state::closing;
  deadline_ = now + cfg_.close_timeout;
  actions_.push_back(action{action::close, {}, {}});
}

void client_core::on_timeout(time_point now) {
  if (state_ == state::finished)
    return;
  if (stopping_ && stop_deadline_ && now >= *stop_deadline_) {
    // The flush deadline passed: give up on whatever is in progress.
    if (state_ != state::waiting && state_ != state::idle)
      actions_.push_back(action{action::abort, {}, {}});
    retire_connection();
    finish();
    return;
  }
  if (!deadline_ || now < *deadline_)
    return;
  deadline_.reset();
  switch (state_) {
    case state::connecting:
      actions_.push_back(action{action::abort, {}, {}});
      connection_ended("ETIMEDOUT", "the connection did not open in time", now);
      break;
    case state::handshaking:
      emit_error("ETIMEDOUT", "no handshake from the server in time");
      request_close(now);
      break;
    case state::closing:
      actions_.push_back(action{action::abort, {}, {}});
      connection_ended("", "", now);
      break;
    case state::waiting:
      connect_now(now);
      break;
    default:
      break;
  }
}

void client_core::stop(time_point now) {
  if (stopping_ || state_ == state::finished)
    return;
  stopping_ = true;
  stop_deadline_ = now + cfg_.stop_timeout;
  switch (state_) {
    case state::idle:
      finish();
      break;
    case state::streaming:
      request_close(now);
      break;
    case state::waiting:
      if (buffer_.unwritten() == 0) {
        finish();
      } else {
        connect_now(now);
      }
      break;
    default:
      break; // connecting/handshaking/closing: the flush follows
  }
}

void client_core::finish() {
  if (state_ == state::finished)
    return;
  if (auto n = buffer_.unwritten())
    emit(client_event{client_event_kind::dropped, {}, {}, n});
  state_ = state::finished;
  deadline_.reset();
  stop_deadline_.reset();
  emit(client_event{client_event_kind::close, {}, {}, 0});
  actions_.push_back(action{action::finished, {}, {}});
}

void client_core::emit_error(std::string code, std::string message) {
  emit(client_event{client_event_kind::connection_error, std::move(code),
                    std::move(message), 0});
}

bool client_core::poll(action& out) {
  if (actions_.empty())
    return false;
  out = std::move(actions_.front());
  actions_.pop_front();
  return true;
}

std::optional<client_core::time_point> client_core::next_timeout() const {
  if (state_ == state::finished)
    return std::nullopt;
  std::optional<time_point> t = deadline_;
  if (stopping_ && stop_deadline_ && (!t || *stop_deadline_ < *t))
    t = stop_deadline_;
  return t;
}

} // namespace ht
