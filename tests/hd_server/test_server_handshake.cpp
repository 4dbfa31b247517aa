// The PEER_HANDSHAKE responder (dht/hyperdht/server_handshake.hpp): Noise IK
// against our own initiator (which is checked against hyperdht's NoiseWrap
// in tests/wire), dedupe, firewall, payload and bounds.
#include <catch2/catch.hpp>

#include "dht/hyperdht/server_handshake.hpp"

using namespace ht;
using namespace ht::hyperdht;
using namespace std::chrono_literals;

namespace {

key32 filled(uint8_t b) {
  key32 k;
  k.fill(b);
  return k;
}

const noise::keypair server_kp = noise::keypair::from_seed(filled(1));

noise::noise_payload client_payload(uint64_t udx_id = 77) {
  noise::noise_payload p;
  p.firewall = noise::firewall_unknown;
  p.udx = noise::udx_info{1, false, udx_id, 0};
  p.secret_stream = noise::secret_stream_info{};
  return p;
}

struct client {
  noise::keypair kp;
  noise::peer_handshake hs;
  explicit client(uint8_t seed, const key32& server = server_kp.public_key)
    : kp(noise::keypair::from_seed(filled(seed))), hs(kp, server) {}
};

handshake_for_server relayed(bytes noise, ipv4_address peer = {{192, 168, 1, 9}, 4000}) {
  handshake_for_server h;
  h.target = filled(0);
  h.mode = mode::from_relay;
  h.noise = std::move(noise);
  h.peer_address = peer;
  return h;
}

const ipv4_address relay_node{{10, 0, 0, 1}, 49800};

} // namespace

TEST_CASE("responder: a relayed handshake is answered and gives the secret-stream keys", "[unit]") {
  server_handshake s(server_kp);
  client c(2);
  auto msg = c.hs.send(client_payload(77));
  auto ans = s.on_handshake(relayed(msg), relay_node, {}, 1234, {});
  REQUIRE(ans.verdict == handshake_verdict::accepted);
  REQUIRE(ans.reply);
  REQUIRE(ans.accepted);
  CHECK(ans.accepted->remote_public_key == c.kp.public_key);
  CHECK(ans.accepted->remote_stream_id == 77);
  CHECK(ans.accepted->local_stream_id == 1234);
  CHECK(ans.accepted->client_address == ipv4_address{{192, 168, 1, 9}, 4000});
  CHECK_FALSE(ans.accepted->direct);

  auto theirs = c.hs.recv(*ans.reply);
  CHECK(theirs.error == noise::error_none);
  CHECK(theirs.firewall == noise::firewall_unknown);
  CHECK_FALSE(theirs.holepunch);  // we cannot holepunch: the client connects to us
  CHECK(theirs.addresses4.empty());
  REQUIRE(theirs.udx);
  CHECK(theirs.udx->id == 1234);
  CHECK(theirs.secret_stream);
  auto mine = c.hs.final();
  CHECK(mine.keys.tx == ans.accepted->result.keys.rx);
  CHECK(mine.keys.rx == ans.accepted->result.keys.tx);
  CHECK(mine.stream_id == ans.accepted->result.remote_id);
}

TEST_CASE("responder: a public address makes us OPEN and is advertised", "[unit]") {
  server_handshake s(server_kp);
  client c(2);
  server_address_info info;
  info.public_address = ipv4_address{{203, 0, 113, 5}, 7000};
  auto ans = s.on_handshake(relayed(c.hs.send(client_payload())), relay_node, info, 9, {});
  REQUIRE(ans.reply);
  auto theirs = c.hs.recv(*ans.reply);
  CHECK(theirs.firewall == noise::firewall_open);
  REQUIRE(theirs.addresses4.size() == 1);
  CHECK(theirs.addresses4[0] == *info.public_address);
}

TEST_CASE("responder: a direct handshake is from the sender", "[unit]") {
  server_handshake s(server_kp);
  client c(2);
  handshake_for_server h;
  h.mode = mode::from_client;
  h.noise = c.hs.send(client_payload());
  ipv4_address sender{{127, 0, 0, 1}, 5000};
  auto ans = s.on_handshake(h, sender, {}, 9, {});
  REQUIRE(ans.accepted);
  CHECK(ans.accepted->direct);
  CHECK(ans.accepted->client_address == sender);
}

TEST_CASE("responder: a resent or relayed-twice handshake gets the same reply and one connection",
          "[unit]") {
  server_handshake s(server_kp);
  client c(2);
  auto msg = c.hs.send(client_payload());
  auto first = s.on_handshake(relayed(msg), relay_node, {}, 1, {});
  REQUIRE(first.accepted);
  // The same noise through a second relay, and a retry, within 10 s.
  auto second = s.on_handshake(relayed(msg), ipv4_address{{10, 0, 0, 2}, 1}, {}, 2, rpc::time_point{} + 3s);
  auto third = s.on_handshake(relayed(msg), relay_node, {}, 3, rpc::time_point{} + 9s);
  for (auto* a : {&second, &third}) {
    CHECK(a->verdict == handshake_verdict::resent);
    CHECK_FALSE(a->accepted);
    CHECK(a->reply == first.reply);
  }
  CHECK(s.size() == 1);
  s.expire(rpc::time_point{} + 10s);
  CHECK(s.size() == 0);
}

