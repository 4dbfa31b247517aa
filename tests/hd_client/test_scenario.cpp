// hyperdht's connect rule 1 on virtual sockets (CAF test_coordinator,
// virtual time): a server that connects to the client at once (hyperdht's
// server does for a client that came direct or is OPEN, server.js:412-416)
// sends its UDX packets right behind its handshake reply. connect.js has its
// raw stream (and so its udx id) before the handshake goes out, so they are
// received; ours must be too, not dropped and retransmitted after an RTO.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "actors/connection/secret_stream_connection.hpp"
#include "actors/dht/address.hpp"
#include "actors/hd_client/hd_connect.hpp"
#include "dht/hyperdht/server_handshake.hpp"
#include "hyperdht_node/hd_fixture.hpp"

using namespace std::chrono_literals;
using namespace ht;
using namespace ht::hd_test;

namespace {

struct conn_log {
  std::optional<caf::timespan> opened_at;
  std::optional<caf::timespan> first_message_at;
  std::vector<std::string> messages;
  std::optional<std::string> closed_code;
};
using conn_log_ptr = std::shared_ptr<conn_log>;

connection_handler_actor::behavior_type recorder(connection_handler_actor::pointer self,
                                                 conn_log_ptr log) {
  auto now = [self] { return self->clock().now().time_since_epoch(); };
  return {
    [=](opened_atom, connection_id, const public_key&) { log->opened_at = now(); },
    [=](message_atom, connection_id, const bytes& b) {
      if (!log->first_message_at)
        log->first_message_at = now();
      log->messages.emplace_back(b.begin(), b.end());
    },
    [=](closed_atom, connection_id, const std::string& code, const std::string&) {
      log->closed_code = code;
    },
  };
}

// The server side, as hyperdht's server for a direct client: the Noise IK
// responder answers, the raw stream connects actively to the client and
// the first message is written right away; the reply leaves once the
// stream's id is routed (as our hd_server does).
struct active_server_state {
  std::unique_ptr<hyperdht::server_handshake> responder;
  std::optional<secret_stream_connection_actor> conn;
};
using active_server_ptr = std::shared_ptr<active_server_state>;

hd_server_handler_actor::behavior_type active_server(hd_server_handler_actor::pointer self,
                                                     udx_socket_actor socket,
                                                     active_server_ptr st,
                                                     connection_handler_actor server_side) {
  return {
    [=](hd_handshake_atom, const rpc::incoming_request& req,
        const hyperdht::handshake_for_server& hs) -> caf::result<std::optional<bytes>> {
      auto ans = st->responder->on_handshake(hs, req.from, {}, 7777, self->clock().now());
      if (!ans.accepted || st->conn)
        return ans.reply;  // a resend: the same answer, no second stream
      secret_stream_connection_params cp;
      cp.socket = socket;
      cp.local_id = ans.accepted->local_stream_id;
      cp.remote_id = ans.accepted->remote_stream_id;
      cp.remote = dht::to_endpoint(ans.accepted->client_address);
      cp.handshake = ans.accepted->result;
      auto conn = spawn_secret_stream_connection(self->system(), std::move(cp));
      st->conn = conn;
      self->send(conn, attach_atom::value, server_side);
      self->send(conn, write_atom::value, bytes{'f', 'i', 'r', 's', 't'});
      auto rp = self->make_response_promise<std::optional<bytes>>();
      self->request(conn, caf::infinite, udx_register_atom::value)
        .then([rp, reply = ans.reply](bool) mutable { rp.deliver(reply); });
      return rp;
    },
    [=](hd_holepunch_atom, const rpc::incoming_request&,
        const hyperdht::holepunch_for_server&) -> std::optional<bytes> { return std::nullopt; },
  };
}

} // namespace

TEST_CASE("connect: the server's packets sent right after its reply are not lost (rule 1)",
          "[scenario]") {
  hd_network net(4);
  // The server's own node is persistent, so FIND_PEER reaches it and the
  // client's handshake goes to it directly (no relay): the server then
  // connects to the client at once.
  auto host = net.add_hd_node({net.nodes[0].address});
  net.run_for(10s);
  auto server_keys = noise::keypair::from_seed(fill(0x51));
  auto st = std::make_shared<active_server_state>();
  st->responder = std::make_unique<hyperdht::server_handshake>(server_keys);
  auto server_log = std::make_shared<conn_log>();
  auto server_side = net.sys.spawn(recorder, server_log);
  auto handler = net.sys.spawn(active_server, net.nodes[host].socket, st,
                               connection_handler_actor{server_side});
  auto target = hyperdht::hash32(server_keys.public_key);
  caf::anon_send(*net.hds[host], hd_listen_atom::value, target,
                 enc::encode(hyperdht::peer_record{server_keys.public_key, {}}),
                 hd_server_handler_actor{handler});
  net.run();

  auto peer = net.add_peer();
  net.run_for(5s);

  hd_connect_params p;
  p.socket = net.nodes[peer].socket;
  p.dht = net.nodes[peer].node;
  p.keys = noise::keypair::from_seed(fill(0x52));
  std::copy(server_keys.public_key.begin(), server_keys.public_key.end(), p.server.begin());
  auto client_log = std::make_shared<conn_log>();
  auto start = net.now();
  auto client = spawn_hd_connect(net.sys, p);
  caf::anon_send(client, attach_atom::value,
                 connection_handler_actor{net.sys.spawn(recorder, client_log)});

  net.run_events([&] { return client_log->first_message_at.has_value() || client_log->closed_code; },
                 30s);
  REQUIRE_FALSE(client_log->closed_code);
  REQUIRE(client_log->first_message_at);
  REQUIRE(client_log->messages.front() == "first");
  REQUIRE(st->conn);
  // Connect and the first message in well under UDX's minimum RTO (1 s): no
  // packet of the server's had to be resent.
  auto took = *client_log->first_message_at - start;
  CAPTURE(std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  CHECK(took < 1s);
  auto info = net.wait(ask<udx_stream_info>(net.sys, *st->conn, udx_stats_atom::value));
  CHECK(info.retransmits == 0);
  CHECK(info.rto_fired == 0);

  // Both ways work after that.
  caf::anon_send(client, write_atom::value, bytes{'h', 'i'});
  net.run_events([&] { return !server_log->messages.empty(); }, 10s);
  REQUIRE(server_log->messages.size() == 1);
  CHECK(server_log->messages[0] == "hi");
  caf::anon_send(client, close_atom::value);
  net.run_for(15s);
  caf::anon_send_exit(handler, caf::exit_reason::kill);
}
