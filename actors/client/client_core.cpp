#include "actors/client/client_core.hpp"

#include <algorithm>

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
    write_line(line);
    buffer_.push(number, std::move(line), true);
  } else {
    buffer_.push(number, std::move(line), false);
  }
}

void client_core::write_line(const std::string& line) {
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

void client_core::handle_handshake(const bytes& data, time_point now) {
  auto hs = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
  auto sid = hs.is_object() ? hs.find("lastSeenTraceSessionId") : hs.end();
  auto num = hs.is_object() ? hs.find("lastSeenTraceNumber") : hs.end();
  if (!hs.is_object() || sid == hs.end() || num == hs.end()
      || !(sid->is_null() || sid->is_string())
      || !(num->is_null() || num->is_number())) {
    emit_error("EPROTO", "the server's handshake is not "
                         "{lastSeenTraceSessionId, lastSeenTraceNumber}");
    request_close(now);
    return;
  }
  bool same_session = sid->is_string() && sid->get<std::string>() == session_id_;
  uint64_t expected = 0; // the first trace the server has not seen
  if (same_session && num->is_number()) {
    double last = num->get<double>();
    if (last >= 0) {
      auto l = static_cast<uint64_t>(last);
      buffer_.confirm_through(l);
      expected = l + 1;
    }
  }
  // Traces the server expects but we no longer hold: the server will note
  // the gap ("Skipped N messages"); say how many went missing here.
  uint64_t first = buffer_.first_number().value_or(next_number_);
  uint64_t from = std::max(expected, reported_lost_until_);
  if (first > from)
    emit(client_event{client_event_kind::dropped, {}, {}, first - from});
  reported_lost_until_ = std::max(reported_lost_until_, first);
  for (auto& e : buffer_.entries()) {
    write_line(e.line);
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
