#pragma once
// dht-rpc's request tokens (lib/io.js:148-159, 297-304): a token proves that
// the requester receives datagrams at its host. It is BLAKE2b-256 of the
// requester's host as ASCII text ("10.0.0.1"; the port is not part of it),
// keyed with one of two 32-byte secrets. New tokens use the current secret;
// tokens of the current or the previous secret are accepted. The node calls
// rotate() every 7.5 s (JS: every 10th 750 ms drain), so a token stays valid
// for 7.5 to 15 s.
//
// Every reply() carries a token and every request with one is validated
// against both secrets: up to three keyed BLAKE2b per request. The store
// keeps what it computed for the last hosts seen (a fixed table of
// cache_slots entries, one host each, so memory is bounded whatever
// senders do), valid for the current pair of secrets only: a host's current
// token becomes its previous one on rotate(), anything older is recomputed.
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

  /// The token for host made with `secret`, uncached (what the cache holds).
  static key32 make(const ipv4_address& requester, const key32& secret);

  static constexpr size_t cache_slots = 256;
  /// Hosts whose tokens for the current secrets are cached (<= cache_slots).
  size_t cached_hosts() const;

private:
  struct cache_entry {
    uint32_t host = 0;
    uint64_t epoch = 0;          // rotations when filled; 0: empty
    bool have[2] = {false, false};
    key32 token[2]{};            // [0] with secrets_[0], [1] with secrets_[1]
  };
  /// The token of requester's host with secrets_[which], from the cache.
  const key32& cached(const ipv4_address& requester, size_t which) const;

  std::array<key32, 2> secrets_{};  // [0] previous, [1] current, as io._secrets
  uint64_t epoch_ = 1;              // counts rotations (starts at 1: 0 is "empty")
  mutable std::array<cache_entry, cache_slots> cache_{};
};

} // namespace ht::rpc
