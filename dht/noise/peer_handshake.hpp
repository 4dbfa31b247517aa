#pragma once
// hyperdht's PEER_HANDSHAKE (lib/noise-wrap.js): Noise IK with the
// NS.PEER_HANDSHAKE namespace as prologue and a noise_payload in each
// message. The client (initiator) knows the server's public key; the
// server learns the client's from the first message.
#include <optional>

#include "dht/noise/handshake.hpp"
#include "dht/noise/payload.hpp"

namespace ht::noise {

/// What hyperdht derives once the handshake is done.
struct peer_handshake_result {
  handshake_result keys;   // tx, rx, hash, public keys: what secret-stream starts from
  key32 holepunch_secret{};  // BLAKE2b-256(NS.PEER_HOLEPUNCH, key = hash): SecurePayload's key
  key32 stream_id{};         // our secret-stream id (the id our header carries)
  key32 remote_id{};         // the id the peer's secret-stream header must carry
};

class peer_handshake {
public:
  /// Initiator if remote_public_key is given (as NoiseWrap).
  peer_handshake(const keypair& kp, const std::optional<key32>& remote_public_key,
                 handshake::options opts = {});

  /// Encodes payload and returns the Noise message to send.
  bytes send(const noise_payload& payload);
  /// Reads the peer's Noise message and decodes its payload (bad_payload on a
  /// payload that does not decode; the handshake is then dead).
  noise_payload recv(const uint8_t* msg, size_t n);
  noise_payload recv(const bytes& msg) { return recv(msg.data(), msg.size()); }

  bool is_initiator() const { return hs_.is_initiator(); }
  bool complete() const { return hs_.complete(); }
  const std::optional<key32>& remote_public_key() const { return hs_.remote_static(); }
  peer_handshake_result final() const;

private:
  handshake hs_;
  bool failed_ = false;
};

} // namespace ht::noise
