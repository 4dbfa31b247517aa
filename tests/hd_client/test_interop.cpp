// Our HyperDHT client against the npm hypertrace-logger 1.1.1 Server
// (tests/interop/hd-client-peer.js) on 127.0.0.1: connect(publicKey)
// through a JS DHT network (findPeer, the handshake relayed by a JS node,
// the route rules), then the client library sending traces through it.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>

#include <nlohmann/json.hpp>

#include "actors/client/client.hpp"
#include "actors/dht/host_port.hpp"
#include "actors/hd_client/hd_socket_factory.hpp"
#include "actors/hd_server/hd_server.hpp"
#include "connection/connection_support.hpp"
#include "support/live_system.hpp"
#include "support/node_process.hpp"
#include "support/temp_dir.hpp"

using namespace ht;
using namespace ht::conn_test;
using namespace std::chrono_literals;

namespace {

// Under ASan everything runs 5-10x slower: 1/5 of the traces.
#if defined(__SANITIZE_ADDRESS__)
constexpr int trace_count = 2000;
#else
constexpr int trace_count = 10000;
#endif

using test::quiet_config;
using test::wait_for;

public_key key_of(const std::string& hex) {
  bytes b;
  REQUIRE(from_hex(hex, b));
  REQUIRE(b.size() == 32);
  public_key k{};
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

struct js_server {
  test::temp_dir dir{"ht-hd-client"};
  test::node_process node;
  public_key server{};
  std::vector<rpc::ipv4_address> bootstrap;

  explicit js_server(const std::string& boot = "")
    : node("hd-client-peer.js", boot.empty() ? std::vector<std::string>{dir.path()}
                                             : std::vector<std::string>{dir.path(), boot}) {
    auto hello = json::parse(node.read_line(60000));
    server = key_of(hello["publicKey"].get<std::string>());
    for (auto& b : hello["bootstrap"]) bootstrap.push_back(dht::parse_host_port(b.get<std::string>()));
  }
  ~js_server() {
    try {
      node.write_line("quit");
      node.wait(20000);
    } catch (...) {
    }
  }

  /// traceNumbers in the JS server's file for `client`, and its notes.
  std::pair<std::vector<int64_t>, std::vector<std::string>> read_log(const public_key& client) {
    std::ifstream in(dir.path() + "/" + to_hex(client) + ".log");
    std::vector<int64_t> numbers;
    std::vector<std::string> notes;
    std::string line;
    while (std::getline(in, line)) {
      auto j = json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("traceNumber")) numbers.push_back(j["traceNumber"].get<int64_t>());
      else if (j.is_object() && j.contains("note")) notes.push_back(j["note"].get<std::string>());
    }
    return {numbers, notes};
  }
};

std::shared_ptr<hyperdht_client_socket> start_socket(caf::actor_system& sys, const js_server& js,
                                                     const public_key& server) {
  hyperdht_client_socket_options o;
  o.server = server;
  o.bootstrap = js.bootstrap;
  o.host = "127.0.0.1";
  auto s = hyperdht_client_socket::start(sys, o);
  REQUIRE(s);
  return *s;
}

/// A test against the JS server on its JS network, with our client socket
/// for the server's key.
struct js_network_fixture {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  js_server js;
  std::shared_ptr<hyperdht_client_socket> hd = start_socket(sys, js, js.server);
};

/// Our bootstrap node: a persistent hyperdht stack on 127.0.0.1, any free
/// port (what hypertrace-logger-dht runs).
hyperdht_stack start_bootstrap(caf::actor_system& sys) {
  hyperdht_stack_options bo;
  bo.host = "127.0.0.1";
  bo.mode = rpc::node_mode::persistent;
  bo.public_address = rpc::ipv4_address::parse("127.0.0.1", 0);
  auto boot = spawn_hyperdht_stack(sys, bo);
  REQUIRE(boot);
  return *boot;
}

void stop_stack(const hyperdht_stack& s) {
  caf::anon_send(s.dht, close_atom::value);
  caf::anon_send_exit(s.hyperdht, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(s.socket, caf::exit_reason::user_shutdown);
}

/// One connect through `hd`, recorded in `rec`; returns once the server's
/// first message came (it greets every connection) and it did not close.
connection_actor connect_greeted(caf::actor_system& sys, hyperdht_client_socket& hd,
                                 const record_ptr& rec) {
  auto conn = hd.connect();
  caf::anon_send(conn, attach_atom::value, sys.spawn(conn_recorder, rec));
  REQUIRE(wait_for([&] { return rec->count() >= 1 || rec->is_closed(); }, 30s));
  INFO("closed: " << rec->code << " " << rec->text);
  REQUIRE(!rec->is_closed());
  return conn;
}

/// Closes `conn` and requires a clean end.
void close_cleanly(const connection_actor& conn, const record_ptr& rec) {
  caf::anon_send(conn, close_atom::value);
  REQUIRE(wait_for([&] { return rec->is_closed(); }, 30s));
  CHECK(rec->code == "");
}

/// `n` traces through the client, each from object `object_id` of `class_name`.
void add_traces(client& cl, int n, const std::string& class_name, uint64_t object_id) {
  for (int i = 0; i < n; ++i) {
    manual_trace t;
    t.class_name = class_name;
    t.object_id = object_id;
    t.object_props = json{{"i", i}};
    t.filename = "test_interop.cpp";
    t.function_name = "send";
    cl.add_trace(std::move(t));
  }
}

/// Waits until the JS server's file for `client` holds `n` traces; their
/// numbers in file order.
std::vector<int64_t> wait_traces(js_server& js, const public_key& client, int n,
                                 std::chrono::seconds limit) {
  std::vector<int64_t> numbers;
  std::vector<std::string> notes;
  bool all = wait_for([&] {
    std::tie(numbers, notes) = js.read_log(client);
    return numbers.size() >= static_cast<size_t>(n);
  }, limit);
  INFO("traces in the JS server's file: " << numbers.size());
  REQUIRE(all);
  for (auto& note : notes) CHECK(note.find("Skipped") == std::string::npos);
  return numbers;
}

} // namespace

TEST_CASE_METHOD(js_network_fixture,
                 "hd_client: connect(publicKey) to the JS hypertrace-logger Server through a JS network",
                 "[interop]") {
  // The JS server greets every connection with its session handshake.
  auto rec = std::make_shared<conn_record>();
  auto conn = connect_greeted(sys, *hd, rec);
  CHECK(rec->remote == js.server);
  auto hello = json::parse(rec->messages.front().begin(), rec->messages.front().end());
  CHECK(hello.contains("lastSeenTraceSessionId"));
  CHECK(hello["lastSeenTraceNumber"].is_null());
  close_cleanly(conn, rec);

  SECTION("a key nobody announced ends with PEER_NOT_FOUND") {
    public_key nobody{};
    nobody.fill(0x42);
    auto hd2 = start_socket(sys, js, nobody);
    auto rec2 = std::make_shared<conn_record>();
    auto c2 = hd2->connect();
    caf::anon_send(c2, attach_atom::value, sys.spawn(conn_recorder, rec2));
    REQUIRE(wait_for([&] { return rec2->is_closed(); }, 40s));
    CHECK(rec2->code == "PEER_NOT_FOUND");
    CHECK(rec2->opened == 0);
    hd2->stop();
  }
  hd->stop();
}

TEST_CASE_METHOD(js_network_fixture,
                 "hd_client: the client library sends traces to the JS Server, each lands once",
                 "[interop]") {
  client_options o;
  o.create_socket = hd->create_socket();
  o.install_trace_function = false;
  o.initial_props = json{{"username", "hd-client-test"}};
  auto cl = client::start(sys, std::move(o));
  REQUIRE(wait_for([&] { return cl.is_running(); }, 30s));
  add_traces(cl, trace_count, "Interop", 1);
  auto numbers = wait_traces(js, hd->keys().public_key, trace_count, 90s);
  std::vector<int64_t> expected(trace_count);
  for (int i = 0; i < trace_count; ++i) expected[static_cast<size_t>(i)] = i;
  CHECK(numbers == expected);
  cl.stop();
  hd->stop();
}

TEST_CASE("hd_client: where the only DHT node is ours, traces reach the JS Server", "[interop]") {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  // The JS server and our client join only our bootstrap node.
  auto boot = start_bootstrap(sys);
  auto boot_at = "127.0.0.1:" + std::to_string(boot.bound.port);
  js_server js(boot_at);
  REQUIRE(js.bootstrap.size() == 1);
  auto hd = start_socket(sys, js, js.server);

  constexpr int n = trace_count / 5;
  client_options o;
  o.create_socket = hd->create_socket();
  o.install_trace_function = false;
  auto cl = client::start(sys, std::move(o));
  add_traces(cl, n, "OurDht", 2);
  INFO("connects " << cl.stats().connects);
  auto numbers = wait_traces(js, hd->keys().public_key, n, 60s);
  CHECK(numbers.size() == static_cast<size_t>(n));
  CHECK(numbers.back() == n - 1);
  cl.stop();
  hd->stop();
  stop_stack(boot);
}

namespace {

/// Accepts every connection: greets it and records what it receives.
acceptor_actor::behavior_type greeting_acceptor(acceptor_actor::pointer self, record_ptr rec) {
  return {
    [=](accept_atom, connection_actor c, public_key) {
      self->send(c, attach_atom::value, self->system().spawn(conn_recorder, rec));
      self->send(c, write_atom::value, bytes{'h', 'i'});
    },
  };
}

} // namespace

TEST_CASE("hd_client: our client to our server (actors/hd_server) through our DHT node", "[interop]") {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  auto boot = start_bootstrap(sys);
  std::vector<rpc::ipv4_address> bootstrap{rpc::ipv4_address::parse("127.0.0.1", boot.bound.port)};

  // Our server on its own ephemeral stack.
  hyperdht_stack_options so;
  so.host = "127.0.0.1";
  so.bootstrap = bootstrap;
  auto srv_stack = spawn_hyperdht_stack(sys, so);
  REQUIRE(srv_stack);
  auto server_rec = std::make_shared<conn_record>();
  auto announced = std::make_shared<std::atomic<bool>>(false);
  hd_server_params sp;
  sp.socket = srv_stack->socket;
  sp.dht = srv_stack->dht;
  sp.hyperdht = srv_stack->hyperdht;
  sp.acceptor = sys.spawn(greeting_acceptor, server_rec);
  sp.options.keys = test_keypair(0x51);
  sp.options.on_event = [announced](const hd_server_event& e) {
    if (e.what == hd_server_event::kind::announced) *announced = true;
  };
  auto server = spawn_hd_server(sys, sp);
  REQUIRE(wait_for([&] { return announced->load(); }, 30s));

  hyperdht_client_socket_options co;
  co.server = sp.options.keys.public_key;
  co.bootstrap = bootstrap;
  co.host = "127.0.0.1";
  auto hd = hyperdht_client_socket::start(sys, co);
  REQUIRE(hd);
  auto rec = std::make_shared<conn_record>();
  auto conn = connect_greeted(sys, **hd, rec);
  CHECK(rec->remote == sp.options.keys.public_key);
  CHECK(rec->messages.front() == bytes({'h', 'i'}));
  constexpr uint32_t n = 1000;
  for (uint32_t i = 0; i < n; ++i) caf::anon_send(conn, write_atom::value, make_message(0, i));
  REQUIRE(wait_for([&] { return server_rec->count() >= n || server_rec->is_closed(); }, 60s));
  server_rec->with([&](conn_record& r) {
    REQUIRE(r.messages.size() == n);
    CHECK(r.remote == (*hd)->keys().public_key);
    for (uint32_t i = 0; i < n; ++i) CHECK(r.messages[i] == make_message(0, i));
  });
  close_cleanly(conn, rec);

  (*hd)->stop();
  caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
  stop_stack(*srv_stack);
  stop_stack(boot);
}
