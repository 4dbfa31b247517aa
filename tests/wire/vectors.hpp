#pragma once
// Access to tests/wire/vectors.json, the output of tests/interop/wire-vectors.js.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ht::wire_test {

using bytes = std::vector<uint8_t>;

const nlohmann::json& vectors();
bytes unhex(const std::string& h);
std::string hex(const uint8_t* p, size_t n);
inline std::string hex(const bytes& b) { return hex(b.data(), b.size()); }
template <size_t N>
std::string hex(const std::array<uint8_t, N>& a) { return hex(a.data(), N); }
template <size_t N>
std::array<uint8_t, N> unhex_array(const std::string& h) {
  bytes b = unhex(h);
  std::array<uint8_t, N> a{};
  if (b.size() != N) throw std::runtime_error("vector of wrong size: " + h);
  for (size_t i = 0; i < N; ++i) a[i] = b[i];
  return a;
}

} // namespace ht::wire_test
