#include <catch2/catch.hpp>

#include "sim_link.hpp"

using namespace ht::udx;
using namespace ht::udx::test;
using namespace std::chrono_literals;

namespace {

bool both_closed(sim& s) { return s.closed_a != "-" && s.closed_b != "-"; }

} // namespace

TEST_CASE("udx stream: ordered transfer and clean close over a clean link", "[unit]") {
  sim s(1);
  auto data = pattern(1 << 20, 1);
  s.a.write(data);
  s.a.end();
  REQUIRE(s.run_until([&] { return s.end_b; }));
  CHECK(s.got_b == data);
  CHECK_FALSE(s.a.closed()); // half-closed: b may still write
  bytes reply = pattern(1000, 2);
  s.b.write(reply);
  s.b.end();
  REQUIRE(s.run_until([&] { return both_closed(s); }));
  CHECK(s.got_a == reply);
  CHECK(s.closed_a == "");
  CHECK(s.closed_b == "");
  CHECK(s.a.stats().retransmits == 0);
  CHECK(s.a.stats().mtu > 1200); // probing upwards from 1200
}

TEST_CASE("udx stream: loss, duplication and reordering keep data intact", "[unit]") {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    CAPTURE(seed);
    sim s(seed);
    double loss = 0.01 * static_cast<double>(seed * 2 - 1); // 1% .. 11%
    s.ab = link_profile{loss, 0.02, 0.05};
    s.ba = link_profile{loss, 0.02, 0.05};
    auto data = pattern(512 * 1024, seed);
    auto back = pattern(100 * 1024, seed + 100);
    s.a.write(data);
    s.b.write(back);
    s.a.end();
    s.b.end();
    REQUIRE(s.run_until([&] { return both_closed(s); }));
    CHECK(s.got_b == data);
    CHECK(s.got_a == back);
    CHECK(s.closed_a == "");
    CHECK(s.closed_b == "");
    CHECK(s.a.stats().retransmits > 0);
    CHECK(s.a.stats().loss_episodes > 0);
  }
}

TEST_CASE("udx stream: SACK-driven fast retransmit beats the RTO", "[unit]") {
  sim s(7);
  s.ab.delay = 20ms;
  s.ba.delay = 20ms;
  auto data = pattern(300 * 1024, 7);
  s.a.write(data);
  // Drop exactly one early data packet.
  int count = 0;
  s.ab.loss = 0;
  s.on_wire = [](bool, const bytes&) {};
  REQUIRE(s.run_until([&] { return s.a.stats().packets_sent > 20; }));
  (void) count;
  // Drop everything briefly to create one hole among later successes.
  s.ab.down = true;
  bytes out;
  s.step(s.now + 1ms);
  s.ab.down = false;
  REQUIRE(s.run_until([&] { return s.got_b.size() == data.size(); }, 30s));
  CHECK(s.got_b == data);
  CHECK(s.a.stats().rto_fired == 0); // recovered via SACKs, not the timer
}

TEST_CASE("udx stream: half-close in both directions", "[unit]") {
  sim s(3);
  s.b.end(); // b ends first, without writing
  REQUIRE(s.run_until([&] { return s.end_a; }));
  CHECK_FALSE(s.end_b);
  auto data = pattern(70000, 3);
  s.a.write(data); // a can still write after the peer's end
  s.a.end();
  REQUIRE(s.run_until([&] { return both_closed(s); }));
  CHECK(s.got_b == data);
  CHECK(s.closed_a == "");
  CHECK(s.closed_b == "");
  CHECK_THROWS_AS(s.a.write(data), stream_error);
}

TEST_CASE("udx stream: a peer that closes without its last ack still ends us cleanly", "[unit]") {
  sim s(5);
  auto data = pattern(50000, 5);
  s.b.write(data);
  s.b.end(); // b ends first; a reads everything and b's end
  REQUIRE(s.run_until([&] { return s.end_a && s.got_a == data; }));
  // From now on nothing reaches a: b's ack of a's END is lost and b, like
  // libudx, closes at once and never answers again.
  s.ba.down = true;
  s.a.end();
  REQUIRE(s.run_until([&] { return s.closed_a != "-"; }, std::chrono::seconds(60)));
  CHECK(s.closed_a == "");
  CHECK(s.a.stats().end_unconfirmed == 1);
  CHECK(s.end_b);
}

TEST_CASE("udx stream: our END is retransmitted until a peer that is still open acks it", "[unit]") {
  sim s(6);
  s.b.end();
  REQUIRE(s.run_until([&] { return s.end_a; }));
  s.ab.down = true; // a's END is lost for a while
  s.a.end();
  s.run_until([] { return false; }, std::chrono::seconds(2));
  s.ab.down = false;
  REQUIRE(s.run_until([&] { return both_closed(s); }, std::chrono::seconds(60)));
  CHECK(s.closed_a == "");
  CHECK(s.closed_b == "");
  CHECK(s.a.stats().end_unconfirmed == 0); // b was reached and acked
}

