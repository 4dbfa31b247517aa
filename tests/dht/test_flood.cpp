// One source floods a node with requests and garbage: the node answers or
// drops, keeps bounded state, and another peer's requests are still
// answered while the flood runs.
#include <catch2/catch.hpp>

#include "actors/dht/socket_handler.hpp"
#include "dht_fixture.hpp"

using namespace ht;
using namespace ht::dht::test;
using namespace std::chrono_literals;

namespace {

struct counter {
  uint64_t datagrams = 0;
};

udx_datagram_handler_actor::behavior_type counting_handler(udx_datagram_handler_actor::pointer,
                                                           std::shared_ptr<counter> c) {
  return {[=](udx_recv_atom, uint8_t, udx_datagrams& batch) { c->datagrams += batch.size(); }};
}

bytes internal_request(uint16_t tid, const rpc::ipv4_address& to, rpc::internal_command cmd,
                       std::optional<bytes> value = {}, std::optional<rpc::key32> target = {}) {
  rpc::request r;
  r.tid = tid;
  r.to = to;
  r.internal = true;
  r.command = static_cast<uint64_t>(cmd);
  r.value = std::move(value);
  r.target = target;
  return rpc::encode(r);
}

} // namespace

TEST_CASE_METHOD(sim_network, "dht node: a flood from one source is answered or dropped, state stays bounded, other peers are served", "[scenario]") {
  add_node({});
  add_node({nodes[0].address});
  run_for(3s);
  auto& victim = nodes[0];
  auto flood_ep = udx_endpoint::parse("10.66.0.1", 6666);
  auto flooder = spawn_virtual_udx_socket(sys, net, flood_ep);
  auto replies = std::make_shared<counter>();
  dht_detail::anon_set_datagram_handler(
    flooder, udx_datagram_handler_actor{sys.spawn(counting_handler, replies)}, nullptr);
  run();

  // 10 rounds of 1000 PINGs, 300 FIND_NODEs, 300 long DELAYED_PINGs, 200
  // user requests nobody handles and 200 garbage datagrams, while the other
  // peer asks 10 PINGs per round.
  constexpr int rounds = 10;
  std::vector<answer_ptr<rpc::reply>> good;
  uint16_t tid = 0;
  uint64_t sent = 0;
  for (int round = 0; round < rounds; ++round) {
    std::vector<bytes> batch;
    for (int i = 0; i < 1000; ++i)
      batch.push_back(internal_request(tid++, victim.address, rpc::internal_command::ping));
    for (int i = 0; i < 300; ++i) {
      rpc::key32 t{};
      t[0] = static_cast<uint8_t>(i);
      batch.push_back(internal_request(tid++, victim.address, rpc::internal_command::find_node, {}, t));
    }
    for (int i = 0; i < 300; ++i)
      batch.push_back(internal_request(tid++, victim.address, rpc::internal_command::delayed_ping,
                                       bytes{0x10, 0x27, 0, 0})); // 10 s
    for (int i = 0; i < 200; ++i) {
      rpc::request r;
      r.tid = tid++;
      r.to = victim.address;
      r.command = 9;
      batch.push_back(rpc::encode(r));
    }
    for (int i = 0; i < 200; ++i)
      batch.push_back(bytes{0x03, static_cast<uint8_t>(i), 0xff});
    sent += batch.size();
    caf::anon_send(flooder, udx_send_atom::value, victim.endpoint, std::move(batch));
    for (int i = 0; i < 10; ++i) {
      rpc::request_options o;
      o.to = victim.address;
      o.internal = true;
      o.command = static_cast<uint64_t>(rpc::internal_command::ping);
      good.push_back(ask<rpc::reply>(sys, nodes[1].node, dht_request_atom::value, o));
    }
    run_for(200ms);
  }
  REQUIRE(run_events([&] {
    return std::all_of(good.begin(), good.end(), [](auto& a) { return a->done(); });
  }, 60s));
  for (auto& a : good) {
    CHECK(a->value);
    if (a->value)
      CHECK(a->value->error == 0);
  }
  auto st = ask<dht_status>(sys, victim.node, status_atom::value);
  run();
  REQUIRE(st->value);
  CHECK(st->value->stats.malformed >= rounds * 200);
  CHECK(st->value->unknown_commands == rounds * 200);
  CHECK(st->value->stats.pending_requests <= rpc::node_config{}.max_pending_requests);
  // The node gave back to the socket's backlog every byte it was handed.
  CHECK(st->value->backlog_bytes == 0);
  // Everything well-formed that could be answered at once was.
  CHECK(replies->datagrams >= rounds * (1000 + 300 + 200));
  CHECK(replies->datagrams <= sent);
  caf::anon_send_exit(flooder, caf::exit_reason::kill);
}
