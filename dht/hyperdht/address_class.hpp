#pragma once
// The address classes hyperdht's connect rules look at (npm `bogon`, which
// connect.js uses): private and reserved IPv4 ranges. 127/8 is private (so
// a bogon) but not reserved: skipped when picking a public address of an
// OPEN server, kept for the LAN ping (docs/hyperdht.md, "Connecting").
#include <vector>

#include "dht/encoding/net.hpp"

namespace ht::hyperdht {

bool is_private_ipv4(const enc::ipv4_address& a);
bool is_reserved_ipv4(const enc::ipv4_address& a);
inline bool is_bogon_ipv4(const enc::ipv4_address& a) {
  return is_private_ipv4(a) || is_reserved_ipv4(a);
}

/// Holepuncher.matchAddress: the remote address sharing the longest leading
/// run of octets (at least the first) with one of ours; nullptr if none
/// shares even the first octet.
const enc::ipv4_address* match_address(const std::vector<enc::ipv4_address>& ours,
                                       const std::vector<enc::ipv4_address>& theirs);

} // namespace ht::hyperdht
