// What a remote peer controls on the UDX receive path, and what a full
// kernel buffer does to the send path: every queue stays bounded and every
// forged input costs little (issue 11, section 1). Unit level: the sans-IO
// stream core fed scripted packets, and the socket's send queue fed a
// scripted sendmmsg.
#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>

#include <netinet/in.h>

#include "actors/udx/send_queue.hpp"
#include "sim_link.hpp"

using namespace ht::udx;
using namespace ht::udx::test;
using namespace std::chrono_literals;

namespace {

/// A packet from the peer of a stream whose local id is `to`.
bytes packet(uint32_t to, uint8_t type, uint32_t seq, uint32_t ack,
             const std::vector<sack_range>& sacks = {}, size_t payload = 0,
             uint32_t rwnd = 0xffffffff) {
  header h;
  h.type = type | (sacks.empty() ? 0 : flag_sack);
  h.stream_id = to;
  h.rwnd = rwnd;
  h.seq = seq;
  h.ack = ack;
  bytes out(header_size + 8 * sacks.size() + payload, 0x5a);
  write_header(h, out.data());
  for (size_t i = 0; i < sacks.size(); ++i) {
    put_u32(out.data() + header_size + 8 * i, sacks[i].start);
    put_u32(out.data() + header_size + 8 * i + 4, sacks[i].end);
  }
  return out;
}

/// A sender driven by hand: every round it sends what its window allows and
/// (but for the last round) the peer acks all of it, so slow start doubles
/// the window each round. Returns the packets sent in the last round, none
/// of them acked.
uint32_t fill_window(stream& a, time_point& now, int rounds) {
  bytes out;
  uint32_t sent = 0, last = 0;
  for (int r = 0; r < rounds; ++r) {
    now += 10ms;
    last = 0;
    while (a.poll_transmit(now, out))
      ++last;
    sent += last;
    if (r + 1 < rounds) {
      auto ack = packet(1, 0, 0, sent);
      a.on_datagram(ack.data(), ack.size(), now);
    }
  }
  return last;
}

stream_config sender_config() {
  auto c = sim::cfg(1, 2);
  c.mtu_probing = false; // every packet carries the same payload
  return c;
}

} // namespace

TEST_CASE("udx hostile peer: unordered messages queue only up to a bound while nobody polls", "[unit]") {
  auto c = sim::cfg(2, 1);
  c.message_queue_bytes = 64 * 1024;
  time_point now{};
  stream b(c, now);
  constexpr size_t size = 1000;
  constexpr int flood = 1000; // 1 MB of messages, nobody polling
  for (int i = 0; i < flood; ++i) {
    auto m = packet(2, flag_message, 0, 0, {}, size);
    b.on_datagram(m.data(), m.size(), now);
  }
  auto drain = [&] {
    size_t n = 0;
    stream_event ev;
    while (b.poll_event(ev)) {
      REQUIRE(ev.kind == event_kind::message);
      CHECK(ev.payload.size() == size);
      ++n;
    }
    return n;
  };
  size_t held = drain();
  CHECK(held == c.message_queue_bytes / (size + 64));
  CHECK(b.stats().messages_dropped == flood - held);
  // Polled messages free the queue: new ones are held again.
  for (int i = 0; i < 10; ++i) {
    auto m = packet(2, flag_message, 0, 0, {}, size);
    b.on_datagram(m.data(), m.size(), now);
  }
  CHECK(drain() == 10);
  CHECK(b.stats().messages_dropped == flood - held);
  CHECK_FALSE(b.closed());
}

TEST_CASE("udx hostile peer: at most the 50 SACK ranges libudx sends are read", "[unit]") {
  time_point now{};
  stream a(sender_config(), now);
  a.write(pattern(100 * 1100, 1));
  uint32_t sent = fill_window(a, now, 1);
  REQUIRE(sent == 10);
  size_t per_packet = a.max_message_size(); // full packets
  auto before = a.buffered_bytes();
  // 50 copies of a range over packet 1, then a 51st over packet 2 (one
  // datagram, 60 ranges): only packet 1 counts as delivered.
  std::vector<sack_range> ranges(50, sack_range{1, 2});
  for (int i = 0; i < 10; ++i)
    ranges.push_back(sack_range{2, 3});
  auto ack = packet(1, 0, 0, 0, ranges);
  a.on_datagram(ack.data(), ack.size(), now);
  CHECK(a.buffered_bytes() == before - per_packet);
  CHECK(a.stats().sack_ranges_ignored == 10);
  // parse_sacks itself stops at 50.
  size_t ignored = 0;
  auto h = parse_header(ack.data(), ack.size());
  REQUIRE(h);
  CHECK(parse_sacks(*h, ack.data(), ack.size(), &ignored).size() == max_sack_ranges);
  CHECK(ignored == 10);
}

