#pragma once
// The primitives the Noise layer is built from, on libsodium only:
// BLAKE2b, HMAC-BLAKE2b and the HKDF of npm `noise-handshake`, Ed25519 key
// pairs and the Ed25519 Diffie-Hellman of npm `noise-curve-ed`, and the
// hypercore-crypto namespaces that hyperdht and secret-stream derive ids from.
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "dht/encoding/error.hpp"
#include <utility>

namespace ht::noise {

using key32 = std::array<uint8_t, 32>;
using hash64 = std::array<uint8_t, 64>;

enum class errc {
  out_of_order,    // send()/recv() when it is the other side's turn, or after the end
  truncated,       // a handshake message shorter than its pattern needs
  too_long,        // a Noise message above 65535 bytes
  decrypt_failed,  // AEAD authentication failed (wrong key, tampering)
  invalid_key,     // a public key that is not a usable Ed25519 point
  not_complete,    // final() before the last message
  failed,          // a call after an earlier error: the handshake is dead
  bad_payload,     // the handshake payload did not decode
};
const char* to_string(errc c);

using error = enc::coded_error<errc>;

/// Initialises libsodium once (thread-safe): CPU-specific implementations and
/// the random source. Every entry point of the wire layer calls it.
void ensure_sodium();

/// An Ed25519 key pair in libsodium's layout (secret key = seed || public key).
struct keypair {
  key32 public_key{};
  std::array<uint8_t, 64> secret_key{};
  static keypair from_seed(const key32& seed);
  static keypair random();
};

/// BLAKE2b with an explicit output size and optional key (crypto_generichash).
void blake2b(uint8_t* out, size_t out_len, const uint8_t* in, size_t in_len,
             const uint8_t* key = nullptr, size_t key_len = 0);

/// HMAC over BLAKE2b-512 (block 128), as noise-handshake's hmac.js.
hash64 hmac_blake2b(const uint8_t* key, size_t key_len, const uint8_t* a, size_t a_len,
                    const uint8_t* b = nullptr, size_t b_len = 0);

/// noise-handshake's HKDF with empty info and two 64-byte outputs.
std::pair<hash64, hash64> hkdf2(const hash64& chaining_key, const uint8_t* ikm, size_t ikm_len);

/// noise-curve-ed's DH: the clamped SHA-512 scalar of our seed times the
/// remote Ed25519 point. Throws invalid_key for small-order/non-canonical points.
key32 dh_ed25519(const key32& remote_public, const keypair& local);

/// hypercore-crypto's namespace(name, [id]): BLAKE2b-256(BLAKE2b-256(name) || id).
key32 namespace_id(const std::string& name, uint8_t id);

/// The namespaces used on the wire.
struct namespaces {
  static const key32& peer_handshake();      // hyperswarm/dht, PEER_HANDSHAKE (0)
  static const key32& peer_holepunch();      // hyperswarm/dht, PEER_HOLEPUNCH (1)
  static const key32& stream_initiator();    // hyperswarm/secret-stream, 0
  static const key32& stream_responder();    // hyperswarm/secret-stream, 1
  static const key32& stream_send();         // hyperswarm/secret-stream, 2
};

/// secret-stream's stream id: BLAKE2b-256(NS_INITIATOR or NS_RESPONDER, key = handshake hash).
key32 stream_id(const hash64& handshake_hash, bool initiator);

} // namespace ht::noise
