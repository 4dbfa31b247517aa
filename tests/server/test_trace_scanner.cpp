// scan_trace, the simdjson trace scanner, against nlohmann's strict SAX
// parse (scan_trace_nlohmann): same accept/reject, same extracted fields.
// A seeded generator makes JSON-ish traces and mutates them; any
// disagreement is a bug in scan_trace.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "actors/server/trace_scanner.hpp"

using namespace ht;

namespace {

struct verdict {
  bool accepted = false;
  std::string fields; // a printable summary of what was extracted
};

std::string describe(const trace_fields& f) {
  auto k = [](trace_fields::kind x) { return std::to_string(static_cast<int>(x)); };
  std::string s = "top_object=" + std::to_string(f.top_is_object)
                  + " reserved=" + std::to_string(f.has_reserved_key)
                  + " session=" + k(f.session_kind);
  if (f.session_kind == trace_fields::kind::string)
    s += ":" + std::string(f.session_id);
  s += " number=" + k(f.number_kind) + ":" + std::to_string(f.trace_number) + ":"
       + std::to_string(f.number_negative_or_huge);
  s += " username=" + k(f.username_kind);
  if (f.username_kind == trace_fields::kind::string)
    s += ":" + std::string(f.username);
  s += " alias=" + k(f.alias_kind);
  if (f.alias_kind == trace_fields::kind::string)
    s += ":" + std::string(f.alias);
  return s;
}

template <class Scan>
verdict judge(Scan scan, const std::string& text) {
  trace_fields f;
  verdict v;
  v.accepted = scan(text, f);
  if (v.accepted)
    v.fields = describe(f);
  return v;
}

verdict fast(const std::string& text) {
  return judge([](std::string_view t, trace_fields& f) { return scan_trace(t, f); }, text);
}

verdict reference(const std::string& text) {
  return judge([](std::string_view t, trace_fields& f) { return scan_trace_nlohmann(t, f); },
               text);
}

std::string printable(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s.substr(0, 400)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// JSON-ish text: mostly valid, with the corner cases of the grammar and of
// the extracted fields over-represented.
class generator {
public:
  explicit generator(uint64_t seed) : rng_(seed) {}

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return below(100) < static_cast<size_t>(percent); }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

  std::string trace() {
    std::string s = space() + "{";
    size_t n = below(8);
    std::vector<std::string> keys = {"\"traceSessionId\"", "\"traceNumber\"", "\"props\""};
    for (size_t i = 0; i < n; ++i)
      keys.push_back(key());
    for (size_t i = 0; i < keys.size(); ++i) {
      std::swap(keys[i], keys[i + below(keys.size() - i)]);
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i)
        s += space() + ",";
      s += space() + keys[i] + space() + ":" + space() + field_value(keys[i], 1);
    }
    return s + space() + "}" + space();
  }

  std::string mutate(std::string s) {
    size_t rounds = 1 + below(3);
    for (size_t r = 0; r < rounds; ++r) {
      switch (below(9)) {
      case 0: // bit flip
        if (!s.empty())
          s[below(s.size())] ^= static_cast<char>(1u << below(8));
        break;
      case 1: // truncation
        s.resize(below(s.size() + 1));
        break;
      case 2: // an inserted byte, often a structural or high one
        s.insert(below(s.size() + 1), 1, pick(interesting_bytes_));
        break;
      case 3: // a random byte anywhere
        s.insert(below(s.size() + 1), 1, static_cast<char>(below(256)));
        break;
      case 4: // a deleted byte
        if (!s.empty())
          s.erase(below(s.size()), 1);
        break;
      case 5: // invalid (or borderline valid) UTF-8
        s.insert(below(s.size() + 1), pick(utf8_));
        break;
      case 6: { // deep nesting around a value, at and past the limit
        size_t depth = 120 + below(14);
        s = std::string(depth, '[') + s + std::string(depth - below(2), ']');
        break;
      }
      case 7: // an odd number spliced in
        s.insert(below(s.size() + 1), chance(50) ? pick(numbers_) : pick(bad_numbers_));
        break;
      default: // a duplicated span
        if (!s.empty()) {
          size_t a = below(s.size());
          s.insert(below(s.size() + 1), s.substr(a, below(16)));
        }
        break;
      }
    }
    return s;
  }

private:
  std::string space() {
    static const std::vector<std::string> spaces = {" ", "\n", "\t", "\r\n "};
    if (chance(80))
      return "";
    return rare() ? " \f" : pick(spaces);
  }

