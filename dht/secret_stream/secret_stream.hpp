#pragma once
// @hyperswarm/secret-stream as a sans-IO core: bytes from the transport go
// in through feed(), decrypted messages come out of poll_message(); write()
// turns one message into bytes that take_transmit() hands to the transport.
// One write() is exactly one message on the other side.
//
// Wire format (every frame is a uint24 little-endian length, then the body):
//   own handshake only: the Noise XX messages (Ed25519, empty prologue)
//   header:             stream id (32, BLAKE2b-256(NS_INITIATOR|RESPONDER, key=hash)) ||
//                       crypto_secretstream_xchacha20poly1305 header (24)
//   messages:           crypto_secretstream_xchacha20poly1305_push(msg, TAG_MESSAGE)
//                       (1 encrypted tag byte || ciphertext || 16-byte MAC)
// Zero-length messages are keep-alives (delivered unless filter_zero_length).
//
// Any bad input closes the stream: feed() throws ht::secret_stream::error and
// every later call throws errc::closed. Messages that authenticated before
// the bad frame stay in the queue: they are genuine and in order.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "dht/noise/handshake.hpp"
#include "dht/secret_stream/error.hpp"
#include "dht/secret_stream/unordered.hpp"

namespace ht::secret_stream {

using bytes = std::vector<uint8_t>;
using noise::key32;

/// secret-stream's MAX_ATOMIC_WRITE: a frame body fits a uint24.
constexpr size_t max_frame_body = 0xffffff;
/// crypto_secretstream_xchacha20poly1305_ABYTES.
constexpr size_t abytes = 17;
/// The largest message one write() may carry.
constexpr size_t max_message = max_frame_body - abytes;
/// id (32) + secretstream header (24).
constexpr size_t id_header_bytes = 56;
/// Default limit on incoming messages: the server's --max-message-bytes
/// default (main/server_config.hpp). The protocol allows up to max_message.
constexpr size_t default_max_incoming_message = 1u << 20;

struct options {
  /// Drop incoming zero-length messages (secret-stream does so when keep-alive is on).
  bool filter_zero_length = false;
  /// Tests and interop vectors only: use this secretstream header instead of
  /// a random one (a repeated header with the same key breaks confidentiality).
  std::optional<std::array<uint8_t, 24>> fixed_header;
  /// Largest incoming message accepted (plaintext bytes); a longer frame
  /// closes the stream with errc::incoming_too_large from its length prefix
  /// alone, before any of it is buffered. A connection sets this from the
  /// server's --max-message-bytes; at most max_message is meaningful.
  size_t max_incoming_message = default_max_incoming_message;
  /// Replay window for unordered datagrams (see unordered.hpp); 0 = off.
  size_t unordered_replay_window = unordered_box::default_replay_window;
  /// Tests and interop vectors only: start the unordered-message counter here.
  std::optional<std::array<uint8_t, 8>> fixed_send_counter;
};

class stream {
public:
  /// Starts from a handshake done elsewhere (hyperdht passes {tx, rx, hash,
  /// publicKey, remotePublicKey}): the header is ready to send at once.
  explicit stream(const noise::handshake_result& hs, options opts = {});

  /// Runs secret-stream's own Noise XX handshake over the raw duplex. The
  /// initiator's first message is ready in take_transmit() right away. If
  /// expected_remote is set, a peer with another static key is rejected.
  stream(bool initiator, const noise::keypair& kp,
         const std::optional<key32>& expected_remote = std::nullopt, options opts = {},
         noise::handshake::options hs_opts = {});
  ~stream();
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  /// Consumes bytes from the transport (any split). Throws error and closes on bad input.
  void feed(const uint8_t* data, size_t n);
  void feed(const bytes& b) { feed(b.data(), b.size()); }

  /// Queues one message (0..max_message bytes). Before the handshake is done
  /// the plaintext waits and is encrypted as soon as the keys exist.
  void write(const uint8_t* data, size_t n);
  void write(const bytes& b) { write(b.data(), b.size()); }
  void write_keepalive() { write(nullptr, 0); }

  /// The bytes to hand to the transport (handshake, header, frames), in order.
  bytes take_transmit();
  /// Appends the pending transmit bytes to `out` (saves a copy for callers with a buffer).
  void take_transmit(bytes& out);
  bool has_transmit() const { return !tx_buf_.empty(); }

  /// The next decrypted message, in order.
  std::optional<bytes> poll_message();
  size_t pending_messages() const { return inbox_.size(); }
  /// Memory held for a partly received frame: it grows with the bytes that
  /// arrived, never ahead of them from the length prefix.
  size_t incoming_buffered() const { return partial_.capacity(); }

  /// Unordered messages (UDX datagrams), secretbox-sealed as secret-stream's
  /// send()/trySend(): available once is_open().
  bytes box(const uint8_t* data, size_t n);
  /// Opens a datagram; nullopt if it does not authenticate or is a replay
  /// (secret-stream drops bad datagrams silently: a datagram network can
  /// deliver junk, so this is not a stream error).
  std::optional<bytes> unbox(const uint8_t* data, size_t n);

  /// True once the handshake is done and our header is queued.
  bool is_open() const { return keys_.has_value(); }
  /// True once the peer's header arrived: messages can flow both ways.
  bool is_established() const { return established_; }
  bool is_initiator() const { return initiator_; }
  bool is_closed() const { return closed_; }
  /// True if the peer sent a FINAL-tagged message (JS peers never do).
  bool remote_final() const { return remote_final_; }
  /// Handshake outputs once open (keys, hash, public keys).
  const std::optional<noise::handshake_result>& handshake() const { return keys_; }
  std::optional<key32> remote_public_key() const;

  /// Local end: further calls throw closed (the transport ends the byte stream).
  void close() { closed_ = true; }

private:
  void fail(errc code, const std::string& what);
  void push_frame_header(size_t body_len);
  void on_frame(const uint8_t* body, size_t n);
  void on_handshake_message(const uint8_t* body, size_t n);
  void setup(const noise::handshake_result& hs);
  void encrypt_into_tx(const uint8_t* data, size_t n);

  bool initiator_;
  options opts_;
  std::optional<key32> expected_remote_;
  std::unique_ptr<noise::handshake> hs_;
  std::optional<noise::handshake_result> keys_;
  key32 remote_id_{};

  struct state;  // libsodium secretstream states, kept off the header
  std::unique_ptr<state> st_;
  std::optional<unordered_box> box_;

  bool established_ = false;
  bool closed_ = false;
  bool remote_final_ = false;

  // incoming framing
  uint32_t len_ = 0;
  int len_bytes_ = 0;
  bytes partial_;
  bool in_body_ = false;

  bytes tx_buf_;
  std::deque<bytes> inbox_;
  std::deque<bytes> queued_writes_;  // written before the handshake finished
};

} // namespace ht::secret_stream
