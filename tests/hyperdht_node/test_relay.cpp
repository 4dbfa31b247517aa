// The relay side of the hyperdht node actor, on virtual sockets:
// PEER_HANDSHAKE / PEER_HOLEPUNCH from a client through a relay node to an
// announced server (FROM_CLIENT -> FROM_RELAY, FROM_SERVER -> REPLY with
// the client's tid), and servers listening on a hyperdht node (hd_listen):
// their handler gets the handshake and its reply noise goes back through the
// router, directly or through a relay.
#include "hd_fixture.hpp"

using namespace ht;
using namespace ht::hd_test;
using namespace std::chrono_literals;

namespace {

using request_log = std::shared_ptr<std::vector<rpc::incoming_request>>;

/// A server played by hand on a bare dht node: answers a FROM_RELAY
/// handshake with FROM_SERVER{"world", peerAddress} relayed back to the
/// relay, as hyperdht's server does.
dht_command_handler_actor::behavior_type hand_server(dht_command_handler_actor::pointer self,
                                                     dht_node_actor node, request_log log) {
  return {
    [=](dht_incoming_atom, rpc::incoming_request& req) {
      log->push_back(req);
      auto m = hd::decode_value<hd::handshake_message>(*req.value);
      if (m.mode != hd::mode::from_relay)
        return;
      hd::handshake_message out;
      out.mode = hd::mode::from_server;
      out.noise = text("world");
      out.peer_address = m.peer_address;
      self->send(node, dht_relay_atom::value, req, dht_relay_options{enc::encode(out), req.from, {}});
    },
  };
}

struct server_log {
  std::vector<hd::handshake_for_server> handshakes;
  std::vector<hd::holepunch_for_server> holepunches;
  bool refuse = false;
};
using server_log_ptr = std::shared_ptr<server_log>;

hd_server_handler_actor::behavior_type local_server(hd_server_handler_actor::pointer,
                                                    server_log_ptr log) {
  return {
    [=](hd_handshake_atom, const rpc::incoming_request&,
        const hd::handshake_for_server& hs) -> std::optional<bytes> {
      log->handshakes.push_back(hs);
      if (log->refuse)
        return std::nullopt;
      return text("reply-noise");
    },
    [=](hd_holepunch_atom, const rpc::incoming_request&,
        const hd::holepunch_for_server& hp) -> std::optional<bytes> {
      log->holepunches.push_back(hp);
      return text("punch-back");
    },
  };
}

bytes handshake(uint64_t mode, const char* noise) {
  hd::handshake_message m;
  m.mode = mode;
  m.noise = text(noise);
  return enc::encode(m);
}

} // namespace

TEST_CASE("a handshake from a client is relayed to an announced server and its answer back to the client",
          "[scenario]") {
  hd_network net;
  auto server = net.add_peer();
  auto client = net.add_peer();
  net.run_for(5s);
  auto log = std::make_shared<std::vector<rpc::incoming_request>>();
  caf::anon_send(net.nodes[server].node, dht_register_atom::value, hd::command::peer_handshake,
                 dht_command_handler_actor{net.sys.spawn(hand_server, net.nodes[server].node, log)});
  auto kp = noise::keypair::from_seed(fill(21));
  auto target = hd::hash32(kp.public_key);
  REQUIRE(net.announce(server, target, kp) >= 3);

  // Any node that stored the announce relays; pick the closest.
  auto relay = net.query(client, target, hd::command::find_peer).closest.at(0).from;
  auto ans = net.send_request(client, relay, hd::command::peer_handshake, target,
                              handshake(hd::mode::from_client, "hello"));
  REQUIRE(log->size() == 1);  // FROM_RELAY only: our FROM_SERVER goes to the relay
  auto got = hd::decode_value<hd::handshake_message>(*(*log)[0].value);
  CHECK(got.mode == hd::mode::from_relay);
  CHECK(got.noise == text("hello"));
  REQUIRE(got.peer_address);
  CHECK(*got.peer_address == net.nodes[client].address);
  CHECK((*log)[0].from == relay);

  // The reply matched the client's own request: same tid.
  REQUIRE(ans->value);
  CHECK(ans->value->error == 0);
  auto reply = hd::decode_value<hd::handshake_message>(*ans->value->value);
  CHECK(reply.mode == hd::mode::reply);
  CHECK(reply.noise == text("world"));
  REQUIRE(reply.peer_address);
  CHECK(*reply.peer_address == net.nodes[server].address);
}

