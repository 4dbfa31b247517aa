#include <catch2/catch.hpp>

#include "actors/server/idle_trim.hpp"

using ht::idle_trim_policy;

TEST_CASE("idle trim: only once the heap use is steady for two periods and enough is free", "[unit]") {
  idle_trim_policy p(8u << 20);
  constexpr size_t mb = 1u << 20;
  // A burst: use moves, nothing is trimmed however much is free.
  CHECK_FALSE(p.sample(40 * mb, 20 * mb));
  CHECK_FALSE(p.sample(90 * mb, 30 * mb));
  CHECK_FALSE(p.sample(12 * mb, 90 * mb));
  // Quiet (within 1 %): the second steady period trims.
  CHECK_FALSE(p.sample(12 * mb + 1000, 90 * mb));
  CHECK(p.sample(12 * mb, 90 * mb));
  // Trimmed pages still count as free: no second trim while quiet...
  CHECK_FALSE(p.sample(12 * mb, 90 * mb));
  CHECK_FALSE(p.sample(12 * mb, 90 * mb));
  // ...only after activity and a new quiet spell.
  CHECK_FALSE(p.sample(60 * mb, 40 * mb));
  CHECK_FALSE(p.sample(12 * mb, 90 * mb));
  CHECK_FALSE(p.sample(12 * mb, 90 * mb));
  CHECK(p.sample(12 * mb, 90 * mb));
}

TEST_CASE("idle trim: steady load with little free memory is left alone", "[unit]") {
  idle_trim_policy p(8u << 20);
  for (int i = 0; i < 10; ++i)
    CHECK_FALSE(p.sample(10u << 20, 2u << 20));
}
