// Noise IK (hyperdht PEER_HANDSHAKE) and XX (secret-stream) against the JS
// vectors, the derived values, hyperdht's noise payload, and every way a
// handshake can go wrong.
#include <catch2/catch.hpp>

#include "dht/noise/handshake.hpp"
#include "dht/noise/payload.hpp"
#include "dht/noise/peer_handshake.hpp"
#include "vectors.hpp"

using namespace ht::noise;
using ht::wire_test::hex;
using ht::wire_test::unhex;
using ht::wire_test::unhex_array;
using ht::wire_test::vectors;

namespace {

keypair seeded(const std::string& seed_hex) { return keypair::from_seed(unhex_array<32>(seed_hex)); }

template <class F>
errc noise_error_of(F f) {
  try {
    f();
  } catch (const error& e) {
    return e.code();
  }
  FAIL("no error thrown");
  return errc::failed;
}

noise_payload full_payload() {
  noise_payload p;
  p.firewall = firewall_consistent;
  p.holepunch = holepunch_info{7, {relay_info{ht::enc::ipv4_address::parse("1.2.3.4", 10),
                                              ht::enc::ipv4_address::parse("5.6.7.8", 20)}}};
  p.addresses4 = {ht::enc::ipv4_address::parse("192.168.1.2", 1234), ht::enc::ipv4_address::parse("10.0.0.1", 65535)};
  p.addresses6 = {ht::enc::ipv6_address::parse("fe80::1", 9)};
  p.udx = udx_info{1, true, 300, 0};
  p.secret_stream = secret_stream_info{};
  relay_through_info rt;
  rt.public_key.fill(1);
  rt.token.fill(2);
  p.relay_through = rt;
  p.relay_addresses = std::vector<ht::enc::ipv4_address>{ht::enc::ipv4_address::parse("8.8.8.8", 53)};
  return p;
}

} // namespace

TEST_CASE("namespaces and key pairs match hypercore-crypto", "[unit]") {
  const auto& ns = vectors()["namespaces"];
  CHECK(hex(namespaces::peer_handshake()) == ns["peerHandshake"].get<std::string>());
  CHECK(hex(namespaces::peer_holepunch()) == ns["peerHolepunch"].get<std::string>());
  CHECK(hex(namespaces::stream_initiator()) == ns["streamInitiator"].get<std::string>());
  CHECK(hex(namespaces::stream_responder()) == ns["streamResponder"].get<std::string>());
  CHECK(hex(namespaces::stream_send()) == ns["streamSend"].get<std::string>());
  for (const auto& k : vectors()["keypairs"]) {
    keypair kp = seeded(k["seed"]);
    CHECK(hex(kp.public_key) == k["publicKey"].get<std::string>());
    CHECK(hex(kp.secret_key) == k["secretKey"].get<std::string>());
  }
}

TEST_CASE("noise payloads match hyperdht's codec", "[unit]") {
  const auto& v = vectors()["payloads"];
  noise_payload full = full_payload();
  CHECK(hex(ht::enc::encode(full)) == v["full"].get<std::string>());
  bytes b = unhex(v["full"]);
  CHECK(decode_noise_payload(b.data(), b.size()) == full);

  noise_payload minimal;
  minimal.firewall = firewall_open;
  CHECK(hex(ht::enc::encode(minimal)) == v["minimal"].get<std::string>());

  noise_payload err;
  err.error = error_try_later;
  CHECK(hex(ht::enc::encode(err)) == v["error"].get<std::string>());
  b = unhex(v["error"]);
  CHECK(decode_noise_payload(b.data(), b.size()).error == error_try_later);
}

TEST_CASE("noise payload decoding: truncation fails, future versions and fields pass through", "[unit]") {
  bytes full = unhex(vectors()["payloads"]["full"]);
  // Every proper prefix is missing a field the flags promise.
  for (size_t n = 0; n < full.size(); ++n) {
    INFO("prefix " << n);
    CHECK_THROWS_AS(decode_noise_payload(full.data(), n), ht::enc::error);
  }
  // Version 2 comes back undecoded, as in hyperdht (it answers VERSION_MISMATCH).
  bytes v2{2, 0xff, 0xff};
  CHECK(decode_noise_payload(v2.data(), v2.size()).version == 2);
  // An unknown flag bit with trailing data: older hyperdht peers ignore both.
  bytes future{1, 0x80, 0x01, 0, 0, 0xaa, 0xbb};
  CHECK(decode_noise_payload(future.data(), future.size()).firewall == 0);
  // Non-minimal varint inside a field is still an error.
  bytes nonmin{1, 0xfd, 0x00, 0x00, 0, 0};
  CHECK_THROWS_AS(decode_noise_payload(nonmin.data(), nonmin.size()), ht::enc::error);
}

