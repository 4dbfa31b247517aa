#include "dht/secret_stream/unordered.hpp"

#include <cstring>

#include <sodium.h>

#include "dht/secret_stream/error.hpp"

namespace ht::secret_stream {

namespace {
noise::key32 send_key(const noise::hash64& hash, bool initiator) {
  const auto& ns = initiator ? noise::namespaces::stream_initiator() : noise::namespaces::stream_responder();
  uint8_t in[64];
  std::memcpy(in, ns.data(), 32);
  std::memcpy(in + 32, noise::namespaces::stream_send().data(), 32);
  noise::key32 out;
  noise::blake2b(out.data(), 32, in, sizeof in, hash.data(), hash.size());
  return out;
}
} // namespace

unordered_box::unordered_box(const noise::hash64& hash, bool initiator,
                             const std::optional<std::array<uint8_t, 8>>& start)
  : send_key_(send_key(hash, initiator)), recv_key_(send_key(hash, !initiator)) {
  if (start) initial_ = *start;
  else randombytes_buf(initial_.data(), initial_.size());
  counter_ = initial_;
}

unordered_box::~unordered_box() {
  sodium_memzero(send_key_.data(), 32);
  sodium_memzero(recv_key_.data(), 32);
}

std::vector<uint8_t> unordered_box::seal(const uint8_t* data, size_t n) {
  sodium_increment(counter_.data(), counter_.size());
  if (counter_ == initial_) throw error(errc::send_exhausted, "unordered send nonce exhausted");
  std::vector<uint8_t> out(8 + crypto_secretbox_MACBYTES + n);
  uint8_t nonce[crypto_secretbox_NONCEBYTES] = {0};
  std::memcpy(nonce, counter_.data(), 8);
  std::memcpy(out.data(), counter_.data(), 8);
  crypto_secretbox_easy(out.data() + 8, data, n, nonce, send_key_.data());
  return out;
}

std::optional<std::vector<uint8_t>> unordered_box::open(const uint8_t* data, size_t n) const {
  if (n < 8 + crypto_secretbox_MACBYTES) return std::nullopt;
  uint8_t nonce[crypto_secretbox_NONCEBYTES] = {0};
  std::memcpy(nonce, data, 8);
  std::vector<uint8_t> out(n - 8 - crypto_secretbox_MACBYTES);
  if (crypto_secretbox_open_easy(out.data(), data + 8, n - 8, nonce, recv_key_.data()) != 0)
    return std::nullopt;
  return out;
}

} // namespace ht::secret_stream
