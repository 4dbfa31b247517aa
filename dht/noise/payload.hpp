#pragma once
// hyperdht's noise payload (`noisePayload` in hyperdht/lib/messages.js): what
// both peers put inside the PEER_HANDSHAKE Noise messages.
//
//   uint version (1) | uint flags | uint error | uint firewall
//   flags&1  holepunch     { uint id, relays: array of {ipv4 relay, ipv4 peer} }
//   flags&2  addresses4    array of ipv4 address+port
//   flags&4  addresses6    array of ipv6 address+port
//   flags&8  udx           { uint version, uint features (bit 0 reusableSocket), uint id, uint seq }
//   flags&16 secretStream  { uint version }
//   flags&32 relayThrough  { uint version, uint flags, fixed32 publicKey, fixed32 token }
//   flags&64 relayAddresses array of ipv4 address+port
//
// Decoding is strict inside every field (bounds, minimal varints). Like
// hyperdht, a version other than 1 is returned undecoded (the caller answers
// VERSION_MISMATCH), and unknown flag bits and bytes after the known fields
// are ignored: that is how hyperdht added fields (relayAddresses) without
// breaking older peers, so rejecting them would break compatibility.
#include <optional>
#include <vector>

#include "dht/encoding/compact.hpp"
#include "dht/encoding/net.hpp"
#include "dht/noise/crypto.hpp"

namespace ht::noise {

/// hyperdht's FIREWALL constants.
enum firewall : uint64_t { firewall_unknown = 0, firewall_open = 1, firewall_consistent = 2, firewall_random = 3 };
/// hyperdht's ERROR constants that travel in the payload.
enum payload_error : uint64_t { error_none = 0, error_aborted = 1, error_version_mismatch = 2, error_try_later = 3 };

struct relay_info {
  enc::ipv4_address relay_address;
  enc::ipv4_address peer_address;
  bool operator==(const relay_info& o) const {
    return relay_address == o.relay_address && peer_address == o.peer_address;
  }
};

struct holepunch_info {
  uint64_t id = 0;
  std::vector<relay_info> relays;
  bool operator==(const holepunch_info& o) const { return id == o.id && relays == o.relays; }
};

struct udx_info {
  uint64_t version = 1;  // always written as 1
  bool reusable_socket = false;
  uint64_t id = 0;
  uint64_t seq = 0;
  bool operator==(const udx_info& o) const {
    return version == o.version && reusable_socket == o.reusable_socket && id == o.id && seq == o.seq;
  }
};

struct secret_stream_info {
  uint64_t version = 1;  // always written as 1
  bool operator==(const secret_stream_info& o) const { return version == o.version; }
};

struct relay_through_info {
  uint64_t version = 1;  // always written as 1 (with flags 0)
  key32 public_key{};
  key32 token{};
  bool operator==(const relay_through_info& o) const {
    return version == o.version && public_key == o.public_key && token == o.token;
  }
};

struct noise_payload {
  uint64_t version = 1;  // encode always writes 1
  uint64_t error = error_none;
  uint64_t firewall = firewall_unknown;
  std::optional<holepunch_info> holepunch;
  std::vector<enc::ipv4_address> addresses4;  // empty = absent
  std::vector<enc::ipv6_address> addresses6;  // empty = absent
  std::optional<udx_info> udx;
  std::optional<secret_stream_info> secret_stream;
  std::optional<relay_through_info> relay_through;
  std::optional<std::vector<enc::ipv4_address>> relay_addresses;

  void encode(enc::writer& w) const;
  static noise_payload decode(enc::reader& r);
  bool operator==(const noise_payload& o) const;
};

/// Decodes a whole payload (trailing bytes allowed, see above).
noise_payload decode_noise_payload(const uint8_t* p, size_t n);

} // namespace ht::noise
