#include "actors/server/idle_trim.hpp"

namespace ht {

bool idle_trim_policy::steady(size_t a, size_t b) {
  size_t hi = a > b ? a : b, lo = a > b ? b : a;
  return hi - lo <= hi / 100;
}

bool idle_trim_policy::sample(size_t in_use, size_t free_bytes) {
  bool quiet = samples_ >= 2 && steady(in_use, prev_) && steady(prev_, prev2_);
  prev2_ = prev_;
  prev_ = in_use;
  ++samples_;
  // Trimmed memory still counts as free in malloc's books: once per quiet
  // spell, re-armed by the next activity.
  if (!quiet) {
    trimmed_ = false;
    return false;
  }
  if (trimmed_ || free_bytes < threshold_)
    return false;
  trimmed_ = true;
  return true;
}

} // namespace ht