TEST_CASE("PEER_HANDSHAKE (Noise IK) matches hyperdht byte for byte", "[unit]") {
  const auto& v = vectors()["ik"];
  keypair client = seeded(v["clientSeed"]);
  keypair server = seeded(v["serverSeed"]);
  handshake::options client_opts{seeded(v["clientEphemeralSeed"])};
  handshake::options server_opts{seeded(v["serverEphemeralSeed"])};

  peer_handshake a(client, server.public_key, client_opts);
  peer_handshake b(server, std::nullopt, server_opts);
  CHECK(a.is_initiator());
  CHECK_FALSE(b.is_initiator());

  bytes pa_bytes = unhex(v["payloadA"]), pb_bytes = unhex(v["payloadB"]);
  noise_payload pa = decode_noise_payload(pa_bytes.data(), pa_bytes.size());
  noise_payload pb = decode_noise_payload(pb_bytes.data(), pb_bytes.size());
  CHECK(hex(ht::enc::encode(pa)) == v["payloadA"].get<std::string>());

  bytes m1 = a.send(pa);
  CHECK(hex(m1) == v["m1"].get<std::string>());
  CHECK(b.recv(m1) == pa);
  REQUIRE(b.remote_public_key().has_value());
  CHECK(*b.remote_public_key() == client.public_key);
  bytes m2 = b.send(pb);
  CHECK(hex(m2) == v["m2"].get<std::string>());
  CHECK(a.recv(m2) == pb);
  REQUIRE(a.complete());
  REQUIRE(b.complete());

  auto check = [](const peer_handshake_result& r, const nlohmann::json& e) {
    CHECK(hex(r.keys.tx) == e["tx"].get<std::string>());
    CHECK(hex(r.keys.rx) == e["rx"].get<std::string>());
    CHECK(hex(r.keys.hash) == e["hash"].get<std::string>());
    CHECK(hex(r.keys.public_key) == e["publicKey"].get<std::string>());
    CHECK(hex(r.keys.remote_public_key) == e["remotePublicKey"].get<std::string>());
    CHECK(hex(r.holepunch_secret) == e["holepunchSecret"].get<std::string>());
    CHECK(hex(r.stream_id) == e["streamId"].get<std::string>());
    CHECK(hex(r.remote_id) == e["remoteId"].get<std::string>());
  };
  check(a.final(), v["initiator"]);
  check(b.final(), v["responder"]);
  CHECK(a.final().keys.tx == b.final().keys.rx);
  CHECK(a.final().stream_id == b.final().remote_id);
}

TEST_CASE("secret-stream's Noise XX matches noise-handshake byte for byte", "[unit]") {
  const auto& v = vectors()["xx"];
  handshake a(pattern::XX, true, seeded(v["initiatorSeed"]), {}, std::nullopt,
              seeded(v["initiatorEphemeralSeed"]));
  handshake b(pattern::XX, false, seeded(v["responderSeed"]), {}, std::nullopt,
              seeded(v["responderEphemeralSeed"]));
  bytes m1 = a.send();
  CHECK(hex(m1) == v["m1"].get<std::string>());
  CHECK(b.recv(m1).empty());
  bytes m2 = b.send();
  CHECK(hex(m2) == v["m2"].get<std::string>());
  a.recv(m2);
  bytes m3 = a.send();
  CHECK(hex(m3) == v["m3"].get<std::string>());
  b.recv(m3);
  REQUIRE(a.complete());
  REQUIRE(b.complete());
  CHECK(hex(a.final().tx) == v["initiator"]["tx"].get<std::string>());
  CHECK(hex(a.final().rx) == v["initiator"]["rx"].get<std::string>());
  CHECK(hex(a.final().hash) == v["initiator"]["hash"].get<std::string>());
  CHECK(hex(b.final().tx) == v["responder"]["tx"].get<std::string>());
  CHECK(a.final().remote_public_key == b.public_key());
  CHECK(b.final().remote_public_key == a.public_key());
}

