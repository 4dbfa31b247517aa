// dht-rpc's "back to ephemeral" (index.js:552-573, 765-784): a tick that
// comes more than SLEEPING_INTERVAL (3 ticks, 15 s) after the previous one
// means the process slept; an adaptive node that had turned persistent is
// ephemeral again ('ephemeral' event) until a NAT check passes anew, which
// it runs after MORE_STABLE_TICKS (720 ticks, 1 h). A configured persistent
// node (DHT.bootstrapper: not adaptive) stays persistent.
#include <catch2/catch.hpp>

#include <algorithm>

#include "sim_network.hpp"

using namespace ht::rpc;
using namespace ht::rpc_test;
using namespace std::chrono_literals;

namespace {

ipv4_address wake_addr(size_t i) {
  return ipv4_address::parse("10.2." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1),
                             uint16_t(21000 + i));
}

std::vector<ipv4_address> start_persistent(sim_network& net, size_t count) {
  std::vector<ipv4_address> addrs;
  for (size_t i = 0; i < count; i++) {
    addrs.push_back(wake_addr(i));
    node_config c;
    c.mode = node_mode::persistent;
    c.public_address = addrs.back();
    if (i > 0) c.bootstrap = {addrs[0]};
    c.seed = 500 + i;
    net.add(addrs.back(), c);
    net.run_for(50ms);
  }
  net.run_for(30s);
  return addrs;
}

size_t count_events(const std::vector<event>& evs, bool persistent) {
  return std::count_if(evs.begin(), evs.end(), [&](const event& e) {
    return persistent ? std::holds_alternative<persistent_event>(e)
                      : std::holds_alternative<ephemeral_event>(e);
  });
}

// The node's own clock jumps: its next handle_timeout comes `gap` late, as
// after a suspend (the network around it keeps its own time).
void sleep_node(sim_network& net, const ipv4_address& a, duration gap) {
  net.with(a, [&](node& n) { n.handle_timeout(net.now() + gap); });
}

} // namespace

TEST_CASE("rpc node: an adaptive node is ephemeral again after a sleep, persistent after a new "
          "NAT check", "[unit][rpc][sim]") {
  sim_network net(11);
  auto addrs = start_persistent(net, 12);
  const ipv4_address a = wake_addr(100);
  node_config ca;
  ca.mode = node_mode::adaptive;
  ca.bootstrap = {addrs[0]};
  ca.seed = 91;
  net.add(a, ca);
  REQUIRE(net.run_while_not([&] { return net.at(a).bootstrapped(); }, 30s));
  REQUIRE_FALSE(net.at(a).ephemeral());
  REQUIRE(count_events(net.take_events(a), true) == 1);

  SECTION("a late tick within SLEEPING_INTERVAL changes nothing") {
    sleep_node(net, a, 14s);
    net.run_for(10s);
    CHECK_FALSE(net.at(a).ephemeral());
    CHECK(count_events(net.take_events(a), false) == 0);
  }

  SECTION("after a sleep: ephemeral, then persistent again after MORE_STABLE_TICKS") {
    sleep_node(net, a, 60s);
    CHECK(net.at(a).ephemeral());
    CHECK(net.at(a).firewall() != firewall_class::open);
    auto evs = net.take_events(a);
    CHECK(count_events(evs, false) == 1);
    // Its NAT view is reported again (no longer OPEN).
    CHECK(std::any_of(evs.begin(), evs.end(), [](const event& e) {
      auto* n = std::get_if<nat_event>(&e);
      return n && n->firewall != firewall_class::open;
    }));
    // Still ephemeral well before the re-check (720 ticks of 5 s).
    net.run_for(50min);
    CHECK(net.at(a).ephemeral());
    CHECK(count_events(net.take_events(a), true) == 0);
    net.run_for(15min);
    CHECK_FALSE(net.at(a).ephemeral());
    CHECK(net.at(a).id() == node_id(a));
    CHECK(count_events(net.take_events(a), true) == 1);
  }
}

TEST_CASE("rpc node: a configured persistent node stays persistent after a sleep", "[unit][rpc][sim]") {
  sim_network net(12);
  auto addrs = start_persistent(net, 6);
  net.take_events(addrs[3]);
  sleep_node(net, addrs[3], 60s);
  net.run_for(10s);
  CHECK_FALSE(net.at(addrs[3]).ephemeral());
  CHECK(count_events(net.take_events(addrs[3]), false) == 0);
}
