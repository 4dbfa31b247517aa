// The dht node actor on its own and in small networks: what it does for
// the layer above (requests, handlers, replies, relays, status, events,
// errors), on virtual sockets and virtual time.
#include <catch2/catch.hpp>

#include <functional>

#include "actors/dht/host_port.hpp"
#include "actors/dht/socket_handler.hpp"
#include "dht_fixture.hpp"

using namespace ht;
using namespace ht::dht::test;
using namespace std::chrono_literals;

namespace {

using handler_fn = std::function<void(dht_command_handler_actor::pointer, rpc::incoming_request&)>;

dht_command_handler_actor::behavior_type scripted_handler(dht_command_handler_actor::pointer self,
                                                          handler_fn fn) {
  return {[=](dht_incoming_atom, rpc::incoming_request& req) { fn(self, req); }};
}

dht_event_sink_actor::behavior_type event_sink(dht_event_sink_actor::pointer,
                                               std::shared_ptr<std::vector<dht_event>> out) {
  return {[=](dht_event_atom, dht_event& e) { out->push_back(std::move(e)); }};
}

rpc::request_options user_request(const rpc::ipv4_address& to, uint64_t command,
                                  bytes value = {}) {
  rpc::request_options o;
  o.to = to;
  o.command = command;
  o.value = std::move(value);
  return o;
}

struct three_nodes : sim_network {
  three_nodes() {
    add_node({});
    add_node({nodes[0].address});
    add_node({nodes[0].address});
    run_for(5s);
  }
};

} // namespace

TEST_CASE("dht addresses: IPv4 and IPv4-mapped IPv6 are dht-rpc peers, other IPv6 is not", "[unit]") {
  auto v4 = udx_endpoint::parse("10.2.3.4", 5000);
  auto mapped = udx_endpoint::parse("::ffff:10.2.3.4", 5000);
  auto v6 = udx_endpoint::parse("fe80::1", 5000);
  auto a = dht::to_ipv4(v4);
  REQUIRE(a);
  CHECK(a->host_string() == "10.2.3.4");
  CHECK(a->port == 5000);
  REQUIRE(dht::to_ipv4(mapped));
  CHECK(*dht::to_ipv4(mapped) == *a);
  CHECK_FALSE(dht::to_ipv4(v6));
  CHECK(dht::to_endpoint(*a) == v4);
  CHECK(dht::to_endpoint(*a, 6) == mapped);
}

TEST_CASE("dht host:port lists: explicit IPv4 and a port, or a clear error", "[unit]") {
  auto a = dht::parse_host_port("127.0.0.1:49800");
  CHECK(dht::to_string(a) == "127.0.0.1:49800");
  for (auto bad : {"127.0.0.1", "localhost:1", "127.0.0.1:0", "127.0.0.1:70000",
                   "1.2.3:4", "127.0.0.1:12a", ":5"})
    CHECK_THROWS_AS(dht::parse_host_port(bad), std::invalid_argument);
}

TEST_CASE("dht errors are a CAF error category the layer above can match", "[unit]") {
  auto e = make_error(dht_error::timeout);
  CHECK(dht_error_of(e) == dht_error::timeout);
  CHECK(describe(e) == "dht: timeout");
  CHECK_FALSE(dht_error_of(caf::make_error(caf::sec::runtime_error)));
}

TEST_CASE_METHOD(three_nodes, "dht node: a user command without a handler is answered UNKNOWN_COMMAND; a handler's reply reaches the requester", "[scenario]") {
  auto rec = std::make_shared<handler_record>();
  auto h = sys.spawn(echo_handler, nodes[1].node, rec);
  caf::anon_send(nodes[1].node, dht_register_atom::value, uint64_t{5},
                 dht_command_handler_actor{h});
  run();
  auto ok = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value,
                            user_request(nodes[1].address, 5, {1, 2, 3}));
  auto unknown = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value,
                                 user_request(nodes[1].address, 6));
  REQUIRE(run_events([&] { return ok->done() && unknown->done(); }, 10s));
  REQUIRE(ok->value);
  CHECK(ok->value->error == 0);
  CHECK(ok->value->value == bytes{3, 2, 1});
  CHECK(ok->value->from == nodes[1].address);
  CHECK(ok->value->token); // reply() includes a token by default
  REQUIRE(rec->requests.size() == 1);
  CHECK(rec->requests[0].command == 5);
  CHECK(rec->requests[0].from == nodes[0].address);
  REQUIRE(unknown->value);
  CHECK(unknown->value->error == rpc::error_code::unknown_command);
  CHECK_FALSE(unknown->value->token);
  auto st = ask<dht_status>(sys, nodes[1].node, status_atom::value);
  run();
  REQUIRE(st->value);
  CHECK(st->value->unknown_commands == 1);
}

