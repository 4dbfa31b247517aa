#include "dht/secret_stream/unordered.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

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
                             const std::optional<std::array<uint8_t, 8>>& start, size_t replay_window)
  : send_key_(send_key(hash, initiator)), recv_key_(send_key(hash, !initiator)) {
  // A power of two keeps the bit index a mask of the counter.
  window_ = 0;
  if (replay_window) {
    window_ = 64;
    while (window_ < replay_window) window_ *= 2;
    seen_.assign(window_ / 64, 0);
  }
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

bool unordered_box::accept_counter(uint64_t c) {
  if (window_ == 0) return true;
  auto bit = [&](uint64_t x) -> std::pair<size_t, uint64_t> {
    uint64_t i = x & (window_ - 1);
    return {static_cast<size_t>(i / 64), uint64_t{1} << (i % 64)};
  };
  if (!any_) {
    any_ = true;
    newest_ = c;
    auto [w, m] = bit(c);
    seen_[w] |= m;
    return true;
  }
  // Counters run modulo 2^64 from a random start: compare by distance.
  int64_t ahead = static_cast<int64_t>(c - newest_);
  if (ahead > 0) {
    uint64_t steps = static_cast<uint64_t>(ahead);
    if (steps >= window_) {
      std::fill(seen_.begin(), seen_.end(), 0);
    } else {
      for (uint64_t k = 1; k <= steps; ++k) {
        auto [w, m] = bit(newest_ + k);
        seen_[w] &= ~m;
      }
    }
    newest_ = c;
    auto [w, m] = bit(c);
    seen_[w] |= m;
    return true;
  }
  uint64_t behind = newest_ - c;  // ahead <= 0, so this is the distance back
  if (behind >= window_) return false;  // too old to tell: drop
  auto [w, m] = bit(c);
  if (seen_[w] & m) return false;       // a replay
  seen_[w] |= m;
  return true;
}

std::optional<std::vector<uint8_t>> unordered_box::open(const uint8_t* data, size_t n) {
  if (n < 8 + crypto_secretbox_MACBYTES) return std::nullopt;
  uint8_t nonce[crypto_secretbox_NONCEBYTES] = {0};
  std::memcpy(nonce, data, 8);
  std::vector<uint8_t> out(n - 8 - crypto_secretbox_MACBYTES);
  if (crypto_secretbox_open_easy(out.data(), data + 8, n - 8, nonce, recv_key_.data()) != 0)
    return std::nullopt;
  uint64_t c = 0;
  for (int i = 7; i >= 0; --i) c = (c << 8) | data[i];
  if (!accept_counter(c)) return std::nullopt;
  return out;
}

} // namespace ht::secret_stream
