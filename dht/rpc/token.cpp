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

key32 token_store::make(const ipv4_address& requester, const key32& secret) const {
  // JS hashes b4a.from(addr.host): the dotted-quad text, not the 4 bytes.
  const std::string host = requester.host_string();
  key32 t{};
  noise::blake2b(t.data(), t.size(), reinterpret_cast<const uint8_t*>(host.data()), host.size(),
                 secret.data(), secret.size());
  return t;
}

key32 token_store::create(const ipv4_address& requester) const {
  return make(requester, secrets_[1]);
}

bool token_store::validate(const ipv4_address& requester, const key32& token) const {
  bool ok = false;
  for (const auto& s : secrets_) {
    key32 expected = make(requester, s);
    // Compare both in constant time, so timing tells nothing about which one matched.
    ok |= sodium_memcmp(expected.data(), token.data(), token.size()) == 0;
  }
  return ok;
}

void token_store::rotate() {
  key32 retired = secrets_[0];
  secrets_[0] = secrets_[1];
  noise::blake2b(secrets_[1].data(), secrets_[1].size(), retired.data(), retired.size());
}

} // namespace ht::rpc
