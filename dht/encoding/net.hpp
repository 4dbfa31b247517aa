#pragma once
// compact-encoding-net: IPv4/IPv6 addresses with a uint16 LE port, as
// hyperdht's messages carry them (host as 4 or 16 raw bytes, then the port).
#include <array>
#include <cstdint>
#include <string>

#include "dht/encoding/compact.hpp"

namespace ht::enc {

struct ipv4_address {
  std::array<uint8_t, 4> host{};
  uint16_t port = 0;

  /// Parses dotted quad "a.b.c.d" strictly (four decimal octets <= 255).
  static ipv4_address parse(const std::string& host, uint16_t port);
  std::string host_string() const;

  void encode(writer& w) const;
  static ipv4_address decode(reader& r);
  static constexpr size_t encoded_size = 6;
  bool operator==(const ipv4_address& o) const { return host == o.host && port == o.port; }
};

struct ipv6_address {
  std::array<uint8_t, 16> host{};
  uint16_t port = 0;

  /// Parses RFC 4291 text ("::1", "fe80::1:2", full form); no zone ids.
  static ipv6_address parse(const std::string& host, uint16_t port);
  /// The form compact-encoding-net decodes to: 8 unpadded hex groups.
  std::string host_string() const;

  void encode(writer& w) const;
  static ipv6_address decode(reader& r);
  static constexpr size_t encoded_size = 18;
  bool operator==(const ipv6_address& o) const { return host == o.host && port == o.port; }
};

} // namespace ht::enc
