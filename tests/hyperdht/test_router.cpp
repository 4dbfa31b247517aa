// The relay decisions per mode (router.js), and the forwards table's life.
#include <catch2/catch.hpp>

#include "dht/hyperdht/router.hpp"
#include "vectors.hpp"

using namespace ht::hyperdht;
using namespace ht::hyperdht_test;
using namespace std::chrono_literals;

namespace {

const auto t0 = ht::hyperdht::clock::time_point{} + 1000h;
const key32 target = fill32(0x77);
const auto server_at = ip("10.0.0.5", 4000);
const auto client = ip("20.0.0.1", 1234);
const auto relay_node = ip("40.0.0.1", 40);
const bytes noise(64, 0xee);
const bytes record = ht::enc::encode(peer_record{fill32(1), {}});

ht::rpc::incoming_request hs_req(uint64_t m, ipv4_address from, std::optional<ipv4_address> peer = {},
                             std::optional<ipv4_address> relay = {}) {
  return request(command::peer_handshake, target, ht::enc::encode(handshake_message{m, noise, peer, relay}), from);
}

ht::rpc::incoming_request hp_req(uint64_t m, ipv4_address from, std::optional<ipv4_address> peer = {}) {
  return request(command::peer_holepunch, target, ht::enc::encode(holepunch_message{m, 3, bytes(20, 0xdd), peer}), from);
}

template <class T>
T relayed(const decision& d, const ipv4_address& to) {
  auto* r = std::get_if<relay_action>(&d);
  REQUIRE(r);
  CHECK(r->to == to);
  return decode_value<T>(r->value);
}

template <class T>
T replied(const decision& d, const std::optional<ipv4_address>& to) {
  auto* r = std::get_if<reply_action>(&d);
  REQUIRE(r);
  CHECK(r->opts.to == to);
  CHECK_FALSE(r->opts.token);
  CHECK_FALSE(r->opts.closer_nodes);
  REQUIRE(r->opts.value);
  return decode_value<T>(*r->opts.value);
}

} // namespace

TEST_CASE("router: PEER_HANDSHAKE through an announced server's relay", "[unit]") {
  router rt(router_config{}, t0);
  rt.set_forward(target, server_at, record, t0);

  // client -> relay: FROM_CLIENT becomes FROM_RELAY{peerAddress: the client} to the server
  auto m1 = relayed<handshake_message>(rt.on_peer_handshake(hs_req(mode::from_client, client), t0), server_at);
  CHECK(m1 == handshake_message{mode::from_relay, noise, client, std::nullopt});
  // server -> relay: FROM_SERVER{peerAddress: client} becomes a REPLY to the client
  auto m2 = replied<handshake_message>(rt.on_peer_handshake(hs_req(mode::from_server, server_at, client), t0), client);
  CHECK(m2 == handshake_message{mode::reply, noise, server_at, std::nullopt});
  // another relay's FROM_RELAY: FROM_SECOND_RELAY{relayAddress: that relay} to the server
  auto m3 = relayed<handshake_message>(rt.on_peer_handshake(hs_req(mode::from_relay, relay_node, client), t0), server_at);
  CHECK(m3 == handshake_message{mode::from_second_relay, noise, client, relay_node});
  CHECK(rt.stats().relayed == 3);
}

TEST_CASE("router: PEER_HANDSHAKE for a server listening here", "[unit]") {
  router rt(router_config{}, t0);
  rt.listen(target, record);
  const bytes answer(48, 0xbe);
  for (uint64_t m : {mode::from_client, mode::from_relay, mode::from_second_relay}) {
    auto req = hs_req(m, relay_node, client, m == mode::from_second_relay ? std::optional(ip("41.0.0.1", 41)) : std::nullopt);
    decision d = rt.on_peer_handshake(req, t0);
    auto* hs = std::get_if<handshake_for_server>(&d);
    REQUIRE(hs);
    CHECK(hs->noise == noise);
    CHECK(hs->peer_address == client);
    CHECK(std::holds_alternative<drop>(rt.server_handshake_reply(req, *hs, std::nullopt)));  // the handler refused
    decision out = rt.server_handshake_reply(req, *hs, answer);
    if (m == mode::from_client) {
      CHECK(replied<handshake_message>(out, std::nullopt) == handshake_message{mode::reply, answer, std::nullopt, std::nullopt});
    } else {
      auto to = m == mode::from_relay ? relay_node : ip("41.0.0.1", 41);
      CHECK(relayed<handshake_message>(out, to) == handshake_message{mode::from_server, answer, client, std::nullopt});
    }
  }
  // An announce for the same target cannot take the local server's place.
  rt.set_forward(target, server_at, record, t0);
  CHECK(std::holds_alternative<handshake_for_server>(rt.on_peer_handshake(hs_req(mode::from_client, client), t0)));
}