TEST_CASE("a handshake for an unknown target is not relayed", "[scenario]") {
  hd_network net(4);
  auto client = net.add_peer();
  net.run_for(5s);
  auto ans = net.send_request(client, net.nodes[1].address, hd::command::peer_handshake, fill(0x66),
                              handshake(hd::mode::from_client, "hello"));
  // hyperdht answers with closer nodes, no value
  REQUIRE(ans->value);
  CHECK_FALSE(ans->value->value);
  // garbage is dropped
  auto junk = net.send_request(client, net.nodes[1].address, hd::command::peer_handshake, fill(0x66),
                               bytes{0xff, 0xff, 0xff});
  CHECK(junk->error);
  CHECK(net.status(1).router.dropped >= 1);
}

TEST_CASE("a server listening on a hyperdht node answers handshakes through its handler", "[scenario]") {
  hd_network net;
  // The server's own node: ephemeral, like a hyperdht server behind a NAT.
  auto host = net.add_hd_node({net.nodes[0].address}, rpc::node_mode::ephemeral);
  auto client = net.add_peer();
  net.run_for(5s);
  auto kp = noise::keypair::from_seed(fill(22));
  auto target = hd::hash32(kp.public_key);
  auto log = std::make_shared<server_log>();
  auto handler = net.sys.spawn(local_server, log);
  caf::anon_send(*net.hds[host], hd_listen_atom::value, target,
                 enc::encode(hd::peer_record{kp.public_key, {}}), hd_server_handler_actor{handler});
  REQUIRE(net.announce(host, target, kp) >= 3);

  SECTION("directly: FROM_CLIENT to the server's node -> REPLY with the handler's noise") {
    auto ans = net.send_request(client, net.nodes[host].address, hd::command::peer_handshake, target,
                                handshake(hd::mode::from_client, "direct"));
    REQUIRE(log->handshakes.size() == 1);
    CHECK(log->handshakes[0].mode == hd::mode::from_client);
    CHECK(log->handshakes[0].noise == text("direct"));
    REQUIRE(ans->value);
    auto reply = hd::decode_value<hd::handshake_message>(*ans->value->value);
    CHECK(reply.mode == hd::mode::reply);
    CHECK(reply.noise == text("reply-noise"));
  }
  SECTION("through a relay: FROM_RELAY to the handler, its FROM_SERVER relayed back as REPLY") {
    auto relay = net.query(client, target, hd::command::find_peer).closest.at(0).from;
    auto ans = net.send_request(client, relay, hd::command::peer_handshake, target,
                                handshake(hd::mode::from_client, "relayed"));
    REQUIRE(log->handshakes.size() == 1);
    CHECK(log->handshakes[0].mode == hd::mode::from_relay);
    REQUIRE(log->handshakes[0].peer_address);
    CHECK(*log->handshakes[0].peer_address == net.nodes[client].address);
    REQUIRE(ans->value);
    auto reply = hd::decode_value<hd::handshake_message>(*ans->value->value);
    CHECK(reply.mode == hd::mode::reply);
    CHECK(reply.noise == text("reply-noise"));

    // PEER_HOLEPUNCH the same way: FROM_CLIENT to the relay, FROM_RELAY to
    // the handler, its payload back as REPLY.
    hd::holepunch_message hp;
    hp.mode = hd::mode::from_client;
    hp.id = 7;
    hp.payload = text("punch");
    hp.peer_address = net.nodes[host].address;
    auto punched = net.send_request(client, relay, hd::command::peer_holepunch, target, enc::encode(hp));
    REQUIRE(log->holepunches.size() == 1);
    CHECK(log->holepunches[0].payload == text("punch"));
    CHECK(log->holepunches[0].peer_address == net.nodes[client].address);
    REQUIRE(punched->value);
    auto back = hd::decode_value<hd::holepunch_message>(*punched->value->value);
    CHECK(back.mode == hd::mode::reply);
    CHECK(back.payload == text("punch-back"));
  }
  SECTION("a refusing handler: nothing is sent, the client times out") {
    log->refuse = true;
    auto ans = net.send_request(client, net.nodes[host].address, hd::command::peer_handshake, target,
                                handshake(hd::mode::from_client, "no"));
    // every retry of the client's dht-rpc request reaches the handler again
    CHECK(log->handshakes.size() >= 1);
    CHECK(ans->error);
    CHECK(net.status(host).router.relayed == 0);
  }
  SECTION("a handler that terminates is unlistened") {
    REQUIRE(net.status(host).local_servers == 1);
    caf::anon_send_exit(handler, caf::exit_reason::kill);
    net.run();
    CHECK(net.status(host).local_servers == 0);
    auto ans = net.send_request(client, net.nodes[host].address, hd::command::peer_handshake, target,
                                handshake(hd::mode::from_client, "gone"));
    CHECK(log->handshakes.empty());
    REQUIRE(ans->value);
    CHECK_FALSE(ans->value->value);  // closer nodes only, as for any unknown target
  }
}

