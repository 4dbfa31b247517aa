// secret-stream core: JS wire bytes reproduced exactly, JS output decrypted,
// its own XX handshake, and every kind of bad frame closing the stream with
// a typed error without delivering anything twice.
#include <catch2/catch.hpp>

#include <random>

#include "dht/noise/peer_handshake.hpp"
#include "dht/secret_stream/secret_stream.hpp"
#include "vectors.hpp"

using namespace ht::secret_stream;
using ht::noise::keypair;
using ht::wire_test::hex;
using ht::wire_test::unhex;
using ht::wire_test::unhex_array;
using ht::wire_test::vectors;

namespace {

ht::noise::handshake_result ik_result(const nlohmann::json& e, bool initiator) {
  ht::noise::handshake_result r;
  r.initiator = initiator;
  r.tx = unhex_array<32>(e["tx"]);
  r.rx = unhex_array<32>(e["rx"]);
  r.hash = unhex_array<64>(e["hash"]);
  r.public_key = unhex_array<32>(e["publicKey"]);
  r.remote_public_key = unhex_array<32>(e["remotePublicKey"]);
  return r;
}

template <class F>
errc stream_error_of(F f) {
  try {
    f();
  } catch (const error& e) {
    return e.code();
  }
  FAIL("no error thrown");
  return errc::closed;
}

// Moves bytes both ways until neither side has anything to send.
void pump(stream& a, stream& b) {
  for (int i = 0; i < 10 && (a.has_transmit() || b.has_transmit()); ++i) {
    if (a.has_transmit()) b.feed(a.take_transmit());
    if (b.has_transmit()) a.feed(b.take_transmit());
  }
}

std::vector<bytes> drain(stream& s) {
  std::vector<bytes> out;
  while (auto m = s.poll_message()) out.push_back(std::move(*m));
  return out;
}

struct pair_fixture {
  keypair ka = keypair::from_seed(unhex_array<32>(std::string(64, 'a')));
  keypair kb = keypair::from_seed(unhex_array<32>(std::string(64, 'b')));
  stream a{true, ka};
  stream b{false, kb};
  pair_fixture() {
    pump(a, b);
    REQUIRE(a.is_established());
    REQUIRE(b.is_established());
  }
  // Frames one message from a, as raw wire bytes.
  bytes frame(const bytes& msg) {
    a.write(msg);
    return a.take_transmit();
  }
};

} // namespace

TEST_CASE("secret-stream wire bytes match @hyperswarm/secret-stream exactly", "[unit]") {
  const auto& v = vectors()["stream"];
  options opts;
  opts.fixed_header = unhex_array<24>(v["header"]);
  opts.fixed_send_counter = unhex_array<8>(v["sendCounter"]);
  stream s(ik_result(vectors()["ik"]["initiator"], true), opts);
  CHECK(s.is_open());
  for (const auto& m : v["messages"]) s.write(unhex(m));
  CHECK(hex(s.take_transmit()) == v["wire"].get<std::string>());
  for (size_t i = 0; i < v["boxed"].size(); ++i) {
    bytes plain = unhex(v["boxedPlain"][i]);
    CHECK(hex(s.box(plain.data(), plain.size())) == v["boxed"][i].get<std::string>());
  }
}

TEST_CASE("the responder decrypts the JS wire bytes in any split", "[unit]") {
  const auto& v = vectors()["stream"];
  bytes wire = unhex(v["wire"]);
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    stream s(ik_result(vectors()["ik"]["responder"], false));
    size_t off = 0;
    while (off < wire.size()) {
      size_t n = std::min<size_t>(wire.size() - off, round == 0 ? 1 : rng() % 5000 + 1);
      s.feed(wire.data() + off, n);
      off += n;
    }
    CHECK(s.is_established());
    auto got = drain(s);
    REQUIRE(got.size() == v["messages"].size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(hex(got[i]) == v["messages"][i].get<std::string>());
  }
  stream s(ik_result(vectors()["ik"]["responder"], false));
  for (size_t i = 0; i < v["boxed"].size(); ++i) {
    bytes boxed = unhex(v["boxed"][i]);
    auto plain = s.unbox(boxed.data(), boxed.size());
    REQUIRE(plain.has_value());
    CHECK(hex(*plain) == v["boxedPlain"][i].get<std::string>());
    boxed.back() ^= 1;
    CHECK_FALSE(s.unbox(boxed.data(), boxed.size()).has_value());
  }
}

