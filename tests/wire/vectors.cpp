#include "vectors.hpp"

#include <fstream>
#include <stdexcept>

namespace ht::wire_test {

const nlohmann::json& vectors() {
  static const nlohmann::json j = [] {
    std::ifstream in(HT_WIRE_VECTORS);
    if (!in) throw std::runtime_error("cannot open " HT_WIRE_VECTORS);
    return nlohmann::json::parse(in);
  }();
  return j;
}

bytes unhex(const std::string& h) {
  if (h.size() % 2) throw std::runtime_error("odd hex");
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("bad hex");
  };
  bytes out(h.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(v(h[2 * i]) * 16 + v(h[2 * i + 1]));
  return out;
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

} // namespace ht::wire_test
