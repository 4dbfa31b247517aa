#pragma once
// For interop tests, which run real actors on real threads against real
// peers (JS scripts, our binaries): an actor system without log noise, and
// a bounded wait that polls a condition.
#include <chrono>
#include <thread>

#include "support/quiet_config.hpp"

namespace ht::test {

/// Polls `pred` every 10 ms until it holds (true) or `limit` passed (false).
template <class Pred>
bool wait_for(Pred pred, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

} // namespace ht::test
