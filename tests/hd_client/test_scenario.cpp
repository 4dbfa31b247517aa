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
#include "actors/hd_client/hd_socket_factory.hpp"
#include "dht/udx/header.hpp"
#include "doubles/virtual_socket.hpp"
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

// A persistent hyperdht node with a local server on it that, like
// hyperdht's server for a direct client, connects to the client at once and
// writes its first message; a client peer on the network. The server's own
// node is persistent, so FIND_PEER reaches it and the client's handshake
// goes to it directly (no relay).
struct active_server_net {
  hd_network net{4};
  size_t host = net.add_hd_node({net.nodes[0].address});
  noise::keypair server_keys = noise::keypair::from_seed(fill(0x51));
  active_server_ptr st = std::make_shared<active_server_state>();
  conn_log_ptr server_log = std::make_shared<conn_log>();
  caf::actor handler;
  size_t peer = 0;

  active_server_net() {
    net.run_for(10s);
    st->responder = std::make_unique<hyperdht::server_handshake>(server_keys);
    auto server_side = net.sys.spawn(recorder, server_log);
    auto h = net.sys.spawn(active_server, net.nodes[host].socket, st,
                           connection_handler_actor{server_side});
    handler = caf::actor_cast<caf::actor>(h);
    auto target = hyperdht::hash32(server_keys.public_key);
    caf::anon_send(*net.hds[host], hd_listen_atom::value, target,
                   enc::encode(hyperdht::peer_record{server_keys.public_key, {}}),
                   hd_server_handler_actor{h});
    net.run();
    peer = net.add_peer();
    net.run_for(5s);
  }
  ~active_server_net() { caf::anon_send_exit(handler, caf::exit_reason::kill); }

  /// The client's connect parameters to this server, from the peer.
  hd_connect_params params() {
    hd_connect_params p;
    p.socket = net.nodes[peer].socket;
    p.dht = net.nodes[peer].node;
    p.keys = noise::keypair::from_seed(fill(0x52));
    std::copy(server_keys.public_key.begin(), server_keys.public_key.end(), p.server.begin());
    p.counters = std::make_shared<hd_connect_counters>();
    return p;
  }

  /// Spawns the connect with a recorder as its handler.
  hd_connect_actor connect(hd_connect_params p, const conn_log_ptr& log) {
    auto client = spawn_hd_connect(net.sys, std::move(p));
    caf::anon_send(client, attach_atom::value,
                   connection_handler_actor{net.sys.spawn(recorder, log)});
    return client;
  }
};

} // namespace

