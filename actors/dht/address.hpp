#pragma once
// udx_endpoint (what sockets report) <-> ipv4_address (what dht-rpc speaks).
// dht-rpc is IPv4 only: an IPv4-mapped IPv6 sender (::ffff:a.b.c.d on a
// dual-stack socket) is its IPv4 address, so that node ids and the `to`
// field match what a JS node computes; other IPv6 senders are not DHT
// peers yet.
#include <optional>

#include "dht/rpc/message.hpp"
#include "messages/udx.hpp"

namespace ht::dht {

/// The IPv4 address of an endpoint: IPv4, or IPv4-mapped IPv6. Nothing for
/// any other IPv6 address.
std::optional<rpc::ipv4_address> to_ipv4(const udx_endpoint& e);

/// The endpoint to send to from a socket of family `socket_family` (4 or 6):
/// a dual-stack IPv6 socket reaches IPv4 peers through mapped addresses.
udx_endpoint to_endpoint(const rpc::ipv4_address& a, uint8_t socket_family = 4);

} // namespace ht::dht
