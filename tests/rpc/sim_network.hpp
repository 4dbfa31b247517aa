#pragma once
// A test-only network of sans-IO dht-rpc nodes: datagrams are routed
// between node objects by address on a virtual clock, with a fixed latency
// plus jitter, optional random loss, and nodes that can be made silent (they
// receive nothing and answer nothing, as a crashed host). No sockets.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include "dht/rpc/node.hpp"
#include "dht/rpc/query.hpp"
#include "dht/rpc/routing_table.hpp"

namespace ht::rpc_test {

using namespace ht::rpc;
using ht::enc::ipv4_address;

class sim_network {
public:
  explicit sim_network(uint64_t seed) : rng_(seed) {}

  time_point now() const { return now_; }
  void set_loss(double p) { loss_ = p; }

  node& add(const ipv4_address& addr, node_config cfg) {
    auto n = std::make_unique<node>(std::move(cfg), now_);
    node& ref = *n;
    nodes_[address_key(addr)] = entry{addr, std::move(n), false, {}};
    order_.push_back(address_key(addr));
    pump(address_key(addr));
    return ref;
  }

  node& at(const ipv4_address& addr) { return *nodes_.at(address_key(addr)).n; }
  bool alive(const ipv4_address& addr) const { return !nodes_.at(address_key(addr)).dead; }
  /// The node stops receiving and sending (a crash; nobody is told).
  void kill(const ipv4_address& addr) { nodes_.at(address_key(addr)).dead = true; }
  std::vector<ipv4_address> addresses() const {
    std::vector<ipv4_address> out;
    for (uint64_t k : order_) out.push_back(nodes_.at(k).addr);
    return out;
  }

  /// Events a node emitted, in order (taken out).
  std::vector<event> take_events(const ipv4_address& addr) {
    auto& e = nodes_.at(address_key(addr));
    std::vector<event> out;
    out.swap(e.events);
    return out;
  }

  /// Runs the network until `until`.
  void run_until(time_point until) {
    for (;;) {
      const time_point next_dgram = dgrams_.empty() ? time_point::max() : dgrams_.top().at;
      const time_point next_timer = next_timer_at();
      const time_point next = std::min(next_dgram, next_timer);
      if (next > until) break;
      now_ = next;
      if (next_dgram <= next_timer) {
        datagram d = dgrams_.top();
        dgrams_.pop();
        auto it = nodes_.find(address_key(d.to));
        if (it == nodes_.end() || it->second.dead) continue;
        it->second.n->receive(0, d.from, d.data.data(), d.data.size(), now_);
        pump(it->first);
      } else {
        auto [t, key] = *timers_.begin();
        timers_.erase(timers_.begin());
        scheduled_.erase(key);
        auto& e = nodes_.at(key);
        if (e.dead) continue;
        e.n->handle_timeout(now_);
        pump(key);
      }
    }
    now_ = until;
  }

  void run_for(duration d) { run_until(now_ + d); }

  /// Runs until pred() holds or `limit` passes; true if it held.
  bool run_while_not(const std::function<bool()>& pred, duration limit,
                     duration step = std::chrono::milliseconds(50)) {
    const time_point end = now_ + limit;
    while (!pred()) {
      if (now_ >= end) return false;
      run_until(std::min(end, now_ + step));
    }
    return true;
  }

  /// Lets the layer above act on a node (start a query, ...), then routes
  /// whatever it sent.
  template <class F>
  auto with(const ipv4_address& addr, F&& f) {
    auto key = address_key(addr);
    auto& e = nodes_.at(key);
    if constexpr (std::is_void_v<decltype(f(*e.n))>) {
      f(*e.n);
      pump(key);
    } else {
      auto r = f(*e.n);
      pump(key);
      return r;
    }
  }

  uint64_t datagrams() const { return delivered_; }

private:
  struct entry {
    ipv4_address addr;
    std::unique_ptr<node> n;
    bool dead = false;
    std::vector<event> events;
  };
  struct datagram {
    time_point at;
    uint64_t seq;
    ipv4_address from, to;
    bytes data;
    bool operator<(const datagram& o) const {
      return at != o.at ? at > o.at : seq > o.seq;  // min-heap
    }
  };

  time_point next_timer_at() const {
    return timers_.empty() ? time_point::max() : timers_.begin()->first;
  }

  // Routes a node's transmits, keeps its events, re-arms its timer.
  void pump(uint64_t key) {
    auto& e = nodes_.at(key);
    while (auto t = e.n->poll_transmit()) {
      if (e.dead) continue;
      delivered_++;
      if (loss_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < loss_) continue;
      const auto latency = std::chrono::milliseconds(5 + rng_() % 20);
      dgrams_.push(datagram{now_ + latency, seq_++, e.addr, t->to, std::move(t->data)});
    }
    while (auto ev = e.n->poll_event()) e.events.push_back(std::move(*ev));
    auto s = scheduled_.find(key);
    if (s != scheduled_.end()) {
      timers_.erase({s->second, key});
      scheduled_.erase(s);
    }
    if (auto t = e.n->poll_timeout()) {
      const time_point at = std::max(*t, now_);
      timers_.emplace(at, key);
      scheduled_[key] = at;
    }
  }

  std::mt19937_64 rng_;
  double loss_ = 0;
  time_point now_ = time_point{} + std::chrono::hours(1);
  std::unordered_map<uint64_t, entry> nodes_;
  std::vector<uint64_t> order_;
  std::priority_queue<datagram> dgrams_;
  std::set<std::pair<time_point, uint64_t>> timers_;
  std::unordered_map<uint64_t, time_point> scheduled_;
  uint64_t seq_ = 0, delivered_ = 0;
};

} // namespace ht::rpc_test
