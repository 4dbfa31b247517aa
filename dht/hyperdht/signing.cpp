#include "dht/hyperdht/signing.hpp"

#include <sodium.h>

namespace ht::hyperdht {

key32 hash32(const uint8_t* p, size_t n) {
  noise::ensure_sodium();
  key32 out{};
  noise::blake2b(out.data(), out.size(), p, n);
  return out;
}

signable announce_signable(const key32& ns, const key32& target, const key32& node_id, const key32& token,
                           const peer_record& peer, const std::optional<key32>& refresh) {
  noise::ensure_sodium();
  // crypto_generichash_batch hashes the concatenation of its parts.
  bytes record = enc::encode(peer);
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, target.data(), target.size());
  crypto_generichash_update(&st, node_id.data(), node_id.size());
  crypto_generichash_update(&st, token.data(), token.size());
  crypto_generichash_update(&st, record.data(), record.size());
  if (refresh) crypto_generichash_update(&st, refresh->data(), refresh->size());
  signable out{};
  std::copy(ns.begin(), ns.end(), out.begin());
  crypto_generichash_final(&st, out.data() + 32, 32);
  return out;
}

sig64 sign_detached(const uint8_t* msg, size_t n, const noise::keypair& kp) {
  noise::ensure_sodium();
  sig64 sig{};
  crypto_sign_detached(sig.data(), nullptr, msg, n, kp.secret_key.data());
  return sig;
}

bool verify_detached(const sig64& signature, const uint8_t* msg, size_t n, const key32& public_key) {
  noise::ensure_sodium();
  return crypto_sign_verify_detached(signature.data(), msg, n, public_key.data()) == 0;
}

namespace {
sig64 sign_ann(const key32& ns, const key32& target, const key32& token, const key32& node_id,
               const announce_message& ann, const noise::keypair& kp) {
  if (!ann.peer) throw enc::error(enc::errc::invalid_value, "an announce signature needs a peer");
  signable s = announce_signable(ns, target, node_id, token, *ann.peer, ann.refresh);
  return sign_detached(s.data(), s.size(), kp);
}
} // namespace

sig64 sign_announce(const key32& target, const key32& token, const key32& node_id, const announce_message& ann,
                    const noise::keypair& kp) {
  return sign_ann(ns::announce(), target, token, node_id, ann, kp);
}

sig64 sign_unannounce(const key32& target, const key32& token, const key32& node_id,
                      const announce_message& ann, const noise::keypair& kp) {
  return sign_ann(ns::unannounce(), target, token, node_id, ann, kp);
}

bool verify_announce(const key32& ns, const key32& target, const key32& token, const key32& node_id,
                     const announce_message& ann) {
  if (!ann.peer || !ann.signature) return false;
  signable s = announce_signable(ns, target, node_id, token, *ann.peer, ann.refresh);
  return verify_detached(*ann.signature, s.data(), s.size(), ann.peer->public_key);
}

signable mutable_signable_bytes(uint64_t seq, const bytes& value) {
  bytes encoded = enc::encode(mutable_signable{seq, value});
  signable out{};
  const key32& ns = ns::mutable_put();
  std::copy(ns.begin(), ns.end(), out.begin());
  noise::ensure_sodium();
  noise::blake2b(out.data() + 32, 32, encoded.data(), encoded.size());
  return out;
}

sig64 sign_mutable(uint64_t seq, const bytes& value, const noise::keypair& kp) {
  signable s = mutable_signable_bytes(seq, value);
  return sign_detached(s.data(), s.size(), kp);
}

bool verify_mutable(const sig64& signature, uint64_t seq, const bytes& value, const key32& public_key) {
  signable s = mutable_signable_bytes(seq, value);
  return verify_detached(signature, s.data(), s.size(), public_key);
}

} // namespace ht::hyperdht
