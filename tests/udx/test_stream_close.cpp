// The closing rules of dht/udx/stream_close.cpp: the peer's END is held
// until our END is acknowledged (bounded, with a tie-break between two of
// our peers), and once the peer's END is acknowledged our END goes alone
// after all data. Scripted packets for the rules themselves, the simulated
// link for whole closes against a peer that forgets a stream at once.
#include <catch2/catch.hpp>

#include "sim_link.hpp"

using namespace ht::udx;
using namespace ht::udx::test;
using namespace std::chrono_literals;

namespace {

/// One side of a stream driven by hand: we play the peer.
struct scripted {
  time_point now = time_point{} + 1000s;
  stream s;
  std::vector<stream_event> events;

  scripted(uint32_t local, uint32_t remote) : s(sim::cfg(local, remote), now) {}

  /// A header-only or data packet from the peer (its packet numbers and
  /// ours both start at 0 in sim::cfg).
  void peer(uint8_t type, uint32_t seq, uint32_t ack, size_t payload = 0) {
    header h;
    h.type = type;
    h.stream_id = s.config().local_id;
    h.rwnd = 1 << 20;
    h.seq = seq;
    h.ack = ack;
    bytes pkt(header_size + payload, 0x5a);
    write_header(h, pkt.data());
    s.on_datagram(pkt.data(), pkt.size(), now);
    stream_event ev;
    while (s.poll_event(ev))
      events.push_back(std::move(ev));
  }

  /// Everything the stream sends now, with the payload size of each.
  std::vector<std::pair<header, size_t>> sent() {
    std::vector<std::pair<header, size_t>> out;
    bytes pkt;
    while (s.poll_transmit(now, pkt)) {
      auto h = parse_header(pkt.data(), pkt.size());
      REQUIRE(h);
      out.emplace_back(*h, pkt.size() - header_size - h->data_offset);
    }
    return out;
  }

  /// Fires timers until `until`; true once a packet acking `ack` left.
  bool acks_by(uint32_t ack, time_point until) {
    for (;;) {
      for (auto& [h, size] : sent())
        if (seq_diff(h.ack, ack) >= 0)
          return true;
      auto t = s.next_timeout();
      if (!t || *t > until)
        return false;
      now = std::max(now, *t);
      s.on_timeout(now);
    }
  }

  bool closed_cleanly() const {
    for (auto& e : events)
      if (e.kind == event_kind::closed)
        return e.error.empty();
    return false;
  }
};

} // namespace

TEST_CASE("udx close: the peer's END is held until our END is acknowledged", "[unit]") {
  scripted a(1, 2); // the lower id: the long hold
  bytes data(100, 1);
  a.s.write(data);
  a.s.end();
  auto out = a.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].first.type == (flag_data | flag_end)); // END rides along
  // The peer's END arrives before it acknowledged ours: we ack up to it,
  // not past it, so a libudx peer cannot close yet.
  a.peer(flag_end, 0, 0);
  REQUIRE(a.events.size() == 1);
  CHECK(a.events[0].kind == event_kind::end); // delivered all the same
  out = a.sent();
  REQUIRE_FALSE(out.empty());
  for (auto& [h, size] : out)
    CHECK(h.ack == 0);
  // Its END retransmitted, still without our END acknowledged: held.
  a.peer(flag_end, 0, 0);
  for (auto& [h, size] : a.sent())
    CHECK(h.ack == 0);
  CHECK_FALSE(a.s.closed());
  // Its retransmission now carries the ack of our END: we release the
  // END (the closing ack is ours) and close cleanly.
  a.peer(flag_end, 0, 1);
  out = a.sent();
  REQUIRE_FALSE(out.empty());
  CHECK(out.back().first.ack == 1);
  CHECK(a.closed_cleanly());
  // Lingering: a lost closing ack is answered again.
  a.peer(flag_end, 0, 1);
  out = a.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].first.ack == 1);
}

TEST_CASE("udx close: the hold ends after 4 RTOs without our END acknowledged", "[unit]") {
  scripted a(1, 2);
  a.s.write(bytes(100, 1));
  a.s.end();
  a.sent();
  a.peer(flag_end, 0, 0);
  time_point held_at = a.now;
  // No RTT sample yet: RTO 1 s, so the hold lasts 4 s (libudx retries its
  // END for about 13 RTOs).
  CHECK_FALSE(a.acks_by(1, held_at + 4s - 1ms));
  CHECK(a.acks_by(1, held_at + 4s));
  CHECK_FALSE(a.s.closed()); // our END is still unacknowledged
}

