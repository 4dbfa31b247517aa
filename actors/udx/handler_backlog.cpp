// Per-source admission to the datagram handler's backlog (messages/udx.hpp,
// udx_handler_admit). The real socket and the virtual one in tests/doubles
// both call these, so they apply the same rule.
#include <algorithm>
#include <cstring>
#include <random>

#include "messages/udx.hpp"

namespace ht {

namespace {

uint64_t mix(uint64_t x) {
  // splitmix64's finaliser: every input bit affects every output bit.
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool ipv4_mapped(const udx_endpoint& e) {
  static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(e.ip.data(), prefix, sizeof prefix) == 0;
}

} // namespace

udx_handler_backlog::udx_handler_backlog(uint64_t seed) {
  if (seed == 0) {
    std::random_device rd;
    key0 = (uint64_t{rd()} << 32) ^ rd();
    key1 = (uint64_t{rd()} << 32) ^ rd();
  } else {
    key0 = mix(seed);
    key1 = mix(seed ^ 0x9e3779b97f4a7c15ULL);
  }
}

size_t udx_handler_backlog::slot_of(const udx_endpoint& from) const {
  // The host only (see the struct's comment): IPv4 as 4 bytes, wherever it
  // sits; IPv6 as its /64.
  uint64_t host = 0;
  if (from.family == 4) {
    std::memcpy(&host, from.ip.data(), 4);
  } else if (ipv4_mapped(from)) {
    std::memcpy(&host, from.ip.data() + 12, 4);
  } else {
    std::memcpy(&host, from.ip.data(), 8);
    host = mix(host) ^ 1; // keep IPv6 prefixes apart from IPv4 hosts
  }
  return static_cast<size_t>(mix(mix(host ^ key0) ^ key1) % slots);
}

int64_t udx_handler_share(int64_t cap, int64_t others) {
  int64_t floor = std::min(cap, std::max(cap / udx_handler_min_share_divisor,
                                         udx_handler_min_share));
  return std::max(cap / (std::max<int64_t>(others, 0) + 2), floor);
}

bool udx_handler_admit(udx_handler_backlog& b, int64_t cap, const udx_endpoint& from,
                       size_t datagram_bytes) {
  if (datagram_bytes == 0)
    return false;
  auto cost = udx_handler_cost(datagram_bytes);
  auto& mine = b.by_source[b.slot_of(from)];
  // Only the socket's I/O thread adds, so what it reads here can only have
  // shrunk (the handler releasing) by the time it adds: the checks are
  // never too lenient.
  int64_t held = mine.load(std::memory_order_relaxed);
  int64_t others = b.active.load(std::memory_order_relaxed) - (held > 0 ? 1 : 0);
  if (held + cost > udx_handler_share(cap, others) ||
      b.bytes.load(std::memory_order_relaxed) + cost > cap)
    return false;
  if (mine.fetch_add(cost, std::memory_order_relaxed) == 0)
    b.active.fetch_add(1, std::memory_order_relaxed);
  b.bytes.fetch_add(cost, std::memory_order_relaxed);
  return true;
}

void udx_handler_release(udx_handler_backlog& b, const udx_endpoint& from,
                         size_t datagram_bytes) {
  auto cost = udx_handler_cost(datagram_bytes);
  b.bytes.fetch_sub(cost, std::memory_order_relaxed);
  if (b.by_source[b.slot_of(from)].fetch_sub(cost, std::memory_order_relaxed) == cost)
    b.active.fetch_sub(1, std::memory_order_relaxed);
}

} // namespace ht