TEST_CASE("udx hostile peer: forged SACKs over the whole window cost O(ranges log window)", "[unit]") {
  time_point now{};
  stream a(sender_config(), now);
  a.write(pattern(24u << 20, 2)); // 11 rounds send ~20,470 packets (23.6 MB)
  // Slow start from 10 packets: 11 rounds leave ~10,000 packets in flight.
  uint32_t window = fill_window(a, now, 11);
  REQUIRE(window >= 8000);
  auto una = static_cast<uint32_t>(a.stats().packets_sent) - window;
  uint32_t nxt = una + window;
  // 50 ranges, each over everything but the oldest packet: with a scan per
  // range that is 50 x the window per datagram.
  std::vector<sack_range> ranges(max_sack_ranges, sack_range{una + 1, nxt});
  auto forged = packet(1, 0, 0, una, ranges);
  size_t per_packet = a.max_message_size(); // full packets
  auto before = a.buffered_bytes();
  a.on_datagram(forged.data(), forged.size(), now); // delivers all but one: legitimate work
  auto after = a.buffered_bytes();
  REQUIRE(before - after == (window - 1) * per_packet);
  // 10,000 more copies. Visiting the window per range, that is 5 * 10^9
  // packet visits (a minute even in an optimized build); visiting only
  // undelivered packets, well under a second even under ASan. The bound
  // is far from both.
  auto start = std::chrono::steady_clock::now();
  auto limit = 3s;
  int done = 0;
  for (; done < 10000; ++done) {
    a.on_datagram(forged.data(), forged.size(), now);
    if (done % 100 == 0 && std::chrono::steady_clock::now() - start > limit)
      break;
  }
  auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start).count();
  CHECK(done == 10000);
  CHECK(elapsed_ms < 3000);
  CHECK_FALSE(a.closed());
  // Nothing else changed: the oldest packet is still outstanding.
  CHECK(a.buffered_bytes() == after);
}

namespace {

/// The kernel behind a send_queue, scripted: it refuses the next
/// `fail_next` datagrams with EHOSTUNREACH, then takes up to `room`
/// datagrams (EAGAIN once there is none), recording what it took and where
/// it read each one.
struct scripted_kernel {
  std::vector<bytes> wire;
  std::vector<const uint8_t*> sent_from;
  int room = 0;
  int fail_next = 0;

  ht::udx_detail::send_queue::send_fn fn() {
    return [this](mmsghdr* m, unsigned n) -> int {
      if (fail_next > 0) {
        --fail_next;
        errno = EHOSTUNREACH;
        return -1;
      }
      if (room == 0) {
        errno = EAGAIN;
        return -1;
      }
      unsigned k = std::min<unsigned>(n, static_cast<unsigned>(room));
      for (unsigned i = 0; i < k; ++i) {
        auto* p = static_cast<uint8_t*>(m[i].msg_hdr.msg_iov[0].iov_base);
        wire.emplace_back(p, p + m[i].msg_hdr.msg_iov[0].iov_len);
        sent_from.push_back(p);
      }
      room -= static_cast<int>(k);
      return static_cast<int>(k);
    };
  }
};

} // namespace

