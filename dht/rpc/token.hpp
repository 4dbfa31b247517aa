#pragma once
// dht-rpc's request tokens (lib/io.js:148-159, 297-304): a token proves that
// the requester receives datagrams at its host. It is BLAKE2b-256 of the
// requester's host as ASCII text ("10.0.0.1"; the port is not part of it),
// keyed with one of two 32-byte secrets. New tokens use the current secret;
// tokens of the current or the previous secret are accepted. The node calls
// rotate() every 7.5 s (JS: every 10th 750 ms drain), so a token stays valid
// for 7.5 to 15 s.
#include <array>
#include <cstdint>

#include "dht/rpc/message.hpp"

namespace ht::rpc {

class token_store {
public:
  /// Secrets derived from seed (deterministic, for tests and simulations),
  /// or from libsodium's random source when seed is 0.
  explicit token_store(uint64_t seed);
  /// Known secrets, in JS's order (io._secrets[0], io._secrets[1]).
  token_store(const key32& previous, const key32& current);

  /// The token a reply to requester carries (made with the current secret).
  key32 create(const ipv4_address& requester) const;
  /// True if token was made for requester's host with either secret.
  bool validate(const ipv4_address& requester, const key32& token) const;
  /// The current secret becomes the previous one; the new current secret is
  /// BLAKE2b-256 of the old previous one (JS hashes the retired buffer in place).
  void rotate();

  const key32& previous_secret() const { return secrets_[0]; }
  const key32& current_secret() const { return secrets_[1]; }

private:
  key32 make(const ipv4_address& requester, const key32& secret) const;
  std::array<key32, 2> secrets_{};  // [0] previous, [1] current, as io._secrets
};

} // namespace ht::rpc
