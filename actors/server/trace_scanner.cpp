// The reference scanner: nlohmann's strict SAX parse. The hot path is
// scan_trace (trace_scanner_simdjson.cpp).
#include "actors/server/trace_scanner.hpp"

#include <nlohmann/json.hpp>

namespace ht {

namespace {

using kind = trace_fields::kind;

// Which extracted field a key leads to. The sink tracks the last key at
// depth 1 and at depth 2, as a SAX handler sees them.
enum class key_id : uint8_t { other, session_id, number, props, username, alias };

key_id top_level_key(std::string_view k, bool& reserved) {
  if (k == "time" || k == "userId")
    reserved = true;
  if (k == "traceSessionId")
    return key_id::session_id;
  if (k == "traceNumber")
    return key_id::number;
  if (k == "props")
    return key_id::props;
  return key_id::other;
}

key_id props_key(std::string_view k) {
  if (k == "username")
    return key_id::username;
  if (k == "alias")
    return key_id::alias;
  return key_id::other;
}

// The extraction rules, fed SAX events (the reading scan_trace must match).
class field_sink {
public:
  explicit field_sink(trace_fields& f) : f_(f) {}

  size_t depth() const { return depth_; }

  void key(std::string_view k) {
    if (depth_ == 1)
      key1_ = top_level_key(k, f_.has_reserved_key);
    else if (depth_ == 2)
      key2_ = props_key(k);
  }

  // A string value; `unescaped` is called only if the value is kept.
  template <class Unescape>
  void string(std::string_view raw, bool escaped, Unescape&& unescape) {
    std::string_view* view = nullptr;
    std::string* storage = nullptr;
    if (kind* k = target(view, storage)) {
      *k = kind::string;
      if (!view) { // a string where traceNumber belongs
        f_.trace_number = 0;
        f_.number_negative_or_huge = false;
      } else if (escaped) {
        unescape(*storage);
        *view = *storage;
      } else {
        *view = raw;
      }
    }
  }

  void integer(int64_t v, bool negative_or_huge) {
    std::string_view* view = nullptr;
    std::string* storage = nullptr;
    if (kind* k = target(view, storage)) {
      *k = kind::integer;
      if (k == &f_.number_kind) {
        f_.trace_number = v;
        f_.number_negative_or_huge = negative_or_huge;
      }
    }
  }

  void other() {
    std::string_view* view = nullptr;
    std::string* storage = nullptr;
    if (kind* k = target(view, storage)) {
      *k = kind::other;
      if (k == &f_.number_kind) {
        f_.trace_number = 0;
        f_.number_negative_or_huge = false;
      }
    }
  }

  /// False once nested too deep.
  bool enter(bool is_object) {
    if (depth_ == 0)
      f_.top_is_object = is_object;
    else
      other();
    if (depth_ == 1 && is_object && key1_ == key_id::props)
      in_props_ = true;
    return ++depth_ <= max_trace_nesting;
  }

  void leave() {
    if (--depth_ == 1)
      in_props_ = false;
  }

private:
  // The field the value at the current position sets, if any.
  kind* target(std::string_view*& view, std::string*& storage) {
    if (depth_ == 1) {
      if (key1_ == key_id::session_id) {
        view = &f_.session_id;
        storage = &f_.session_id_storage;
        return &f_.session_kind;
      }
      if (key1_ == key_id::number) {
        view = nullptr;
        return &f_.number_kind;
      }
    } else if (depth_ == 2 && in_props_) {
      if (key2_ == key_id::username) {
        view = &f_.username;
        storage = &f_.username_storage;
        return &f_.username_kind;
      }
      if (key2_ == key_id::alias) {
        view = &f_.alias;
        storage = &f_.alias_storage;
        return &f_.alias_kind;
      }
    }
    return nullptr;
  }

  trace_fields& f_;
  size_t depth_ = 0;
  key_id key1_ = key_id::other;
  key_id key2_ = key_id::other;
  bool in_props_ = false; // inside the top-level "props" object
};

// nlohmann's SAX events into the sink.

struct nlohmann_events : nlohmann::json_sax<nlohmann::json> {
  explicit nlohmann_events(trace_fields& f) : sink(f) {}

  field_sink sink;
  bool too_deep = false;
  std::string error;

  void keep(string_t& v) {
    sink.string(v, true, [&v](std::string& out) { out = std::move(v); });
  }

  bool null() override { sink.other(); return true; }
  bool boolean(bool) override { sink.other(); return true; }
  bool number_integer(number_integer_t v) override {
    sink.integer(v, v < 0);
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    bool huge = v > static_cast<uint64_t>(INT64_MAX);
    sink.integer(huge ? 0 : static_cast<int64_t>(v), huge);
    return true;
  }
  bool number_float(number_float_t, const string_t&) override {
    sink.other();
    return true;
  }
  bool string(string_t& v) override { keep(v); return true; }
  bool binary(binary_t&) override { sink.other(); return true; }
  bool start_object(std::size_t) override { return enter(true); }
  bool end_object() override { sink.leave(); return true; }
  bool start_array(std::size_t) override { return enter(false); }
  bool end_array() override { sink.leave(); return true; }
  bool key(string_t& k) override { sink.key(k); return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    error = ex.what();
    return false;
  }

  bool enter(bool is_object) {
    if (!sink.enter(is_object))
      too_deep = true;
    return !too_deep;
  }
};

} // namespace

bool scan_trace_nlohmann(std::string_view text, trace_fields& out,
                         trace_rejection* why) {
  nlohmann_events events(out);
  bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &events,
                                      nlohmann::json::input_format_t::json, true);
  if (why) {
    why->too_deep = events.too_deep;
    why->error = events.error;
  }
  return ok && !events.too_deep;
}

} // namespace ht
