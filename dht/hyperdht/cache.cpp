#include "dht/hyperdht/cache.hpp"

#include <sodium.h>

namespace ht::hyperdht {

namespace {
struct shorthash_key {
  uint8_t k[crypto_shorthash_KEYBYTES];
  shorthash_key() {
    noise::ensure_sodium();
    randombytes_buf(k, sizeof k);
  }
};
} // namespace

size_t key32_hash::operator()(const noise::key32& key) const {
  static const shorthash_key secret;
  uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, key.data(), key.size(), secret.k);
  uint64_t h = 0;
  for (int i = 7; i >= 0; --i) h = (h << 8) | out[i];
  return static_cast<size_t>(h);
}

gc_clock::gc_clock(duration max_age, time_point now) {
  // Math.ceil(2/3 * maxAge) in the caches' own unit (ms).
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(max_age).count();
  tick_ = std::chrono::milliseconds((2 * ms + 2) / 3);
  if (tick_ <= duration::zero()) tick_ = std::chrono::milliseconds(1);
  next_ = now + tick_;
}

unsigned gc_clock::due(time_point now) {
  if (now < next_) return 0;
  auto n = (now - next_) / tick_ + 1;
  next_ += n * tick_;
  return n > 3 ? 3u : static_cast<unsigned>(n);
}

} // namespace ht::hyperdht
