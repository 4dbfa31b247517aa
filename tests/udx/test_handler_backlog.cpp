// The datagram handler's admission rule (messages/udx.hpp,
// udx_handler_admit): per-source shares of the socket's cap, a source being
// a host (not host:port), memory fixed whatever the sources.
#include <catch2/catch.hpp>

#include "messages/udx.hpp"

using namespace ht;

namespace {

udx_endpoint host(const char* ip, uint16_t port = 1000) {
  return udx_endpoint::parse(ip, port);
}

/// Admits datagrams of `size` bytes from `from` until one is refused;
/// returns how many were admitted.
int fill(udx_handler_backlog& b, int64_t cap, const udx_endpoint& from, size_t size) {
  int n = 0;
  while (udx_handler_admit(b, cap, from, size))
    ++n;
  return n;
}

} // namespace

TEST_CASE("udx handler backlog: the share of one host", "[unit]") {
  constexpr int64_t cap = 1 << 20;
  // Alone: half the cap, the other half kept for a host not heard from yet.
  CHECK(udx_handler_share(cap, 0) == cap / 2);
  CHECK(udx_handler_share(cap, 1) == cap / 3);
  CHECK(udx_handler_share(cap, 2) == cap / 4);
  // Never below cap / 64 (here 16 KiB) ...
  CHECK(udx_handler_share(cap, 1000) == cap / udx_handler_min_share_divisor);
  // ... nor below one datagram of any size a socket receives, unless the
  // cap itself is smaller.
  CHECK(udx_handler_share(64 * 1024, 1000) == udx_handler_min_share);
  CHECK(udx_handler_share(1000, 5) == 1000);
}

TEST_CASE("udx handler backlog: a flooding host is held to its share, others are admitted", "[unit]") {
  constexpr int64_t cap = 1 << 20;
  constexpr size_t size = 100;
  const auto cost = udx_handler_cost(size);
  udx_handler_backlog b{42};
  auto flooder = host("10.0.0.1");
  int flood = fill(b, cap, flooder, size);
  CHECK(flood == (cap / 2) / cost);
  CHECK(b.bytes == flood * cost);
  CHECK(b.active == 1);
  // The same host from other ports is the same source: refused as well.
  for (uint16_t port = 1; port < 200; ++port)
    CHECK_FALSE(udx_handler_admit(b, cap, host("10.0.0.1", port), size));
  // Another host is admitted while the flooder holds its share.
  auto peer = host("10.0.0.2", 49999);
  for (int i = 0; i < 20; ++i)
    CHECK(udx_handler_admit(b, cap, peer, size));
  CHECK(b.active == 2);
  // The flooder, now one of two, must first fall below a third of the cap.
  int released = 0;
  while (!udx_handler_admit(b, cap, flooder, size)) {
    udx_handler_release(b, flooder, size);
    ++released;
  }
  CHECK(static_cast<int64_t>(flood - released + 1) * cost <= cap / 3);
  CHECK(static_cast<int64_t>(flood - released + 2) * cost > cap / 3);
  // Releasing everything empties the counters and the source count.
  for (int i = 0; i < flood - released + 1; ++i)
    udx_handler_release(b, flooder, size);
  for (int i = 0; i < 20; ++i)
    udx_handler_release(b, peer, size);
  CHECK(b.bytes == 0);
  CHECK(b.active == 0);
  for (auto& s : b.by_source)
    CHECK(s == 0);
}

TEST_CASE("udx handler backlog: many hosts share the cap, memory is fixed", "[unit]") {
  constexpr int64_t cap = 1 << 20;
  udx_handler_backlog b{7};
  // 10,000 hosts each sending a little: the table stays 256 counters; the
  // total never passes the cap.
  int admitted = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string ip = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) +
                     "." + std::to_string(i % 256);
    for (int k = 0; k < 10; ++k)
      admitted += udx_handler_admit(b, cap, host(ip.c_str()), 1000) ? 1 : 0;
  }
  CHECK(b.bytes <= cap);
  CHECK(b.bytes == admitted * udx_handler_cost(1000));
  CHECK(b.active <= static_cast<int64_t>(udx_handler_backlog::slots));
  CHECK(sizeof(udx_handler_backlog) < 4096);
  // Empty datagrams are never admitted.
  udx_handler_backlog e{1};
  CHECK_FALSE(udx_handler_admit(e, cap, host("10.0.0.1"), 0));
}

TEST_CASE("udx handler backlog: a source is the host; IPv6 by its /64, mapped IPv4 as IPv4", "[unit]") {
  udx_handler_backlog b{3};
  CHECK(b.slot_of(host("10.1.2.3", 1)) == b.slot_of(host("10.1.2.3", 65535)));
  CHECK(b.slot_of(host("::ffff:10.1.2.3", 7)) == b.slot_of(host("10.1.2.3", 9)));
  CHECK(b.slot_of(host("2001:db8:1:2::1", 1)) == b.slot_of(host("2001:db8:1:2:ffff::9", 2)));
  // Different hosts spread over the slots (a keyed hash): 200 hosts use
  // well over 100 of the 256 slots.
  std::vector<bool> used(udx_handler_backlog::slots);
  for (int i = 0; i < 200; ++i)
    used[b.slot_of(host(("192.168.0." + std::to_string(i)).c_str()))] = true;
  CHECK(std::count(used.begin(), used.end(), true) > 100);
  // Another key places hosts differently.
  udx_handler_backlog c{4};
  int same = 0;
  for (int i = 0; i < 200; ++i) {
    auto h = host(("192.168.0." + std::to_string(i)).c_str());
    same += b.slot_of(h) == c.slot_of(h) ? 1 : 0;
  }
  CHECK(same < 20);
}