TEST_CASE("udx stream: destroy resets the peer", "[unit]") {
  sim s(4);
  s.a.write(pattern(10000, 4));
  REQUIRE(s.run_until([&] { return s.got_b.size() == 10000; }));
  s.a.destroy();
  REQUIRE(s.run_until([&] { return both_closed(s); }));
  CHECK(s.closed_a == "");
  CHECK(s.closed_b == "ECONNRESET");
}

TEST_CASE("udx stream: a lost DESTROY is sent again when the peer keeps sending", "[unit]") {
  sim s(41);
  s.b.write(pattern(2 << 20, 41)); // b has data in flight towards a
  REQUIRE(s.run_until([&] { return s.got_a.size() >= 100000; }));
  s.a.destroy();
  s.ab.down = true;
  s.flush(); // the one DESTROY is lost
  s.ab.down = false;
  CHECK(s.closed_b == "-");
  // b's packets still reach the destroyed a, which answers with DESTROY:
  // b is reset at once instead of timing out after its RTO retries.
  REQUIRE(s.run_until([&] { return both_closed(s); }, std::chrono::seconds(1)));
  CHECK(s.closed_a == "");
  CHECK(s.closed_b == "ECONNRESET");
}

TEST_CASE("udx stream: unordered messages", "[unit]") {
  sim s(5);
  bytes m1{1, 2, 3}, m2(1000, 9);
  s.a.send_message(m1.data(), m1.size());
  s.a.send_message(m2.data(), m2.size());
  REQUIRE(s.run_until([&] { return s.msgs_b.size() == 2; }));
  CHECK(s.msgs_b[0] == m1);
  CHECK(s.msgs_b[1] == m2);
  bytes big(s.a.max_message_size() + 1);
  CHECK_THROWS_AS(s.a.send_message(big.data(), big.size()), stream_error);
}

TEST_CASE("udx stream: flow control holds a sender off a reader that does not read", "[unit]") {
  auto ca = sim::cfg(1, 2), cb = sim::cfg(2, 1);
  cb.rwnd_max = 64 * 1024;
  sim s(6, ca, cb);
  s.read_b = false;
  auto data = pattern(1 << 20, 6);
  s.a.write(data);
  s.a.end();
  s.run_until([&] { return false; }, 20s);
  // The receiver holds at most its window plus the in-flight margin.
  stream_event ev;
  size_t buffered = 0;
  std::vector<stream_event> held;
  while (s.b.poll_event(ev)) {
    if (ev.kind == event_kind::data)
      buffered += ev.payload.size();
    held.push_back(std::move(ev));
  }
  CHECK(buffered <= 64 * 1024 + 16 * 1024 + 2 * 1500);
  CHECK(buffered >= 60 * 1024);
  CHECK(s.a.buffered_bytes() >= data.size() - buffered - 1500);
  CHECK_FALSE(s.a.closed()); // zero-window probing keeps it alive
  for (auto& e : held)
    if (e.kind == event_kind::data)
      s.got_b.insert(s.got_b.end(), e.payload.begin(), e.payload.end());
  s.read_b = true;
  REQUIRE(s.run_until([&] { return s.end_b; }, 120s));
  CHECK(s.got_b == data);
}

TEST_CASE("udx stream: a peer that never acks ends the stream with ETIMEDOUT", "[unit]") {
  sim s(8);
  s.ab.down = true;
  s.a.write(pattern(50000, 8));
  REQUIRE(s.run_until([&] { return s.closed_a != "-"; }, 600s));
  CHECK(s.closed_a == "ETIMEDOUT");
  // RTO backoff: 1+2+4+8+16+30+30 s at most before giving up.
  CHECK(s.a.stats().rto_fired >= 6);
}

TEST_CASE("udx stream: keepalive heartbeats and idle timeout", "[unit]") {
  auto ca = sim::cfg(1, 2), cb = sim::cfg(2, 1);
  ca.keepalive = 1s;
  cb.idle_timeout = 5s;
  sim s(9, ca, cb);
  uint64_t heartbeats = 0;
  s.on_wire = [&](bool to_b, const bytes& d) {
    if (to_b && d.size() >= header_size && (d[2] & flag_heartbeat))
      ++heartbeats;
  };
  s.run_until([&] { return false; }, 20s);
  CHECK(heartbeats >= 15);
  CHECK(s.closed_b == "-"); // heartbeats keep b's idle timer from firing
  s.ab.down = true;
  REQUIRE(s.run_until([&] { return s.closed_b != "-"; }, 20s));
  CHECK(s.closed_b == "ETIMEDOUT");
}

