#pragma once
// hyperdht 6.34.0's wire constants (lib/constants.js, lib/router.js:9-13):
// the dht-rpc user commands it defines, the handshake/holepunch relay modes,
// the error codes that travel in responses and the signing namespaces.
#include <cstdint>

#include "dht/noise/crypto.hpp"

namespace ht::hyperdht {

using key32 = noise::key32;

/// User commands (dht-rpc requests with the internal flag clear), constants.js:3-15.
namespace command {
constexpr uint64_t peer_handshake = 0;
constexpr uint64_t peer_holepunch = 1;
constexpr uint64_t find_peer = 2;
constexpr uint64_t lookup = 3;
constexpr uint64_t announce = 4;
constexpr uint64_t unannounce = 5;
constexpr uint64_t mutable_put = 6;
constexpr uint64_t mutable_get = 7;
constexpr uint64_t immutable_put = 8;
constexpr uint64_t immutable_get = 9;
constexpr uint64_t plugin = 10;
} // namespace command

/// Who a PEER_HANDSHAKE / PEER_HOLEPUNCH message comes from (router.js:9-13).
namespace mode {
constexpr uint64_t from_client = 0;
constexpr uint64_t from_server = 1;
constexpr uint64_t from_relay = 2;
constexpr uint64_t from_second_relay = 3;
constexpr uint64_t reply = 4;
} // namespace mode

/// Response error codes hyperdht's persistent node sends (constants.js:30-39;
/// 0-3 travel in noise payloads, 16-17 as dht-rpc response errors).
namespace error_code {
constexpr uint64_t none = 0;
constexpr uint64_t aborted = 1;
constexpr uint64_t version_mismatch = 2;
constexpr uint64_t try_later = 3;
constexpr uint64_t seq_reused = 16;
constexpr uint64_t seq_too_low = 17;
} // namespace error_code

/// hyperdht's NS: hypercore-crypto namespace('hyperswarm/dht', [command])
/// (constants.js:41-64): BLAKE2b-256(BLAKE2b-256("hyperswarm/dht") || command).
struct ns {
  static const key32& announce();        // 4
  static const key32& unannounce();      // 5
  static const key32& mutable_put();     // 6
  static const key32& peer_handshake();  // 0
  static const key32& peer_holepunch();  // 1
  static const key32& plugin();          // 10
};

} // namespace ht::hyperdht
