// The C++ dht node against dht-rpc 6.27.0 / hyperdht 6.34.0 (pinned in
// tests/interop), everything on 127.0.0.1 with explicit bootstrap lists:
// (a) a JS testnet bootstrapped through our node, (b) our node in a JS
// testnet, (c) a mixed network, (d) JS requests to our node vs a JS node.
#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/dht/host_port.hpp"
#include "actors/dht/node_actor.hpp"
#include "actors/udx/socket_actor.hpp"
#include "support/node_process.hpp"

using namespace ht;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct real_node {
  udx_socket_actor socket;
  dht_node_actor node;
  rpc::ipv4_address address;
};

struct real_system {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::vector<real_node> nodes;
  uint64_t seed = 100;

  /// A persistent node on 127.0.0.1 (any port but hyperdht's 49737-49741).
  real_node& start(const std::vector<rpc::ipv4_address>& bootstrap) {
    caf::scoped_actor self{sys};
    for (;;) {
      udx_socket_options so;
      so.host = "127.0.0.1";
      auto sock = spawn_udx_socket(sys, so);
      REQUIRE(sock);
      udx_endpoint bound;
      self->request(*sock, caf::infinite, udx_address_atom::value)
        .receive([&](const udx_endpoint& e) { bound = e; }, [](caf::error&) {});
      if (bound.port >= 49737 && bound.port <= 49741) {
        self->send_exit(*sock, caf::exit_reason::user_shutdown);
        continue;
      }
      dht_node_options o;
      o.config.bootstrap = bootstrap;
      o.config.mode = rpc::node_mode::persistent;
      o.config.public_address = rpc::ipv4_address::parse("127.0.0.1", bound.port);
      o.config.seed = seed++;
      o.sockets.push_back(*sock);
      real_node n{*sock, spawn_dht_node(sys, std::move(o)), *o.config.public_address};
      nodes.push_back(n);
      return nodes.back();
    }
  }

  dht_status status(const dht_node_actor& n) {
    caf::scoped_actor self{sys};
    dht_status out;
    self->request(n, caf::infinite, status_atom::value)
      .receive([&](const dht_status& s) { out = s; },
               [](caf::error& e) { FAIL("status: " << describe(e)); });
    return out;
  }

  bool wait_bootstrapped(const dht_node_actor& n, std::chrono::seconds limit = 20s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (status(n).bootstrapped)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  std::vector<rpc::ipv4_address> table(const dht_node_actor& n) {
    caf::scoped_actor self{sys};
    std::vector<rpc::ipv4_address> out;
    self->request(n, caf::infinite, dht_closest_atom::value, rpc::key32{}, uint64_t{10000})
      .receive([&](std::vector<rpc::ipv4_address>& v) { out = std::move(v); },
               [](caf::error&) {});
    return out;
  }

  /// FIND_NODE query; the ids of the closest replies, in order (hex).
  std::vector<std::string> lookup(const dht_node_actor& n, const rpc::key32& target) {
    caf::scoped_actor self{sys};
    rpc::query_options q;
    q.target = target;
    q.internal = true;
    q.command = static_cast<uint64_t>(rpc::internal_command::find_node);
    std::vector<std::string> out;
    self->request(n, caf::infinite, dht_query_atom::value, q)
      .receive(
        [&](rpc::query_done_event& d) {
          CHECK_FALSE(d.error);
          for (auto& r : d.closest)
            if (r.from_id)
              out.push_back(to_hex(r.from_id->data(), r.from_id->size()));
        },
        [](caf::error& e) { FAIL("query: " << describe(e)); });
    return out;
  }

  ~real_system() {
    caf::scoped_actor self{sys};
    for (auto& n : nodes) {
      self->send(n.node, close_atom::value);
      self->send_exit(n.socket, caf::exit_reason::user_shutdown);
    }
  }
};

json read_json(test::node_process& js, int timeout_ms = 60000) {
  return json::parse(js.read_line(timeout_ms));
}

std::string id_hex(const rpc::ipv4_address& a) {
  auto id = rpc::node_id(a);
  return to_hex(id.data(), id.size());
}

/// The true k closest ids (hex) to target among `ids`, without `except`.
std::vector<std::string> truth(std::vector<std::string> ids, const rpc::key32& target,
                               const std::string& except, size_t k = 20) {
  ids.erase(std::remove(ids.begin(), ids.end(), except), ids.end());
  auto dist = [&](const std::string& h) {
    bytes b;
    from_hex(h, b);
    for (size_t i = 0; i < 32; ++i)
      b[i] ^= target[i];
    return b;
  };
  std::sort(ids.begin(), ids.end(), [&](auto& a, auto& b) { return dist(a) < dist(b); });
  if (ids.size() > k)
    ids.resize(k);
  return ids;
}

rpc::key32 random_key(std::mt19937_64& rng) {
  rpc::key32 k;
  for (auto& b : k)
    b = static_cast<uint8_t>(rng());
  return k;
}

std::vector<std::string> js_lookup(test::node_process& js, int from, const rpc::key32& target) {
  js.write_line(json{{"op", "query"}, {"from", from}, {"target", to_hex(target.data(), 32)}}.dump());
  auto res = read_json(js);
  return res["closest"].get<std::vector<std::string>>();
}

} // namespace

