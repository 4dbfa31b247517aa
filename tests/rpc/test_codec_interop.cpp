// Regenerates the vectors with the pinned npm packages (dht-rpc 6.27.0,
// nat-sampler 1.0.1) and checks that the committed tests/rpc/vectors.json,
// which the unit tests read, is exactly what the JS code produces today.
#include <catch2/catch.hpp>

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
