#pragma once
// Access to tests/rpc/vectors.json, the output of tests/interop/rpc-vectors.js
// (dht-rpc 6.27.0's own encoder, decoders, ids, tokens and nat-sampler).
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dht/rpc/message.hpp"

namespace ht::rpc_test {

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

enc::ipv4_address address(const nlohmann::json& j);  // {"host": "a.b.c.d", "port": n}
/// The fields of a vector (as JS decoded them) as our message types.
rpc::request request_fields(const nlohmann::json& v);
rpc::response response_fields(const nlohmann::json& v);
/// Every request and response datagram of the vectors (mutation seeds).
std::vector<bytes> all_datagrams();

} // namespace ht::rpc_test
