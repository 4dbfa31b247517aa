#include "actors/dht/address.hpp"

#include <algorithm>
#include <cstring>

namespace ht::dht {

namespace {
constexpr uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
} // namespace

std::optional<rpc::ipv4_address> to_ipv4(const udx_endpoint& e) {
  rpc::ipv4_address a;
  a.port = e.port;
  if (e.family == 4) {
    std::copy_n(e.ip.begin(), 4, a.host.begin());
    return a;
  }
  if (std::memcmp(e.ip.data(), mapped_prefix, sizeof mapped_prefix) == 0) {
    std::copy_n(e.ip.begin() + 12, 4, a.host.begin());
    return a;
  }
  return std::nullopt;
}

udx_endpoint to_endpoint(const rpc::ipv4_address& a, uint8_t socket_family) {
  udx_endpoint e;
  e.port = a.port;
  if (socket_family == 6) {
    e.family = 6;
    std::copy_n(mapped_prefix, 12, e.ip.begin());
    std::copy_n(a.host.begin(), 4, e.ip.begin() + 12);
  } else {
    e.family = 4;
    std::copy_n(a.host.begin(), 4, e.ip.begin());
  }
  return e;
}

} // namespace ht::dht