TEST_CASE("router: PEER_HOLEPUNCH per mode", "[unit]") {
  router rt(router_config{}, t0);
  rt.set_forward(target, server_at, record, t0);
  auto m1 = relayed<holepunch_message>(rt.on_peer_holepunch(hp_req(mode::from_client, client), t0), server_at);
  CHECK(m1.mode == mode::from_relay);
  CHECK(m1.peer_address == client);
  CHECK(m1.id == 3);
  auto m2 = replied<holepunch_message>(rt.on_peer_holepunch(hp_req(mode::from_server, server_at, client), t0), client);
  CHECK(m2.mode == mode::reply);
  CHECK(m2.peer_address == server_at);
  // FROM_RELAY is for a local server only.
  CHECK(std::holds_alternative<drop>(rt.on_peer_holepunch(hp_req(mode::from_relay, relay_node, client), t0)));

  router local(router_config{}, t0);
  local.listen(target, record);
  auto req = hp_req(mode::from_relay, relay_node, client);
  decision d = local.on_peer_holepunch(req, t0);
  auto* hp = std::get_if<holepunch_for_server>(&d);
  REQUIRE(hp);
  auto out = relayed<holepunch_message>(local.server_holepunch_reply(req, *hp, bytes{1, 2}), relay_node);
  CHECK(out == holepunch_message{mode::from_server, 0, bytes{1, 2}, client});
}

TEST_CASE("router: announced forwards expire, local ones do not", "[unit]") {
  const duration tick = 800000ms;
  router rt(router_config{}, t0);
  rt.set_forward(target, server_at, record, t0);
  rt.listen(fill32(0x78), record);
  CHECK(rt.get(target, t0 + 2 * tick - 1ms));  // read in the oldest generation: moved back
  CHECK(rt.get(target, t0 + 3 * tick + 1ms) == nullptr);
  CHECK(rt.get(fill32(0x78), t0 + 1000h));
  rt.remove(fill32(0x78));
  CHECK(rt.get(fill32(0x78), t0 + 1000h) == nullptr);
  // Without a forward a FROM_CLIENT gets closer nodes, a FROM_RELAY nothing.
  auto d = rt.on_peer_handshake(hs_req(mode::from_client, client), t0 + 1000h);
  auto* r = std::get_if<reply_action>(&d);
  REQUIRE(r);
  CHECK(r->opts.closer_nodes);
  CHECK_FALSE(r->opts.value);
  CHECK(std::holds_alternative<drop>(rt.on_peer_handshake(hs_req(mode::from_relay, relay_node, client), t0 + 1000h)));
}

TEST_CASE("router: a local server's answer leaves from the socket its handler names", "[unit]") {
  router rt(router_config{}, t0);
  rt.listen(target, record);
  auto direct = hs_req(mode::from_client, client);
  auto relayed_req = hs_req(mode::from_relay, relay_node, client);
  auto d1 = rt.on_peer_handshake(direct, t0);
  auto d2 = rt.on_peer_handshake(relayed_req, t0);
  auto r1 = rt.server_handshake_reply(direct, std::get<handshake_for_server>(d1), bytes{1}, uint8_t{1});
  auto r2 = rt.server_handshake_reply(relayed_req, std::get<handshake_for_server>(d2), bytes{1}, uint8_t{1});
  CHECK(std::get<reply_action>(r1).opts.socket == uint8_t{1});
  CHECK(std::get<relay_action>(r2).socket == uint8_t{1});
  auto hp = hp_req(mode::from_relay, relay_node, client);
  auto d3 = rt.on_peer_holepunch(hp, t0);
  CHECK(std::get<relay_action>(rt.server_holepunch_reply(hp, std::get<holepunch_for_server>(d3), bytes{2}, uint8_t{1})).socket ==
        uint8_t{1});
  // Without one, the request's own socket (node.reply/relay's default).
  CHECK_FALSE(std::get<relay_action>(rt.server_handshake_reply(relayed_req, std::get<handshake_for_server>(d2), bytes{1})).socket);
}
