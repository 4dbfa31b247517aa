// dht-rpc tokens against io.js's own token() and _drain() rotation
// (vectors.json "tokens": fixed secrets, then 10 drains per rotation).
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "codec_vectors.hpp"
#include "dht/rpc/token.hpp"

using namespace ht;
using namespace ht::rpc_test;

TEST_CASE("rpc tokens: the same tokens and rotated secrets as dht-rpc's IO", "[unit]") {
  const auto& v = vectors().at("tokens");
  REQUIRE(v.at("drains_per_rotation").get<int>() == 10);
  rpc::token_store store(unhex_array<32>(v.at("initial").at(0)), unhex_array<32>(v.at("initial").at(1)));
  const auto& epochs = v.at("epochs");
  REQUIRE(epochs.size() >= 3);
  for (size_t e = 0; e < epochs.size(); ++e) {
    INFO("epoch " << e);
    const auto& epoch = epochs.at(e);
    CHECK(hex(store.previous_secret()) == epoch.at("secrets").at(0).get<std::string>());
    CHECK(hex(store.current_secret()) == epoch.at("secrets").at(1).get<std::string>());
    for (const auto& t : epoch.at("tokens")) {
      auto requester = enc::ipv4_address::parse(t.at("host").get<std::string>(), 1234);
      INFO(requester.host_string());
      CHECK(hex(store.create(requester)) == t.at("current").get<std::string>());
      CHECK(store.validate(requester, unhex_array<32>(t.at("current"))));
      CHECK(store.validate(requester, unhex_array<32>(t.at("previous"))));
    }
    store.rotate();
  }
}

TEST_CASE("rpc tokens: bound to the host, valid for exactly two rotations", "[unit]") {
  rpc::token_store store(42);
  auto a = enc::ipv4_address::parse("10.0.0.1", 1000);
  auto a_other_port = enc::ipv4_address::parse("10.0.0.1", 2000);
  auto b = enc::ipv4_address::parse("10.0.0.2", 1000);
  rpc::key32 t = store.create(a);
  CHECK(store.validate(a, t));
  CHECK(store.validate(a_other_port, t));  // the port is not part of it
  CHECK_FALSE(store.validate(b, t));
  rpc::key32 forged = t;
  forged[31] ^= 1;
  CHECK_FALSE(store.validate(a, forged));
  store.rotate();
  CHECK(store.validate(a, t));        // made with what is now the previous secret
  CHECK(store.create(a) != t);
  store.rotate();
  CHECK_FALSE(store.validate(a, t));  // both secrets replaced
}

TEST_CASE("rpc tokens: seeded stores repeat, seed 0 draws random secrets", "[unit]") {
  auto a = enc::ipv4_address::parse("127.0.0.1", 1);
  CHECK(rpc::token_store(7).create(a) == rpc::token_store(7).create(a));
  CHECK(rpc::token_store(7).create(a) != rpc::token_store(8).create(a));
  CHECK(rpc::token_store(0).create(a) != rpc::token_store(0).create(a));
  rpc::token_store s(7);
  CHECK(s.previous_secret() != s.current_secret());
}

// The per-host cache (token.hpp) must give exactly the uncached tokens,
// across rotations, hosts that collide in the cache and hosts seen again
// after several rotations, and hold at most cache_slots hosts.
TEST_CASE("rpc tokens: the cache gives the uncached tokens across rotations and is bounded", "[unit]") {
  rpc::token_store store(99);
  std::mt19937_64 rng(5);
  std::vector<enc::ipv4_address> hosts;
  for (int i = 0; i < 600; ++i) {  // more hosts than slots: collisions
    enc::ipv4_address a;
    for (auto& b : a.host) b = uint8_t(rng());
    a.port = uint16_t(rng());
    hosts.push_back(a);
  }
  hosts.push_back(enc::ipv4_address::parse("127.0.0.1", 1));
  for (int round = 0; round < 6; ++round) {
    INFO("round " << round);
    for (int i = 0; i < 3000; ++i) {
      // a few hosts again and again (hits), the rest at random (misses)
      const auto& h = hosts[i % 4 == 0 ? size_t(i % 3) : size_t(rng() % hosts.size())];
      const rpc::key32 prev = rpc::token_store::make(h, store.previous_secret());
      const rpc::key32 cur = rpc::token_store::make(h, store.current_secret());
      switch (rng() % 3) {
        case 0: REQUIRE(store.create(h) == cur); break;
        case 1: REQUIRE(store.validate(h, prev)); break;
        default: {
          REQUIRE(store.validate(h, cur));
          rpc::key32 wrong = cur;
          wrong[rng() % 32] ^= uint8_t(1 + rng() % 255);
          REQUIRE_FALSE(store.validate(h, wrong));
        }
      }
      REQUIRE(store.create(h) == cur);
      REQUIRE(store.cached_hosts() <= rpc::token_store::cache_slots);
    }
    CHECK(store.cached_hosts() > 0);
    // tokens of two rotations ago are refused, also for cached hosts
    const rpc::key32 old = rpc::token_store::make(hosts[0], store.previous_secret());
    store.rotate();
    CHECK(store.validate(hosts[0], store.create(hosts[0])));
    store.rotate();
    CHECK_FALSE(store.validate(hosts[0], old));
    if (round % 2) store.rotate();
  }
}