namespace {

/// A server that never answers (keeps the promises open).
struct silent_log {
  std::vector<caf::typed_response_promise<std::optional<bytes>>> open;
};

hd_server_handler_actor::behavior_type silent_server(hd_server_handler_actor::pointer self,
                                                     std::shared_ptr<silent_log> log) {
  return {
    [=](hd_handshake_atom, const rpc::incoming_request&,
        const hd::handshake_for_server&) -> caf::result<std::optional<bytes>> {
      log->open.push_back(self->make_response_promise<std::optional<bytes>>());
      return log->open.back();
    },
    [=](hd_holepunch_atom, const rpc::incoming_request&,
        const hd::holepunch_for_server&) -> caf::result<std::optional<bytes>> {
      log->open.push_back(self->make_response_promise<std::optional<bytes>>());
      return log->open.back();
    },
  };
}

} // namespace

TEST_CASE("handshakes waiting for a slow local server are capped, and time out", "[scenario]") {
  hd_network net(3);
  hyperdht_node_options opts;
  opts.max_pending_server_requests = 3;
  opts.handler_timeout = 5s;
  auto host = net.add_hd_node({net.nodes[0].address}, rpc::node_mode::ephemeral, opts);
  auto client = net.add_peer();
  net.run_for(5s);
  auto kp = noise::keypair::from_seed(fill(23));
  auto target = hd::hash32(kp.public_key);
  auto log = std::make_shared<silent_log>();
  caf::anon_send(*net.hds[host], hd_listen_atom::value, target,
                 enc::encode(hd::peer_record{kp.public_key, {}}),
                 hd_server_handler_actor{net.sys.spawn(silent_server, log)});
  net.run();

  auto fire = [&](int n) {
    for (int i = 0; i < n; ++i) {
      rpc::request_options o;
      o.to = net.nodes[host].address;
      o.command = hd::command::peer_handshake;
      o.target = target;
      o.value = handshake(hd::mode::from_client, "flood");
      o.retries = 0;
      ask<rpc::reply>(net.sys, net.nodes[client].node, dht_request_atom::value, o);
    }
  };
  fire(5);
  net.run_for(2s);
  CHECK(log->open.size() == 3);
  auto s = net.status(host);
  CHECK(s.server_overload == 2);
  net.run_for(5s);  // the handler timeout frees the slots
  s = net.status(host);
  CHECK(s.handler_failures == 3);
  fire(1);
  net.run_for(1s);
  CHECK(log->open.size() == 4);
}