TEST_CASE("udx stream: MTU probing stops below a black hole", "[unit]") {
  sim s(10);
  s.ab.max_size = 1400 - 28; // the path drops IP packets over 1400 bytes
  auto data = pattern(2 << 20, 10);
  s.a.write(data);
  s.a.end();
  REQUIRE(s.run_until([&] { return s.end_b; }));
  CHECK(s.got_b == data);
  CHECK(s.a.stats().mtu <= 1400);
  CHECK(s.a.stats().mtu >= 1360);
}

TEST_CASE("udx stream: bad input is dropped without effect", "[unit]") {
  sim s(11);
  auto data = pattern(200000, 11);
  s.a.write(data);
  REQUIRE(s.run_until([&] { return s.got_b.size() > 50000; }));
  auto before = s.b.stats().dropped;
  // garbage, short, wrong id, forged ack far ahead, out-of-window data,
  // a forged DESTROY out of window
  bytes garbage(100, 0xab);
  s.b.on_datagram(garbage.data(), garbage.size(), s.now);
  s.b.on_datagram(garbage.data(), 5, s.now);
  bytes pkt(header_size + 10);
  header h;
  h.type = flag_data;
  h.stream_id = 99;
  write_header(h, pkt.data());
  s.b.on_datagram(pkt.data(), pkt.size(), s.now);
  h.stream_id = 2;
  h.seq = 0x80000000; // way out of window
  write_header(h, pkt.data());
  s.b.on_datagram(pkt.data(), pkt.size(), s.now);
  h.type = flag_destroy;
  write_header(h, pkt.data());
  s.b.on_datagram(pkt.data(), pkt.size(), s.now);
  h.type = 0;
  h.seq = 0;
  h.ack = 0x7fff0000; // acks packets b never sent
  write_header(h, pkt.data());
  s.b.on_datagram(pkt.data(), pkt.size(), s.now);
  CHECK(s.b.stats().dropped >= before + 5);
  CHECK_FALSE(s.b.closed());
  s.a.end();
  REQUIRE(s.run_until([&] { return s.end_b; }));
  CHECK(s.got_b == data);
}

TEST_CASE("udx stream: congestion control and pacing", "[unit]") {
  sim s(12);
  s.ab.delay = 25ms;
  s.ba.delay = 25ms;
  // Count how many data packets leave within any 1 ms: pacing spreads a
  // window over the RTT instead of bursting it.
  std::map<int64_t, int> per_ms;
  s.on_wire = [&](bool to_b, const bytes& d) {
    if (to_b && d.size() > 100)
      per_ms[std::chrono::duration_cast<std::chrono::milliseconds>(
               s.now.time_since_epoch()).count()]++;
  };
  auto data = pattern(8 << 20, 12);
  s.a.write(data);
  s.a.end();
  REQUIRE(s.run_until([&] { return s.end_b; }));
  CHECK(s.got_b == data);
  CHECK(s.a.stats().cwnd > 10); // grew beyond the initial window
  CHECK(s.a.stats().mtu >= 1456); // probed most of the way up
  int peak = 0;
  for (auto& [ms, n] : per_ms)
    peak = std::max(peak, n);
  CHECK(peak < static_cast<int>(s.a.stats().cwnd));
  // Then a lossy phase shrinks the window (multiplicative decrease).
  sim l(13);
  l.ab = link_profile{0.05, 0, 0, 25ms};
  l.ba = link_profile{0, 0, 0, 25ms};
  l.a.write(pattern(4 << 20, 13));
  l.a.end();
  REQUIRE(l.run_until([&] { return l.end_b; }));
  CHECK(l.a.stats().loss_episodes > 0);
  CHECK(l.a.stats().cwnd < s.a.stats().cwnd);
}

TEST_CASE("udx stream: packet numbers wrap around 2^32", "[unit]") {
  for (uint64_t seed = 20; seed < 24; ++seed) {
    CAPTURE(seed);
    auto ca = sim::cfg(1, 2), cb = sim::cfg(2, 1);
    ca.initial_seq = 0xffffff80; // wraps after 128 packets
    cb.initial_ack = 0xffffff80;
    cb.initial_seq = 0xfffffff0;
    ca.initial_ack = 0xfffffff0;
    sim s(seed, ca, cb);
    s.ab = link_profile{0.05, 0.02, 0.2};
    s.ba = link_profile{0.05, 0.02, 0.2};
    auto data = pattern(1 << 20, seed);
    auto back = pattern(100000, seed);
    s.a.write(data);
    s.b.write(back);
    s.a.end();
    s.b.end();
    REQUIRE(s.run_until([&] { return s.closed_a != "-" && s.closed_b != "-"; }));
    CHECK(s.got_b == data);
    CHECK(s.got_a == back);
    CHECK(s.closed_a == "");
    CHECK(s.closed_b == "");
  }
}
