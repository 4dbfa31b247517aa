// Connections against the JS stack: udx-native + @hyperswarm/secret-stream
// started from hyperdht's PEER_HANDSHAKE (tests/interop/conn-peer.js), over
// real UDP on 127.0.0.1. The Noise IK runs over the child's stdio (standing
// in for the DHT relay), carrying the UDX stream ids in the payloads as
// hyperdht does; then both sides exchange many messages and close.
#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "actors/connection/secret_stream_connection.hpp"
#include "actors/udx/socket_actor.hpp"
#include "connection_support.hpp"
#include "support/node_process.hpp"

using namespace ht;
using namespace ht::conn_test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr uint32_t message_count = 2000;
#else
constexpr uint32_t message_count = 5000;
#endif
constexpr uint32_t our_udx_id = 0xc0ffee01;

struct quiet_config : caf::actor_system_config {
  quiet_config() {
    set("logger.verbosity", caf::atom("quiet"));
    set("logger.console", caf::atom("none"));
  }
};

std::string hex(const uint8_t* p, size_t n) {
  return to_hex(p, n);
}

bytes unhex(const std::string& s) {
  bytes out;
  if (!from_hex(s, out))
    throw std::runtime_error("bad hex from the JS peer: " + s);
  return out;
}

/// A writer that awaits each write's reply (honours backpressure).
caf::behavior writer(caf::event_based_actor* self, connection_actor c, uint32_t count) {
  auto next = std::make_shared<uint32_t>(0);
  auto step = std::make_shared<std::function<void()>>();
  *step = [=] {
    if (*next == count)
      return;
    auto i = (*next)++;
    self->request(c, caf::infinite, write_atom::value, make_message(0, i)).then([=] { (*step)(); });
  };
  (*step)();
  return {[](int) {}};
}

