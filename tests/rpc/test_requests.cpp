// Our requests: tids, timeouts and resends, the congestion window, matching
// responses by tid and sender, the pending cap.
#include <catch2/catch.hpp>

#include <set>

#include "dht/rpc/requests.hpp"

using namespace ht::rpc;
using namespace std::chrono_literals;
using ht::enc::ipv4_address;

namespace {

request_spec to(const char* host, uint16_t port) {
  request_spec s;
  s.to = ipv4_address::parse(host, port);
  s.internal = true;
  return s;
}

const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;

} // namespace

TEST_CASE("congestion window: 80 per 750 ms bucket, 160 over four", "[unit][rpc][requests]") {
  congestion_window w(80);
  for (int i = 0; i < 80; i++) {
    REQUIRE_FALSE(w.full());
    w.send();
  }
  CHECK(w.full());  // the current bucket is full
  w.recv();         // an answer frees one send of the current bucket
  CHECK_FALSE(w.full());
  w.send();
  w.drain();
  CHECK_FALSE(w.full());
  for (int i = 0; i < 79; i++) w.send();
  CHECK(w.total() == 159);
  CHECK_FALSE(w.full());
  w.send();
  CHECK(w.full());  // 160 over the window
  w.drain();        // bucket 2: empty but the total is still 160
  CHECK(w.full());
  w.drain();        // bucket 3
  w.drain();        // bucket 0 again: its 80 are forgotten
  CHECK(w.total() == 80);
  CHECK_FALSE(w.full());
}

TEST_CASE("a request is resent every second and fails after retries + 1 sends",
          "[unit][rpc][requests]") {
  request_table t({1s, 100, 80}, 7);
  REQUIRE(t.submit(1, to("10.0.0.2", 5), 3, t0));
  auto s = t.take_sends();
  REQUIRE(s.size() == 1);
  CHECK(s[0].tid == 7);
  CHECK(s[0].attempt == 1);
  CHECK(t.next_timeout() == t0 + 1s);
  t.handle_timeout(t0 + 999ms);
  CHECK(t.take_sends().empty());
  for (unsigned attempt = 2; attempt <= 4; attempt++) {
    t.handle_timeout(*t.next_timeout());
    auto o = t.take_outcomes();
    REQUIRE(o.size() == 1);
    CHECK(o[0].kind == request_outcome::cycle);
    auto r = t.take_sends();
    REQUIRE(r.size() == 1);
    CHECK(r[0].attempt == attempt);
    CHECK(r[0].tid == 7);  // resends keep the tid
  }
  CHECK(*t.next_timeout() == t0 + 4s);
  t.handle_timeout(t0 + 4s);
  auto o = t.take_outcomes();
  REQUIRE(o.size() == 1);
  CHECK(o[0].kind == request_outcome::timeout);
  CHECK(t.pending() == 0);
  CHECK(t.timeouts() == 1);
  CHECK(t.resends() == 3);
  CHECK_FALSE(t.next_timeout());

  // retries = 0: one send only.
  REQUIRE(t.submit(2, to("10.0.0.2", 5), 0, t0));
  t.take_sends();
  t.handle_timeout(t0 + 1s);
  o = t.take_outcomes();
  REQUIRE(o.size() == 1);
  CHECK(o[0].kind == request_outcome::timeout);
}

TEST_CASE("responses match by tid and sender; others are counted", "[unit][rpc][requests]") {
  request_table t({1s, 100, 80}, 65535);
  REQUIRE(t.submit(10, to("10.0.0.2", 5), 3, t0));
  REQUIRE(t.submit(11, to("10.0.0.3", 6), 3, t0));
  auto s = t.take_sends();
  REQUIRE(s.size() == 2);
  CHECK(s[0].tid == 65535);
  CHECK(s[1].tid == 0);  // wraps
  // Unknown tid.
  CHECK_FALSE(t.match(1234, ipv4_address::parse("10.0.0.2", 5), t0));
  // Right tid, wrong sender (another host; the right host with another port).
  CHECK_FALSE(t.match(65535, ipv4_address::parse("10.0.0.3", 5), t0));
  CHECK_FALSE(t.match(65535, ipv4_address::parse("10.0.0.2", 6), t0));
  CHECK(t.unmatched() == 3);
  CHECK(t.pending() == 2);
  auto m = t.match(65535, ipv4_address::parse("10.0.0.2", 5), t0 + 30ms);
  REQUIRE(m);
  CHECK(m->id == 10);
  CHECK(m->rtt == 30ms);
  // Matched once only.
  CHECK_FALSE(t.match(65535, ipv4_address::parse("10.0.0.2", 5), t0));
  CHECK(t.pending() == 1);
  // No timer left for the answered request.
  t.handle_timeout(t0 + 1s);
  auto o = t.take_outcomes();
  REQUIRE(o.size() == 1);
  CHECK(o[0].id == 11);
}

