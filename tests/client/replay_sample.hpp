#pragma once
// The disconnect points a replay scenario runs. In the normal build all of
// them; under ASan (5-20x slower) a seeded sample plus the points at both
// ends, so the ctest entry stays well under its timeout. Catch2's
// --rng-seed picks the sample (default 0; the seed is printed),
// HT_REPLAY_ALL_POINTS=1 runs every point there too.
#include <algorithm>
#include <cstdlib>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

namespace ht::test {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitizer_build = true;
#elif defined(__has_feature)
constexpr bool sanitizer_build = __has_feature(address_sanitizer);
#else
constexpr bool sanitizer_build = false;
#endif

/// `points` (in order) or, in a sanitizer build, the first and last `ends`
/// of them and a seeded `1/share` of their number from the rest, in order.
template <class T>
std::vector<T> replay_sample(std::vector<T> points, size_t ends, size_t share) {
  const char* every = std::getenv("HT_REPLAY_ALL_POINTS");
  if (!sanitizer_build || (every && *every == '1'))
    return points;
  auto seed = Catch::rngSeed();
  std::mt19937 rng(seed);
  auto first = points.begin() + static_cast<std::ptrdiff_t>(ends);
  auto last = points.end() - static_cast<std::ptrdiff_t>(ends);
  std::shuffle(first, last, rng);
  std::vector<T> sample(points.begin(), first);
  sample.insert(sample.end(), last, points.end());
  sample.insert(sample.end(), first, first + static_cast<std::ptrdiff_t>(points.size() / share));
  std::sort(sample.begin(), sample.end());
  WARN("sanitizer build: " << sample.size() << " of " << points.size()
       << " disconnect points, seed " << seed
       << " (--rng-seed N for another sample, HT_REPLAY_ALL_POINTS=1 for all)");
  return sample;
}

} // namespace ht::test
