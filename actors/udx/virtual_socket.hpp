#pragma once
// A deterministic in-memory stand-in for the UDP socket actor, for CAF
// test_coordinator scenarios: virtual sockets exchange datagrams through a
// shared virtual_network that injects loss, duplication, reordering and
// delay from a seeded PRNG, with delays on the actor clock (so the test
// clock drives them). It speaks udx_socket_actor, demultiplexing exactly as
// the real socket does.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#include <caf/actor_system.hpp>

#include "messages/udx.hpp"

namespace ht {

struct virtual_link {
  double loss = 0;
  double duplicate = 0;
  double reorder = 0;          // probability of extra delay
  caf::timespan delay = std::chrono::milliseconds(1);
  caf::timespan jitter = std::chrono::milliseconds(5);
  bool down = false;
};

using virtual_socket_actor = udx_socket_actor::extend<
  caf::reacts_to<udx_recv_atom, udx_endpoint, bytes>>;

class virtual_network {
public:
  explicit virtual_network(uint64_t seed) : rng_(seed) {}

  /// Applies to every datagram (set before or during a scenario).
  void set_link(const virtual_link& l) {
    std::lock_guard<std::mutex> g{mtx_};
    link_ = l;
  }
  uint64_t delivered() const { return delivered_; }
  uint64_t dropped() const { return dropped_; }

  // used by the virtual sockets
  void attach(const udx_endpoint& e, virtual_socket_actor s);
  void detach(const udx_endpoint& e);
  /// Fate of one datagram: delays for each copy to deliver (none: lost).
  std::vector<caf::timespan> fate();
  virtual_socket_actor find(const udx_endpoint& e);

private:
  std::mutex mtx_;
  std::mt19937_64 rng_;
  virtual_link link_;
  std::map<std::pair<std::array<uint8_t, 16>, uint16_t>, virtual_socket_actor> sockets_;
  uint64_t delivered_ = 0, dropped_ = 0;
};

/// The caps the real socket applies to its receivers' backlogs
/// (udx_socket_options), applied the same way; drops show in udx_stats
/// (udx_socket_info). A virtual socket has no kernel send buffer: its send
/// counters stay 0.
struct virtual_socket_limits {
  int64_t stream_backlog_cap = 8 << 20;
  int64_t handler_backlog_cap = 1 << 20;
};

/// A virtual socket bound to `addr` on `net`.
udx_socket_actor spawn_virtual_udx_socket(caf::actor_system& sys,
                                          std::shared_ptr<virtual_network> net,
                                          const udx_endpoint& addr,
                                          const virtual_socket_limits& limits = {});

} // namespace ht