TEST_CASE("random ephemerals: both sides agree, and two runs differ", "[unit]") {
  keypair s1 = keypair::random(), s2 = keypair::random();
  auto run = [&] {
    peer_handshake a(s1, s2.public_key), b(s2, std::nullopt);
    b.recv(a.send(noise_payload{}));
    a.recv(b.send(noise_payload{}));
    CHECK(a.final().keys.tx == b.final().keys.rx);
    CHECK(a.final().keys.hash == b.final().keys.hash);
    return a.final().keys.hash;
  };
  CHECK(run() != run());
}

TEST_CASE("handshake errors: order, truncation, tampering, wrong key, dead after failure", "[unit]") {
  keypair client = keypair::from_seed(unhex_array<32>(std::string(64, '1')));
  keypair server = keypair::from_seed(unhex_array<32>(std::string(64, '2')));
  keypair other = keypair::from_seed(unhex_array<32>(std::string(64, '3')));
  bytes payload{1, 2, 3};

  SECTION("messages out of order") {
    handshake a(pattern::IK, true, client, {}, server.public_key);
    handshake b(pattern::IK, false, server, {});
    CHECK(noise_error_of([&] { b.send(); }) == errc::out_of_order);  // responder speaks first
    handshake a2(pattern::IK, true, client, {}, server.public_key);
    CHECK(noise_error_of([&] { a2.recv(bytes(100)); }) == errc::out_of_order);
    bytes m1 = a.send(payload);
    CHECK(noise_error_of([&] { a.send(); }) == errc::out_of_order);  // twice in a row
    b.recv(m1);
    bytes m2 = b.send();
    a.recv(m2);
    CHECK(noise_error_of([&] { a.recv(m2); }) == errc::out_of_order);  // after completion
    CHECK(noise_error_of([&] { b.send(); }) == errc::out_of_order);
  }
  SECTION("final before the end") {
    handshake a(pattern::IK, true, client, {}, server.public_key);
    a.send();
    CHECK(noise_error_of([&] { a.final(); }) == errc::not_complete);
  }
  SECTION("IK initiator without the responder's key") {
    CHECK(noise_error_of([&] { handshake(pattern::IK, true, client, {}); }) == errc::invalid_key);
  }
  SECTION("truncated and bit-flipped first messages") {
    handshake a(pattern::IK, true, client, {}, server.public_key);
    bytes m1 = a.send(payload);
    for (size_t n : {size_t{0}, size_t{31}, size_t{32}, size_t{79}, size_t{80}, m1.size() - 1}) {
      handshake b(pattern::IK, false, server, {});
      errc e = noise_error_of([&] { b.recv(m1.data(), n); });
      CHECK((e == errc::truncated || e == errc::decrypt_failed));
      CHECK(noise_error_of([&] { b.recv(m1); }) == errc::failed);
    }
    for (size_t bit = 0; bit < m1.size() * 8; bit += 7) {
      bytes bad = m1;
      bad[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
      handshake b(pattern::IK, false, server, {});
      errc e = noise_error_of([&] { b.recv(bad); });
      CHECK((e == errc::decrypt_failed || e == errc::invalid_key));
    }
  }
  SECTION("the initiator dialled the wrong server key") {
    handshake a(pattern::IK, true, client, {}, other.public_key);
    handshake b(pattern::IK, false, server, {});
    CHECK(noise_error_of([&] { b.recv(a.send(payload)); }) == errc::decrypt_failed);
  }
  SECTION("a reply from someone else fails at the initiator") {
    handshake a(pattern::IK, true, client, {}, server.public_key);
    handshake b(pattern::IK, false, server, {});
    handshake mallory(pattern::IK, true, other, {}, server.public_key);
    b.recv(mallory.send());
    bytes reply = b.send();
    a.send();
    CHECK(noise_error_of([&] { a.recv(reply); }) == errc::decrypt_failed);
  }
  SECTION("a small-order ephemeral key is refused") {
    handshake b(pattern::IK, false, server, {});
    bytes m(32 + 48 + 16, 0);
    m[0] = 1;  // the identity point
    CHECK(noise_error_of([&] { b.recv(m); }) == errc::invalid_key);
  }
  SECTION("a payload that does not decode") {
    const key32& ns = namespaces::peer_handshake();
    handshake raw(pattern::IK, true, client, bytes(ns.begin(), ns.end()), server.public_key);
    peer_handshake b(server, std::nullopt);
    bytes garbage{1, 0xfd};  // version 1, then a truncated varint
    CHECK(noise_error_of([&] { b.recv(raw.send(garbage)); }) == errc::bad_payload);
    CHECK(noise_error_of([&] { b.send(noise_payload{}); }) == errc::failed);
  }
}
