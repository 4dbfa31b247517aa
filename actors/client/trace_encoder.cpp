#include "actors/client/trace_encoder.hpp"

#include <charconv>
#include <ctime>

#include <sodium.h>

#include "actors/client/js_json.hpp"

namespace ht {

std::string make_trace_session_id() {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium cannot be initialized");
  std::string id(18, '0');
  for (auto& c : id)
    c = static_cast<char>('0' + randombytes_uniform(10));
  // A leading zero would read as a shorter number to a careless parser.
  if (id[0] == '0')
    id[0] = static_cast<char>('1' + randombytes_uniform(9));
  return id;
}

std::string iso8601_ms(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  auto milli = static_cast<int>(ms % 1000);
  if (milli < 0) {
    milli += 1000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, milli);
  return buf;
}

trace_encoder::trace_encoder(std::string session_id)
  : session_id_(std::move(session_id)) {
}

bool trace_encoder::add_props(const json& p) {
  if (!p.is_null() && !p.is_object()) {
    ++errors_;
    last_error_ = "addProps: props must be an object";
    return false;
  }
  json merged = props_.is_object() ? props_ : json::object();
  if (p.is_object())
    for (auto it = p.begin(); it != p.end(); ++it)
      merged[it.key()] = it.value();
  std::string text;
  try {
    append_js_json(text, merged);
  } catch (const std::exception& e) {
    ++errors_;
    last_error_ = std::string{"addProps: "} + e.what();
    return false;
  }
  props_ = std::move(merged);
  props_text_ = std::move(text);
  return true;
}

std::optional<std::string> trace_encoder::encode(const trace_record& r) {
  std::string out;
  out.reserve(256 + props_text_.size());
  try {
    out += "{\"traceTimestamp\":\"";
    out += iso8601_ms(r.time);
    out += "\",\"traceSessionId\":";
    append_js_string(out, session_id_);
    out += ",\"traceNumber\":";
    char num[24];
    auto end = std::to_chars(num, num + sizeof num, next_number_).ptr;
    out.append(num, end);
    out += ",\"id\":";
    if (r.id.empty())
      out += "null";
    else
      append_js_string(out, r.id);
    out += ",\"props\":";
    out += props_text_;
    out += ",\"object\":{\"id\":";
    if (r.object) {
      end = std::to_chars(num, num + sizeof num, r.object->id).ptr;
      out.append(num, end);
      out += ",\"className\":";
      append_js_string(out, r.object->cls ? r.object->cls->name : std::string{});
      out += ",\"props\":";
      append_js_json(out, r.object->props);
    } else {
      out += "null,\"className\":null,\"props\":null";
    }
    out += "},\"caller\":{\"filename\":";
    append_js_string(out, r.caller.filename && *r.caller.filename
                            ? std::string_view{r.caller.filename}
                            : std::string_view{r.caller_filename});
    out += ",\"functionName\":";
    append_js_string(out, r.caller.function_name && *r.caller.function_name
                            ? std::string_view{r.caller.function_name}
                            : std::string_view{r.caller_function});
    // JS leaves caller.props out when trace() got no props (undefined).
    if (r.has_caller_props) {
      out += ",\"props\":";
      append_js_json(out, r.props);
    }
    out += "}}";
  } catch (const std::exception& e) {
    ++errors_;
    last_error_ = e.what();
    return std::nullopt;
  }
  ++next_number_;
  return out;
}

} // namespace ht
