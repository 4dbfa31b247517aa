#pragma once
// secret-stream's unordered messages (send()/trySend() over UDX datagrams):
//   key  = BLAKE2b-256(NS_INITIATOR|NS_RESPONDER || NS_SEND, key = handshake hash)
//   wire = counter (8, little-endian, random start, incremented before use)
//          || crypto_secretbox_easy(msg, nonce = counter || 16 zero bytes)
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "dht/noise/crypto.hpp"

namespace ht::secret_stream {

class unordered_box {
public:
  unordered_box(const noise::hash64& handshake_hash, bool initiator,
                const std::optional<std::array<uint8_t, 8>>& start = std::nullopt);
  ~unordered_box();
  unordered_box(const unordered_box&) = default;
  unordered_box& operator=(const unordered_box&) = default;

  /// Seals one datagram; throws error(send_exhausted) when the counter wraps to its start.
  std::vector<uint8_t> seal(const uint8_t* data, size_t n);
  /// Opens one datagram; nullopt if too short or not authentic.
  std::optional<std::vector<uint8_t>> open(const uint8_t* data, size_t n) const;

private:
  noise::key32 send_key_{};
  noise::key32 recv_key_{};
  std::array<uint8_t, 8> counter_{};
  std::array<uint8_t, 8> initial_{};
};

} // namespace ht::secret_stream
