#pragma once
// A simulated network for two sans-IO UDX streams: a seeded PRNG decides
// loss, duplication, reordering (random extra delay) per datagram, and time
// only moves to the next delivery or timer. Runs are exact replays.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <vector>

#include "dht/udx/stream.hpp"

namespace ht::udx::test {

struct link_profile {
  double loss = 0;            // probability a datagram is dropped
  double duplicate = 0;       // probability it is delivered twice
  double reorder = 0;         // probability it gets extra delay
  duration delay = std::chrono::milliseconds(5);    // one-way base delay
  duration jitter = std::chrono::milliseconds(10);  // extra delay when reordered
  size_t max_size = 65535;    // larger datagrams are dropped (MTU black hole)
  bool down = false;          // drop everything
};

struct sim {
  time_point now = time_point{} + std::chrono::seconds(1000);
  std::mt19937_64 rng;
  link_profile ab, ba;        // a->b and b->a
  struct in_flight {
    time_point at;
    uint64_t order;
    bool to_b;
    bytes data;
  };
  std::multimap<std::pair<time_point, uint64_t>, in_flight> net;
  uint64_t order = 0;
  stream a, b;
  bytes got_a, got_b;        // data each side received
  bool end_a = false, end_b = false;
  std::string closed_a = "-", closed_b = "-"; // "-": not closed
  std::vector<bytes> msgs_a, msgs_b;
  bool read_a = true, read_b = true; // poll data events (false: not reading)
  uint64_t sent_ab = 0, sent_ba = 0;
  // b forgets the stream the moment it closes, as libudx does: nothing
  // more reaches it and it sends nothing more (no lingering re-acks).
  bool b_vanishes_on_close = false;
  // Extra hook on each delivered datagram (e.g. to inspect headers).
  std::function<void(bool to_b, const bytes&)> on_wire;

  static stream_config cfg(uint32_t local, uint32_t remote) {
    stream_config c;
    c.local_id = local;
    c.remote_id = remote;
    return c;
  }

  explicit sim(uint64_t seed, stream_config ca = cfg(1, 2),
               stream_config cb = cfg(2, 1))
    : rng(seed), a(ca, now), b(cb, now) {}

  double unit() { return std::uniform_real_distribution<double>(0, 1)(rng); }

  bool b_gone() const { return b_vanishes_on_close && b.closed(); }

  void send(bool to_b, bytes d) {
    if (!to_b && b_gone())
      return;
    const link_profile& p = to_b ? ab : ba;
    (to_b ? sent_ab : sent_ba)++;
    if (p.down || d.size() > p.max_size || unit() < p.loss)
      return;
    int copies = unit() < p.duplicate ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      duration d_extra{0};
      if (unit() < p.reorder)
        d_extra = std::chrono::duration_cast<duration>(p.jitter * unit());
      time_point at = now + p.delay + d_extra;
      net.emplace(std::make_pair(at, order), in_flight{at, order, to_b, d});
      ++order;
    }
  }

  void drain_events(stream& s, bool reading, bytes& got, bool& ended,
                    std::string& closed, std::vector<bytes>& msgs) {
    if (!reading)
      return;
    stream_event ev;
    while (s.poll_event(ev)) {
      switch (ev.kind) {
        case event_kind::data: got.insert(got.end(), ev.payload.begin(), ev.payload.end()); break;
        case event_kind::end: ended = true; break;
        case event_kind::message: msgs.push_back(ev.payload); break;
        case event_kind::closed: closed = ev.error; break;
      }
    }
  }

  void transmit_all() {
    bytes out;
    for (int guard = 0; guard < 100000; ++guard) {
      bool any = false;
      if (a.poll_transmit(now, out)) { send(true, std::move(out)); any = true; }
      if (b.poll_transmit(now, out)) { send(false, std::move(out)); any = true; }
      if (!any)
        break;
    }
  }

  void flush() {
    transmit_all();
    drain_events(a, read_a, got_a, end_a, closed_a, msgs_a);
    drain_events(b, read_b, got_b, end_b, closed_b, msgs_b);
    transmit_all(); // polling data may open the window (window update ack)
  }

  /// One step: deliver what is due or fire timers. False when idle.
  bool step(time_point limit) {
    flush();
    std::optional<time_point> t;
    if (!net.empty())
      t = net.begin()->first.first;
    for (auto* s : {&a, &b}) {
      auto n = s->next_timeout();
      if (n && (!t || *n < *t))
        t = n;
    }
    if (!t || *t > limit)
      return false;
    if (*t > now)
      now = *t;
    while (!net.empty() && net.begin()->first.first <= now) {
      auto node = net.extract(net.begin());
      auto& f = node.mapped();
      if (on_wire)
        on_wire(f.to_b, f.data);
      if (f.to_b && b_gone())
        continue;
      (f.to_b ? b : a).on_datagram(f.data.data(), f.data.size(), now);
    }
    for (auto* s : {&a, &b}) {
      auto n = s->next_timeout();
      if (n && *n <= now)
        s->on_timeout(now);
    }
    return true;
  }

  /// Runs until pred() or `limit` of simulated time passed.
  template <class Pred>
  bool run_until(Pred pred, duration limit = std::chrono::seconds(600)) {
    time_point end = now + limit;
    for (uint64_t i = 0; i < 50'000'000; ++i) {
      if (pred())
        return true;
      if (!step(end))
        break;
    }
    flush();
    return pred();
  }
};

inline bytes pattern(size_t n, uint64_t seed) {
  bytes out(n);
  std::mt19937_64 r(seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = r();
    for (size_t j = 0; j < 8 && i + j < n; ++j)
      out[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  return out;
}

} // namespace ht::udx::test
