#pragma once
// A Noise handshake (patterns IK and XX) over Ed25519 keys, BLAKE2b and
// ChaChaPoly, byte-compatible with npm `noise-handshake` + `noise-curve-ed`
// ("Noise_IK_Ed25519_ChaChaPoly_BLAKE2b"). Sans-IO: send() returns the next
// message to put on the wire, recv() consumes the peer's; after the last
// message final() hands out the transport keys and the handshake hash.
//
// Any error (a message out of turn, truncation, failed authentication, a bad
// key) throws ht::noise::error and kills the handshake: later calls throw
// errc::failed. Secrets are wiped on destruction.
#include <cstdint>
#include <optional>
#include <vector>

#include "dht/noise/crypto.hpp"

namespace ht::noise {

using bytes = std::vector<uint8_t>;

enum class pattern { IK, XX };

/// What a finished handshake yields (the fields hyperdht and secret-stream pass on).
struct handshake_result {
  bool initiator = false;
  key32 tx{};                 // our sending key
  key32 rx{};                 // our receiving key
  hash64 hash{};              // the handshake hash
  key32 public_key{};         // our static public key
  key32 remote_public_key{};  // the peer's static public key
};

class handshake {
public:
  struct options {
    /// A fixed ephemeral key pair (interop vectors and tests only: reusing an
    /// ephemeral key across handshakes destroys forward secrecy).
    std::optional<keypair> ephemeral;
  };

  /// `remote_static` is required for the IK initiator (the responder's key)
  /// and ignored otherwise.
  handshake(pattern p, bool initiator, const keypair& static_keypair, const bytes& prologue,
            const std::optional<key32>& remote_static = std::nullopt, options opts = {});
  handshake(pattern p, bool initiator, const keypair& static_keypair, const bytes& prologue,
            const std::optional<key32>& remote_static, const keypair& fixed_ephemeral)
    : handshake(p, initiator, static_keypair, prologue, remote_static, options{fixed_ephemeral}) {}
  ~handshake();
  handshake(const handshake&) = delete;
  handshake& operator=(const handshake&) = delete;
  handshake(handshake&&) = default;
  handshake& operator=(handshake&&) = default;

  /// Writes our next handshake message carrying `payload` (encrypted once a key exists).
  bytes send(const uint8_t* payload, size_t n);
  bytes send(const bytes& payload = {}) { return send(payload.data(), payload.size()); }

  /// Reads the peer's next handshake message and returns its payload.
  bytes recv(const uint8_t* msg, size_t n);
  bytes recv(const bytes& msg) { return recv(msg.data(), msg.size()); }

  bool is_initiator() const { return initiator_; }
  bool complete() const { return complete_; }
  /// True if the next step is ours to send.
  bool my_turn() const;
  /// The peer's static key once it is known (IK initiator: from the start).
  const std::optional<key32>& remote_static() const { return rs_; }
  const key32& public_key() const { return s_.public_key; }

  /// The transport keys and hash; throws not_complete before the end.
  handshake_result final() const;

private:
  enum class token : uint8_t { e, s, ee, es, se, ss };
  using message_pattern = std::vector<token>;

  void mix_hash(const uint8_t* p, size_t n);
  void mix_key(const key32& remote, const keypair& local);
  bytes encrypt_and_hash(const uint8_t* p, size_t n);
  bytes decrypt_and_hash(const uint8_t* p, size_t n);
  void dh_token(token t);
  void check_usable(bool sending) const;
  void finish();

  std::vector<message_pattern> messages_;
  size_t next_ = 0;  // index of the next message in messages_
  bool initiator_;
  bool complete_ = false;
  bool failed_ = false;

  keypair s_;
  std::optional<keypair> e_;
  std::optional<keypair> fixed_e_;
  std::optional<key32> rs_, re_;

  hash64 h_{};
  hash64 ck_{};
  std::optional<key32> k_;
  uint64_t n_ = 0;

  handshake_result result_;
};

} // namespace ht::noise
