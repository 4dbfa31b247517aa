#pragma once
// secret-stream's unordered messages (send()/trySend() over UDX datagrams):
//   key  = BLAKE2b-256(NS_INITIATOR|NS_RESPONDER || NS_SEND, key = handshake hash)
//   wire = counter (8, little-endian, random start, incremented before use)
//          || crypto_secretbox_easy(msg, nonce = counter || 16 zero bytes)
//
// On top of what secret-stream does, the receiver keeps a sliding window of
// the counters it has accepted (as WireGuard does), so a datagram replayed by
// the network or an attacker is not delivered twice. The window only moves
// for datagrams that authenticate. Datagrams more than `replay_window`
// counters behind the newest are dropped; 0 turns the window off (exactly
// secret-stream's behaviour).
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "dht/noise/crypto.hpp"

namespace ht::secret_stream {

class unordered_box {
public:
  static constexpr size_t default_replay_window = 4096;

  unordered_box(const noise::hash64& handshake_hash, bool initiator,
                const std::optional<std::array<uint8_t, 8>>& start = std::nullopt,
                size_t replay_window = default_replay_window);
  ~unordered_box();
  unordered_box(const unordered_box&) = default;
  unordered_box& operator=(const unordered_box&) = default;

  /// Seals one datagram; throws error(send_exhausted) when the counter wraps to its start.
  std::vector<uint8_t> seal(const uint8_t* data, size_t n);
  /// Opens one datagram; nullopt if too short, not authentic or a replay.
  std::optional<std::vector<uint8_t>> open(const uint8_t* data, size_t n);

private:
  noise::key32 send_key_{};
  noise::key32 recv_key_{};
  std::array<uint8_t, 8> counter_{};
  std::array<uint8_t, 8> initial_{};

  // Replay window: bit (c mod window) is set if counter c (within the window
  // behind newest_) was accepted.
  bool accept_counter(uint64_t c);
  size_t window_;
  std::vector<uint64_t> seen_;
  uint64_t newest_ = 0;
  bool any_ = false;
};

} // namespace ht::secret_stream