TEST_CASE("udx send queue: EAGAIN queues in order up to the bound, drops past it, errors drop one", "[unit]") {
  using ht::udx_detail::send_queue;
  scripted_kernel kernel;
  auto& wire = kernel.wire;
  auto& room = kernel.room;
  auto& fail_next = kernel.fail_next;
  auto fn = kernel.fn();
  auto datagrams = [](int first, int count) {
    std::vector<bytes> out;
    for (int i = first; i < first + count; ++i)
      out.push_back(bytes(100, static_cast<uint8_t>(i)));
    return out;
  };
  sockaddr_storage to{};
  send_queue q(1000); // ten datagrams of 100 bytes
  room = 3;
  CHECK(q.send(to, sizeof(sockaddr_in), datagrams(0, 5), fn)); // 3 sent, 2 wait
  CHECK(wire.size() == 3);
  CHECK(q.queued() == 2);
  CHECK(q.would_block == 1);
  // While datagrams wait, new ones go behind them, up to the bound.
  CHECK(q.send(to, sizeof(sockaddr_in), datagrams(5, 12), fn));
  CHECK(q.queued() == 10);
  CHECK(q.queued_bytes() == 1000);
  CHECK(q.dropped == 4);
  // POLLOUT: the kernel takes everything again, in order.
  room = 1000;
  CHECK_FALSE(q.flush(fn));
  REQUIRE(wire.size() == 13);
  for (size_t i = 0; i < wire.size(); ++i)
    CHECK(wire[i][0] == i);
  // A refused destination loses its datagram only.
  fail_next = 1;
  CHECK_FALSE(q.send(to, sizeof(sockaddr_in), datagrams(20, 2), fn));
  CHECK(q.errors == 1);
  REQUIRE(wire.size() == 14);
  CHECK(wire.back()[0] == 21);
  // The I/O thread flushes a few batches per lock hold.
  send_queue q2(1 << 20);
  room = 0;
  CHECK(q2.send(to, sizeof(sockaddr_in), datagrams(0, 200), fn));
  room = 1000;
  CHECK(q2.flush(fn, 1));
  CHECK(q2.queued() == 200 - 64);
  CHECK_FALSE(q2.flush(fn));
  CHECK(q2.queued_bytes() == 0);
}

TEST_CASE("udx send queue: send_views sends from the caller's buffers, copies only what the kernel refuses, keeps the order", "[unit]") {
  using ht::udx_detail::send_queue;
  scripted_kernel kernel;
  auto& wire = kernel.wire;
  auto& sent_from = kernel.sent_from;
  auto& room = kernel.room;
  auto& fail_next = kernel.fail_next;
  auto fn = kernel.fn();
  sockaddr_storage to{};
  std::vector<bytes> mine;
  for (int i = 0; i < 8; ++i)
    mine.push_back(bytes(100, static_cast<uint8_t>(i)));
  auto views = [&](int first, int count) {
    std::vector<send_queue::view> out;
    for (int i = first; i < first + count; ++i)
      out.push_back({&to, sizeof(sockaddr_in), mine[size_t(i)].data(), mine[size_t(i)].size()});
    return out;
  };
  send_queue q(1 << 20);
  // Nothing waits: sent where they are, no copy.
  room = 100;
  auto v = views(0, 2);
  CHECK_FALSE(q.send_views(v.data(), v.size(), fn));
  REQUIRE(wire.size() == 2);
  CHECK(sent_from[0] == mine[0].data());
  CHECK(sent_from[1] == mine[1].data());
  // The kernel takes 1 of 3: the other 2 are copied into the queue, so the
  // caller may overwrite its buffers at once.
  room = 1;
  v = views(2, 3);
  CHECK(q.send_views(v.data(), v.size(), fn));
  CHECK(q.queued() == 2);
  CHECK(q.would_block == 1);
  for (int i = 3; i < 5; ++i)
    std::fill(mine[size_t(i)].begin(), mine[size_t(i)].end(), 0xee);
  // While datagrams wait, new ones go behind them (copied too).
  room = 0;
  v = views(5, 2);
  CHECK(q.send_views(v.data(), v.size(), fn));
  CHECK(q.queued() == 4);
  room = 1000;
  CHECK_FALSE(q.flush(fn));
  REQUIRE(wire.size() == 7);
  const uint8_t expect[7] = {0, 1, 2, 3, 4, 5, 6};
  for (size_t i = 0; i < wire.size(); ++i)
    CHECK(wire[i][0] == expect[i]);
  // A refused destination loses its datagram only.
  fail_next = 1;
  v = views(6, 2);
  CHECK_FALSE(q.send_views(v.data(), v.size(), fn));
  CHECK(q.errors == 1);
  REQUIRE(wire.size() == 8);
  CHECK(wire.back()[0] == 7);
}

