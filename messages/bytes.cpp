#include "messages/bytes.hpp"

namespace ht {

std::string to_hex(const uint8_t* data, size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0x0f];
  }
  return out;
}

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool from_hex(const std::string& hex, bytes& out) {
  if (hex.size() % 2 != 0)
    return false;
  bytes result(hex.size() / 2);
  for (size_t i = 0; i < result.size(); ++i) {
    int hi = hex_digit_value(hex[2 * i]);
    int lo = hex_digit_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    result[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  out = std::move(result);
  return true;
}

} // namespace ht
