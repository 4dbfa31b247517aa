// A simulated network of 200 C++ nodes (node actors over virtual sockets,
// CAF test_coordinator, virtual time, no sleeps): lookups find the true k
// closest nodes to random targets, also after 30 % of the nodes die, and
// nodes that answer nothing do not stall queries.
#include <catch2/catch.hpp>

#include <random>

#include "dht_fixture.hpp"

using namespace ht;
using namespace ht::dht::test;
using namespace std::chrono_literals;

namespace {

constexpr size_t network_size = 200;
constexpr size_t k = 20;

struct big_network : sim_network {
  std::mt19937_64 rng{2024};

  big_network() {
    // Three bootstrap nodes, then everyone else joining through them, in
    // waves (as nodes come up over time in a real network).
    add_node({});
    std::vector<rpc::ipv4_address> bootstrap{nodes[0].address};
    add_node(bootstrap);
    add_node(bootstrap);
    run_for(2s);
    bootstrap = {nodes[0].address, nodes[1].address, nodes[2].address};
    while (nodes.size() < network_size) {
      for (int i = 0; i < 20 && nodes.size() < network_size; ++i)
        add_node(bootstrap);
      run_for(2s);
    }
    // Let the network settle: bootstraps finish, tables fill up.
    run_for(30s);
  }

  rpc::key32 random_target() {
    rpc::key32 t;
    for (auto& b : t)
      b = static_cast<uint8_t>(rng());
    return t;
  }

  size_t random_live_node() {
    for (;;) {
      auto i = static_cast<size_t>(rng() % nodes.size());
      if (nodes[i].alive)
        return i;
    }
  }

  query_record_ptr lookup(size_t from, const rpc::key32& target,
                          std::vector<rpc::ipv4_address> seeds = {}) {
    auto rec = std::make_shared<query_record>();
    rpc::query_options o;
    o.target = target;
    o.internal = true;
    o.command = static_cast<uint64_t>(rpc::internal_command::find_node);
    o.nodes = std::move(seeds);
    caf::anon_send(nodes[from].node, dht_query_atom::value, o,
                   dht_query_sink_actor{sys.spawn(query_sink, rec)});
    return rec;
  }

  /// Of the true k closest, how many the last exact_lookups() found.
  size_t found_total = 0, wanted_total = 0;

  /// Runs `count` lookups from random live nodes (several at once) and
  /// returns how many found exactly the true k closest live nodes.
  size_t exact_lookups(size_t count) {
    found_total = wanted_total = 0;
    struct run_t { rpc::key32 target; size_t from; query_record_ptr rec; };
    std::vector<run_t> runs;
    for (size_t i = 0; i < count; ++i) {
      auto t = random_target();
      auto from = random_live_node();
      runs.push_back({t, from, lookup(from, t)});
    }
    auto all_done = [&] {
      return std::all_of(runs.begin(), runs.end(), [](auto& r) { return r.rec->done.has_value(); });
    };
    REQUIRE(run_events(all_done, 120s));
    size_t exact = 0;
    for (auto& r : runs) {
      CHECK_FALSE(r.rec->done->error);
      auto found = ids_of(r.rec->done->closest);
      auto truth = true_closest(r.target, k, r.from);
      wanted_total += truth.size();
      for (auto& id : found)
        found_total += std::count(truth.begin(), truth.end(), id);
      if (found == truth)
        ++exact;
      else
        UNSCOPED_INFO("lookup missed: found " << found.size() << " of " << truth.size());
    }
    return exact;
  }
};

} // namespace

TEST_CASE_METHOD(big_network, "dht network: 200 nodes; every lookup finds the true k closest, also after 30% are killed", "[scenario]") {
  size_t bootstrapped = 0;
  std::vector<answer_ptr<dht_status>> status;
  for (auto& n : nodes)
    status.push_back(ask<dht_status>(sys, n.node, status_atom::value));
  run();
  for (auto& s : status)
    if (s->value && s->value->bootstrapped && !s->value->ephemeral)
      ++bootstrapped;
  CHECK(bootstrapped == network_size);

  CHECK(exact_lookups(20) == 20);

  // Kill 30 %: sockets and all, chosen at random (bootstrap nodes included).
  std::vector<size_t> order(nodes.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i = 0; i < network_size * 3 / 10; ++i)
    kill(order[i]);
  run();
  // Right away, with dead nodes still in every table, lookups find nearly
  // all of the closest survivors.
  exact_lookups(20);
  INFO("right after the kills: " << found_total << " of " << wanted_total);
  CHECK(found_total * 100 >= wanted_total * 90);
  // Once the survivors have noticed (liveness pings drop the dead; a
  // refresh period is 60 ticks of 5 s), every lookup is exact again.
  run_for(330s);
  CHECK(exact_lookups(20) == 20);
}

TEST_CASE_METHOD(big_network, "dht network: nodes that answer nothing do not stall queries", "[scenario]") {
  // 20 nodes go silent: their sockets swallow every datagram.
  std::vector<rpc::ipv4_address> silent;
  for (size_t i = 10; i < 30; ++i) {
    silence(i);
    silent.push_back(nodes[i].address);
  }
  run();
  auto from = random_live_node();
  auto target = random_target();
  // Seeded with silent nodes first and one live node: the query must get
  // past them, within bounded time, with the right answer.
  auto seeds = silent;
  seeds.push_back(nodes[random_live_node()].address);
  auto start = now();
  auto rec = lookup(from, target, seeds);
  REQUIRE(run_events([&] { return rec->done.has_value(); }, 60s));
  CHECK(now() - start < 15s);
  CHECK_FALSE(rec->done->error);
  CHECK(ids_of(rec->done->closest) == true_closest(target, k, from));
  // A query seeded only with silent nodes falls back to the routing table
  // once they have failed (query.js: fewer than k/4 successes from given
  // nodes), and still ends with the right answer.
  auto target2 = random_target();
  start = now();
  auto dead_end = lookup(from, target2, silent);
  REQUIRE(run_events([&] { return dead_end->done.has_value(); }, 60s));
  CHECK(now() - start < 20s);
  CHECK_FALSE(dead_end->done->error);
  CHECK(ids_of(dead_end->done->closest) == true_closest(target2, k, from));
}
