#include "dht/noise/crypto.hpp"

#include <cstring>

#include <sodium.h>

namespace ht::noise {

namespace {
struct sodium_init_once {
  sodium_init_once() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  }
};
} // namespace

void ensure_sodium() { static sodium_init_once once; }

const char* to_string(errc c) {
  switch (c) {
    case errc::out_of_order: return "handshake message out of order";
    case errc::truncated: return "handshake message truncated";
    case errc::too_long: return "noise message too long";
    case errc::decrypt_failed: return "decryption failed";
    case errc::invalid_key: return "invalid public key";
    case errc::not_complete: return "handshake not complete";
    case errc::failed: return "handshake failed earlier";
    case errc::bad_payload: return "bad handshake payload";
  }
  return "unknown";
}

keypair keypair::from_seed(const key32& seed) {
  ensure_sodium();
  keypair kp;
  crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed.data());
  return kp;
}

keypair keypair::random() {
  ensure_sodium();
  keypair kp;
  crypto_sign_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

void blake2b(uint8_t* out, size_t out_len, const uint8_t* in, size_t in_len, const uint8_t* key,
             size_t key_len) {
  ensure_sodium();
  crypto_generichash(out, out_len, in, in_len, key, key_len);
}

hash64 hmac_blake2b(const uint8_t* key, size_t key_len, const uint8_t* a, size_t a_len,
                    const uint8_t* b, size_t b_len) {
  ensure_sodium();
  constexpr size_t block = 128;
  uint8_t k[block] = {0};
  if (key_len > block) crypto_generichash(k, 64, key, key_len, nullptr, 0);
  else std::memcpy(k, key, key_len);
  uint8_t ipad[block], opad[block];
  for (size_t i = 0; i < block; ++i) {
    ipad[i] = static_cast<uint8_t>(k[i] ^ 0x36);
    opad[i] = static_cast<uint8_t>(k[i] ^ 0x5c);
  }
  hash64 inner, out;
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 64);
  crypto_generichash_update(&st, ipad, block);
  if (a_len) crypto_generichash_update(&st, a, a_len);
  if (b_len) crypto_generichash_update(&st, b, b_len);
  crypto_generichash_final(&st, inner.data(), 64);
  crypto_generichash_init(&st, nullptr, 0, 64);
  crypto_generichash_update(&st, opad, block);
  crypto_generichash_update(&st, inner.data(), 64);
  crypto_generichash_final(&st, out.data(), 64);
  sodium_memzero(k, sizeof k);
  sodium_memzero(ipad, sizeof ipad);
  sodium_memzero(opad, sizeof opad);
  sodium_memzero(inner.data(), inner.size());
  return out;
}

std::pair<hash64, hash64> hkdf2(const hash64& ck, const uint8_t* ikm, size_t ikm_len) {
  hash64 prk = hmac_blake2b(ck.data(), ck.size(), ikm, ikm_len);
  const uint8_t one = 1, two = 2;
  hash64 t1 = hmac_blake2b(prk.data(), prk.size(), &one, 1);
  hash64 t2 = hmac_blake2b(prk.data(), prk.size(), t1.data(), t1.size(), &two, 1);
  sodium_memzero(prk.data(), prk.size());
  return {t1, t2};
}

key32 dh_ed25519(const key32& remote_public, const keypair& local) {
  ensure_sodium();
  uint8_t h[64];
  crypto_hash_sha512(h, local.secret_key.data(), 32);
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  key32 out;
  int rc = crypto_scalarmult_ed25519_noclamp(out.data(), h, remote_public.data());
  sodium_memzero(h, sizeof h);
  if (rc != 0) throw error(errc::invalid_key, "remote key is not a usable Ed25519 point");
  return out;
}

key32 namespace_id(const std::string& name, uint8_t id) {
  uint8_t ns[33];
  blake2b(ns, 32, reinterpret_cast<const uint8_t*>(name.data()), name.size());
  ns[32] = id;
  key32 out;
  blake2b(out.data(), 32, ns, sizeof ns);
  return out;
}

const key32& namespaces::peer_handshake() {
  static const key32 k = namespace_id("hyperswarm/dht", 0);
  return k;
}
const key32& namespaces::peer_holepunch() {
  static const key32 k = namespace_id("hyperswarm/dht", 1);
  return k;
}
const key32& namespaces::stream_initiator() {
  static const key32 k = namespace_id("hyperswarm/secret-stream", 0);
  return k;
}
const key32& namespaces::stream_responder() {
  static const key32 k = namespace_id("hyperswarm/secret-stream", 1);
  return k;
}
const key32& namespaces::stream_send() {
  static const key32 k = namespace_id("hyperswarm/secret-stream", 2);
  return k;
}

key32 stream_id(const hash64& handshake_hash, bool initiator) {
  const key32& ns = initiator ? namespaces::stream_initiator() : namespaces::stream_responder();
  key32 out;
  blake2b(out.data(), 32, ns.data(), ns.size(), handshake_hash.data(), handshake_hash.size());
  return out;
}

} // namespace ht::noise
