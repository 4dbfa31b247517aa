#include "actors/store/log_paths.hpp"

namespace ht::store {

namespace {

constexpr size_t key_hex_size = 64;

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

} // namespace

bool is_client_key_hex(const std::string& hex) {
  if (hex.size() != key_hex_size)
    return false;
  for (char c : hex)
    if (!is_lower_hex(c))
      return false;
  return true;
}

std::string describe_bad_client_key(const std::string& hex) {
  if (hex.size() != key_hex_size)
    return "client key must be 64 lowercase hex characters, got "
           + std::to_string(hex.size()) + " characters";
  for (size_t i = 0; i < hex.size(); ++i)
    if (!is_lower_hex(hex[i]))
      return "client key must be 64 lowercase hex characters, bad character at "
             "offset " + std::to_string(i);
  return "client key is valid";
}

std::string log_path(const std::string& folder, const std::string& hex,
                     uint32_t generation) {
  std::string p = folder;
  if (p.empty())
    p = ".";
  if (p.back() != '/')
    p += '/';
  p += hex;
  p += ".log";
  if (generation > 0) {
    p += '.';
    p += std::to_string(generation);
  }
  return p;
}

} // namespace ht::store