TEST_CASE("dht interop (a): a JS testnet bootstrapped through our node: all JS nodes persistent, all in our table", "[interop]") {
  real_system rs;
  auto& ours = rs.start({});
  REQUIRE(rs.wait_bootstrapped(ours.node));
  test::node_process js("dht-interop.js", {"testnet", "10", dht::to_string(ours.address)});
  auto hello = read_json(js, 90000);
  auto nodes = hello["nodes"];
  REQUIRE(nodes.size() == 10);
  std::set<std::string> want;
  for (auto& n : nodes) {
    INFO(n.dump());
    CHECK(n["ephemeral"] == false);
    CHECK(n["id"].is_string());
    want.insert("127.0.0.1:" + std::to_string(n["port"].get<int>()));
  }
  std::set<std::string> have;
  for (int i = 0; i < 100 && have != want; ++i) {
    have.clear();
    for (auto& a : rs.table(ours.node))
      if (want.count(dht::to_string(a)))
        have.insert(dht::to_string(a));
    std::this_thread::sleep_for(50ms);
  }
  CHECK(have == want);
  js.write_line(R"({"op":"quit"})");
  CHECK(js.wait() == 0);
}

TEST_CASE("dht interop (d): JS requests get the answers a JS node gives", "[interop]") {
  test::node_process js("dht-interop.js", {"probe"});
  auto hello = read_json(js);
  auto ref = rpc::ipv4_address::parse("127.0.0.1", hello["reference"]["port"].get<uint16_t>());
  real_system rs;
  // Our node and the JS reference know each other: FIND_NODE answers from
  // both then carry one closer node (the other).
  auto& ours = rs.start({ref});
  REQUIRE(rs.wait_bootstrapped(ours.node));
  js.write_line(json{{"op", "probe"},
                     {"to", {{"host", "127.0.0.1"}, {"port", ours.address.port}}}}.dump());
  size_t probes = 0;
  for (;;) {
    auto line = read_json(js);
    if (line.contains("done"))
      break;
    ++probes;
    INFO(line["name"].get<std::string>() << ": ours " << line["ours"].dump() << " js "
                                          << line["js"].dump());
    CHECK(line["ours"] == line["js"]);
  }
  CHECK(probes == 15);
  js.write_line(R"({"op":"quit"})");
  CHECK(js.wait() == 0);
}

TEST_CASE("dht interop (b): our node in a JS testnet finds the same closest nodes as a JS node", "[interop]") {
  test::node_process js("dht-interop.js", {"testnet", "25"}); // a bootstrapper + 24
  auto hello = read_json(js, 90000);
  std::vector<rpc::ipv4_address> bootstrap;
  for (auto& b : hello["bootstrap"])
    bootstrap.push_back(dht::parse_host_port(b.get<std::string>()));
  std::vector<std::string> ids;
  for (auto& n : hello["nodes"])
    ids.push_back(n["id"].get<std::string>());
  real_system rs;
  auto& ours = rs.start(bootstrap);
  REQUIRE(rs.wait_bootstrapped(ours.node));
  ids.push_back(id_hex(ours.address));
  std::mt19937_64 rng(5);
  int same = 0;
  for (int i = 0; i < 20; ++i) {
    auto target = random_key(rng);
    auto from_us = rs.lookup(ours.node, target);
    auto from_js = js_lookup(js, 0, target);
    CHECK(from_us == truth(ids, target, id_hex(ours.address)));
    CHECK(from_js == truth(ids, target, ids[0]));
    // The same set, but for each side's own id (a node never asks itself).
    auto strip = [&](std::vector<std::string> v) {
      v.erase(std::remove(v.begin(), v.end(), ids[0]), v.end());
      v.erase(std::remove(v.begin(), v.end(), id_hex(ours.address)), v.end());
      v.resize(std::min<size_t>(v.size(), 18));
      return v;
    };
    if (strip(from_us) == strip(from_js))
      ++same;
  }
  CHECK(same == 20);
  js.write_line(R"({"op":"quit"})");
  CHECK(js.wait() == 0);
}

TEST_CASE("dht interop (c): a mixed network of 10 JS and 10 C++ nodes answers lookups the same from either kind", "[interop]") {
  test::node_process js("dht-interop.js", {"testnet", "10"});
  auto hello = read_json(js, 90000);
  std::vector<rpc::ipv4_address> bootstrap;
  for (auto& b : hello["bootstrap"])
    bootstrap.push_back(dht::parse_host_port(b.get<std::string>()));
  std::vector<std::string> ids;
  for (auto& n : hello["nodes"])
    ids.push_back(n["id"].get<std::string>());
  real_system rs;
  for (int i = 0; i < 10; ++i)
    rs.start(bootstrap);
  for (auto& n : rs.nodes) {
    REQUIRE(rs.wait_bootstrapped(n.node));
    ids.push_back(id_hex(n.address));
  }
  // JS nodes turn persistent and everyone learns everyone.
  std::this_thread::sleep_for(1s);
  std::mt19937_64 rng(6);
  for (int i = 0; i < 10; ++i) {
    auto target = random_key(rng);
    int js_from = i % 10;
    auto& cxx_from = rs.nodes[static_cast<size_t>(i)];
    auto a = js_lookup(js, js_from, target);
    auto b = rs.lookup(cxx_from.node, target);
    CHECK(a == truth(ids, target, ids[static_cast<size_t>(js_from)]));
    CHECK(b == truth(ids, target, id_hex(cxx_from.address)));
  }
  js.write_line(R"({"op":"quit"})");
  CHECK(js.wait() == 0);
}
