#include "actors/client/js_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ht {

namespace {

const char hex_digits[] = "0123456789abcdef";

void append_hex(std::string& out, const uint8_t* data, size_t size) {
  out.push_back('"');
  for (size_t i = 0; i < size; ++i) {
    out.push_back(hex_digits[data[i] >> 4]);
    out.push_back(hex_digits[data[i] & 0x0f]);
  }
  out.push_back('"');
}

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not valid
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
size_t utf8_sequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2))
      return 0;
    if (c == 0xE0 && b(1) < 0xA0)
      return 0; // overlong
    if (c == 0xED && b(1) >= 0xA0)
      return 0; // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3))
      return 0;
    if (c == 0xF0 && b(1) < 0x90)
      return 0; // overlong
    if (c == 0xF4 && b(1) >= 0x90)
      return 0; // past U+10FFFF
    return 4;
  }
  return 0;
}

// A Node Buffer serialized by its toJSON: {"type":"Buffer","data":[...]}.
// Buffer.from(array) keeps each element's ToNumber modulo 256.
bool is_buffer_object(const json& v) {
  if (!v.is_object())
    return false;
  auto t = v.find("type");
  return t != v.end() && t->is_string() && t->get_ref<const std::string&>() == "Buffer";
}

void append_buffer_object(std::string& out, const json& v) {
  auto d = v.find("data");
  if (d == v.end() || !d->is_array())
    throw js_json_error("Buffer object without a data array");
  std::string bytes;
  bytes.reserve(d->size());
  for (auto& e : *d) {
    double n = 0;
    if (e.is_number_integer())
      n = static_cast<double>(e.get<int64_t>() & 0xff);
    else if (e.is_number_unsigned())
      n = static_cast<double>(e.get<uint64_t>() & 0xff);
    else if (e.is_number_float() && std::isfinite(e.get<double>()))
      n = std::fmod(std::trunc(e.get<double>()), 256.0);
    else if (e.is_boolean())
      n = e.get<bool>() ? 1 : 0;
    if (n < 0)
      n += 256;
    bytes.push_back(static_cast<char>(static_cast<uint8_t>(n)));
  }
  append_hex(out, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

void append_value(std::string& out, const json& v, int depth) {
  if (depth > js_json_max_depth)
    throw js_json_error("value nested too deeply");
  switch (v.type()) {
    case json::value_t::null:
    case json::value_t::discarded:
      out += "null";
      return;
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case json::value_t::number_integer: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get<int64_t>());
      out.append(buf, r.ptr);
      return;
    }
    case json::value_t::number_unsigned: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get<uint64_t>());
      out.append(buf, r.ptr);
      return;
    }
    case json::value_t::number_float:
      append_js_number(out, v.get<double>());
      return;
    case json::value_t::string:
      append_js_string(out, v.get_ref<const std::string&>());
      return;
    case json::value_t::binary: {
      auto& b = v.get_binary();
      append_hex(out, b.data(), b.size());
      return;
    }
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (auto& e : v) {
        if (!first)
          out.push_back(',');
        first = false;
        append_value(out, e, depth + 1);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::object: {
      if (is_buffer_object(v)) {
        append_buffer_object(out, v);
        return;
      }
      out.push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first)
          out.push_back(',');
        first = false;
        append_js_string(out, it.key());
        out.push_back(':');
        append_value(out, it.value(), depth + 1);
      }
      out.push_back('}');
      return;
    }
  }
}

} // namespace

void append_js_string(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence(s, i);
      if (n == 0)
        throw js_json_error("string is not valid UTF-8");
      out.append(s.data() + i, n);
      i += n;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex_digits[c >> 4]);
          out.push_back(hex_digits[c & 0x0f]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

void append_js_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  if (d == 0) {
    out.push_back('0'); // JSON.stringify(-0) is "0"
    return;
  }
  // Shortest round-trip digits, then laid out by ECMA-262 Number::toString:
  // digits d1..dk with decimal exponent n (value = 0.d1..dk * 10^n).
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  bool negative = sci.front() == '-';
  if (negative)
    sci.remove_prefix(1);
  auto e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.')
      digits.push_back(c);
  while (digits.size() > 1 && digits.back() == '0')
    digits.pop_back();
  int exp10 = std::atoi(std::string(sci.substr(e + 1)).c_str());
  int k = static_cast<int>(digits.size());
  int n = exp10 + 1;
  if (negative)
    out.push_back('-');
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
}

void append_js_json(std::string& out, const json& value) {
  append_value(out, value, 0);
}

json error_json(std::string_view code, std::string_view message) {
  json j = json::object();
  if (!code.empty())
    j["code"] = std::string{code};
  j["message"] = std::string{message};
  return j;
}

json error_json(const std::exception& e) {
  return error_json({}, e.what());
}

} // namespace ht
