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

/// What a node hands its socket, in order: the destination of every
/// datagram (a socket double that sends nothing anywhere). It keeps the
/// backlog the node registers, so the test can admit datagrams into it as
/// the real socket does.
struct send_log {
  std::vector<udx_endpoint> to;
  udx_handler_backlog_ptr backlog;
};

udx_socket_actor::behavior_type logging_socket(udx_socket_actor::pointer,
                                               std::shared_ptr<send_log> log) {
  return {
    [=](udx_send_atom, const udx_endpoint& to, std::vector<bytes>& ds) {
      log->to.insert(log->to.end(), ds.size(), to);
    },
    [=](udx_send_atom, udx_datagrams& ds) {
      for (auto& d : ds)
        log->to.push_back(d.from);
    },
    [=](udx_register_atom, uint32_t, udx_packet_sink_actor, udx_backlog_ptr) { return false; },
    [=](udx_unregister_atom, uint32_t) {},
    [=](udx_handler_atom, udx_datagram_handler_actor, udx_handler_backlog_ptr b, uint8_t) {
      log->backlog = std::move(b);
    },
    [=](udx_stats_atom) { return udx_socket_info{}; },
    [=](udx_address_atom) { return udx_endpoint::parse("10.9.0.1", 9000); },
    [=](udx_sender_atom) { return udx_sender_ptr{}; },
  };
}

} // namespace

TEST_CASE_METHOD(ht::test::caf_fixture, "dht node: a source's request queued behind another source's flood is served in the first round", "[scenario]") {
  auto log = std::make_shared<send_log>();
  auto sock = sys.spawn(logging_socket, log);
  auto me = rpc::ipv4_address::parse("10.9.0.1", 9000);
  dht_node_options o;
  o.config.mode = rpc::node_mode::persistent;
  o.config.public_address = me;
  o.config.seed = 5;
  o.sockets.push_back(sock);
  o.bootstrap = false;
  auto node = spawn_dht_node(sys, std::move(o));
  run();
  REQUIRE(log->backlog);
  log->to.clear();
  // 40 receive batches of 64 PINGs from the flooder reach the node's
  // mailbox before one batch holding the peer's single PING, each admitted
  // into the backlog as the socket admits it (all within the flooder's
  // share: admission alone does not reorder anything).
  auto flooder = udx_endpoint::parse("10.66.0.1", 6666);
  auto peer = udx_endpoint::parse("10.77.0.1", 7777);
  constexpr int64_t cap = 1 << 20;
  uint16_t tid = 0;
  size_t flood = 0;
  for (int b = 0; b < 40; ++b) {
    udx_datagrams batch;
    for (int i = 0; i < 64; ++i) {
      auto d = internal_request(tid++, me, rpc::internal_command::ping);
      REQUIRE(udx_handler_admit(*log->backlog, cap, flooder, d.size()));
      batch.push_back(udx_datagram{flooder, std::move(d)});
    }
    flood += batch.size();
    caf::anon_send(node, udx_recv_atom::value, uint8_t{0}, std::move(batch));
  }
  auto ping = internal_request(9, me, rpc::internal_command::ping);
  REQUIRE(udx_handler_admit(*log->backlog, cap, peer, ping.size()));
  caf::anon_send(node, udx_recv_atom::value, uint8_t{0},
                 udx_datagrams{udx_datagram{peer, std::move(ping)}});
  run();
  // Everything is answered, every byte given back to the backlog...
  REQUIRE(log->to.size() == flood + 1);
  CHECK(log->backlog->bytes == 0);
  // ... and the peer's reply is among the first round's (without fair
  // service it is the last of 2,561: FIFO behind the whole flood).
  auto at = std::find(log->to.begin(), log->to.end(), peer) - log->to.begin();
  INFO("the peer's reply is datagram " << at << " of " << log->to.size());
  CHECK(at < 64);
  caf::anon_send_exit(node, caf::exit_reason::kill);
  caf::anon_send_exit(sock, caf::exit_reason::kill);
}

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
