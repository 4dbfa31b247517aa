// Regenerates tests/hyperdht/vectors.json with the pinned hyperdht
// (tests/interop/hyperdht-vectors.js) and checks the committed file, which the
// unit tests read, is exactly what hyperdht's own code produces today.
#include <catch2/catch.hpp>

#include "support/node_process.hpp"
#include "vectors.hpp"

TEST_CASE("tests/hyperdht/vectors.json is what the pinned hyperdht produces", "[interop]") {
  ht::test::node_process node("hyperdht-vectors.js");
  auto fresh = nlohmann::json::parse(node.read_line(60000));
  CHECK(node.wait(30000) == 0);
  const auto& committed = ht::hyperdht_test::vectors();
  for (const auto& [key, value] : fresh.items()) {
    INFO("section " << key);
    CHECK(committed.at(key) == value);
  }
  CHECK(committed.size() == fresh.size());
}
