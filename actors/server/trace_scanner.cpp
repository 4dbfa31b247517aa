#include "actors/server/trace_scanner.hpp"

#include "messages/bytes.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include <locale.h>

#include <nlohmann/json.hpp>

namespace ht {

namespace {

using kind = trace_fields::kind;
using byte = unsigned char;

// Which extracted field a key leads to. The scanners track the last key at
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

// The shared extraction rules, fed SAX-like events by either scanner.
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

// ---------------------------------------------------------------------------
// The fast scanner: recursive descent over the bytes (recursion is bounded
// by the nesting limit), strings validated in place.

// Bytes that end the plain run of a string: '"', '\\', controls, non-ASCII.
struct string_stops {
  bool stop[256] = {};
  constexpr string_stops() {
    for (int c = 0; c < 0x20; ++c)
      stop[c] = true;
    for (int c = 0x80; c < 0x100; ++c)
      stop[c] = true;
    stop[static_cast<byte>('"')] = true;
    stop[static_cast<byte>('\\')] = true;
  }
};
constexpr string_stops stops{};

bool is_digit(byte c) {
  return c >= '0' && c <= '9';
}

// Four hex digits at p (bounds checked by the caller), or -1.
int read_hex4(const byte* p) {
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    int h = hex_digit_value(static_cast<char>(p[i]));
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  return v;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes the body of a string skip_string already validated.
void unescape(std::string_view raw, std::string& out) {
  out.clear();
  auto p = reinterpret_cast<const byte*>(raw.data());
  auto end = p + raw.size();
  while (p < end) {
    auto run = static_cast<const byte*>(std::memchr(p, '\\', static_cast<size_t>(end - p)));
    if (!run)
      run = end;
    out.append(reinterpret_cast<const char*>(p), static_cast<size_t>(run - p));
    p = run;
    if (p == end)
      break;
    byte e = p[1];
    p += 2;
    switch (e) {
    case 'b': out += '\b'; break;
    case 'f': out += '\f'; break;
    case 'n': out += '\n'; break;
    case 'r': out += '\r'; break;
    case 't': out += '\t'; break;
    case 'u': {
      auto cp = static_cast<uint32_t>(read_hex4(p));
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) { // validated: a low surrogate follows
        auto low = static_cast<uint32_t>(read_hex4(p + 2));
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      }
      append_utf8(out, cp);
      break;
    }
    default: out += static_cast<char>(e); break; // '"', '\\', '/'
    }
  }
}

// strtod in the "C" locale, whatever the process's locale says.
double c_strtod(const std::string& s) {
  static locale_t c_locale = ::newlocale(LC_ALL_MASK, "C", nullptr);
  return ::strtod_l(s.c_str(), nullptr, c_locale);
}

class fast_scanner {
public:
  fast_scanner(std::string_view text, trace_fields& f)
    : p_(reinterpret_cast<const byte*>(text.data())), end_(p_ + text.size()),
      sink_(f) {
  }

  bool run() {
    // nlohmann skips one UTF-8 BOM at the very start.
    if (end_ - p_ >= 3 && p_[0] == 0xEF && p_[1] == 0xBB && p_[2] == 0xBF)
      p_ += 3;
    skip_space();
    if (!value())
      return false;
    skip_space();
    // nlohmann reads a NUL byte where a token starts as the end of input
    // (C strings), so whatever follows one after the value is ignored.
    return p_ == end_ || *p_ == '\0';
  }

private:
  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
      ++p_;
  }

  bool value() {
    if (p_ == end_)
      return false;
    switch (*p_) {
    case '{': return object();
    case '[': return array();
    case '"': {
      const byte* body = ++p_;
      bool escaped = false;
      if (!skip_string(escaped))
        return false;
      auto raw = view(body, p_ - 1);
      sink_.string(raw, escaped, [raw](std::string& out) { unescape(raw, out); });
      return true;
    }
    case 't': return literal("true", 4);
    case 'f': return literal("false", 5);
    case 'n': return literal("null", 4);
    default: return number();
    }
  }