TEST_CASE("udx hostile peer: a window full of packets after a hole costs O(log) per ack, not a walk", "[unit]") {
  time_point now{};
  stream b(sim::cfg(2, 1), now);
  // Packet 0 never arrives; 30,000 small packets after it do. Each is
  // answered by an ack with SACK ranges: walking every buffered packet per
  // ack would be 4.5 * 10^8 steps in all (over 10 s even optimized); with
  // runs it is well under a second even under ASan.
  constexpr uint32_t count = 30000;
  auto start = std::chrono::steady_clock::now();
  bytes out;
  uint32_t done = 1;
  for (; done <= count; ++done) {
    auto d = packet(2, flag_data, done, 0, {}, 100);
    b.on_datagram(d.data(), d.size(), now);
    while (b.poll_transmit(now, out)) {
    }
    if (done % 1000 == 0 && std::chrono::steady_clock::now() - start > 3s)
      break;
  }
  auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start).count();
  CHECK(done == count + 1);
  CHECK(elapsed_ms < 3000);
  // The last ack reports the one run [1, count + 1).
  REQUIRE(b.poll_transmit(now, out) == false);
  auto d = packet(2, flag_data, count + 1, 0, {}, 100);
  b.on_datagram(d.data(), d.size(), now);
  REQUIRE(b.poll_transmit(now, out));
  auto h = parse_header(out.data(), out.size());
  REQUIRE(h);
  auto ranges = parse_sacks(*h, out.data(), out.size());
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0].start == 1);
  CHECK(ranges[0].end == count + 2);
  // The hole fills: everything is delivered in order, and no run is left.
  auto zero = packet(2, flag_data, 0, 0, {}, 100);
  b.on_datagram(zero.data(), zero.size(), now);
  REQUIRE(b.poll_transmit(now, out));
  h = parse_header(out.data(), out.size());
  REQUIRE(h);
  CHECK(h->ack == count + 2);
  CHECK(parse_sacks(*h, out.data(), out.size()).empty());
}

TEST_CASE("udx hostile peer: SACK runs merge, split by holes, stop at 50 and never cover the END", "[unit]") {
  time_point now{};
  stream b(sim::cfg(2, 1), now);
  bytes out;
  auto feed = [&](uint32_t seq, uint8_t type = flag_data) {
    auto d = packet(2, type, seq, 0, {}, 10);
    b.on_datagram(d.data(), d.size(), now);
  };
  auto last_sacks = [&] {
    std::vector<sack_range> r;
    while (b.poll_transmit(now, out)) {
      auto h = parse_header(out.data(), out.size());
      REQUIRE(h);
      r = parse_sacks(*h, out.data(), out.size());
    }
    return r;
  };
  // 5, 3, 4 (joins both sides), 7, 6 (merges 3..5 and 7), then 60 isolated
  // packets from 10 on every other seq.
  for (uint32_t s : {5u, 3u, 4u, 7u, 6u})
    feed(s);
  auto r = last_sacks();
  REQUIRE(r.size() == 1);
  CHECK(r[0].start == 3);
  CHECK(r[0].end == 8);
  for (uint32_t s = 10; s < 130; s += 2)
    feed(s);
  r = last_sacks();
  REQUIRE(r.size() == max_sack_ranges);
  CHECK(r[1].start == 10);
  CHECK(r[1].end == 11);
  // The peer's END (seq 131) after 130: the run 130..131 is reported
  // without it.
  feed(131, flag_end);
  last_sacks();
  feed(1);
  feed(2); // 1..2 join 3..7
  r = last_sacks();
  REQUIRE(!r.empty());
  CHECK(r[0].start == 1);
  CHECK(r[0].end == 8);
  // Fill every hole but 0 (duplicates are only re-acked): one run that
  // stops before the END.
  for (uint32_t s = 8; s < 131; ++s)
    feed(s);
  r = last_sacks();
  REQUIRE(r.size() == 1);
  CHECK(r[0].start == 1);
  CHECK(r[0].end == 131);
}
