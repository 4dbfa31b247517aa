#pragma once
// A deterministic actor system for Catch2 scenario tests: CAF's
// test_coordinator runs actors one message at a time on the test's thread,
// and time only moves when the test advances the clock, so scenarios need no
// sleeps and replay identically.
#include <chrono>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "support/quiet_config.hpp"

namespace ht::test {

struct deterministic_config : quiet_config {
  deterministic_config() { set("scheduler.policy", caf::atom("testing")); }
};

struct caf_fixture {
  deterministic_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());

  /// Runs every actor until no message is left (no timers fire).
  size_t run() { return sched.run(); }

  /// Moves the clock forward, firing due timers, and runs to quiescence.
  void advance(caf::timespan d) {
    sched.clock().advance_time(d);
    sched.run();
  }

  /// Advances in steps until pred() holds or `limit` of simulated time has
  /// passed; returns pred(). Useful for protocols with timers.
  template <class Pred>
  bool run_until(Pred pred, caf::timespan limit = std::chrono::seconds(60),
                 caf::timespan step = std::chrono::milliseconds(10)) {
    run();
    for (caf::timespan t{0}; !pred() && t < limit; t += step)
      advance(step);
    return pred();
  }

  caf_fixture() {
    // Actors a test leaves alive must not block the system's destructor:
    // nothing runs them once the test is over.
    sys.await_actors_before_shutdown(false);
  }

  ~caf_fixture() {
    // Let pending exits and down messages settle before the system stops.
    sched.run();
  }
};

} // namespace ht::test