TEST_CASE("connect: the server's packets sent right after its reply are not lost (rule 1)",
          "[scenario]") {
  active_server_net s;
  auto& net = s.net;
  auto p = s.params();
  auto counters = p.counters;
  auto client_log = std::make_shared<conn_log>();
  auto start = net.now();
  auto client = s.connect(p, client_log);

  net.run_events([&] { return client_log->first_message_at.has_value() || client_log->closed_code; },
                 30s);
  REQUIRE_FALSE(client_log->closed_code);
  REQUIRE(client_log->first_message_at);
  REQUIRE(client_log->messages.front() == "first");
  REQUIRE(s.st->conn);
  // Connect and the first message in well under UDX's minimum RTO (1 s): no
  // packet of the server's had to be resent.
  auto took = *client_log->first_message_at - start;
  CAPTURE(std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  CHECK(took < 1s);
  auto info = net.wait(ask<udx_stream_info>(net.sys, *s.st->conn, udx_stats_atom::value));
  CHECK(info.retransmits == 0);
  CHECK(info.rto_fired == 0);
  // The connect's figures: the server's early packets were kept, none dropped.
  auto figures = counters->snapshot();
  CHECK(figures.connects == 1);
  CHECK(figures.opened == 1);
  CHECK(figures.failed == 0);
  CHECK(figures.early_kept >= 1);
  CHECK(figures.early_dropped == 0);

  // Both ways work after that.
  caf::anon_send(client, write_atom::value, bytes{'h', 'i'});
  net.run_events([&] { return !s.server_log->messages.empty(); }, 10s);
  REQUIRE(s.server_log->messages.size() == 1);
  CHECK(s.server_log->messages[0] == "hi");
  caf::anon_send(client, close_atom::value);
  net.run_for(15s);
}

TEST_CASE("connect: early packets dropped (over max_early_bytes, not UDX) are counted",
          "[scenario]") {
  active_server_net s;
  auto& net = s.net;
  auto p = s.params();
  p.max_early_bytes = 0;   // no room: every early packet of the server's is dropped
  p.udx_id = 4242;
  auto counters = p.counters;
  auto client_log = std::make_shared<conn_log>();
  auto start = net.now();
  auto client = s.connect(p, client_log);
  net.run();  // the route is ours, FIND_PEER is on its way
  // A datagram for our udx id that passes the socket's demultiplexing (magic,
  // version) but is no UDX packet (a flag libudx does not define).
  bytes bad(udx::header_size, 0);
  udx::header h;
  h.stream_id = 4242;
  udx::write_header(h, bad.data());
  bad[2] = 0x40;
  caf::anon_send(caf::actor_cast<virtual_socket_actor>(net.nodes[s.peer].socket),
                 udx_recv_atom::value, net.nodes[0].endpoint, bad);
  net.run();
  REQUIRE(counters->snapshot().early_dropped == 1);

  net.run_events([&] { return client_log->first_message_at.has_value() || client_log->closed_code; },
                 30s);
  REQUIRE_FALSE(client_log->closed_code);
  REQUIRE(client_log->first_message_at);
  CHECK(client_log->messages.front() == "first");
  auto figures = counters->snapshot();
  CHECK(figures.connects == 1);
  CHECK(figures.opened == 1);
  CHECK(figures.early_kept == 0);
  // The bad datagram plus at least the server's first packet.
  CHECK(figures.early_dropped >= 2);
  // Dropped, not lost: the server resent after its RTO.
  CHECK(*client_log->first_message_at - start >= 1s);
  caf::anon_send(client, close_atom::value);
  net.run_for(15s);
}

TEST_CASE("hyperdht_client_socket::stop right after a close: the connection still ends cleanly",
          "[scenario]") {
  active_server_net s;
  auto& net = s.net;
  hyperdht_client_socket_options o;
  std::copy(s.server_keys.public_key.begin(), s.server_keys.public_key.end(), o.server.begin());
  o.bootstrap = {net.nodes[0].address};
  o.keys = noise::keypair::from_seed(fill(0x52));
  auto& peer = net.nodes[s.peer];
  auto hd = hyperdht_client_socket::adopt(
    net.sys, o, hyperdht_stack{peer.socket, peer.node, spawn_hyperdht_node(net.sys, peer.node),
                               peer.endpoint});
  auto client_log = std::make_shared<conn_log>();
  auto conn = hd->connect();
  caf::anon_send(conn, attach_atom::value,
                 connection_handler_actor{net.sys.spawn(recorder, client_log)});
  net.run_events([&] { return client_log->first_message_at.has_value() || client_log->closed_code; },
                 30s);
  REQUIRE(client_log->first_message_at);

  // The owner closes its connection and stops the stack at once (as a
  // program does on its way out). Our END, and our ack of the server's END,
  // must leave before the socket ends: the server then sees a clean end,
  // not silence until its idle timeout (ETIMEDOUT, 30 s).
  auto start = net.now();
  caf::anon_send(conn, close_atom::value);
  hd->stop();
  net.run_events([&] { return s.server_log->closed_code.has_value(); }, 60s);
  REQUIRE(s.server_log->closed_code);
  CHECK(*s.server_log->closed_code == "");
  CHECK(net.now() - start < 5s);
  REQUIRE(client_log->closed_code);
  CHECK(*client_log->closed_code == "");
  // And the stack has ended.
  auto after = ask<udx_socket_info>(net.sys, peer.socket, udx_stats_atom::value);
  net.run_for(2s);
  CHECK(after->error);
}
