#include "actors/server/session_protocol.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "actors/server/trace_scanner.hpp"

namespace ht {

namespace {

using ordered_json = nlohmann::ordered_json;

// Appends `s` as a JSON string, exactly as nlohmann's dump writes it.
void append_json_string(std::string& out, std::string_view s) {
  // The common case, printable ASCII (every userId), needs no library: only
  // '"' and '\\' are escaped then.
  bool printable = true;
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f)
      printable = false;
  if (!printable) {
    // Our own strings and already-validated client strings only; replace
    // any invalid UTF-8 rather than throw, so a note can always be written.
    out += ordered_json(std::string(s))
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
}

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string truncate_reason(std::string s) {
  constexpr size_t max = 200;
  if (s.size() > max) {
    s.resize(max);
    s += "...";
  }
  return s;
}

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool has_line_break(std::string_view s) {
  // memchr is vectorized; a byte loop over every message showed in profiles.
  return std::memchr(s.data(), '\n', s.size()) != nullptr
         || std::memchr(s.data(), '\r', s.size()) != nullptr;
}

} // namespace

std::string make_user_id(std::string_view name, std::string_view client_hex,
                         size_t max_chars, bool* changed) {
  std::string out;
  out.reserve(name.size() + 11);
  bool altered = false;
  size_t kept = 0;
  for (unsigned char c : name) {
    if (c >= 0x80 || c < 0x20 || c == 0x7f) {
      altered = true; // non-ASCII (JS removes it too) or a control character
      continue;
    }
    if (kept == max_chars) {
      altered = true;
      break;
    }
    out.push_back(c == ' ' ? '_' : static_cast<char>(c));
    ++kept;
  }
  if (changed)
    *changed = altered;
  out += "___";
  out.append(client_hex.substr(0, 8));
  return out;
}

session_protocol::session_protocol(std::string client_hex, uint64_t connection_no,
                                   last_seen_trace last_seen,
                                   session_limits limits)
  : client_hex_(std::move(client_hex)),
    generated_user_id_("User-" + std::to_string(connection_no)),
    last_seen_(std::move(last_seen)),
    limits_(limits) {
}

std::string session_protocol::handshake() const {
  std::string out = "{\"lastSeenTraceSessionId\":";
  out += last_seen_.found ? json_string(last_seen_.session_id) : "null";
  out += ",\"lastSeenTraceNumber\":";
  out += last_seen_.found ? std::to_string(last_seen_.trace_number) : "null";
  out += '}';
  return out;
}

std::string session_protocol::note_line(std::string_view note,
                                        const std::string& now_iso) {
  std::string out = "{\"time\":\"";
  out += now_iso;
  out += "\",\"note\":";
  out += json_string(note);
  out += '}';
  return out;
}

std::string session_protocol::socket_error_line(const std::string& code,
                                                const std::string& message,
                                                const std::string& now_iso) const {
  return note_line("Socket error. code=" + code + " message=" + message, now_iso);
}

void session_protocol::reject(std::string reason, const std::string& now_iso,
                              std::vector<std::string>& out) {
  ++bad_messages_;
  out.push_back(note_line("Malformed message: " + truncate_reason(std::move(reason)),
                          now_iso));
  if (++bad_in_row_ >= limits_.max_bad_messages_in_row && !close_reason_) {
    close_reason_ = std::to_string(bad_in_row_)
                    + " malformed messages in a row; closing the connection";
    out.push_back(note_line(*close_reason_, now_iso));
  }
}

void session_protocol::note_once(const std::string& reason,
                                 const std::string& now_iso,
                                 std::vector<std::string>& out) {
  for (auto& r : noted_)
    if (r == reason)
      return;
  noted_.push_back(reason);
  out.push_back(note_line(reason, now_iso));
}

void session_protocol::on_message(std::string_view message,
                                  const std::string& now_iso,
                                  std::vector<std::string>& out) {
  if (message.size() > limits_.max_message_bytes) {
    reject("message of " + std::to_string(message.size())
             + " bytes exceeds the limit of "
             + std::to_string(limits_.max_message_bytes) + " bytes",
           now_iso, out);
    return;
  }
  // JSON text never holds a raw NUL (not even inside strings), but
  // nlohmann's parser, and so our scanner, stop at one as if the input
  // ended there: the bytes after it would be spliced into the line unread.
  if (std::memchr(message.data(), '\0', message.size()) != nullptr) {
    reject("not JSON (a NUL byte at position "
             + std::to_string(static_cast<const char*>(std::memchr(
                                message.data(), '\0', message.size()))
                              - message.data())
             + ")",
           now_iso, out);
    return;
  }
  trace_fields fast;
  trace_fields slow;
  const trace_fields* found = &fast;
  if (!scan_trace(message, fast)) {
    // Rare: ask nlohmann why, for the note. Should it accept after all (a
    // scanner bug the differential test missed), its reading is used.
    trace_rejection why;
    found = &slow;
    if (!scan_trace_nlohmann(message, slow, &why)) {
      if (why.too_deep)
        reject("nested deeper than " + std::to_string(max_trace_nesting) + " levels",
               now_iso, out);
      else
        reject("not JSON (" + why.error + ")", now_iso, out);
      return;
    }
  }
  const trace_fields& scan = *found;
  if (!scan.top_is_object) {
    reject("not a JSON object", now_iso, out);
    return;
  }
  using kind = trace_fields::kind;
  if (scan.session_kind != kind::string) {
    reject(scan.session_kind == kind::none
             ? "traceSessionId is missing"
             : "traceSessionId is not a string",
           now_iso, out);
    return;
  }
  if (scan.session_id.size() > limits_.max_session_id_bytes) {
    reject("traceSessionId is longer than "
             + std::to_string(limits_.max_session_id_bytes) + " bytes",
           now_iso, out);
    return;
  }
  if (scan.number_kind != kind::integer || scan.number_negative_or_huge) {
    reject(scan.number_kind == kind::none
             ? "traceNumber is missing"
             : "traceNumber is not a non-negative integer",
           now_iso, out);
    return;
  }
  bad_in_row_ = 0;

  // userId: props.username, else props.alias, else User-<n>. JS tests for
  // truthiness, so an empty string falls through; a non-string is noted.
  std::string_view name = generated_user_id_;
  const char* source = nullptr;
  if (scan.username_kind == kind::string && !scan.username.empty()) {
    name = scan.username;
    source = "props.username";
  } else if (scan.alias_kind == kind::string && !scan.alias.empty()) {
    name = scan.alias;
    source = "props.alias";
  }
  if (scan.username_kind != kind::none && scan.username_kind != kind::string)
    note_once("Ignored props.username: not a string", now_iso, out);
  // A client sends the same name with every trace: build its userId (and
  // the JSON string of it) only when the name differs from the last one.
  if (!user_id_cached_ || name != cached_name_) {
    bool altered = false;
    auto user_id = make_user_id(name, client_hex_, limits_.max_user_name_chars, &altered);
    cached_user_id_json_.clear();
    append_json_string(cached_user_id_json_, user_id);
    cached_name_.assign(name.data(), name.size());
    cached_name_changed_ = altered;
    user_id_cached_ = true;
  }
  bool changed = cached_name_changed_;
  if (changed && source)
    note_once(std::string("Sanitized ") + source
                + ": removed non-ASCII or control characters or cut to "
                + std::to_string(limits_.max_user_name_chars) + " characters",
              now_iso, out);

  // Session bookkeeping, as the JS server does it, but replays are dropped.
  bool same_session = last_seen_.found && last_seen_.session_id == scan.session_id;
  if (same_session && scan.trace_number <= last_seen_.trace_number) {
    ++replays_dropped_;
    return;
  }
  if (!same_session)
    out.push_back(note_line("New session from " + client_hex_
                              + ". sessionId=" + std::string(scan.session_id),
                            now_iso));
  else if (scan.trace_number != last_seen_.trace_number + 1)
    out.push_back(note_line(
      "Skipped " + std::to_string(scan.trace_number - last_seen_.trace_number - 1)
        + " messages! lastSeenTraceNumber="
        + std::to_string(last_seen_.trace_number)
        + " traceNumber=" + std::to_string(scan.trace_number),
      now_iso));
  if (!same_session)
    last_seen_.session_id = std::string(scan.session_id);
  last_seen_.found = true;
  last_seen_.trace_number = scan.trace_number;
  ++traces_written_;

  // The trace line: "time" and "userId" first, then the trace's own fields
  // in the order received. The common case splices the client's text after
  // our two fields: it is valid, single-line JSON already. A message with
  // raw line breaks, a leading BOM, or its own "time"/"userId" is rebuilt.
  std::string line;
  line.reserve(32 + now_iso.size() + cached_user_id_json_.size() + message.size());
  line += "{\"time\":\"";
  line += now_iso;
  line += "\",\"userId\":";
  line += cached_user_id_json_;
  size_t start = 0;
  while (start < message.size() && is_json_space(message[start]))
    ++start;
  bool splice = !scan.has_reserved_key && start < message.size()
                && message[start] == '{'
                && !has_line_break(message.substr(start));
  if (splice) {
    auto rest = message.substr(start + 1);
    size_t first = 0;
    while (first < rest.size() && is_json_space(rest[first]))
      ++first;
    if (first < rest.size() && rest[first] != '}')
      line += ',';
    line.append(rest.data(), rest.size());
    // Trailing whitespace after the closing brace is harmless but untidy.
    while (!line.empty() && is_json_space(line.back()))
      line.pop_back();
  } else {
    auto doc = ordered_json::parse(message.begin(), message.end());
    doc.erase("time");
    doc.erase("userId");
    auto body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (body.size() > 2)
      line += ',';
    line.append(body, 1, std::string::npos);
  }
  out.push_back(std::move(line));
}

} // namespace ht
