#pragma once
// An actor system configuration without CAF's log output, for tests (the
// deterministic one of caf_fixture.hpp builds on it).
#include <caf/actor_system_config.hpp>

namespace ht::test {

struct quiet_config : caf::actor_system_config {
  quiet_config() {
    set("logger.verbosity", caf::atom("quiet"));
    set("logger.console", caf::atom("none"));
  }
};

} // namespace ht::test
