// dht-rpc datagrams against the bytes of dht-rpc's own encoder (vectors.json)
// and against malformed input: every failure is a typed ht::enc::error.
#include <catch2/catch.hpp>

#include "codec_vectors.hpp"
#include "dht/rpc/message.hpp"

using namespace ht;
using namespace ht::rpc_test;
using ht::enc::errc;

namespace {

rpc::message decode(const bytes& b) { return rpc::decode(b.data(), b.size()); }

errc decode_error(const bytes& b) {
  try {
    decode(b);
  } catch (const enc::error& e) {
    return e.code();
  }
  FAIL("decoded without error: " << hex(b));
  return errc::out_of_bounds;
}

bytes concat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const bytes to_127_0_0_1_49737 = {0x7f, 0, 0, 1, 0x49, 0xc2};

} // namespace

TEST_CASE("rpc requests: JS bytes decode to JS's fields and re-encode byte for byte", "[unit]") {
  const auto& list = vectors().at("requests");
  REQUIRE(list.size() >= 18);
  for (const auto& v : list) {
    INFO(v.at("name").get<std::string>());
    bytes wire = unhex(v.at("hex").get<std::string>());
    rpc::request expected = request_fields(v);
    auto m = decode(wire);
    REQUIRE(std::holds_alternative<rpc::request>(m));
    CHECK(std::get<rpc::request>(m) == expected);
    CHECK(hex(rpc::encode(expected)) == hex(wire));
  }
}

TEST_CASE("rpc responses: JS bytes decode to JS's fields and re-encode byte for byte", "[unit]") {
  const auto& list = vectors().at("responses");
  REQUIRE(list.size() >= 16);
  size_t with_20_nodes = 0;
  for (const auto& v : list) {
    INFO(v.at("name").get<std::string>());
    bytes wire = unhex(v.at("hex").get<std::string>());
    rpc::response expected = response_fields(v);
    if (expected.closer_nodes.size() == 20) ++with_20_nodes;
    auto m = decode(wire);
    REQUIRE(std::holds_alternative<rpc::response>(m));
    CHECK(std::get<rpc::response>(m) == expected);
    CHECK(hex(rpc::encode(expected)) == hex(wire));
  }
  CHECK(with_20_nodes == 1);
}

// encode(msg, out) reuses out's storage (the node's hot path); it must
// write exactly the same bytes whatever out held before.
TEST_CASE("rpc: encoding into a reused buffer gives the same bytes", "[unit]") {
  bytes out(300, 0xee);  // stale, longer than any vector
  for (const char* kind : {"requests", "responses"}) {
    for (const auto& v : vectors().at(kind)) {
      INFO(v.at("name").get<std::string>());
      const std::string wire = v.at("hex").get<std::string>();
      if (std::string(kind) == "requests") rpc::encode(request_fields(v), out);
      else rpc::encode(response_fields(v), out);
      CHECK(hex(out) == wire);
    }
  }
}

TEST_CASE("rpc: an empty value is present (flag 16, length 0), unlike no value", "[unit]") {
  rpc::request q;
  q.command = 2;
  q.value = bytes{};
  bytes with = rpc::encode(q);
  q.value.reset();
  bytes without = rpc::encode(q);
  CHECK(with.size() == without.size() + 1);
  CHECK((with[1] & 16) != 0);
  auto back = std::get<rpc::request>(decode(with));
  REQUIRE(back.value.has_value());
  CHECK(back.value->empty());
  CHECK_FALSE(std::get<rpc::request>(decode(without)).value.has_value());
}

TEST_CASE("rpc: node ids are BLAKE2b-256 of the 6-byte address, as dht-rpc's peer.id", "[unit]") {
  const auto& list = vectors().at("node_ids");
  REQUIRE(list.size() >= 6);
  for (const auto& v : list) {
    auto a = address(v);
    INFO(a.host_string() << ":" << a.port);
    CHECK(hex(rpc::node_id(a)) == v.at("id").get<std::string>());
  }
  CHECK(hex(rpc::node_id(enc::ipv4_address::parse("127.0.0.1", 49737))) ==
        "d1dcf835b0d62b9230c41393cb96a34f5f8b9f814f421ca3382dfc1678022e0e");
}

TEST_CASE("rpc: every truncation of every vector is out_of_bounds", "[unit]") {
  for (const auto& wire : all_datagrams()) {
    for (size_t n = 0; n < wire.size(); ++n) {
      bytes cut(wire.begin(), wire.begin() + static_cast<long>(n));
      INFO(hex(wire) << " cut to " << n);
      CHECK(decode_error(cut) == errc::out_of_bounds);
    }
  }
}

TEST_CASE("rpc: trailing bytes after any vector are rejected", "[unit]") {
  for (auto wire : all_datagrams()) {
    wire.push_back(0);
    CHECK(decode_error(wire) == errc::trailing_bytes);
  }
}

TEST_CASE("rpc: unknown datagram types are rejected", "[unit]") {
  bytes ping = unhex(vectors().at("requests").at(0).at("hex").get<std::string>());
  for (int t : {0x00, 0x01, 0x02, 0x04, 0x12, 0x14, 0x23, 0x83, 0xff}) {
    bytes b = ping;
    b[0] = static_cast<uint8_t>(t);
    INFO(t);
    CHECK(decode_error(b) == errc::invalid_value);
  }
}