TEST_CASE_METHOD(three_nodes, "dht node: a handler that terminates is forgotten; unregister works too", "[scenario]") {
  auto rec = std::make_shared<handler_record>();
  auto h = sys.spawn(echo_handler, nodes[1].node, rec);
  caf::anon_send(nodes[1].node, dht_register_atom::value, uint64_t{3},
                 dht_command_handler_actor{h});
  caf::anon_send(nodes[1].node, dht_register_atom::value, uint64_t{4},
                 dht_command_handler_actor{h});
  run();
  caf::anon_send(nodes[1].node, dht_unregister_atom::value, uint64_t{4});
  run();
  auto r4 = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value,
                            user_request(nodes[1].address, 4));
  REQUIRE(run_events([&] { return r4->done(); }, 10s));
  REQUIRE(r4->value);
  CHECK(r4->value->error == rpc::error_code::unknown_command);
  caf::anon_send_exit(h, caf::exit_reason::kill);
  run();
  auto r3 = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value,
                            user_request(nodes[1].address, 3));
  REQUIRE(run_events([&] { return r3->done(); }, 10s));
  REQUIRE(r3->value);
  CHECK(r3->value->error == rpc::error_code::unknown_command);
  CHECK(rec->requests.empty());
}

TEST_CASE_METHOD(three_nodes, "dht node: error() and relay() as hyperdht's handshake routing uses them", "[scenario]") {
  // node 1 relays command 7 to node 2; node 2 relays it back to node 1
  // (same tid); node 1 then answers the original requester, as a hyperdht
  // relay answers FROM_SERVER with reply({to: client}).
  auto client = nodes[0].address;
  auto seen2 = std::make_shared<std::vector<rpc::incoming_request>>();
  auto n1 = nodes[1].node, n2 = nodes[2].node;
  auto a2 = nodes[2].address;
  auto h1 = sys.spawn(scripted_handler, handler_fn{[=](auto*, rpc::incoming_request& req) {
    if (req.from == client) {
      caf::anon_send(n1, dht_relay_atom::value, req, dht_relay_options{bytes{9}, a2, {}});
    } else {
      rpc::reply_options o;
      o.value = bytes{42};
      o.to = client;
      caf::anon_send(n1, dht_reply_atom::value, req, o);
    }
  }});
  auto a1 = nodes[1].address;
  auto h2 = sys.spawn(scripted_handler, handler_fn{[=](auto*, rpc::incoming_request& req) {
    seen2->push_back(req);
    caf::anon_send(n2, dht_relay_atom::value, req, dht_relay_options{bytes{10}, a1, {}});
  }});
  caf::anon_send(n1, dht_register_atom::value, uint64_t{7}, dht_command_handler_actor{h1});
  caf::anon_send(n2, dht_register_atom::value, uint64_t{7}, dht_command_handler_actor{h2});
  // command 8 on node 1: an error with a code of the layer above
  auto h_err = sys.spawn(scripted_handler, handler_fn{[=](auto*, rpc::incoming_request& req) {
    caf::anon_send(n1, dht_error_atom::value, req, uint64_t{3}, rpc::reply_options{});
  }});
  caf::anon_send(n1, dht_register_atom::value, uint64_t{8}, dht_command_handler_actor{h_err});
  run();
  auto relayed = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value,
                                 user_request(nodes[1].address, 7, {1}));
  auto failed = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value,
                                user_request(nodes[1].address, 8));
  REQUIRE(run_events([&] { return relayed->done() && failed->done(); }, 10s));
  REQUIRE(relayed->value);
  CHECK(relayed->value->from == nodes[1].address);
  CHECK(relayed->value->value == bytes{42});
  REQUIRE(seen2->size() == 1);
  CHECK((*seen2)[0].value == bytes{9});
  CHECK((*seen2)[0].from == nodes[1].address);
  REQUIRE(failed->value);
  CHECK(failed->value->error == 3);
}

TEST_CASE_METHOD(three_nodes, "dht node: a request nobody answers fails with dht_error::timeout after its retries", "[scenario]") {
  auto start = now();
  auto nobody = rpc::ipv4_address::parse("10.9.9.9", 999);
  auto r = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value, user_request(nobody, 1));
  REQUIRE(run_events([&] { return r->done(); }, 30s));
  REQUIRE(r->error);
  CHECK(dht_error_of(*r->error) == dht_error::timeout);
  CHECK(now() - start >= 4s); // 1 send + 3 retries, 1 s each
  auto bad = user_request(nodes[1].address, 1);
  bad.socket = 1; // this node has one socket
  auto b = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value, bad);
  run();
  REQUIRE(b->error);
  CHECK(dht_error_of(*b->error) == dht_error::bad_socket);
}

