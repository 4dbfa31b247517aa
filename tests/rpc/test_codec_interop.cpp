// Regenerates the vectors with the pinned npm packages (dht-rpc 6.27.0,
// nat-sampler 1.0.1) and checks that the committed tests/rpc/vectors.json,
// which the unit tests read, is exactly what the JS code produces today.
#include <catch2/catch.hpp>

#include <random>

#include <nlohmann/json.hpp>

#include "codec_vectors.hpp"
#include "support/node_process.hpp"

TEST_CASE("tests/rpc/vectors.json is what the pinned dht-rpc and nat-sampler produce", "[interop]") {
  ht::test::node_process node("rpc-vectors.js");
  auto fresh = nlohmann::json::parse(node.read_line(60000));
  CHECK(node.wait(30000) == 0);
  const auto& committed = ht::rpc_test::vectors();
  for (const auto& [key, value] : fresh.items()) {
    INFO("section " << key);
    CHECK(committed.at(key) == value);
  }
  CHECK(committed.size() == fresh.size());
}

namespace {

using ht::rpc_test::bytes;

// A uint from one of the varint size classes (1, 3, 5 or 9 bytes).
uint64_t any_uint(std::mt19937_64& rng) {
  switch (rng() % 5) {
    case 0: return rng() % 8;
    case 1: return rng() % 0xfd;
    case 2: return rng() % 0x10000;
    case 3: return rng() % 0x100000000;
    default: return rng() % (ht::enc::max_safe_uint + 1);
  }
}

std::optional<ht::rpc::key32> any_key(std::mt19937_64& rng) {
  if (rng() % 2) return std::nullopt;
  ht::rpc::key32 k{};
  for (auto& b : k) b = static_cast<uint8_t>(rng());
  return k;
}

std::optional<bytes> any_value(std::mt19937_64& rng) {
  if (rng() % 3 == 0) return std::nullopt;
  static const size_t sizes[] = {0, 1, 2, 4, 6, 100, 252, 253, 1000};
  bytes v(sizes[rng() % (sizeof sizes / sizeof *sizes)]);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

ht::enc::ipv4_address any_address(std::mt19937_64& rng) {
  ht::enc::ipv4_address a;
  for (auto& b : a.host) b = static_cast<uint8_t>(rng());
  a.port = static_cast<uint16_t>(rng());
  return a;
}

} // namespace

TEST_CASE("rpc: random datagrams we encode decode in dht-rpc to the same fields", "[interop]") {
  // rpc-decode.js says the sender is 10.9.8.7:4567; dht-rpc keeps an id only
  // if it is that address's node id.
  const auto from_id = ht::rpc::node_id(ht::enc::ipv4_address::parse("10.9.8.7", 4567));
  ht::test::node_process node("rpc-decode.js");
  std::mt19937_64 rng(20261129);
  size_t requests = 0, responses = 0;
  for (int i = 0; i < 2000; ++i) {
    std::optional<ht::rpc::key32> id;
    if (rng() % 2) id = from_id;
    bytes wire;
    nlohmann::json expected;
    if (rng() % 2) {
      ht::rpc::request q;
      q.tid = static_cast<uint16_t>(rng());
      q.to = any_address(rng);
      q.id = id;
      q.token = any_key(rng);
      q.internal = rng() % 2;
      q.command = any_uint(rng);
      q.target = any_key(rng);
      q.value = any_value(rng);
      wire = ht::rpc::encode(q);
      node.write_line(ht::rpc_test::hex(wire));
      auto got = nlohmann::json::parse(node.read_line());
      INFO(ht::rpc_test::hex(wire) << " -> " << got.dump());
      REQUIRE(got.at("kind") == "request");
      CHECK(ht::rpc_test::request_fields(got) == q);
      ++requests;
    } else {
      ht::rpc::response s;
      s.tid = static_cast<uint16_t>(rng());
      s.to = any_address(rng);
      s.id = id;
      s.token = any_key(rng);
      if (rng() % 2) s.closer_nodes.resize(1 + rng() % 25);
      for (auto& n : s.closer_nodes) n = any_address(rng);
      s.error = rng() % 2 ? 0 : any_uint(rng);
      s.value = any_value(rng);
      wire = ht::rpc::encode(s);
      node.write_line(ht::rpc_test::hex(wire));
      auto got = nlohmann::json::parse(node.read_line());
      INFO(ht::rpc_test::hex(wire) << " -> " << got.dump());
      REQUIRE(got.at("kind") == "response");
      CHECK(ht::rpc_test::response_fields(got) == s);
      ++responses;
    }
  }
  CHECK(requests > 800);
  CHECK(responses > 800);
  node.close_stdin();
  CHECK(node.wait(30000) == 0);
}
