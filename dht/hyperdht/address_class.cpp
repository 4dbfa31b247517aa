#include "dht/hyperdht/address_class.hpp"

namespace ht::hyperdht {

bool is_private_ipv4(const enc::ipv4_address& a) {
  const auto& h = a.host;
  return h[0] == 10                                   // 10/8
      || (h[0] == 100 && h[1] >= 64 && h[1] <= 127)   // 100.64/10 carrier-grade NAT
      || h[0] == 127                                  // loopback
      || (h[0] == 169 && h[1] == 254)                 // link local
      || (h[0] == 172 && h[1] >= 16 && h[1] <= 31)    // 172.16/12
      || (h[0] == 192 && h[1] == 168);                // 192.168/16
}

bool is_reserved_ipv4(const enc::ipv4_address& a) {
  const auto& h = a.host;
  return h[0] == 0                                         // "this" network
      || (h[0] == 192 && h[1] == 0 && h[2] == 0)           // IETF assignments
      || (h[0] == 192 && h[1] == 0 && h[2] == 2)           // TEST-NET-1
      || (h[0] == 198 && (h[1] == 18 || h[1] == 19))       // benchmarking
      || (h[0] == 198 && h[1] == 51 && h[2] == 100)        // TEST-NET-2
      || (h[0] == 203 && h[1] == 0 && h[2] == 113)         // TEST-NET-3
      || h[0] >= 224;                                      // multicast, future use, broadcast
}

const enc::ipv4_address* match_address(const std::vector<enc::ipv4_address>& ours,
                                       const std::vector<enc::ipv4_address>& theirs) {
  const enc::ipv4_address* best = nullptr;
  int best_len = 0;
  for (const auto& mine : ours) {
    for (const auto& other : theirs) {
      int len = 0;
      while (len < 3 && mine.host[len] == other.host[len]) ++len;
      if (len == 3) return &other;  // same /24: the first such pair wins
      if (len > best_len) { best_len = len; best = &other; }
    }
  }
  return best;
}

} // namespace ht::hyperdht