TEST_CASE("udx close: the side with the higher id holds about two round trips", "[unit]") {
  scripted a(2, 1);
  a.s.write(bytes(100, 1));
  a.sent();
  a.now += 10ms;
  a.peer(0, 0, 1); // RTT sample: 10 ms
  a.s.write(bytes(100, 2));
  a.s.end();
  auto out = a.sent();
  REQUIRE(out.size() == 1);
  a.peer(flag_end, 0, 1);
  time_point held_at = a.now;
  // 2 x 10 ms + max(4 x 5 ms, 10 ms) = 40 ms
  CHECK_FALSE(a.acks_by(1, held_at + 39ms));
  CHECK(a.acks_by(1, held_at + 40ms));
}

TEST_CASE("udx close: after the peer's END is acknowledged, our END goes alone after all data", "[unit]") {
  scripted a(1, 2);
  a.peer(flag_end, 0, 0); // the peer ends first; we have not ended
  auto out = a.sent();
  REQUIRE_FALSE(out.empty());
  CHECK(out.back().first.ack == 1); // acked at once: half-close
  a.s.write(bytes(3000, 3));
  a.s.end();
  out = a.sent();
  REQUIRE(out.size() == 3); // 1152 + 1152 + 696 bytes, no END among them
  for (auto& [h, size] : out) {
    CHECK(h.type == flag_data);
    CHECK(size > 0);
  }
  a.peer(0, 1, 2); // two of three acknowledged: the END still waits
  CHECK(a.sent().empty());
  a.peer(0, 1, 3);
  out = a.sent();
  REQUIRE(out.size() == 1);
  CHECK(out[0].first.type == flag_end);
  CHECK(out[0].first.seq == 3);
  CHECK(out[0].second == 0);
  a.peer(0, 1, 4);
  CHECK(a.closed_cleanly());
}

TEST_CASE("udx close: two of our streams closing at once lose no time to the hold", "[unit]") {
  // (1, 2): a holds long, b short; (5, 5): both short.
  for (auto ids : {std::pair<uint32_t, uint32_t>{1, 2}, {5, 5}}) {
    CAPTURE(ids.first, ids.second);
    sim s(31, sim::cfg(ids.first, ids.second), sim::cfg(ids.second, ids.first));
    s.a.write(pattern(20000, 1));
    s.b.write(pattern(20000, 2));
    s.a.end();
    s.b.end();
    auto t0 = s.now;
    REQUIRE(s.run_until([&] { return s.closed_a != "-" && s.closed_b != "-"; }, 10s));
    CHECK(s.closed_a == "");
    CHECK(s.closed_b == "");
    // One-way delay 5 ms: a few round trips, not an RTO.
    CHECK(s.now - t0 < 200ms);
    CHECK(s.a.stats().end_unconfirmed == 0);
    CHECK(s.b.stats().end_unconfirmed == 0);
  }
}

TEST_CASE("udx close: a peer that forgets the stream once both ENDs are acked never times us out", "[unit]") {
  // libudx closes, and answers nothing more, the moment both ENDs are
  // acknowledged; its last ack may be lost. Simultaneous closes with data
  // in flight both ways through a lossy link: we must always close without
  // error (before the END hold a lost last ack left our data unacked and
  // the stream ended in ETIMEDOUT after ~91 s).
  int unconfirmed = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    sim s(seed);
    s.b_vanishes_on_close = true;
    s.ab = link_profile{0.05, 0.02, 0.05};
    s.ba = link_profile{0.05, 0.02, 0.05};
    auto data = pattern(64 * 1024, seed);
    s.a.write(data);
    s.b.write(pattern(64 * 1024, seed + 1));
    s.a.end();
    s.b.end();
    REQUIRE(s.run_until([&] { return s.closed_a != "-"; }, 300s));
    CHECK(s.closed_a == "");
    CHECK(s.got_b == data);
    unconfirmed += static_cast<int>(s.a.stats().end_unconfirmed);
  }
  CHECK(unconfirmed == 0); // the hold, not the fallback, closed them all
}
