// hyperdht's message bodies against lib/messages.js, byte for byte, both ways,
// plus the strict and the lenient parts of decoding (messages.hpp).
#include <catch2/catch.hpp>

#include "dht/hyperdht/messages.hpp"
#include "vectors.hpp"

using namespace ht::hyperdht;
using namespace ht::hyperdht_test;
using ht::enc::errc;

namespace {

template <class T>
void check_both_ways(const json& v, const T& expected) {
  bytes wire = unhex(v.at("hex"));
  CHECK(decode_value<T>(wire) == expected);
  if (!v.value("decodeOnly", false)) CHECK(hex(ht::enc::encode(expected)) == v.at("hex").get<std::string>());
}


template <class T>
errc error_of(const bytes& b) {
  try {
    (void)decode_value<T>(b);
  } catch (const ht::enc::error& e) {
    return e.code();
  }
  FAIL("decoded " << hex(b));
  return errc::invalid_value;
}

} // namespace

TEST_CASE("hyperdht messages match lib/messages.js both ways", "[unit]") {
  std::map<std::string, int> seen;
  for (const auto& v : vectors().at("messages")) {
    const std::string codec = v.at("codec");
    const json& value = v.at("value");
    INFO(codec << " " << v.at("hex").get<std::string>());
    ++seen[codec];
    if (codec == "handshake") check_both_ways(v, handshake(value));
    else if (codec == "holepunch") check_both_ways(v, holepunch(value));
    else if (codec == "peer") check_both_ways(v, peer(value));
    else if (codec == "lookupRawReply") check_both_ways(v, lookup(value));
    else if (codec == "announce") check_both_ways(v, announce(value));
    else if (codec == "mutablePutRequest") check_both_ways(v, mutable_put(value));
    else if (codec == "mutableGetResponse") check_both_ways(v, mutable_get(value));
    else if (codec == "holepunchPayload") check_both_ways(v, holepunch_payload_json(value));
    else if (codec == "mutableSignable") {
      mutable_signable s{value.at("seq").get<uint64_t>(), unhex(value.at("value"))};
      CHECK(hex(ht::enc::encode(s)) == v.at("hex").get<std::string>());
    } else if (codec == "uint") {
      CHECK(hex(encode_uint_value(value.get<uint64_t>())) == v.at("hex").get<std::string>());
      CHECK(decode_uint_value(unhex(v.at("hex"))) == value.get<uint64_t>());
    } else {
      FAIL("unknown codec " << codec);
    }
  }
  for (const char* c : {"handshake", "holepunch", "peer", "lookupRawReply", "announce", "mutablePutRequest",
                        "mutableGetResponse", "holepunchPayload", "mutableSignable", "uint"})
    CHECK(seen[c] > 0);
}

TEST_CASE("lookup replies are encoded from the stored record bytes", "[unit]") {
  for (const auto& v : vectors().at("messages")) {
    if (v.at("codec") != "lookupRawReply" || v.value("decodeOnly", false)) continue;
    lookup_reply r = lookup(v.at("value"));
    std::vector<bytes> raw;
    for (const auto& p : r.peers) raw.push_back(ht::enc::encode(p));
    std::vector<const bytes*> ptrs;
    for (const auto& b : raw) ptrs.push_back(&b);
    CHECK(hex(encode_lookup_reply(ptrs, r.bump)) == v.at("hex").get<std::string>());
  }
}

TEST_CASE("hyperdht message decoding is strict inside fields", "[unit]") {
  handshake_message hs{mode::from_relay, bytes(10, 1), ip("1.2.3.4", 5), std::nullopt};
  bytes wire = ht::enc::encode(hs);
  SECTION("every truncation is out_of_bounds") {
    for (size_t n = 0; n < wire.size(); ++n)
      CHECK(error_of<handshake_message>(bytes(wire.begin(), wire.begin() + n)) == errc::out_of_bounds);
  }
  SECTION("a non-minimal varint is refused (JS accepts it, no JS encoder writes it)") {
    bytes b = {0xfd, 0x00, 0x00, 0x00, 0x00};  // flags 0 written in 3 bytes
    CHECK(error_of<handshake_message>(b) == errc::non_minimal);
  }
  SECTION("a buffer longer than the value is out_of_bounds, not an allocation") {
    bytes b = {0x00, 0x00, 0xfe, 0xff, 0xff, 0xff, 0x7f};
    CHECK(error_of<handshake_message>(b) == errc::out_of_bounds);
  }
  SECTION("an address array longer than the bytes left is refused before reserving") {
    bytes b(32, 0);
    b.push_back(0xfe);
    for (uint8_t x : {0x00, 0x00, 0x10, 0x00}) b.push_back(x);  // 0x100000 entries
    CHECK(error_of<peer_record>(b) == errc::out_of_bounds);
    bytes c(32, 0);
    c.push_back(0xfe);
    for (uint8_t x : {0x01, 0x00, 0x10, 0x00}) c.push_back(x);  // above compact-encoding's limit
    CHECK(error_of<peer_record>(c) == errc::too_big);
  }
  SECTION("a mutable get seq that is not a uint") {
    CHECK_THROWS_AS(decode_uint_value({}), ht::enc::error);
    CHECK_THROWS_AS(decode_uint_value({0xfd, 0x01}), ht::enc::error);
  }
}

TEST_CASE("hyperdht message decoding follows hyperdht where it is lenient", "[unit]") {
  SECTION("unknown flag bits are ignored (hyperdht tests only the bits it knows)") {
    bytes b = ht::enc::encode(handshake_message{mode::from_client, {1, 2}, std::nullopt, std::nullopt});
    b[0] = 0x80 | 0x00;  // bit 7: no field hyperdht knows
    auto hs = decode_value<handshake_message>(b);
    CHECK(hs.mode == mode::from_client);
    CHECK(hs.noise == bytes{1, 2});
    CHECK(!hs.peer_address);
  }
  SECTION("bytes after the message are ignored, as c.decode does") {
    announce_message a;
    a.refresh = fill32(4);
    bytes b = ht::enc::encode(a);
    b.push_back(0x55);
    CHECK(decode_value<announce_message>(b) == a);
  }
  SECTION("a zero-length noise is a present, empty buffer") {
    auto hs = decode_value<handshake_message>(bytes{0, 0, 0});
    CHECK(hs.noise.empty());
  }
  SECTION("a lookup reply without bump (older nodes) reads bump 0") {
    bytes b = {0};
    CHECK(decode_value<lookup_reply>(b).bump == 0);
    CHECK(decode_value<lookup_reply>(b).peers.empty());
  }
  SECTION("an announce bump of 0 is not written") {
    announce_message a;
    CHECK(ht::enc::encode(a) == bytes{0});
  }
}
