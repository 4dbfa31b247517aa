#include "actors/client/backoff.hpp"

#include <algorithm>

namespace ht {

backoff::backoff(backoff_config cfg, std::function<uint32_t(uint32_t)> uniform)
  : cfg_(cfg), uniform_(std::move(uniform)) {
  if (cfg_.initial.count() < 1)
    cfg_.initial = std::chrono::milliseconds{1};
  if (cfg_.cap < cfg_.initial)
    cfg_.cap = cfg_.initial;
}

std::chrono::milliseconds backoff::ceiling(uint32_t n) const {
  // Doubling past the cap (or past 2^31 ms) changes nothing: stop early.
  int64_t d = cfg_.initial.count();
  for (uint32_t i = 0; i < n && d < cfg_.cap.count(); ++i)
    d *= 2;
  return std::chrono::milliseconds{std::min<int64_t>(d, cfg_.cap.count())};
}

std::chrono::milliseconds backoff::next() {
  auto d = ceiling(attempts_).count();
  if (attempts_ < UINT32_MAX)
    ++attempts_;
  auto half = d / 2;
  auto span = static_cast<uint32_t>(std::min<int64_t>(d - half + 1, UINT32_MAX));
  return std::chrono::milliseconds{half + (uniform_ ? uniform_(span) : span - 1)};
}

} // namespace ht
