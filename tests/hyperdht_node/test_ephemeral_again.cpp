// A hyperdht node whose dht node turns ephemeral again (dht-rpc's
// 'ephemeral', an adaptive node after a sleep) stops serving the storage
// commands, as hyperdht does (index.js:414: `this.id` is null while
// ephemeral), and serves them again from the same store once it is
// persistent again (hyperdht keeps its Persistent: `once('persistent')`).
#include "hd_fixture.hpp"

using namespace ht;
using namespace ht::hd_test;
using namespace std::chrono_literals;

TEST_CASE("a node that turns ephemeral again stops serving storage until persistent again",
          "[scenario]") {
  hd_network net(3);
  auto client = net.add_peer();
  net.run_for(5s);
  const size_t host = 1;
  auto sink = caf::actor_cast<dht_event_sink_actor>(*net.hds[host]);
  // An immutable value stored while persistent.
  bytes value = text("kept across the ephemeral spell");
  auto target = hd::hash32(value);
  auto tok = net.send_request(client, net.nodes[host].address, hd::command::immutable_get, target,
                              std::nullopt);
  REQUIRE(tok->value);
  REQUIRE(tok->value->token);
  auto put = net.send_request(client, net.nodes[host].address, hd::command::immutable_put, target,
                              value, tok->value->token);
  REQUIRE(put->value);
  REQUIRE(put->value->error == 0);
  REQUIRE(net.status(host).serving_storage);

  // The dht node's event (what node_actor publishes for rpc::ephemeral_event).
  caf::anon_send(sink, dht_event_atom::value, dht_event{dht_event::kind::ephemeral, {}, {}});
  net.run();
  CHECK_FALSE(net.status(host).serving_storage);
  auto get = net.send_request(client, net.nodes[host].address, hd::command::immutable_get, target,
                              std::nullopt);
  REQUIRE(get->value);
  CHECK(get->value->error == rpc::error_code::unknown_command);

  caf::anon_send(sink, dht_event_atom::value, dht_event{dht_event::kind::persistent, {}, {}});
  net.run();
  CHECK(net.status(host).serving_storage);
  get = net.send_request(client, net.nodes[host].address, hd::command::immutable_get, target,
                         std::nullopt);
  REQUIRE(get->value);
  CHECK(get->value->error == 0);
  REQUIRE(get->value->value);
  CHECK(*get->value->value == value);
}