TEST_CASE("rpc: unknown flag bits are rejected", "[unit]") {
  // A PING with flag 32 (no field defined): JS would ignore the bit; no
  // dht-rpc 6 encoder sets it.
  bytes b = concat({{0x03, 0x24, 0, 0}, to_127_0_0_1_49737, {0x00}});
  CHECK(decode_error(b) == errc::invalid_value);
  b = concat({{0x13, 0x40, 0, 0}, to_127_0_0_1_49737});
  CHECK(decode_error(b) == errc::invalid_value);
  // A flags word beyond one byte necessarily has unknown bits.
  b = concat({{0x03, 0xfd, 0x04, 0x01, 0, 0}, to_127_0_0_1_49737, {0x00}});
  CHECK(decode_error(b) == errc::invalid_value);
}

TEST_CASE("rpc: non-minimal varints are rejected (flags, command, lengths, error)", "[unit]") {
  // flags 4 as 0xfd 04 00
  CHECK(decode_error(concat({{0x03, 0xfd, 0x04, 0x00, 0, 0}, to_127_0_0_1_49737, {0x00}})) ==
        errc::non_minimal);
  // command 2 as 0xfd 02 00
  CHECK(decode_error(concat({{0x03, 0x04, 0, 0}, to_127_0_0_1_49737, {0xfd, 0x02, 0x00}})) ==
        errc::non_minimal);
  // value length 1 as 0xfe 01 00 00 00
  CHECK(decode_error(concat({{0x03, 0x10, 0, 0}, to_127_0_0_1_49737, {0x00, 0xfe, 1, 0, 0, 0, 0xaa}})) ==
        errc::non_minimal);
  // closer nodes count 1 as 0xfd 01 00
  CHECK(decode_error(concat({{0x13, 0x04, 0, 0}, to_127_0_0_1_49737, {0xfd, 0x01, 0x00},
                             to_127_0_0_1_49737})) == errc::non_minimal);
  // error 1 as 0xfd 01 00
  CHECK(decode_error(concat({{0x13, 0x08, 0, 0}, to_127_0_0_1_49737, {0xfd, 0x01, 0x00}})) ==
        errc::non_minimal);
}

TEST_CASE("rpc: oversized lengths fail before allocating", "[unit]") {
  // A value claiming 2^32-1 bytes in a 16-byte datagram.
  CHECK(decode_error(concat({{0x03, 0x10, 0, 0}, to_127_0_0_1_49737, {0x00, 0xfe, 0xff, 0xff, 0xff, 0xff}})) ==
        errc::out_of_bounds);
  // A value claiming 2^53-1 bytes.
  CHECK(decode_error(concat({{0x03, 0x10, 0, 0}, to_127_0_0_1_49737,
                             {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00}})) ==
        errc::out_of_bounds);
  // A value length above 2^53-1 is out of range for JS numbers.
  CHECK(decode_error(concat({{0x03, 0x10, 0, 0}, to_127_0_0_1_49737,
                             {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}})) ==
        errc::out_of_range);
  // 1000 closer nodes announced, one present: checked against the bytes left.
  CHECK(decode_error(concat({{0x13, 0x04, 0, 0}, to_127_0_0_1_49737, {0xfd, 0xe8, 0x03},
                             to_127_0_0_1_49737})) == errc::out_of_bounds);
  // More than compact-encoding's array limit.
  CHECK(decode_error(concat({{0x13, 0x04, 0, 0}, to_127_0_0_1_49737, {0xfe, 0x01, 0x00, 0x10, 0x00}})) ==
        errc::too_big);
  // A command above 2^53-1.
  CHECK(decode_error(concat({{0x03, 0x00, 0, 0}, to_127_0_0_1_49737,
                             {0xff, 0, 0, 0, 0, 0, 0, 0x20, 0}})) == errc::out_of_range);
}

TEST_CASE("rpc: non-canonical response flags (empty closer nodes, error 0) are rejected", "[unit]") {
  // JS sets flag 4 only for a non-empty list and flag 8 only for error > 0.
  CHECK(decode_error(concat({{0x13, 0x04, 0, 0}, to_127_0_0_1_49737, {0x00}})) == errc::invalid_value);
  CHECK(decode_error(concat({{0x13, 0x08, 0, 0}, to_127_0_0_1_49737, {0x00}})) == errc::invalid_value);
  // ... while the canonical forms decode.
  CHECK(std::get<rpc::response>(decode(concat({{0x13, 0x08, 0, 0}, to_127_0_0_1_49737, {0x01}}))).error == 1);
}

TEST_CASE("rpc: encoding refuses values JS cannot carry", "[unit]") {
  rpc::request q;
  q.command = enc::max_safe_uint + 1;
  CHECK_THROWS_AS(rpc::encode(q), enc::error);
  rpc::response s;
  s.error = enc::max_safe_uint + 1;
  CHECK_THROWS_AS(rpc::encode(s), enc::error);
}
