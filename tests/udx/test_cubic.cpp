#include <catch2/catch.hpp>

#include "dht/udx/cubic.hpp"

using namespace ht::udx;
using namespace std::chrono_literals;

TEST_CASE("udx cubic: slow start, multiplicative decrease, cubic regrowth", "[unit]") {
  cubic cc;
  time_point t{};
  CHECK(cc.window() == cubic::initial_window);
  CHECK(cc.in_slow_start());
  cc.on_ack(10, t, 10ms, true);
  CHECK(cc.window() == 20); // one packet per acked packet
  cc.on_ack(10, t, 10ms, false);
  CHECK(cc.window() == 20); // application-limited: no growth
  for (int i = 0; i < 80; ++i)
    cc.on_ack(1, t, 10ms, true);
  CHECK(cc.window() == 100);
  cc.on_congestion(t);
  CHECK(cc.window() == 70); // beta = 0.7
  CHECK(cc.ssthresh() == 70);
  CHECK_FALSE(cc.in_slow_start());
  // K = cbrt(W_max (1 - beta) / C) = cbrt(100 * 0.3 / 0.4) ~ 4.2 s: the
  // window climbs back towards 100 around then, then grows beyond it.
  uint32_t at_1s = 0, at_4s = 0, at_8s = 0;
  for (int ms = 0; ms <= 8000; ms += 10) {
    cc.on_ack(cc.window() / 10 + 1, t + std::chrono::milliseconds(ms), 10ms, true);
    if (ms == 1000) at_1s = cc.window();
    if (ms == 4000) at_4s = cc.window();
    if (ms == 8000) at_8s = cc.window();
  }
  CHECK(at_1s > 70);
  CHECK(at_1s < 100);
  CHECK(at_4s >= 90);
  CHECK(at_4s <= 101);
  CHECK(at_8s > 110); // convex region: probing beyond the old maximum
  cc.on_timeout();
  CHECK(cc.window() == 1);
  CHECK(cc.in_slow_start());
}

TEST_CASE("udx cubic: pacing rate follows window and RTT", "[unit]") {
  cubic cc;
  CHECK(cc.pacing_rate(0ms, 1152) == 0); // no RTT sample: unpaced
  // slow start: 2 * 10 packets * 1152 bytes per 10 ms
  CHECK(cc.pacing_rate(10ms, 1152) == Approx(2 * 10 * 1152 / 0.01));
  cc.on_congestion(time_point{});
  CHECK(cc.pacing_rate(10ms, 1152) == Approx(1.2 * 7 * 1152 / 0.01));
}
