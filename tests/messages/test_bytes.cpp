#include <catch2/catch.hpp>

#include "messages/bytes.hpp"
#include "messages/connection.hpp"

TEST_CASE("hex round trip", "[unit]") {
  ht::bytes b{0x00, 0x7f, 0x80, 0xff};
  CHECK(ht::to_hex(b) == "007f80ff");
  ht::bytes back;
  REQUIRE(ht::from_hex("007F80ff", back));
  CHECK(back == b);
}

TEST_CASE("hex rejects odd length and non-hex digits", "[unit]") {
  ht::bytes out{1};
  CHECK_FALSE(ht::from_hex("abc", out));
  CHECK_FALSE(ht::from_hex("zz", out));
  CHECK(out == ht::bytes{1}); // untouched on failure
}

TEST_CASE("connection ids are unique", "[unit]") {
  auto a = ht::next_connection_id();
  auto b = ht::next_connection_id();
  CHECK(a != b);
}