template <class Pred>
bool wait_for(Pred pred, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

struct interop_fixture {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  udx_socket_actor sock;
  udx_endpoint local;
  noise::keypair ours = test_keypair(0x21);
  noise::keypair theirs = test_keypair(0x42);
  record_ptr rec = std::make_shared<conn_record>();
  secret_stream_connection_actor conn;

  interop_fixture() {
    udx_socket_options o;
    o.host = "127.0.0.1";
    auto s = spawn_udx_socket(sys, o);
    if (!s)
      throw std::runtime_error("bind failed: " + sys.render(s.error()));
    sock = *s;
    caf::scoped_actor self{sys};
    self->request(sock, caf::infinite, udx_address_atom::value)
      .receive([&](const udx_endpoint& e) { local = e; },
               [&](caf::error& e) { throw std::runtime_error(sys.render(e)); });
  }

  ~interop_fixture() {
    if (conn)
      caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sock, caf::exit_reason::user_shutdown);
  }

  static std::string seed_hex(uint8_t n) {
    noise::key32 seed{};
    seed.fill(n);
    return to_hex(seed.data(), seed.size());
  }

  /// Runs one session. `cpp_initiator`: we are the Noise initiator (the
  /// hyperdht client). `cpp_passive`: our stream waits for the JS end's
  /// first packet (the hyperdht server's firewall hook); else JS waits.
  /// `pause_first`: our end starts paused (small receive window), waits
  /// until the JS writer reports that it is held back, then resumes.
  void session(bool cpp_initiator, bool cpp_passive, bool pause_first = false) {
    std::vector<std::string> args{cpp_initiator ? "responder" : "initiator",
                                  cpp_passive ? "active" : "passive",
                                  std::to_string(message_count), seed_hex(0x42),
                                  hex(ours.public_key.data(), 32)};
    if (pause_first)
      args.push_back("report-stalls");
    ht::test::node_process js("conn-peer.js", args);
    auto ready = js.read_line(30000);
    REQUIRE(ready.rfind("ready ", 0) == 0);
    uint16_t js_port = 0;
    uint32_t js_id = 0;
    {
      unsigned long port = 0, id = 0;
      REQUIRE(std::sscanf(ready.c_str(), "ready %lu %lu", &port, &id) == 2);
      js_port = static_cast<uint16_t>(port);
      js_id = static_cast<uint32_t>(id);
    }

    noise::noise_payload payload;
    payload.udx = noise::udx_info{};
    payload.udx->id = our_udx_id;
    payload.secret_stream = noise::secret_stream_info{};
    noise::peer_handshake hs(ours, cpp_initiator ? std::optional<noise::key32>{theirs.public_key}
                                                 : std::nullopt);
    noise::noise_payload remote;
    if (cpp_initiator) {
      js.write_line("m1 " + to_hex(hs.send(payload)));
      auto m2 = js.read_line(30000);
      REQUIRE(m2.rfind("m2 ", 0) == 0);
      remote = hs.recv(unhex(m2.substr(3)));
    } else {
      auto m1 = js.read_line(30000);
      REQUIRE(m1.rfind("m1 ", 0) == 0);
      remote = hs.recv(unhex(m1.substr(3)));
      js.write_line("m2 " + to_hex(hs.send(payload)));
    }
    REQUIRE(hs.complete());
    REQUIRE(remote.udx.has_value());
    CHECK(remote.udx->id == js_id);

    secret_stream_connection_params p;
    p.socket = sock;
    p.local_id = our_udx_id;
    p.remote_id = static_cast<uint32_t>(remote.udx->id);
    if (!cpp_passive)
      p.remote = udx_endpoint::parse("127.0.0.1", js_port);
    p.handshake = hs.final();
    if (pause_first)
      p.options.udx_tuning.rwnd_max = 256 * 1024;
    conn = spawn_secret_stream_connection(sys, p);
    if (pause_first)
      caf::anon_send(conn, pause_atom::value);
    caf::anon_send(conn, attach_atom::value,
                   connection_handler_actor{sys.spawn(conn_recorder, rec)});
    {
      // The route must exist before the JS end may send to our id.
      caf::scoped_actor self{sys};
      bool ok = false;
      self->request(conn, caf::infinite, udx_register_atom::value)
        .receive([&](bool r) { ok = r; }, [&](caf::error&) {});
      REQUIRE(ok);
    }
    if (cpp_passive)
      js.write_line("port " + std::to_string(local.port));

    auto w = sys.spawn(writer, connection_actor{conn}, message_count);
    if (pause_first) {
      auto stalled = json::parse(js.read_line(60000));
      INFO(stalled.dump());
      REQUIRE(stalled["event"] == "stalled");
      CHECK(stalled["written"].get<uint32_t>() < message_count);
      CHECK(rec->count() == 0);  // nothing delivered while paused
      caf::anon_send(conn, resume_atom::value);
    }
    auto done = json::parse(js.read_line(90000));
    while (done["event"] == "stalled")  // a later, brief stall: not the point
      done = json::parse(js.read_line(90000));
    INFO(done.dump());
    CHECK(done["event"] == "done");
    CHECK(done["ok"] == true);
    REQUIRE(wait_for([&] { return rec->count() == message_count || rec->is_closed(); }, 60s));
    CHECK(rec->opened == 1);
    CHECK(rec->remote == theirs.public_key);
    rec->with([&](conn_record& r) {
      REQUIRE(r.messages.size() == message_count);
      for (uint32_t i = 0; i < message_count; ++i) {
        auto why = check_message(1, i, r.messages[i]);
        INFO(why);
        REQUIRE(why.empty());
      }
    });

    // We end; the JS peer ends in turn; both close cleanly.
    caf::anon_send(conn, close_atom::value);
    auto closed = json::parse(js.read_line(30000));
    INFO(closed.dump());
    CHECK(closed["event"] == "close");
    CHECK(closed["error"].is_null());
    REQUIRE(wait_for([&] { return rec->is_closed(); }, 30s));
    CHECK(rec->code == "");
    CHECK(rec->closed == 1);
    CHECK_FALSE(rec->event_after_closed);
    CHECK(js.wait(10000) == 0);
    caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  }
};

} // namespace

TEST_CASE_METHOD(interop_fixture, "connection interop: JS initiator connects actively to our passive responder", "[interop]") {
  session(false, true);
}

TEST_CASE_METHOD(interop_fixture, "connection interop: our active initiator to a JS passive responder (hyperdht server)", "[interop]") {
  session(true, false);
}

TEST_CASE_METHOD(interop_fixture, "connection interop: JS responder connects actively to our passive initiator", "[interop]") {
  session(true, true);
}

TEST_CASE_METHOD(interop_fixture, "connection interop: pausing our end flow-controls the JS writer; resume delivers all", "[interop]") {
  session(false, true, true);
}
