#pragma once
// Test vectors made by the pinned JS packages (tests/interop/*-vectors.js):
// reading a vectors.json file, and hex <-> bytes for the values in it. Each
// area's vectors.hpp (tests/rpc, tests/hyperdht, tests/wire) builds on this.
#include <array>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ht::test {

/// The JSON document at `path`; throws std::runtime_error if it cannot be
/// opened (nlohmann's parse_error if it is not JSON).
inline nlohmann::json read_vector_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

/// Hex (either case) to bytes; throws on an odd length or a non-hex digit.
inline std::vector<uint8_t> unhex(const std::string& h) {
  if (h.size() % 2)
    throw std::runtime_error("odd hex length: " + h);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("bad hex digit");
  };
  std::vector<uint8_t> out(h.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(nibble(h[2 * i]) * 16 + nibble(h[2 * i + 1]));
  return out;
}

/// Lower-case hex, as the JS vectors write it.
inline std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  return s;
}
inline std::string hex(const std::vector<uint8_t>& b) { return hex(b.data(), b.size()); }
template <size_t N>
std::string hex(const std::array<uint8_t, N>& a) { return hex(a.data(), N); }

/// Hex of exactly N bytes (a key, a hash); throws on another size.
template <size_t N>
std::array<uint8_t, N> unhex_array(const std::string& h) {
  auto b = unhex(h);
  if (b.size() != N)
    throw std::runtime_error("vector of wrong size: " + h);
  std::array<uint8_t, N> a{};
  for (size_t i = 0; i < N; ++i)
    a[i] = b[i];
  return a;
}

} // namespace ht::test
