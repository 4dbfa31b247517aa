// compact-encoding: the JS vectors byte for byte both ways, and strict
// decoding of everything a canonical encoder would not produce.
#include <catch2/catch.hpp>

#include "dht/encoding/compact.hpp"
#include "dht/encoding/net.hpp"
#include "vectors.hpp"

using namespace ht::enc;
using ht::wire_test::hex;
using ht::wire_test::unhex;
using ht::wire_test::vectors;

namespace {

// Encodes the vector's value with our codec of the same name.
bytes encode_value(const std::string& codec, const nlohmann::json& v) {
  writer w;
  if (codec == "uint") w.uint(v.get<uint64_t>());
  else if (codec == "int") w.sint(v.get<int64_t>());
  else if (codec == "uint8") w.uint8(v.get<uint8_t>());
  else if (codec == "uint16") w.uint16(v.get<uint16_t>());
  else if (codec == "uint24") w.uint24(v.get<uint32_t>());
  else if (codec == "uint32") w.uint32(v.get<uint32_t>());
  else if (codec == "uint64") w.uint64(v.get<uint64_t>());
  else if (codec == "bool") w.boolean(v.get<bool>());
  else if (codec == "buffer") w.buffer(unhex(v.get<std::string>()));
  else if (codec == "utf8") w.utf8(v.get<std::string>());
  else if (codec == "fixed32") w.fixed(ht::wire_test::unhex_array<32>(v.get<std::string>()));
  else if (codec == "fixed64") w.fixed(ht::wire_test::unhex_array<64>(v.get<std::string>()));
  else if (codec == "uint_array")
    write_array(w, v.get<std::vector<uint64_t>>(), [](writer& w, uint64_t n) { w.uint(n); });
  else if (codec == "ipv4_address")
    ipv4_address::parse(v["host"].get<std::string>(), v["port"].get<uint16_t>()).encode(w);
  else if (codec == "ipv6_address")
    ipv6_address::parse(v["host"].get<std::string>(), v["port"].get<uint16_t>()).encode(w);
  else FAIL("unknown codec " << codec);
  return w.take();
}

// Decodes with our codec and checks it equals the vector's value.
void check_decode(const std::string& codec, const nlohmann::json& v, const bytes& b) {
  reader r(b);
  if (codec == "uint") CHECK(r.uint() == v.get<uint64_t>());
  else if (codec == "int") CHECK(r.sint() == v.get<int64_t>());
  else if (codec == "uint8") CHECK(r.uint8() == v.get<uint8_t>());
  else if (codec == "uint16") CHECK(r.uint16() == v.get<uint16_t>());
  else if (codec == "uint24") CHECK(r.uint24() == v.get<uint32_t>());
  else if (codec == "uint32") CHECK(r.uint32() == v.get<uint32_t>());
  else if (codec == "uint64") CHECK(r.uint64() == v.get<uint64_t>());
  else if (codec == "bool") CHECK(r.boolean() == v.get<bool>());
  else if (codec == "buffer") CHECK(hex(r.buffer()) == v.get<std::string>());
  else if (codec == "utf8") CHECK(r.utf8() == v.get<std::string>());
  else if (codec == "fixed32") CHECK(hex(r.fixed<32>()) == v.get<std::string>());
  else if (codec == "fixed64") CHECK(hex(r.fixed<64>()) == v.get<std::string>());
  else if (codec == "uint_array")
    CHECK(read_array<uint64_t>(r, [](reader& r) { return r.uint(); }) == v.get<std::vector<uint64_t>>());
  else if (codec == "ipv4_address") {
    auto a = ipv4_address::decode(r);
    CHECK(a.host_string() == v["host"].get<std::string>());
    CHECK(a.port == v["port"].get<uint16_t>());
  } else if (codec == "ipv6_address") {
    auto a = ipv6_address::decode(r);
    CHECK(a.host_string() == v["decoded"].get<std::string>());
    CHECK(a.port == v["port"].get<uint16_t>());
  }
  CHECK(r.done());
}

template <class F>
errc error_of(F f) {
  try {
    f();
  } catch (const error& e) {
    return e.code();
  }
  FAIL("no error thrown");
  return errc::invalid_value;
}

} // namespace

TEST_CASE("compact-encoding matches the JS vectors byte for byte", "[unit]") {
  const auto& list = vectors()["codecs"];
  REQUIRE(list.size() > 40);
  for (const auto& v : list) {
    std::string codec = v["codec"];
    INFO(codec << " " << v["value"].dump());
    bytes expected = unhex(v["hex"]);
    CHECK(hex(encode_value(codec, v["value"])) == v["hex"].get<std::string>());
    check_decode(codec, v["value"], expected);
  }
}

