#pragma once
// Two virtual UDX sockets on one seeded virtual network, on CAF's test
// coordinator, with a recorder per side: the ground the stream-actor
// scenarios (test_scenario.cpp, test_stream_actor_window.cpp) stand on.
// Each fixture opens its own pair of streams a <-> b on it.
#include <memory>

#include "doubles/virtual_socket.hpp"
#include "recorder.hpp"
#include "support/caf_fixture.hpp"

namespace ht::udx::test {

struct virtual_pair : ht::test::caf_fixture {
  /// `seed`: the virtual network's loss and delay draws.
  explicit virtual_pair(uint64_t seed) : net(std::make_shared<virtual_network>(seed)) {}

  std::shared_ptr<virtual_network> net;
  udx_endpoint ea = udx_endpoint::parse("10.0.0.1", 1000);
  udx_endpoint eb = udx_endpoint::parse("10.0.0.2", 2000);
  udx_socket_actor sa = spawn_virtual_udx_socket(sys, net, ea);
  udx_socket_actor sb = spawn_virtual_udx_socket(sys, net, eb);
  record_ptr ra = std::make_shared<stream_record>();
  record_ptr rb = std::make_shared<stream_record>();
  udx_stream_actor a, b;
};

} // namespace ht::udx::test
