// dht-rpc tokens against io.js's own token() and _drain() rotation
// (vectors.json "tokens": fixed secrets, then 10 drains per rotation).
#include <catch2/catch.hpp>

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