TEST_CASE("varints are decoded strictly", "[unit]") {
  auto decode_uint = [](const bytes& b) {
    reader r(b);
    return r.uint();
  };
  SECTION("truncated") {
    for (const bytes& b : {bytes{}, bytes{0xfd}, bytes{0xfd, 0x00}, bytes{0xfe, 1, 2, 3}, bytes{0xff, 1, 2, 3, 4, 5, 6, 7}})
      CHECK(error_of([&] { decode_uint(b); }) == errc::out_of_bounds);
  }
  SECTION("non-minimal") {
    CHECK(error_of([] { bytes in = bytes{0xfd, 0xfc, 0x00}; reader r(in); r.uint(); }) == errc::non_minimal);
    CHECK(error_of([] { bytes in = bytes{0xfe, 0xff, 0xff, 0, 0}; reader r(in); r.uint(); }) == errc::non_minimal);
    CHECK(error_of([] { bytes in = bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}; reader r(in); r.uint(); }) == errc::non_minimal);
    // The smallest value of each width is fine.
    CHECK(decode_uint({0xfd, 0xfd, 0x00}) == 0xfd);
    CHECK(decode_uint({0xfe, 0x00, 0x00, 0x01, 0x00}) == 0x10000);
    CHECK(decode_uint({0xff, 0, 0, 0, 0, 1, 0, 0, 0}) == 0x100000000ull);
  }
  SECTION("above 2^53-1, which JS peers cannot hold") {
    CHECK(error_of([] { bytes in = bytes{0xff, 0, 0, 0, 0, 0, 0, 0x20, 0}; reader r(in); r.uint(); }) == errc::out_of_range);
    CHECK(error_of([] { writer w; w.uint(max_safe_uint + 1); }) == errc::out_of_range);
    CHECK(error_of([] { writer w; w.uint64(~uint64_t{0}); }) == errc::out_of_range);
    CHECK(error_of([] { writer w; w.uint24(0x1000000); }) == errc::out_of_range);
  }
}

TEST_CASE("fixed-size, buffer, string, bool and array decoding is bounds-checked", "[unit]") {
  CHECK(error_of([] { bytes in = bytes{1}; reader r(in); r.uint16(); }) == errc::out_of_bounds);
  CHECK(error_of([] { bytes in = bytes{1, 2}; reader r(in); r.uint24(); }) == errc::out_of_bounds);
  CHECK(error_of([] { bytes in = bytes{1, 2, 3}; reader r(in); r.uint32(); }) == errc::out_of_bounds);
  CHECK(error_of([] { bytes in = bytes(31); reader r(in); r.fixed<32>(); }) == errc::out_of_bounds);
  CHECK(error_of([] { bytes in = bytes{5, 1, 2, 3, 4}; reader r(in); r.buffer(); }) == errc::out_of_bounds);
  // A huge length prefix fails before any allocation.
  CHECK(error_of([] { bytes in = bytes{0xfe, 0xff, 0xff, 0xff, 0xff}; reader r(in); r.buffer(); }) == errc::out_of_bounds);
  CHECK(error_of([] { bytes in = bytes{2}; reader r(in); r.boolean(); }) == errc::invalid_value);
  CHECK(error_of([] { bytes in = bytes{2, 0xc3, 0x28}; reader r(in); r.utf8(); }) == errc::invalid_value);
  CHECK(error_of([] { bytes in = bytes{2, 0xc0, 0x80}; reader r(in); r.utf8(); }) == errc::invalid_value);      // overlong NUL
  CHECK(error_of([] { bytes in = bytes{3, 0xed, 0xa0, 0x80}; reader r(in); r.utf8(); }) == errc::invalid_value); // surrogate
  CHECK(error_of([] { bytes in = bytes{0xfe, 0x01, 0x00, 0x10, 0x00}; reader r(in); r.array_length(); }) == errc::too_big);
  CHECK(error_of([] { bytes in = bytes{0xfd, 0x00, 0x10}; reader r(in); r.array_length(6); }) == errc::out_of_bounds);
  CHECK(error_of([] { decode<ipv4_address>(bytes{1, 2, 3, 4, 5, 6, 7}); }) == errc::trailing_bytes);
  CHECK(error_of([] { decode<ipv4_address>(bytes{1, 2, 3, 4, 5}); }) == errc::out_of_bounds);
  bytes in = bytes{0}; reader r(in);
  CHECK_FALSE(r.optional_buffer().has_value());
}

TEST_CASE("address strings are parsed strictly", "[unit]") {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "a.b.c.d", "1.2.3.4 ", "0001.2.3.4"})
    CHECK(error_of([&] { ipv4_address::parse(bad, 1); }) == errc::invalid_value);
  for (const char* bad : {"", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", "1:2:3:4:5:6:7"})
    CHECK(error_of([&] { ipv6_address::parse(bad, 1); }) == errc::invalid_value);
  CHECK(ipv6_address::parse("::", 0).host_string() == "0:0:0:0:0:0:0:0");
  CHECK(ipv6_address::parse("1:2:3:4:5:6:7:8", 0).host_string() == "1:2:3:4:5:6:7:8");
  CHECK(ipv4_address::parse("127.0.0.1", 80).host_string() == "127.0.0.1");
}

TEST_CASE("zig-zag int range and flags words", "[unit]") {
  CHECK(error_of([] { writer w; w.sint(max_safe_int + 1); }) == errc::out_of_range);
  CHECK(error_of([] { writer w; w.sint(min_safe_int - 1); }) == errc::out_of_range);
  writer w;
  flags().set(0).set(3).encode(w);
  bytes b = w.take();
  CHECK(b == bytes{9});
  reader r(b);
  flags f = flags::decode(r, 0b1111, true);
  CHECK(f.has(0));
  CHECK_FALSE(f.has(1));
  CHECK(f.has(3));
  reader r2(b);
  CHECK(error_of([&] { flags::decode(r2, 0b0111, true); }) == errc::invalid_value);
  reader r3(b);
  CHECK(flags::decode(r3, 0b0111, false).bits() == 9);
}
