// Our client against our server: disconnects in the first half of a 1,000-trace
// run (e2e_disconnects.hpp).
#include "e2e_disconnects.hpp"

TEST_CASE("with our server: disconnects in the first half of a 1,000-trace run, "
          "the .log file has every trace exactly once", "[scenario]") {
  ht::test::e2e::disconnects_between(0, 496);
}