TEST_CASE("no tid is reused while its request is pending", "[unit][rpc][requests]") {
  request_table t({1s, 70000, 1000000}, 0);
  std::set<uint16_t> tids;
  // Keep request 0 (tid 0) pending while the counter wraps around.
  for (uint64_t i = 0; i < 65536; i++) {
    REQUIRE(t.submit(i, to("10.0.0.2", 5), 3, t0));
    for (const auto& s : t.take_sends()) CHECK(tids.insert(s.tid).second);
    if (i > 0 && i % 2 == 0) t.cancel(i - 1);  // frees odd tids
  }
  CHECK(t.pending() > 30000);
  // 65536 pending at most: the table is full of distinct tids.
  request_table full({1s, 70000, 1000000}, 0);
  for (uint64_t i = 0; i < 65536; i++) REQUIRE(full.submit(i, to("10.0.0.2", 5), 3, t0));
  CHECK_FALSE(full.submit(99999, to("10.0.0.2", 5), 3, t0));
  full.cancel(300);
  REQUIRE(full.submit(99999, to("10.0.0.2", 5), 3, t0));
  auto s = full.take_sends();
  CHECK(s.back().tid == 300);  // the only free tid
}

TEST_CASE("the pending cap refuses requests at once", "[unit][rpc][requests]") {
  request_table t({1s, 3, 80}, 0);
  CHECK(t.submit(1, to("10.0.0.2", 5), 3, t0));
  CHECK(t.submit(2, to("10.0.0.2", 5), 3, t0));
  CHECK(t.submit(3, to("10.0.0.2", 5), 3, t0));
  CHECK_FALSE(t.submit(4, to("10.0.0.2", 5), 3, t0));
  CHECK(t.take_sends().size() == 3);
  REQUIRE(t.match(0, ipv4_address::parse("10.0.0.2", 5), t0));
  CHECK(t.submit(4, to("10.0.0.2", 5), 3, t0));
}

TEST_CASE("a full congestion window queues requests until a drain", "[unit][rpc][requests]") {
  request_table t({1s, 1000, 80}, 0);
  for (uint64_t i = 0; i < 100; i++) REQUIRE(t.submit(i, to("10.0.0.2", 5), 3, t0));
  CHECK(t.take_sends().size() == 80);
  CHECK(t.pending() == 100);
  CHECK(t.in_flight() == 80);
  // Queued requests have no timer: after 1 s only the 80 sent ones cycle,
  // and their resends queue too (the bucket is still full).
  t.handle_timeout(t0 + 1s);
  CHECK(t.take_outcomes().size() == 80);
  CHECK(t.take_sends().empty());
  CHECK(t.in_flight() == 0);
  // A drain opens a new bucket: 80 go out, oldest queued first.
  t.drain(t0 + 1s);
  auto s = t.take_sends();
  REQUIRE(s.size() == 80);
  CHECK(s[0].id == 80);
  CHECK(s[0].attempt == 1);
  CHECK(s[20].id == 0);
  CHECK(s[20].attempt == 2);
  // The total cap: 160 sends over the four buckets, so the next two
  // drains send nothing; the one after forgets the first bucket's 80.
  CHECK(t.congestion().total() == 160);
  t.drain(t0 + 1s);
  t.drain(t0 + 1s);
  CHECK(t.take_sends().empty());
  t.drain(t0 + 1s);
  CHECK(t.take_sends().size() == 20);
  // A cancelled queued request never goes out.
  request_table u({1s, 1000, 1}, 0);
  REQUIRE(u.submit(1, to("10.0.0.2", 5), 3, t0));
  REQUIRE(u.submit(2, to("10.0.0.2", 5), 3, t0));
  CHECK(u.take_sends().size() == 1);
  CHECK(u.cancel(2));
  u.drain(t0);
  CHECK(u.take_sends().empty());
}

TEST_CASE("close fails everything pending and refuses more", "[unit][rpc][requests]") {
  request_table t({1s, 1000, 1}, 0);
  REQUIRE(t.submit(1, to("10.0.0.2", 5), 3, t0));
  REQUIRE(t.submit(2, to("10.0.0.2", 5), 3, t0));  // queued
  t.close();
  auto o = t.take_outcomes();
  REQUIRE(o.size() == 2);
  CHECK(o[0].kind == request_outcome::closed);
  CHECK(o[1].kind == request_outcome::closed);
  CHECK(t.pending() == 0);
  CHECK_FALSE(t.next_timeout());
  CHECK_FALSE(t.submit(3, to("10.0.0.2", 5), 3, t0));
}
