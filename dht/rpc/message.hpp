#pragma once
// dht-rpc 6.27.0 datagrams (lib/io.js): requests (first byte 0x03) and
// responses (0x13), IPv4 only. Decoding is strict: every field is bounds
// checked through the compact-encoding reader, non-minimal varints and
// trailing bytes are errors, nothing is allocated beyond the datagram's
// own size. JS decodes more leniently and drops what it cannot read; we
// drop the same datagrams and a few more (non-minimal varints, trailing
// bytes, unknown flag bits, a closer-nodes flag with no nodes, an error
// flag with code 0), which no JS encoder produces: every datagram we accept
// re-encodes to exactly its own bytes (docs/dht.md "Wire format").
#include <array>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "dht/encoding/compact.hpp"
#include "dht/encoding/net.hpp"

namespace ht::rpc {

using bytes = std::vector<uint8_t>;
using key32 = std::array<uint8_t, 32>;
using enc::ipv4_address;

constexpr uint8_t request_type = 0x03;   // (0 << 4) | version 3
constexpr uint8_t response_type = 0x13;  // (1 << 4) | version 3

/// Internal commands (request flag 4 set); user commands (flag clear) use
/// their own numbering, owned by the layer above (hyperdht).
enum class internal_command : uint64_t {
  ping = 0,
  ping_nat = 1,
  find_node = 2,
  down_hint = 3,
  delayed_ping = 4,
};

/// Response error codes dht-rpc itself sends; the layer above may use others.
namespace error_code {
constexpr uint64_t none = 0;
constexpr uint64_t unknown_command = 1;
constexpr uint64_t invalid_token = 2;
} // namespace error_code

struct request {
  uint16_t tid = 0;
  ipv4_address to;               // where the sender sent it
  std::optional<key32> id;       // flag 1: the sender's node id (persistent nodes only)
  std::optional<key32> token;    // flag 2
  bool internal = false;         // flag 4
  uint64_t command = 0;
  std::optional<key32> target;   // flag 8
  std::optional<bytes> value;    // flag 16 (may be present and empty)

  bool operator==(const request& o) const;
};

struct response {
  uint16_t tid = 0;
  ipv4_address to;               // the requester's address as the responder saw it
  std::optional<key32> id;       // flag 1
  std::optional<key32> token;    // flag 2
  std::vector<ipv4_address> closer_nodes;  // flag 4 (JS sets it only when non-empty)
  uint64_t error = 0;            // flag 8 (JS sets it only when non-zero)
  std::optional<bytes> value;    // flag 16

  bool operator==(const response& o) const;
};

using message = std::variant<request, response>;

bytes encode(const request& r);
bytes encode(const response& r);
/// The same bytes into out (its contents replaced, its storage reused).
void encode(const request& r, bytes& out);
void encode(const response& r, bytes& out);

/// Decodes one datagram; throws ht::enc::error (typed) on anything malformed.
message decode(const uint8_t* data, size_t size);

/// dht-rpc's node id: BLAKE2b-256 of the 6-byte encoded ipv4 address.
key32 node_id(const ipv4_address& addr);

} // namespace ht::rpc