TEST_CASE_METHOD(sim_network, "dht node: subscribers learn bootstrapped, also after the fact; status reports the node", "[scenario]") {
  add_node({});
  add_node({nodes[0].address});
  auto early = std::make_shared<std::vector<dht_event>>();
  caf::anon_send(nodes[1].node, dht_subscribe_atom::value,
                 dht_event_sink_actor{sys.spawn(event_sink, early)});
  REQUIRE(run_events([&] {
    return std::any_of(early->begin(), early->end(), [](auto& e) {
      return e.what == dht_event::kind::bootstrapped;
    });
  }, 30s));
  auto late = std::make_shared<std::vector<dht_event>>();
  caf::anon_send(nodes[1].node, dht_subscribe_atom::value,
                 dht_event_sink_actor{sys.spawn(event_sink, late)});
  run();
  REQUIRE_FALSE(late->empty());
  CHECK(late->front().what == dht_event::kind::bootstrapped);
  auto st = ask<dht_status>(sys, nodes[1].node, status_atom::value);
  run();
  REQUIRE(st->value);
  CHECK(st->value->bootstrapped);
  CHECK_FALSE(st->value->ephemeral);
  CHECK(st->value->id == nodes[1].id);
  REQUIRE(st->value->bound.size() == 1);
  CHECK(st->value->bound[0] == nodes[1].endpoint);
  CHECK(st->value->stats.table_size >= 1);
  auto closest = ask<std::vector<rpc::ipv4_address>>(sys, nodes[1].node, dht_closest_atom::value,
                                                     nodes[0].id, uint64_t{20});
  run();
  REQUIRE(closest->value);
  REQUIRE_FALSE(closest->value->empty());
  CHECK(closest->value->front() == nodes[0].address);
}

TEST_CASE_METHOD(three_nodes, "dht node: close fails what is pending with closing and the node exits", "[scenario]") {
  auto nobody = rpc::ipv4_address::parse("10.9.9.9", 999);
  auto r = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value, user_request(nobody, 1));
  auto q = std::make_shared<query_record>();
  rpc::query_options qo;
  qo.target = nodes[2].id;
  qo.internal = true;
  qo.command = static_cast<uint64_t>(rpc::internal_command::find_node);
  qo.nodes = {nobody};
  auto handle = ask<uint64_t>(sys, nodes[0].node, dht_query_atom::value, qo,
                              dht_query_sink_actor{sys.spawn(query_sink, q)});
  run();
  REQUIRE(handle->value);
  caf::anon_send(nodes[0].node, close_atom::value);
  run();
  REQUIRE(r->error);
  CHECK(dht_error_of(*r->error) == dht_error::closing);
  REQUIRE(q->done);
  CHECK(q->done->error);
  auto after = ask<rpc::reply>(sys, nodes[0].node, dht_request_atom::value, user_request(nobody, 1));
  run();
  CHECK(after->error); // the node is gone
}

TEST_CASE_METHOD(three_nodes, "dht node: datagrams from a non-IPv4 sender are not dht-rpc input", "[scenario]") {
  auto v6 = udx_endpoint::parse("fe80::7", 7000);
  auto sock = spawn_virtual_udx_socket(sys, net, v6);
  rpc::request ping;
  ping.tid = 1;
  ping.to = nodes[0].address;
  ping.internal = true;
  ping.command = static_cast<uint64_t>(rpc::internal_command::ping);
  caf::anon_send(sock, udx_send_atom::value, nodes[0].endpoint,
                 std::vector<bytes>{rpc::encode(ping)});
  run_for(100ms);
  auto after = ask<dht_status>(sys, nodes[0].node, status_atom::value);
  run();
  REQUIRE(after->value);
  CHECK(after->value->not_ipv4 == 1);
  caf::anon_send_exit(sock, caf::exit_reason::kill);
}

TEST_CASE_METHOD(three_nodes, "dht node: a batch of datagrams from a socket is answered in full", "[scenario]") {
  auto from = udx_endpoint::parse("10.7.7.7", 7777);
  udx_datagrams batch;
  for (uint16_t tid = 0; tid < 10; ++tid) {
    rpc::request ping;
    ping.tid = tid;
    ping.to = nodes[0].address;
    ping.internal = true;
    ping.command = static_cast<uint64_t>(rpc::internal_command::ping);
    batch.push_back(udx_datagram{from, rpc::encode(ping)});
  }
  // Catch what node 0 sends to 10.7.7.7: a socket bound there.
  auto sock = spawn_virtual_udx_socket(sys, net, from);
  std::vector<bytes> got;
  auto handler = sys.spawn([&got](udx_datagram_handler_actor::pointer, int)
                             -> udx_datagram_handler_actor::behavior_type {
    return {[&got](udx_recv_atom, uint8_t, udx_datagrams& batch) {
      for (auto& d : batch)
        got.push_back(d.data);
    }};
  }, 0);
  dht_detail::anon_set_datagram_handler(sock, handler, nullptr);
  run();
  auto before = ask<dht_status>(sys, nodes[0].node, status_atom::value);
  run();
  caf::anon_send(nodes[0].node, udx_recv_atom::value, uint8_t{0}, batch);
  run_for(50ms);
  CHECK(got.size() == 10);
  auto after = ask<dht_status>(sys, nodes[0].node, status_atom::value);
  run();
  REQUIRE(before->value);
  REQUIRE(after->value);
  CHECK(after->value->stats.requests_in - before->value->stats.requests_in >= 10);
  caf::anon_send_exit(sock, caf::exit_reason::kill);
}