TEST_CASE("keep-alives are delivered or filtered as configured", "[unit]") {
  const auto& v = vectors()["stream"];
  options opts;
  opts.filter_zero_length = true;
  stream s(ik_result(vectors()["ik"]["responder"], false), opts);
  s.feed(unhex(v["wire"]));
  CHECK(drain(s).size() == 3);  // the two zero-length messages are dropped
}

TEST_CASE("own XX handshake: both sides open, writes before open are kept", "[unit]") {
  keypair ka = keypair::random(), kb = keypair::random();
  options oa;
  oa.max_incoming_message = max_message; // the protocol's limit, not the server's
  stream a(true, ka, kb.public_key, oa);
  stream b(false, kb, ka.public_key);
  CHECK(a.has_transmit());
  CHECK_FALSE(b.has_transmit());
  a.write(bytes{1, 2, 3});
  b.write(bytes{});
  pump(a, b);
  REQUIRE(a.is_established());
  REQUIRE(b.is_established());
  CHECK(*a.remote_public_key() == kb.public_key);
  CHECK(*b.remote_public_key() == ka.public_key);
  CHECK(a.handshake()->hash == b.handshake()->hash);
  CHECK(drain(b) == std::vector<bytes>{bytes{1, 2, 3}});
  CHECK(drain(a) == std::vector<bytes>{bytes{}});
  bytes big(max_message, 0x5a);
  b.write(big);
  a.feed(b.take_transmit());
  CHECK(drain(a).at(0) == big);
  CHECK(stream_error_of([&] { a.write(bytes(max_message + 1)); }) == errc::message_too_large);
  bytes d = a.box(big.data(), 100);
  CHECK(b.unbox(d.data(), d.size()) == bytes(big.begin(), big.begin() + 100));
}

TEST_CASE("a peer with another key than expected is rejected", "[unit]") {
  keypair ka = keypair::random(), kb = keypair::random(), kc = keypair::random();
  stream a(true, ka, kc.public_key);  // expects kc, talks to kb
  stream b(false, kb);
  b.feed(a.take_transmit());
  CHECK(stream_error_of([&] { a.feed(b.take_transmit()); }) == errc::remote_key_mismatch);
  CHECK(a.is_closed());
  CHECK_FALSE(a.is_open());
  CHECK(stream_error_of([&] { a.feed(bytes{0}); }) == errc::closed);
}

TEST_CASE("handshake frames out of order, oversized or corrupted close the stream", "[unit]") {
  keypair ka = keypair::random(), kb = keypair::random();
  SECTION("the first message twice") {
    stream a(true, ka), b(false, kb);
    bytes m1 = a.take_transmit();
    b.feed(m1);
    CHECK(stream_error_of([&] { b.feed(m1); }) == errc::handshake_failed);
  }
  SECTION("two initiators") {
    stream a(true, ka), c(true, kb);
    CHECK(stream_error_of([&] { a.feed(c.take_transmit()); }) == errc::handshake_failed);
  }
  SECTION("an oversized handshake frame is refused before it is buffered") {
    stream b(false, kb);
    CHECK(stream_error_of([&] { b.feed(bytes{0x00, 0x00, 0x01}); }) == errc::frame_too_large);
  }
  SECTION("a bit flip in the second message") {
    stream a(true, ka), b(false, kb);
    b.feed(a.take_transmit());
    bytes m2 = b.take_transmit();
    m2[3 + 40] ^= 0x10;
    CHECK(stream_error_of([&] { a.feed(m2); }) == errc::handshake_failed);
  }
}

