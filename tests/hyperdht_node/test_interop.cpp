// Our hypertrace-logger-dht nodes (one, then three) as the only DHT nodes of a JS hyperdht
// network (127.0.0.1): a JS server listens and a JS client connects to it
// through our relay and exchanges data; JS mutable/immutable put/get go
// through our nodes; after the server closes (and so unannounces), findPeer
// for its key finds nothing. The JS endpoints are adaptive dht-rpc nodes
// that stay ephemeral for their first ~20 minutes (dht-rpc STABLE_TICKS), so
// ours are the only nodes that store or relay; the counters our nodes print
// on SIGUSR1 confirm it.
#include <catch2/catch.hpp>

#include <iostream>
#include <csignal>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/binary_process.hpp"
#include "support/node_process.hpp"

namespace {

/// One hypertrace-logger-dht process; its stdout and stderr are collected.
struct dht_binary : ht::test::binary_process {
  explicit dht_binary(std::vector<std::string> args)
    : binary_process(HT_DHT_BINARY, std::move(args)) {}

  /// The node's counters (one SIGUSR1 status line).
  std::map<std::string, uint64_t> status() {
    ::kill(pid, SIGUSR1);
    auto line = await(std::regex("status ([^\n]*)\n")).str(1);
    std::cout << "node " << pid << ": " << line << "\n";  // the figures docs/hyperdht.md quotes
    std::map<std::string, uint64_t> out;
    std::regex kv("(\\w+)=(\\d+)");
    for (auto it = std::sregex_iterator(line.begin(), line.end(), kv); it != std::sregex_iterator(); ++it)
      out[(*it)[1]] = std::stoull((*it)[2]);
    return out;
  }
};

nlohmann::json step(ht::test::node_process& js, const std::string& name) {
  auto j = nlohmann::json::parse(js.read_line(60000));
  INFO(j.dump());
  REQUIRE(j["step"] == name);
  return j;
}

} // namespace

TEST_CASE("JS hyperdht endpoints whose only DHT nodes are ours: connect through our relay, "
          "storage, nothing found after the server closes", "[interop]") {
  // Our bootstrap node alone, or three of our nodes (the first is the
  // bootstrap of the others).
  int count = GENERATE(1, 3);
  INFO(count << " of our nodes");
  std::vector<std::unique_ptr<dht_binary>> nodes;
  std::vector<std::string> addresses;
  std::regex listening("listening on (127\\.0\\.0\\.1:\\d+)");
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> args{"--host=127.0.0.1", "--port=0", "--seed=" + std::to_string(100 + i)};
    if (i > 0)
      args.push_back("--bootstrap=" + addresses[0]);
    nodes.push_back(std::make_unique<dht_binary>(args));
    addresses.push_back(nodes.back()->await(listening).str(1));
  }
  std::string list;
  for (auto& a : addresses)
    list += (list.empty() ? "" : ",") + a;

  ht::test::node_process js("hd-network.js", {list});
  auto ready = step(js, "ready");
  CHECK(ready["aPersistent"] == false);  // the JS endpoints store nothing themselves
  CHECK(ready["bPersistent"] == false);
  auto listen = step(js, "listening");
  CHECK(listen["found"].get<int>() >= 1);

  // Our nodes' counters, added up.
  auto totals = [&] {
    std::map<std::string, uint64_t> sum;
    for (auto& b : nodes)
      for (auto& [k, v] : b->status())
        sum[k] += v;
    return sum;
  };
  auto t = totals();
  CHECK(t["announces"] >= 1);
  CHECK(t["forwards"] >= 1);

  // (d) the connection: handshake and holepunch relayed by our node
  auto connected = step(js, "connected");
  CHECK(connected["echo"] == "hello through our relay");
  t = totals();
  CHECK(t["relayed"] >= 2);  // FROM_CLIENT -> FROM_RELAY, FROM_SERVER -> REPLY at least

  auto stored = step(js, "stored");
  CHECK(stored["mutable"] == "mutable value");
  CHECK(stored["seq"] == 0);
  CHECK(stored["immutable"] == "immutable value");
  t = totals();
  CHECK(t["mutable_puts"] >= 1);
  CHECK(t["immutable_puts"] >= 1);
  CHECK(t["mutables"] >= 1);
  CHECK(t["immutables"] >= 1);
  js.write_line("go");

  // (f) after the server's close (its unannounce), nothing is found
  step(js, "closed");
  auto found = step(js, "findpeer");
  CHECK(found["found"] == 0);
  CHECK(found["lookupFound"] == 0);
  t = totals();
  CHECK(t["unannounces"] >= 1);
  CHECK(t["forwards"] == 0);
  step(js, "done");
  CHECK(js.wait() == 0);
  for (auto& b : nodes)
    CHECK(b->stop() == 0);
}
