#include "dht/hyperdht/secure_payload.hpp"

#include <sodium.h>

namespace ht::hyperdht {

key32 holepunch_secret(const noise::hash64& handshake_hash) {
  noise::ensure_sodium();
  key32 out{};
  const key32& ns = ns::peer_holepunch();
  noise::blake2b(out.data(), out.size(), ns.data(), ns.size(), handshake_hash.data(), handshake_hash.size());
  return out;
}

secure_payload::secure_payload(const key32& holepunch_secret, std::optional<key32> local_secret)
  : shared_(holepunch_secret) {
  noise::ensure_sodium();
  if (local_secret) local_ = *local_secret;
  else randombytes_buf(local_.data(), local_.size());
}

secure_payload::~secure_payload() {
  sodium_memzero(shared_.data(), shared_.size());
  sodium_memzero(local_.data(), local_.size());
}

bytes secure_payload::encrypt(const holepunch_payload& p,
                              const std::optional<std::array<uint8_t, 24>>& nonce) const {
  bytes plain = enc::encode(p);
  bytes out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size());
  if (nonce) std::copy(nonce->begin(), nonce->end(), out.begin());
  else randombytes_buf(out.data(), crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(out.data() + crypto_secretbox_NONCEBYTES, plain.data(), plain.size(), out.data(),
                        shared_.data());
  return out;
}

std::optional<holepunch_payload> secure_payload::decrypt(const uint8_t* p, size_t n) const {
  // hyperdht needs at least one plaintext byte: end (n - 16) must be past start (24).
  if (n <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) return std::nullopt;
  bytes plain(n - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES);
  if (crypto_secretbox_open_easy(plain.data(), p + crypto_secretbox_NONCEBYTES, n - crypto_secretbox_NONCEBYTES,
                                 p, shared_.data()) != 0)
    return std::nullopt;
  try {
    return decode_value<holepunch_payload>(plain);
  } catch (const enc::error&) {
    return std::nullopt;
  }
}

key32 secure_payload::token(const std::string& host) const {
  key32 out{};
  noise::blake2b(out.data(), out.size(), reinterpret_cast<const uint8_t*>(host.data()), host.size(), local_.data(),
                 local_.size());
  return out;
}

} // namespace ht::hyperdht
