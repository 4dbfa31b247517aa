// Signatures and the encrypted holepunch payload against hyperdht's own code:
// Persistent.signAnnounce / signUnannounce / signMutable and SecurePayload.
#include <catch2/catch.hpp>

#include "dht/hyperdht/secure_payload.hpp"
#include "dht/hyperdht/signing.hpp"
#include "vectors.hpp"

using namespace ht::hyperdht;
using namespace ht::hyperdht_test;
using ht::noise::keypair;

TEST_CASE("hyperdht namespaces are constants.js's", "[unit]") {
  const json& ns = vectors().at("signatures").at("namespaces");
  CHECK(hex(ns::announce()) == ns.at("announce").get<std::string>());
  CHECK(hex(ns::unannounce()) == ns.at("unannounce").get<std::string>());
  CHECK(hex(ns::mutable_put()) == ns.at("mutablePut").get<std::string>());
  CHECK(hex(ns::peer_handshake()) == ns.at("peerHandshake").get<std::string>());
  CHECK(hex(ns::peer_holepunch()) == ns.at("peerHolepunch").get<std::string>());
  CHECK(hex(ns::plugin()) == ns.at("plugin").get<std::string>());
}

TEST_CASE("announce and unannounce signatures are hyperdht's byte for byte", "[unit]") {
  for (const char* kind : {"announce", "unannounce"}) {
    const bool is_announce = std::string(kind) == "announce";
    const key32& space = is_announce ? ns::announce() : ns::unannounce();
    for (const auto& v : vectors().at("signatures").at(kind)) {
      INFO(kind << " " << v.at("target").get<std::string>());
      keypair kp = keypair::from_seed(arr<32>(v.at("seed")));
      REQUIRE(hex(kp.public_key) == v.at("publicKey").get<std::string>());
      const key32 target = arr<32>(v.at("target")), token = arr<32>(v.at("token")), id = arr<32>(v.at("id"));
      announce_message ann;
      ann.peer = peer_record{kp.public_key, {}};
      for (const auto& a : v.at("relayAddresses")) ann.peer->relay_addresses.push_back(*addr(a));
      if (!v.at("refresh").is_null()) ann.refresh = arr<32>(v.at("refresh"));

      // We reproduce JS's signature (Ed25519 is deterministic) ...
      sig64 sig = is_announce ? sign_announce(target, token, id, ann, kp) : sign_unannounce(target, token, id, ann, kp);
      CHECK(hex(sig) == v.at("signature").get<std::string>());
      ann.signature = sig;
      CHECK(hex(ht::enc::encode(ann)) == v.at("value").get<std::string>());

      // ... and verify the one JS made, from its encoded request value.
      auto theirs = decode_value<announce_message>(unhex(v.at("value")));
      CHECK(verify_announce(space, target, token, id, theirs));
      // Each input is bound: another namespace, target, token or node id fails.
      const key32& other_space = is_announce ? ns::unannounce() : ns::announce();
      CHECK_FALSE(verify_announce(other_space, target, token, id, theirs));
      key32 bad = target;
      bad[0] ^= 1;
      CHECK_FALSE(verify_announce(space, bad, token, id, theirs));
      CHECK_FALSE(verify_announce(space, target, bad, id, theirs));
      CHECK_FALSE(verify_announce(space, target, token, bad, theirs));
      auto changed = theirs;
      changed.peer->relay_addresses.push_back(ip("9.9.9.9", 9));
      CHECK_FALSE(verify_announce(space, target, token, id, changed));
      auto refreshed = theirs;
      refreshed.refresh = fill32(0xee);
      CHECK_FALSE(verify_announce(space, target, token, id, refreshed));
      auto unsigned_ann = theirs;
      unsigned_ann.signature.reset();
      CHECK_FALSE(verify_announce(space, target, token, id, unsigned_ann));
    }
  }
}

TEST_CASE("mutable signatures are hyperdht's byte for byte", "[unit]") {
  for (const auto& v : vectors().at("signatures").at("mutable")) {
    keypair kp = keypair::from_seed(arr<32>(v.at("seed")));
    REQUIRE(hex(kp.public_key) == v.at("publicKey").get<std::string>());
    const uint64_t seq = v.at("seq");
    const bytes value = unhex(v.at("value"));
    sig64 sig = sign_mutable(seq, value, kp);
    CHECK(hex(sig) == v.at("signature").get<std::string>());
    CHECK(hex(ht::enc::encode(mutable_put_request{kp.public_key, seq, value, sig})) == v.at("put").get<std::string>());
    auto put = decode_value<mutable_put_request>(unhex(v.at("put")));
    CHECK(verify_mutable(put.signature, put.seq, put.value, put.public_key));
    CHECK_FALSE(verify_mutable(put.signature, put.seq + 1, put.value, put.public_key));
    bytes other = put.value;
    other.push_back(0);
    CHECK_FALSE(verify_mutable(put.signature, put.seq, other, put.public_key));
  }
}

TEST_CASE("the holepunch payload box is SecurePayload's", "[unit]") {
  const json& s = vectors().at("secure");
  ht::noise::hash64 hash = arr<64>(s.at("hash"));
  key32 secret = holepunch_secret(hash);
  CHECK(hex(secret) == s.at("holepunchSecret").get<std::string>());
  secure_payload sp(secret, arr<32>(s.at("localSecret")));
  for (const auto& p : s.at("payloads")) {
    bytes plain = unhex(p.at("plain"));
    holepunch_payload hp = decode_value<holepunch_payload>(plain);
    bytes box = sp.encrypt(hp, arr<24>(p.at("nonce")));
    CHECK(hex(box) == p.at("box").get<std::string>());
    auto back = sp.decrypt(unhex(p.at("box")));
    REQUIRE(back);
    CHECK(*back == hp);
    // Tampering, truncation and another key are all silent drops.
    bytes bad = box;
    bad.back() ^= 1;
    CHECK_FALSE(sp.decrypt(bad));
    CHECK_FALSE(sp.decrypt(bytes(box.begin(), box.begin() + 40)));
    secure_payload other(fill32(1));
    CHECK_FALSE(other.decrypt(box));
  }
  for (const auto& t : s.at("tokens")) CHECK(hex(sp.token(t.at("host"))) == t.at("token").get<std::string>());
  // Random nonces: two boxes of one payload differ and both open.
  holepunch_payload hp;
  bytes a = sp.encrypt(hp), b = sp.encrypt(hp);
  CHECK(a != b);
  CHECK(sp.decrypt(a));
  CHECK(sp.decrypt(b));
}
