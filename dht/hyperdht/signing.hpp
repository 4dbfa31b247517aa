#pragma once
// What hyperdht signs (hyperdht/lib/persistent.js:249-307), with Ed25519
// (libsodium's crypto_sign_detached / crypto_sign_verify_detached, as
// sodium-native does).
//
// ANNOUNCE / UNANNOUNCE: the 64-byte signable
//     NS_ANNOUNCE or NS_UNANNOUNCE || BLAKE2b-256(target || node id || token
//                                                 || encoded peer || refresh or nothing)
// binds the record to the storing node (its id) and to the round trip that
// gave the announcer a token, so it cannot be replayed to another node.
// MUTABLE_PUT: NS_MUTABLE_PUT || BLAKE2b-256(uint seq || buffer value).
#include <optional>

#include "dht/hyperdht/messages.hpp"
#include "dht/noise/crypto.hpp"

namespace ht::hyperdht {

using signable = std::array<uint8_t, 64>;

/// annSignable (persistent.js:282-297). `ns` is ns::announce() or ns::unannounce().
signable announce_signable(const key32& ns, const key32& target, const key32& node_id, const key32& token,
                           const peer_record& peer, const std::optional<key32>& refresh);

/// Signs `ann.peer` (required) for the node `node_id` that handed out `token`.
sig64 sign_announce(const key32& target, const key32& token, const key32& node_id,
                    const announce_message& ann, const noise::keypair& kp);
sig64 sign_unannounce(const key32& target, const key32& token, const key32& node_id,
                      const announce_message& ann, const noise::keypair& kp);
/// True if `ann` has a peer and a signature that verifies against the peer's key.
bool verify_announce(const key32& ns, const key32& target, const key32& token, const key32& node_id,
                     const announce_message& ann);

/// The mutable signable (persistent.js:249-257, 272-280).
signable mutable_signable_bytes(uint64_t seq, const bytes& value);
sig64 sign_mutable(uint64_t seq, const bytes& value, const noise::keypair& kp);
bool verify_mutable(const sig64& signature, uint64_t seq, const bytes& value, const key32& public_key);

/// Ed25519 over any message (detached), and its check.
sig64 sign_detached(const uint8_t* msg, size_t n, const noise::keypair& kp);
bool verify_detached(const sig64& signature, const uint8_t* msg, size_t n, const key32& public_key);

/// BLAKE2b-256 of bytes: hyperdht's crypto.hash (target = hash(publicKey), immutable keys).
key32 hash32(const uint8_t* p, size_t n);
inline key32 hash32(const bytes& b) { return hash32(b.data(), b.size()); }
inline key32 hash32(const key32& k) { return hash32(k.data(), k.size()); }

} // namespace ht::hyperdht