  bool literal(const char* text, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, text, n) != 0)
      return false;
    p_ += n;
    sink_.other();
    return true;
  }

  // '{' members '}' and '[' values ']' share their frame: the empty case,
  // the separators and the close; `element` parses one member or value.
  template <class Element>
  bool container(bool is_object, byte close, Element element) {
    ++p_;
    if (!sink_.enter(is_object))
      return false;
    skip_space();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      sink_.leave();
      return true;
    }
    for (;;) {
      if (!element())
        return false;
      skip_space();
      if (p_ == end_)
        return false;
      if (*p_ == close) {
        ++p_;
        sink_.leave();
        return true;
      }
      if (*p_ != ',')
        return false;
      ++p_;
      skip_space();
    }
  }

  bool object() { return container(true, '}', [this] { return member(); }); }
  bool array() { return container(false, ']', [this] { return value(); }); }

  // "key": value
  bool member() {
    if (p_ == end_ || *p_ != '"')
      return false;
    const byte* body = ++p_;
    bool escaped = false;
    if (!skip_string(escaped))
      return false;
    if (sink_.depth() <= 2) { // deeper keys select nothing
      auto raw = view(body, p_ - 1);
      if (escaped) {
        unescape(raw, scratch_);
        raw = scratch_;
      }
      sink_.key(raw);
    }
    skip_space();
    if (p_ == end_ || *p_ != ':')
      return false;
    ++p_;
    skip_space();
    return value();
  }

  // After the opening quote; leaves p_ after the closing one.
  bool skip_string(bool& escaped) {
    for (;;) {
      skip_plain_words();
      while (p_ < end_ && !stops.stop[*p_])
        ++p_;
      if (p_ == end_)
        return false;
      byte c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        escaped = true;
        if (!skip_escape())
          return false;
      } else if (c < 0x20) {
        return false; // raw control characters must be escaped
      } else if (!skip_utf8()) {
        return false;
      }
    }
  }

  // Skips eight plain string bytes at a time while a whole word has no stop
  // byte; the byte loop takes over at the first word that has one. Each
  // test is exact about whether such a byte exists (bit tricks for "a byte
  // below n" and "a zero byte").
  void skip_plain_words() {
    constexpr uint64_t ones = 0x0101010101010101ull;
    constexpr uint64_t highs = 0x8080808080808080ull;
    while (end_ - p_ >= 8) {
      uint64_t w;
      std::memcpy(&w, p_, 8);
      uint64_t quote = w ^ (ones * '"');
      uint64_t backslash = w ^ (ones * '\\');
      uint64_t control = (w - ones * 0x20) & ~w;
      uint64_t stop = (control | ((quote - ones) & ~quote)
                       | ((backslash - ones) & ~backslash) | w) & highs;
      if (stop)
        return;
      p_ += 8;
    }
  }

  bool skip_escape() {
    if (end_ - p_ < 2)
      return false;
    switch (p_[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
      p_ += 2;
      return true;
    case 'u': break;
    default: return false;
    }
    if (end_ - p_ < 6)
      return false;
    int cp = read_hex4(p_ + 2);
    p_ += 6;
    if (cp < 0)
      return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return false; // a low surrogate without its high one
    if (cp < 0xD800 || cp > 0xDBFF)
      return true;
    // A high surrogate needs \u and a low surrogate right after.
    if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u')
      return false;
    int low = read_hex4(p_ + 2);
    p_ += 6;
    return low >= 0xDC00 && low <= 0xDFFF;
  }

  // One multi-byte UTF-8 sequence, well-formed per RFC 3629: no overlongs,
  // no surrogates, nothing above U+10FFFF.
  bool skip_utf8() {
    byte c = *p_;
    byte lo = 0x80, hi = 0xBF; // range of the second byte
    int tail = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      tail = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      tail = 2;
      if (c == 0xE0)
        lo = 0xA0;
      else if (c == 0xED)
        hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      tail = 3;
      if (c == 0xF0)
        lo = 0x90;
      else if (c == 0xF4)
        hi = 0x8F;
    } else {
      return false;
    }
    if (end_ - p_ <= tail || p_[1] < lo || p_[1] > hi)
      return false;
    for (int i = 2; i <= tail; ++i)
      if (p_[i] < 0x80 || p_[i] > 0xBF)
        return false;
    p_ += tail + 1;
    return true;
  }

  bool number() {
    const byte* start = p_;
    bool negative = *p_ == '-';
    if (negative)
      ++p_;
    const byte* digits = p_;
    if (p_ == end_ || !is_digit(*p_))
      return false;
    if (*p_ == '0')
      ++p_; // no leading zeros: what follows is not part of the number
    else
      while (p_ < end_ && is_digit(*p_))
        ++p_;
    const byte* int_end = p_;
    bool integral = true;
    bool exponent = false;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !is_digit(*p_))
        return false;
      while (p_ < end_ && is_digit(*p_))
        ++p_;
      integral = false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-'))
        ++p_;
      if (p_ == end_ || !is_digit(*p_))
        return false;
      while (p_ < end_ && is_digit(*p_))
        ++p_;
      integral = false;
      exponent = true;
    }
    if (integral && integer(negative, digits, int_end))
      return true;
    // A float, or an integer too big for 64 bits: nlohmann parses it with
    // strtod and rejects what overflows to infinity.
    bool surely_finite = !exponent && int_end - digits <= 308;
    if (!surely_finite && !std::isfinite(c_strtod(std::string(start, p_))))
      return false;
    sink_.other();
    return true;
  }

  // Reports an integer that fits int64 (negative) or uint64; false if not.
  bool integer(bool negative, const byte* digits, const byte* end) {
    uint64_t v = 0;
    for (auto d = digits; d < end; ++d) {
      uint64_t digit = *d - '0';
      if (v > (UINT64_MAX - digit) / 10)
        return false;
      v = v * 10 + digit;
    }
    constexpr uint64_t int64_limit = static_cast<uint64_t>(INT64_MAX) + 1;
    if (negative) {
      if (v > int64_limit)
        return false;
      auto value = v == int64_limit ? INT64_MIN : -static_cast<int64_t>(v);
      sink_.integer(value, value < 0); // "-0" is 0, as strtoll has it
      return true;
    }
    bool huge = v > static_cast<uint64_t>(INT64_MAX);
    sink_.integer(huge ? 0 : static_cast<int64_t>(v), huge);
    return true;
  }

  static std::string_view view(const byte* b, const byte* e) {
    return {reinterpret_cast<const char*>(b), static_cast<size_t>(e - b)};
  }

  const byte* p_;
  const byte* end_;
  field_sink sink_;
  std::string scratch_; // unescaped keys
};

// ---------------------------------------------------------------------------
// The reference: nlohmann's SAX events into the same sink.

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

bool scan_trace(std::string_view text, trace_fields& out) {
  return fast_scanner(text, out).run();
}

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
