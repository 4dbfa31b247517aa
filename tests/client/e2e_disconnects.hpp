#pragma once
// Our client against our server (actors/server, real store on a temp
// folder) over the in-process transport: after disconnects at many points
// of a 1,000-trace run, the .log file holds every trace exactly once, in
// order, and the server never notes a gap. The points are split over two
// files (test_e2e_server_early.cpp, test_e2e_server_late.cpp), each its
// own ctest entry, so that neither comes near the entry timeout under ASan.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "actors/client/client.hpp"
#include "replay_sample.hpp"
#include "server_fixture.hpp"

namespace ht::test::e2e {

using namespace std::chrono_literals;

struct Counter {
  tracer tr = create_tracer(this);
  void tick(int i) { tr.trace("tick", {{"i", i}}); }
};

/// Our server and a client that keeps its connection ends (to cut them).
struct e2e_fixture : test::server_fixture {
  e2e_fixture() : server_fixture("ht-client-e2e", 0xBB) { start_client({}, {/*keep_ends=*/true}); }
};

constexpr int total = 1000;

/// One 1,000-trace run per point p in [lo, hi] (every 7th point: each run
/// writes real files; under ASan a seeded quarter of them plus both ends,
/// replay_sample.hpp), cut before trace p and before a second trace
/// derived from it.
inline void disconnects_between(int lo, int hi) {
  std::vector<int64_t> all(total);
  for (int i = 0; i < total; ++i)
    all[static_cast<size_t>(i)] = i;
  std::vector<int> every_7th;
  for (int p = 0; p <= total; p += 7)
    if (p >= lo && p <= hi)
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

} // namespace ht::test::e2e
