#pragma once
// The bodies hyperdht 6.34.0 puts in dht-rpc request and response values
// (hyperdht/lib/messages.js). Each struct has encode(writer&) and a static
// decode(reader&); decode_value<T>(bytes) decodes a whole dht-rpc value.
//
// Strictness: inside every field decoding is strict (bounds, minimal
// varints, array lengths checked against the bytes left before anything is
// reserved) and errors are typed ht::enc::error. Where hyperdht is lenient
// and compatibility needs the same leniency we follow it (docs/hyperdht.md):
//   - unknown flag bits are ignored, and bytes after the last known field are
//     ignored (decode_value): hyperdht's own decoders (c.decode) never look
//     at either, which is how it adds fields without breaking old peers;
//   - lookupRawReply's trailing `bump` is optional (messages.js:330);
//   - a zero-length buffer is a present, empty buffer (compact-encoding 3.5
//     decodes it to an empty Uint8Array, which hyperdht treats as truthy).
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "dht/encoding/compact.hpp"
#include "dht/encoding/net.hpp"
#include "dht/hyperdht/constants.hpp"

namespace ht::hyperdht {

using bytes = std::vector<uint8_t>;
using sig64 = std::array<uint8_t, 64>;
using enc::ipv4_address;

/// PEER_HANDSHAKE value (messages.js:29-54):
///   uint flags (1 peerAddress, 2 relayAddress) | uint mode | buffer noise | [ipv4] | [ipv4]
struct handshake_message {
  uint64_t mode = mode::from_client;
  bytes noise;
  std::optional<ipv4_address> peer_address;
  std::optional<ipv4_address> relay_address;

  void encode(enc::writer& w) const;
  static handshake_message decode(enc::reader& r);
  bool operator==(const handshake_message& o) const;
};

/// PEER_HOLEPUNCH value (messages.js:227-251):
///   uint flags (1 peerAddress) | uint mode | uint id | buffer payload | [ipv4]
struct holepunch_message {
  uint64_t mode = mode::from_client;
  uint64_t id = 0;
  bytes payload;
  std::optional<ipv4_address> peer_address;

  void encode(enc::writer& w) const;
  static holepunch_message decode(enc::reader& r);
  bool operator==(const holepunch_message& o) const;
};

/// An announced peer (messages.js:297-312): fixed32 publicKey | ipv4 array.
/// FIND_PEER answers with one, LOOKUP with an array of them.
struct peer_record {
  key32 public_key{};
  std::vector<ipv4_address> relay_addresses;

  void encode(enc::writer& w) const;
  static peer_record decode(enc::reader& r);
  bool operator==(const peer_record& o) const;
};

/// LOOKUP's reply (messages.js:318-333): an array of peer records then a
/// uint bump. The persistent node encodes it from the record bytes it keeps
/// (encode_lookup_reply); a reader decodes the records.
struct lookup_reply {
  std::vector<peer_record> peers;
  uint64_t bump = 0;  // absent on the wire (older nodes) reads as 0

  void encode(enc::writer& w) const;
  static lookup_reply decode(enc::reader& r);
  bool operator==(const lookup_reply& o) const;
};
/// Encodes a lookup reply from already-encoded peer records (c.array(c.raw)).
bytes encode_lookup_reply(const std::vector<const bytes*>& records, uint64_t bump);

/// ANNOUNCE / UNANNOUNCE value (messages.js:335-361):
///   uint flags (1 peer, 2 refresh, 4 signature, 8 bump) | [peer] | [fixed32] | [fixed64] | [uint]
struct announce_message {
  std::optional<peer_record> peer;
  std::optional<key32> refresh;
  std::optional<sig64> signature;
  uint64_t bump = 0;  // written (flag 8) only when non-zero, as hyperdht does

  void encode(enc::writer& w) const;
  static announce_message decode(enc::reader& r);
  bool operator==(const announce_message& o) const;
};

/// What a mutable record's signature covers, hashed (messages.js:363-378): uint seq | buffer value.
struct mutable_signable {
  uint64_t seq = 0;
  bytes value;
  void encode(enc::writer& w) const;
};

/// MUTABLE_PUT value (messages.js:380-401): fixed32 publicKey | uint seq | buffer value | fixed64 signature.
struct mutable_put_request {
  key32 public_key{};
  uint64_t seq = 0;
  bytes value;
  sig64 signature{};

  void encode(enc::writer& w) const;
  static mutable_put_request decode(enc::reader& r);
  bool operator==(const mutable_put_request& o) const;
};

/// MUTABLE_GET reply value, also what a node stores (messages.js:403-421):
/// uint seq | buffer value | fixed64 signature. (MUTABLE_GET's request value
/// is a bare uint: the lowest seq the asker wants.)
struct mutable_get_response {
  uint64_t seq = 0;
  bytes value;
  sig64 signature{};

  void encode(enc::writer& w) const;
  static mutable_get_response decode(enc::reader& r);
  bool operator==(const mutable_get_response& o) const;
};

/// What the two sides of a holepunch exchange, encrypted (messages.js:253-295):
///   uint flags (1 connected, 2 punching, 4 addresses, 8 remoteAddress,
///               16 token, 32 remoteToken) | uint error | uint firewall | uint round
///   | [ipv4 array] | [ipv4] | [fixed32] | [fixed32]
struct holepunch_payload {
  uint64_t error = error_code::none;
  uint64_t firewall = 0;
  uint64_t round = 0;
  bool connected = false;
  bool punching = false;
  std::optional<std::vector<ipv4_address>> addresses;  // an empty array is still sent (flag 4)
  std::optional<ipv4_address> remote_address;
  std::optional<key32> token;
  std::optional<key32> remote_token;

  void encode(enc::writer& w) const;
  static holepunch_payload decode(enc::reader& r);
  bool operator==(const holepunch_payload& o) const;
};

/// MUTABLE_GET's request value / a bare compact uint.
bytes encode_uint_value(uint64_t n);
uint64_t decode_uint_value(const bytes& b);

/// Decodes a dht-rpc value as hyperdht does: bytes after the message are ignored.
template <class T>
T decode_value(const uint8_t* p, size_t n) {
  enc::reader r(p, n);
  return T::decode(r);
}
template <class T>
T decode_value(const bytes& b) { return decode_value<T>(b.data(), b.size()); }

} // namespace ht::hyperdht