  // Most generated text is valid; now and then a part is not.
  bool rare() { return below(1000) < 3; }

  std::string number() { return rare() ? pick(bad_numbers_) : pick(numbers_); }

  std::string key() {
    static const std::vector<std::string> keys = {
      "\"traceSessionId\"", "\"traceNumber\"", "\"props\"", "\"username\"", "\"alias\"",
      "\"time\"", "\"userId\"", "\"id\"", "\"\"", "\"trace\\u0053essionId\"",
      "\"\\u0074ime\"", "\"user\\u006eame\"", "\"al\\u0069as\"", "\"pr\\u006fps\"",
      "\"traceNumber \"", "\"TraceNumber\"", "\"x\\ny\"", "\"caller\"", "\"object\""};
    return pick(keys);
  }

  std::string field_value(const std::string& key, int depth) {
    if (key == "\"traceSessionId\"" && chance(70))
      return string();
    if (key == "\"traceNumber\"" && chance(70))
      return chance(50) ? std::to_string(below(1000)) : number();
    if ((key == "\"props\"" || key == "\"pr\\u006fps\"") && chance(80))
      return object(depth, true);
    return value(depth);
  }

  std::string value(int depth) {
    switch (below(depth > 4 ? 4 : 7)) {
    case 0: return string();
    case 1: return number();
    case 2:
      return rare() ? pick(bad_literals_) : pick(literals_);
    case 3: return std::to_string(static_cast<int64_t>(rng_()));
    case 4: return object(depth + 1, false);
    case 5: return array(depth + 1);
    default: return object(depth + 1, true);
    }
  }

  std::string object(int depth, bool props_like) {
    std::string s = "{";
    size_t n = below(5);
    for (size_t i = 0; i < n; ++i) {
      if (i)
        s += ",";
      std::string k = props_like && chance(60) ? pick(props_keys_) : key();
      s += space() + k + space() + ":" + space() + value(depth);
    }
    return s + space() + "}";
  }

  std::string array(int depth) {
    std::string s = "[";
    size_t n = below(4);
    for (size_t i = 0; i < n; ++i) {
      if (i)
        s += ",";
      s += space() + value(depth);
    }
    return s + "]";
  }

  std::string string() {
    static const std::vector<std::string> parts = {
      "a", "bench", "Jürgen", "日本", "😀", " ", "x y", "\\\"", "\\\\", "\\/", "\\b",
      "\\f", "\\n", "\\r", "\\t", "\\u0000", "\\u00e9", "\\u20AC", "\\uD83D\\uDE00",
      "\\ud83d\\ude00", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
      "3220392801237528", std::string(40, 'p')};
    static const std::vector<std::string> bad_parts = {
      "\\uD83D", "\\uDE00", "\\uD83Dx", "\\uD83D\\u0041", "\\u12", "\\x", "\\u12G4",
      "\x01", "\n", "\xc0\x80", "\xed\xa0\x80"};
    std::string s = "\"";
    size_t n = below(5);
    for (size_t i = 0; i < n; ++i)
      s += rare() ? pick(bad_parts) : pick(parts);
    return s + "\"";
  }