TEST_CASE("bad data frames: truncated, short, flipped, replayed, reordered", "[unit]") {
  pair_fixture p;
  SECTION("a truncated frame waits, the rest completes it") {
    bytes f = p.frame(bytes(1000, 7));
    p.b.feed(f.data(), f.size() - 1);
    CHECK(p.b.pending_messages() == 0);
    p.b.feed(f.data() + f.size() - 1, 1);
    CHECK(drain(p.b) == std::vector<bytes>{bytes(1000, 7)});
  }
  SECTION("a frame above the configured limit is refused from its length") {
    options ob;
    ob.max_incoming_message = 100;
    stream a(true, p.ka), b(false, p.kb, std::nullopt, ob);
    pump(a, b);
    a.write(bytes(100, 1));
    b.feed(a.take_transmit());
    CHECK(drain(b).size() == 1);
    a.write(bytes(101, 1));
    bytes f = a.take_transmit();
    CHECK(stream_error_of([&] { b.feed(f.data(), 3); }) == errc::incoming_too_large);
  }
  SECTION("a frame shorter than the overhead") {
    CHECK(stream_error_of([&] { p.b.feed(bytes{16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}); }) ==
          errc::frame_too_short);
  }
  SECTION("every bit flipped in turn") {
    bytes f = p.frame(bytes{1, 2, 3, 4});
    for (size_t bit = 3 * 8; bit < f.size() * 8; ++bit) {
      pair_fixture q;
      bytes g = q.frame(bytes{1, 2, 3, 4});
      g[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
      CHECK(stream_error_of([&] { q.b.feed(g); }) == errc::decrypt_failed);
      CHECK(q.b.pending_messages() == 0);
      CHECK(q.b.is_closed());
    }
  }
  SECTION("a replayed frame is refused and nothing is delivered twice") {
    bytes f = p.frame(bytes{9});
    p.b.feed(f);
    CHECK(stream_error_of([&] { p.b.feed(f); }) == errc::decrypt_failed);
    CHECK(drain(p.b) == std::vector<bytes>{bytes{9}});
    CHECK(stream_error_of([&] { p.b.feed(p.frame(bytes{10})); }) == errc::closed);
  }
  SECTION("reordered frames") {
    bytes f1 = p.frame(bytes{1});
    bytes f2 = p.frame(bytes{2});
    CHECK(stream_error_of([&] { p.b.feed(f2); }) == errc::decrypt_failed);
    CHECK(p.b.pending_messages() == 0);
  }
  SECTION("frames before the bad one stay delivered, later ones in the same chunk do not") {
    bytes all = p.frame(bytes{1});
    bytes bad = p.frame(bytes{2});
    bad.back() ^= 1;
    bytes after = p.frame(bytes{3});
    all.insert(all.end(), bad.begin(), bad.end());
    all.insert(all.end(), after.begin(), after.end());
    CHECK(stream_error_of([&] { p.b.feed(all); }) == errc::decrypt_failed);
    CHECK(drain(p.b) == std::vector<bytes>{bytes{1}});
  }
}

TEST_CASE("bad header frames close the stream", "[unit]") {
  const auto& v = vectors()["stream"];
  bytes wire = unhex(v["wire"]);
  SECTION("wrong stream id") {
    stream s(ik_result(vectors()["ik"]["responder"], false));
    bytes w = wire;
    w[3] ^= 1;
    CHECK(stream_error_of([&] { s.feed(w); }) == errc::bad_stream_id);
  }
  SECTION("the header meant for the other direction") {
    stream s(ik_result(vectors()["ik"]["initiator"], true));  // expects the responder's id
    CHECK(stream_error_of([&] { s.feed(wire); }) == errc::bad_stream_id);
  }
  SECTION("wrong header length") {
    stream s(ik_result(vectors()["ik"]["responder"], false));
    CHECK(stream_error_of([&] { s.feed(bytes{55, 0, 0}); }) == errc::invalid_header);
  }
  SECTION("unordered send needs the handshake") {
    stream s(true, keypair::random());
    CHECK(stream_error_of([&] { s.box(nullptr, 0); }) == errc::not_open);
    CHECK_FALSE(s.unbox(wire.data(), 40).has_value());
  }
}

TEST_CASE("unordered datagrams: reordering is fine, replays are dropped", "[unit]") {
  keypair ka = keypair::random(), kb = keypair::random();
  auto make_pair = [&](options oa, options ob) {
    auto a = std::make_unique<stream>(true, ka, std::nullopt, oa);
    auto b = std::make_unique<stream>(false, kb, std::nullopt, ob);
    pump(*a, *b);
    REQUIRE(a->is_established());
    return std::make_pair(std::move(a), std::move(b));
  };
  auto box = [](stream& s, uint8_t v) { return s.box(&v, 1); };
  auto opens = [](stream& s, const bytes& d) { return s.unbox(d.data(), d.size()).has_value(); };

  SECTION("reordered within the window, then replayed") {
    auto [a, b] = make_pair({}, {});
    bytes d1 = box(*a, 1), d2 = box(*a, 2), d3 = box(*a, 3);
    CHECK(opens(*b, d2));
    CHECK(opens(*b, d1));
    CHECK(opens(*b, d3));
    CHECK_FALSE(opens(*b, d2));
    CHECK_FALSE(opens(*b, d1));
    CHECK_FALSE(opens(*b, d3));
  }
  SECTION("older than the window") {
    options ob;
    ob.unordered_replay_window = 64;
    auto [a, b] = make_pair({}, ob);
    bytes first = box(*a, 0);
    bytes last;
    for (int i = 0; i < 100; ++i) last = box(*a, 1);
    CHECK(opens(*b, last));
    CHECK_FALSE(opens(*b, first));
  }
  SECTION("the counter wraps around 2^64") {
    options oa;
    oa.fixed_send_counter = std::array<uint8_t, 8>{0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    auto [a, b] = make_pair(oa, {});
    std::vector<bytes> d;
    for (uint8_t i = 0; i < 5; ++i) d.push_back(box(*a, i));  // ...fe, ...ff, 0, 1, 2
    for (int i = 4; i >= 0; --i) CHECK(opens(*b, d[static_cast<size_t>(i)]));
    for (const auto& x : d) CHECK_FALSE(opens(*b, x));
  }
  SECTION("window 0 behaves as secret-stream: replays pass") {
    options ob;
    ob.unordered_replay_window = 0;
    auto [a, b] = make_pair({}, ob);
    bytes d = box(*a, 7);
    CHECK(opens(*b, d));
    CHECK(opens(*b, d));
  }
  SECTION("a forged datagram does not move the window") {
    auto [a, b] = make_pair({}, {});
    bytes d1 = box(*a, 1);
    bytes forged = box(*a, 2);
    forged.back() ^= 1;
    CHECK_FALSE(opens(*b, forged));
    CHECK(opens(*b, d1));
  }
}

TEST_CASE("secret-stream: incoming memory grows with arriving bytes, not with the length prefix", "[unit]") {
  // A peer announcing a 1 MiB message (the default limit) and sending 100
  // bytes of it costs about 100 bytes, not a megabyte up front.
  pair_fixture p;
  bytes msg(1u << 20, 0x33);
  bytes f = p.frame(msg);
  p.b.feed(f.data(), 3 + 100);
  CHECK(p.b.incoming_buffered() >= 100);
  CHECK(p.b.incoming_buffered() <= 4096);
  // The rest in uneven pieces: the buffer stays within twice what arrived
  // (amortized doubling) and the frame's size.
  size_t off = 103;
  for (size_t step = 1000; off < f.size(); step = step * 3 / 2) {
    size_t n = std::min(step, f.size() - off);
    p.b.feed(f.data() + off, n);
    off += n;
    size_t arrived = off - 3;
    if (off < f.size()) {
      CHECK(p.b.incoming_buffered() <= std::max<size_t>(2 * arrived, 4096));
      CHECK(p.b.incoming_buffered() <= f.size() - 3);
    }
  }
  CHECK(drain(p.b) == std::vector<bytes>{msg});
  CHECK(p.b.incoming_buffered() == 0);
}

TEST_CASE("secret-stream: the incoming limit defaults to the server's --max-message-bytes", "[unit]") {
  CHECK(options{}.max_incoming_message == (1u << 20));
  pair_fixture p;
  // Exactly the limit passes...
  bytes at_limit(1u << 20, 1);
  p.b.feed(p.frame(at_limit));
  CHECK(drain(p.b) == std::vector<bytes>{at_limit});
  // ...one byte more is refused with a clear error from the prefix alone.
  bytes f = p.frame(bytes((1u << 20) + 1, 2));
  try {
    p.b.feed(f.data(), 3);
    FAIL("no error thrown");
  } catch (const error& e) {
    CHECK(e.code() == errc::incoming_too_large);
    CHECK(std::string(e.what()).find("1048577 bytes exceeds the limit of 1048576") != std::string::npos);
  }
  CHECK(p.b.incoming_buffered() == 0);
  CHECK(p.b.is_closed());
}
