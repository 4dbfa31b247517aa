#include "dht/noise/peer_handshake.hpp"

namespace ht::noise {

namespace {
bytes prologue() {
  const key32& ns = namespaces::peer_handshake();
  return bytes(ns.begin(), ns.end());
}
} // namespace

peer_handshake::peer_handshake(const keypair& kp, const std::optional<key32>& remote_public_key,
                               handshake::options opts)
  : hs_(pattern::IK, remote_public_key.has_value(), kp, prologue(), remote_public_key, std::move(opts)) {}

bytes peer_handshake::send(const noise_payload& payload) {
  if (failed_) throw error(errc::failed, "the handshake already failed");
  bytes body = enc::encode(payload);
  return hs_.send(body);
}

noise_payload peer_handshake::recv(const uint8_t* msg, size_t n) {
  if (failed_) throw error(errc::failed, "the handshake already failed");
  bytes body = hs_.recv(msg, n);
  try {
    return decode_noise_payload(body.data(), body.size());
  } catch (const enc::error& e) {
    failed_ = true;
    throw error(errc::bad_payload, e.what());
  }
}

peer_handshake_result peer_handshake::final() const {
  peer_handshake_result r;
  r.keys = hs_.final();
  blake2b(r.holepunch_secret.data(), 32, namespaces::peer_holepunch().data(), 32, r.keys.hash.data(),
          r.keys.hash.size());
  r.stream_id = stream_id(r.keys.hash, r.keys.initiator);
  r.remote_id = stream_id(r.keys.hash, !r.keys.initiator);
  return r;
}

} // namespace ht::noise