  std::mt19937_64 rng_;
  const std::vector<std::string> literals_ = {"true", "false", "null"};
  const std::vector<std::string> bad_literals_ = {"tru", "nul", "True", "nulll"};
  const std::vector<std::string> props_keys_ = {"\"username\"", "\"alias\"",
                                                "\"user\\u006eame\""};
  const std::vector<char> interesting_bytes_ = {
    '{', '}', '[', ']', '"', ':', ',', '\\', ' ', '\n', '\0', '-', '0', '.',
    'e', 'E', '+', '\x7f', '\x80', '\xbf', '\xc0', '\xc2', '\xed', '\xef', '\xf4',
    '\xf5', '\xff', '\x1f'};
  const std::vector<std::string> utf8_ = {
    "\xc0\x80", "\xc1\xbf", "\xc2\x80", "\xdf\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
    "\xe0\xa0\x80", "\xed\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xee\x80\x80",
    "\xef\xbf\xbf", "\xf0\x8f\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
    "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\x80", "\xbf", "\xc3", "\xe2\x82",
    "\xf0\x9f\x98", "\xfe", "\xff", "\xef\xbb\xbf"};
  const std::vector<std::string> numbers_ = {
    "0", "-0", "1.5", "1e5", "1E5", "1e+5", "1e-5", "-0.0", "0e0", "1.5e3", "-1",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "18446744073709551615", "18446744073709551616",
    "99999999999999999999999", "1e308", "1.7976931348623157e308", "1e-400",
    "0.0000001e-330", std::string(308, '9'), std::string(308, '9') + ".5", "-0e-0"};
  // Invalid, or valid but rejected by nlohmann (overflow to infinity).
  const std::vector<std::string> bad_numbers_ = {
    "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "00", "0x10", "1.8e308",
    "1e309", "-1e400", std::string(309, '9'), "-" + std::string(400, '1'),
    "123abc", "1 2", "1.e5", "-.5", "1e5.5"};
};

// Returns whether the text was accepted.
bool check_same(const std::string& text) {
  auto a = fast(text);
  auto b = reference(text);
  if (a.accepted != b.accepted || a.fields != b.fields) {
    INFO("input: " << printable(text));
    CHECK(a.accepted == b.accepted);
    CHECK(a.fields == b.fields);
  }
  return a.accepted;
}

} // namespace

TEST_CASE("scan_trace extracts the fields of a trace", "[unit]") {
  trace_fields f;
  REQUIRE(scan_trace(R"({"traceSessionId":"3220392801237528","traceNumber":7,)"
                     R"("props":{"username":"ann","alias":"a\u00e9"},"time":1})", f));
  CHECK(f.top_is_object);
  CHECK(f.has_reserved_key);
  CHECK(f.session_id == "3220392801237528");
  CHECK(f.trace_number == 7);
  CHECK(f.username == "ann");
  CHECK(f.alias == "a\xc3\xa9");
}

TEST_CASE("scan_trace agrees with nlohmann on the grammar's corners", "[unit]") {
  const std::vector<std::string> cases = {
    "", " ", "{}", "[]", "\xef\xbb\xbf{}", " \xef\xbb\xbf{}", "\xef\xbb{}", "{} x",
    "{}\n", "{,}", "{\"a\":1,}", "[1,]", "\"\\uD83D\\uDE00\"", "\"\\uDE00\"",
    "\"\\uD83D\"", "\"\\u0000\"", "\"\x01\"", "\"\x7f\"", "\"\xed\xa0\x80\"",
    "\"\xc0\xaf\"", "\"\xf4\x90\x80\x80\"", "-0", "01", "1.", "1e5", "1e400", "-1e400",
    "1e-400", "nul", "true false", "{\"traceNumber\":-0}", "{\"traceNumber\":\"1\"}",
    "{\"traceNumber\":18446744073709551615}", "{\"traceNumber\":18446744073709551616}",
    "{\"traceNumber\":1,\"traceNumber\":2.5}", "{\"props\":{\"username\":1},\"props\":2}",
    "{\"props\":[{\"username\":\"x\"}]}", "{\"\\u0074ime\":1}",
    std::string("{}\0x{", 5), std::string("\0{}", 3), std::string("{\"a\":1\0}", 8),
    // Long strings: the word-at-a-time skipping must stop at every kind of
    // stop byte wherever it falls in a word.
    "\"" + std::string(17, 'a') + "\"", "\"" + std::string(15, 'a') + "\\n\"",
    "\"" + std::string(13, 'a') + "\x01" + std::string(9, 'b') + "\"",
    "\"" + std::string(11, 'a') + "\xc3\xa9" + std::string(9, 'b') + "\"",
    "\"" + std::string(10, 'a') + "\xc3\x28" + std::string(9, 'b') + "\"",
    "\"" + std::string(23, 'a') + "\x7f\x20\x1f\"", "\"" + std::string(30, 'a'),
    std::string(128, '[') + std::string(128, ']'),
    std::string(129, '[') + std::string(129, ']'),
  };
  for (auto& c : cases) {
    INFO("input: " << printable(c));
    auto a = fast(c);
    auto b = reference(c);
    CHECK(a.accepted == b.accepted);
    CHECK(a.fields == b.fields);
  }
}

