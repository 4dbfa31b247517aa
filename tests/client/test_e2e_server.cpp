// Our client against our server (actors/server, real store on a temp
// folder) over the in-process transport: after disconnects at many points
// of a 1,000-trace run, the .log file holds every trace exactly once, in
// order, and the server never notes a gap.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "actors/client/client.hpp"
#include "replay_sample.hpp"
#include "server_fixture.hpp"

using namespace ht;
using namespace std::chrono_literals;

namespace {

struct Counter {
  tracer tr = create_tracer(this);
  void tick(int i) { tr.trace("tick", {{"i", i}}); }
};

/// Our server and a client that keeps its connection ends (to cut them).
struct e2e_fixture : test::server_fixture {
  e2e_fixture() : server_fixture("ht-client-e2e", 0xBB) { start_client({}, {/*keep_ends=*/true}); }
};

} // namespace

TEST_CASE("with our server: disconnects at many points of a 1,000-trace run, "
          "the .log file has every trace exactly once", "[scenario]") {
  constexpr int total = 1000;
  std::vector<int64_t> all(total);
  for (int i = 0; i < total; ++i)
    all[static_cast<size_t>(i)] = i;
  // Every 7th point (143 runs): each run writes real files. Under ASan
  // (157 s of CPU for all 143) a seeded sample of a quarter of them plus
  // both ends (replay_sample.hpp).
  std::vector<int> every_7th;
  for (int p = 0; p <= total; p += 7)
    every_7th.push_back(p);
  auto points = test::replay_sample(std::move(every_7th), 1, 4);
  for (int p : points) {
    e2e_fixture f;
    REQUIRE(f.cl->is_running());
    int second = static_cast<int>((p * 7919L) % total);
    Counter c;
    for (int i = 0; i < total; ++i) {
      if (i == p || i == second) {
        f.run();
        caf::anon_send_exit(f.ends.back(), caf::exit_reason::kill);
      }
      c.tick(i);
      if (i % 17 == 0)
        f.run();
      if (i % 211 == 0)
        f.advance(1s);
    }
    std::vector<int64_t> numbers;
    std::vector<std::string> notes;
    f.run_until([&] {
      std::tie(numbers, notes) = f.read_log();
      return numbers.size() >= total;
    }, 60s, 50ms);
    INFO("disconnects before traces " << p << " and " << second);
    REQUIRE(numbers == all);
    for (auto& n : notes)
      CHECK(n.find("Skipped") == std::string::npos);
    CHECK(f.ends.size() >= (p < total ? 2u : 1u));
  }
}