TEST_CASE("responder: the firewall hook sees the client key and refuses before any state", "[unit]") {
  server_handshake s(server_kp);
  client allowed(2), denied(3);
  std::vector<key32> seen;
  s.set_firewall([&](const key32& pk, const noise::noise_payload&, const ipv4_address&) {
    seen.push_back(pk);
    return pk != allowed.kp.public_key;
  });
  auto msg = denied.hs.send(client_payload());
  auto no = s.on_handshake(relayed(msg), relay_node, {}, 5, {});
  CHECK(no.verdict == handshake_verdict::refused);
  CHECK_FALSE(no.reply);
  CHECK_FALSE(no.accepted);
  // A resend stays refused without asking the hook again.
  auto again = s.on_handshake(relayed(msg), relay_node, {}, 5, {});
  CHECK_FALSE(again.reply);
  CHECK_FALSE(again.accepted);
  auto yes = s.on_handshake(relayed(allowed.hs.send(client_payload())), relay_node, {}, 6, {});
  CHECK(yes.verdict == handshake_verdict::accepted);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == denied.kp.public_key);
  CHECK(seen[1] == allowed.kp.public_key);
}

TEST_CASE("responder: forged noise, a wrong server key and other modes are refused", "[unit]") {
  server_handshake s(server_kp);
  auto wrong = client(2, noise::keypair::from_seed(filled(9)).public_key);
  auto a = s.on_handshake(relayed(wrong.hs.send(client_payload())), relay_node, {}, 5, {});
  CHECK(a.verdict == handshake_verdict::bad_noise);
  CHECK_FALSE(a.reply);

  client c(3);
  auto msg = c.hs.send(client_payload());
  msg[40] ^= 1;  // inside the encrypted static key
  auto b = s.on_handshake(relayed(msg), relay_node, {}, 5, {});
  CHECK(b.verdict == handshake_verdict::bad_noise);
  auto g = s.on_handshake(relayed(bytes{1, 2, 3}), relay_node, {}, 5, {});
  CHECK(g.verdict == handshake_verdict::bad_noise);
  auto e = s.on_handshake(relayed(bytes{}), relay_node, {}, 5, {});
  CHECK(e.verdict == handshake_verdict::bad_noise);

  client d(4);
  auto h = relayed(d.hs.send(client_payload()));
  h.mode = mode::from_server;
  CHECK(s.on_handshake(h, relay_node, {}, 5, {}).verdict == handshake_verdict::wrong_mode);
  h.mode = mode::reply;
  CHECK(s.on_handshake(h, relay_node, {}, 5, {}).verdict == handshake_verdict::wrong_mode);
}

TEST_CASE("responder: no udx is ABORTED, another version VERSION_MISMATCH, no stream", "[unit]") {
  server_handshake s(server_kp);
  client c(2);
  auto p = client_payload();
  p.udx.reset();
  auto ans = s.on_handshake(relayed(c.hs.send(p)), relay_node, {}, 5, {});
  CHECK(ans.verdict == handshake_verdict::error_reply);
  CHECK_FALSE(ans.accepted);
  REQUIRE(ans.reply);
  auto theirs = c.hs.recv(*ans.reply);
  CHECK(theirs.error == noise::error_aborted);
  REQUIRE(theirs.udx);
  CHECK(theirs.udx->id == 0);

  client big(3);
  auto ans2 = s.on_handshake(relayed(big.hs.send(client_payload(uint64_t{1} << 33))), relay_node, {}, 5, {});
  CHECK(ans2.verdict == handshake_verdict::error_reply);
}

TEST_CASE("responder: a handshake flood from one source is bounded, others unaffected", "[unit]") {
  server_handshake_config cfg;
  cfg.max_per_source = 4;
  cfg.max_entries = 10;
  server_handshake s(server_kp, cfg);
  const ipv4_address flooder{{198, 51, 100, 7}, 1};
  size_t accepted = 0, flood = 0;
  for (uint8_t i = 0; i < 50; ++i) {
    client c(static_cast<uint8_t>(10 + i));
    auto a = s.on_handshake(relayed(c.hs.send(client_payload()), flooder), relay_node, {}, i, {});
    accepted += a.verdict == handshake_verdict::accepted;
    flood += a.verdict == handshake_verdict::flood;
  }
  CHECK(accepted == 4);
  CHECK(flood == 46);
  CHECK(s.size() == 4);
  // Garbage counts toward the source too.
  // Another client still gets through while the flood's entries live.
  client other(200);
  auto o = s.on_handshake(relayed(other.hs.send(client_payload())), relay_node, {}, 99, {});
  CHECK(o.verdict == handshake_verdict::accepted);
  // The global cap holds whatever the sources.
  for (uint8_t i = 0; i < 20; ++i) {
    client c(static_cast<uint8_t>(100 + i));
    s.on_handshake(relayed(c.hs.send(client_payload()), ipv4_address{{172, 16, 0, i}, 1}), relay_node, {}, i,
                   {});
  }
  CHECK(s.size() == 10);
  // After 10 s the flooder may try again.
  client late(250);
  auto l = s.on_handshake(relayed(late.hs.send(client_payload()), flooder), relay_node, {}, 1,
                          rpc::time_point{} + 10s);
  CHECK(l.verdict == handshake_verdict::accepted);
}