TEST_CASE("scan_trace agrees with nlohmann on random and mutated traces", "[unit]") {
  generator gen(20261124);
#if defined(__SANITIZE_ADDRESS__)
  // The first quarter of the same seeded sequence under ASan (the whole
  // run costs ~40 s of CPU there); all 200,000 in the normal build.
  constexpr size_t cases = 50000;
#else
  constexpr size_t cases = 200000;
#endif
  size_t accepted = 0;
  for (size_t i = 0; i < cases; ++i) {
    auto text = gen.trace();
    if (gen.chance(60))
      text = gen.mutate(std::move(text));
    if (gen.chance(2))
      text = "\xef\xbb\xbf" + text;
    accepted += check_same(text);
  }
  // Both outcomes must be well represented, or the test proves little.
  CHECK(accepted > cases / 5);
  CHECK(accepted < cases * 4 / 5);
}

TEST_CASE("scan_trace on simdjson: its own limits do not change the verdicts",
          "[unit]") {
  const std::string big_props = std::string(200 << 10, 'x');
  const std::vector<std::string> cases = {
    // Above the per-thread parser's size: a parser of its own.
    R"({"traceSessionId":"s","traceNumber":1,"props":{"username":"ann","pad":")"
      + big_props + R"("}})",
    R"({"traceSessionId":"s","traceNumber":1,"pad":")" + big_props + "\xff\"}",
    // Beyond simdjson's own depth limit (1024) and just around ours.
    std::string(2000, '[') + std::string(2000, ']'),
    std::string(127, '[') + "{\"a\":{}}" + std::string(127, ']'),
    std::string(126, '[') + "{\"a\":{}}" + std::string(126, ']'),
    std::string(127, '[') + "{}" + std::string(127, ']'),
    "{\"a\":" + std::string(127, '[') + std::string(127, ']') + "}",
    "{\"a\":" + std::string(128, '[') + std::string(128, ']') + "}",
    // Integers beyond 64 bits: nlohmann reads them as doubles.
    R"({"traceSessionId":"s","traceNumber":99999999999999999999999})",
    R"({"traceSessionId":"s","traceNumber":-9223372036854775809})",
    R"({"traceSessionId":"s","traceNumber":1,"x":1e400})",
    R"({"traceSessionId":"s","traceNumber":01})",
    // One scan after another on the same thread: no view into old input.
    R"({"traceSessionId":"second","traceNumber":2})",
  };
  for (auto& c : cases) {
    INFO("input: " << printable(c));
    auto a = fast(c);
    auto b = reference(c);
    CHECK(a.accepted == b.accepted);
    CHECK(a.fields == b.fields);
  }
  trace_fields first;
  REQUIRE(scan_trace(R"({"traceSessionId":"one","traceNumber":1})", first));
  trace_fields second;
  REQUIRE(scan_trace(R"({"traceSessionId":"two","traceNumber":2})", second));
  CHECK(first.session_id == "one");
  CHECK(second.session_id == "two");
}
