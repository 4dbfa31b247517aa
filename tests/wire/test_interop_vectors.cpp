// Regenerates the vectors with the pinned npm packages and checks that the
// committed tests/wire/vectors.json (which the unit tests read) is exactly
// what the JS stack produces today.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "support/node_process.hpp"
#include "vectors.hpp"

TEST_CASE("tests/wire/vectors.json is what the pinned JS stack produces", "[interop]") {
  ht::test::node_process node("wire-vectors.js");
  auto fresh = nlohmann::json::parse(node.read_line(60000));
  CHECK(node.wait(30000) == 0);
  const auto& committed = ht::wire_test::vectors();
  for (const auto& [key, value] : fresh.items()) {
    INFO("section " << key);
    CHECK(committed.at(key) == value);
  }
  CHECK(committed.size() == fresh.size());
}
