#pragma once
// The encrypted holepunch payload (hyperdht/lib/secure-payload.js): the
// PEER_HOLEPUNCH `payload` buffer is nonce(24) || crypto_secretbox_easy(
// holepunch_payload) under the key both peers derive from the handshake
// hash, BLAKE2b-256(NS_PEER_HOLEPUNCH, key = hash) (noise-wrap.js:35-37).
#include <array>
#include <optional>

#include "dht/hyperdht/messages.hpp"
#include "dht/noise/crypto.hpp"

namespace ht::hyperdht {

/// BLAKE2b-256 with NS_PEER_HOLEPUNCH as input and the handshake hash as key.
key32 holepunch_secret(const noise::hash64& handshake_hash);

class secure_payload {
public:
  /// `local_secret` keys our holepunch tokens; random when not given.
  explicit secure_payload(const key32& holepunch_secret, std::optional<key32> local_secret = {});
  ~secure_payload();
  secure_payload(const secure_payload&) = delete;
  secure_payload& operator=(const secure_payload&) = delete;

  /// nonce || secretbox(encoded payload); the nonce is random unless given
  /// (tests and vectors only: a nonce must never repeat under one key).
  bytes encrypt(const holepunch_payload& p, const std::optional<std::array<uint8_t, 24>>& nonce = {}) const;
  /// nullopt when the buffer is too short, fails authentication or does not
  /// decode: hyperdht drops such a payload silently (secure-payload.js:13-29).
  std::optional<holepunch_payload> decrypt(const uint8_t* p, size_t n) const;
  std::optional<holepunch_payload> decrypt(const bytes& b) const { return decrypt(b.data(), b.size()); }

  /// The token we hand a peer at `host` (its dotted-quad string):
  /// BLAKE2b-256(host, key = local secret) (secure-payload.js:47-51).
  key32 token(const std::string& host) const;

private:
  key32 shared_{};
  key32 local_{};
};

} // namespace ht::hyperdht
