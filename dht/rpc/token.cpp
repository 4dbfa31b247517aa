#include "dht/rpc/token.hpp"

#include <sodium.h>

#include <string>

#include "dht/noise/crypto.hpp"

namespace ht::rpc {

token_store::token_store(uint64_t seed) {
  noise::ensure_sodium();
  if (seed == 0) {
    for (auto& s : secrets_) randombytes_buf(s.data(), s.size());
    return;
  }
  // Seeded: BLAKE2b-256(seed as 8 bytes LE || index). Only our own node uses
  // these secrets, so how they are drawn is not a wire fact.
  for (uint8_t i = 0; i < 2; ++i) {
    std::array<uint8_t, 9> in{};
    for (int b = 0; b < 8; ++b) in[static_cast<size_t>(b)] = static_cast<uint8_t>(seed >> (8 * b));
    in[8] = i;
    noise::blake2b(secrets_[i].data(), secrets_[i].size(), in.data(), in.size());
  }
}

token_store::token_store(const key32& previous, const key32& current) : secrets_{previous, current} {}

key32 token_store::make(const ipv4_address& requester, const key32& secret) {
  // JS hashes b4a.from(addr.host): the dotted-quad text, not the 4 bytes.
  const std::string host = requester.host_string();
  key32 t{};
  noise::blake2b(t.data(), t.size(), reinterpret_cast<const uint8_t*>(host.data()), host.size(),
                 secret.data(), secret.size());
  return t;
}

const key32& token_store::cached(const ipv4_address& requester, size_t which) const {
  uint32_t host = 0;
  for (uint8_t b : requester.host) host = (host << 8) | b;
  // A multiplicative hash spreads neighbouring hosts over the slots; a host
  // that collides simply replaces the slot's previous host.
  cache_entry& e = cache_[(host * 2654435761u) >> 24 & (cache_slots - 1)];
  if (e.host != host || e.epoch != epoch_) {
    if (e.epoch != 0 && e.host == host && e.epoch + 1 == epoch_) {
      // One rotation later: the old current secret is now the previous one.
      e.token[0] = e.token[1];
      e.have[0] = e.have[1];
    } else {
      e.have[0] = false;
    }
    e.have[1] = false;
    e.host = host;
    e.epoch = epoch_;
  }
  if (!e.have[which]) {
    e.token[which] = make(requester, secrets_[which]);
    e.have[which] = true;
  }
  return e.token[which];
}

size_t token_store::cached_hosts() const {
  size_t n = 0;
  for (const auto& e : cache_)
    if (e.epoch == epoch_ && (e.have[0] || e.have[1])) n++;
  return n;
}

key32 token_store::create(const ipv4_address& requester) const {
  return cached(requester, 1);
}

bool token_store::validate(const ipv4_address& requester, const key32& token) const {
  bool ok = false;
  for (size_t i = 0; i < 2; i++) {
    const key32& expected = cached(requester, i);
    // Compare both in constant time, so timing tells nothing about which one matched.
    ok |= sodium_memcmp(expected.data(), token.data(), token.size()) == 0;
  }
  return ok;
}

void token_store::rotate() {
  key32 retired = secrets_[0];
  secrets_[0] = secrets_[1];
  noise::blake2b(secrets_[1].data(), secrets_[1].size(), retired.data(), retired.size());
  epoch_++;
}

} // namespace ht::rpc
