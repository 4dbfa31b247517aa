// The in-process transport honours the connection contract of
// messages/connection.hpp: opened first, messages in order and whole,
// closed last and once, pause holds messages, failures are reported.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "actors/transport/inprocess.hpp"
#include "support/caf_fixture.hpp"

using namespace ht;

namespace {

/// Records every event a connection reports, in order.
struct recorder {
  std::vector<std::string> events;
  std::vector<bytes> messages;
  public_key remote{};
  connection_id id = 0;
};

connection_handler_actor spawn_recorder(caf::actor_system& sys, recorder& rec) {
  return sys.spawn([&rec]() -> connection_handler_actor::behavior_type {
    return {
      [&rec](opened_atom, connection_id id, public_key key) {
        rec.id = id;
        rec.remote = key;
        rec.events.push_back("opened");
      },
      [&rec](message_atom, connection_id, bytes& data) {
        rec.messages.push_back(data);
        rec.events.push_back("message");
      },
      [&rec](closed_atom, connection_id, std::string& code, std::string& text) {
        rec.events.push_back("closed:" + code + (text.empty() ? "" : ":" + text));
      },
    };
  });
}

/// Accepts connections and attaches a recorder to each.
struct acceptor_record {
  std::vector<connection_actor> conns;
  std::vector<public_key> remotes;
};

acceptor_actor spawn_acceptor(caf::actor_system& sys, acceptor_record& acc) {
  return sys.spawn([&acc]() -> acceptor_actor::behavior_type {
    return {
      [&acc](accept_atom, connection_actor& conn, public_key& remote) {
        acc.conns.push_back(conn);
        acc.remotes.push_back(remote);
      },
    };
  });
}

public_key key_of(uint8_t b) {
  public_key k{};
  k.fill(b);
  return k;
}

struct fixture : test::caf_fixture {
  inprocess_network_actor net = spawn_inprocess_network(sys);
  acceptor_record acc;
  acceptor_actor acceptor = spawn_acceptor(sys, acc);
  recorder client_rec, server_rec;
  public_key client_key = key_of(1), server_key = key_of(2);

  fixture() {
    caf::anon_send(net, listen_atom::value, server_key, acceptor);
    run();
  }

  ~fixture() {
    caf::anon_send_exit(net, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(acceptor, caf::exit_reason::user_shutdown);
    run();
  }

  // Dials the server and attaches recorders on both sides.
  std::pair<connection_actor, connection_actor> dial() {
    auto c = inprocess_connect(sys, net, client_key, server_key);
    caf::anon_send(c, attach_atom::value, spawn_recorder(sys, client_rec));
    run();
    REQUIRE(acc.conns.size() == 1);
    auto s = acc.conns.back();
    caf::anon_send(s, attach_atom::value, spawn_recorder(sys, server_rec));
    run();
    return {c, s};
  }
};

ht::bytes msg(const std::string& s) { return ht::bytes(s.begin(), s.end()); }

} // namespace

TEST_CASE_METHOD(fixture, "both ends open with the other's key and exchange whole messages in order", "[scenario]") {
  auto [c, s] = dial();
  CHECK(acc.remotes.back() == client_key);
  CHECK(client_rec.remote == server_key);
  CHECK(server_rec.remote == client_key);
  CHECK(client_rec.id != server_rec.id);
  for (int i = 0; i < 100; ++i)
    caf::anon_send(c, write_atom::value, msg("m" + std::to_string(i)));
  caf::anon_send(s, write_atom::value, msg(""));
  run();
  REQUIRE(server_rec.messages.size() == 100);
  for (int i = 0; i < 100; ++i)
    CHECK(server_rec.messages[i] == msg("m" + std::to_string(i)));
  REQUIRE(client_rec.messages.size() == 1);
  CHECK(client_rec.messages[0].empty()); // zero-length messages survive
}

TEST_CASE_METHOD(fixture, "writes before the pairing are held and sent in order", "[scenario]") {
  auto c = inprocess_connect(sys, net, client_key, server_key);
  caf::anon_send(c, write_atom::value, msg("early-1"));
  caf::anon_send(c, write_atom::value, msg("early-2"));
  run();
  REQUIRE(acc.conns.size() == 1);
  caf::anon_send(acc.conns[0], attach_atom::value, spawn_recorder(sys, server_rec));
  run();
  CHECK(server_rec.events == std::vector<std::string>{"opened", "message", "message"});
  CHECK(server_rec.messages[0] == msg("early-1"));
  CHECK(server_rec.messages[1] == msg("early-2"));
}

TEST_CASE_METHOD(fixture, "close ends both sides cleanly after pending messages", "[scenario]") {
  auto [c, s] = dial();
  caf::anon_send(c, write_atom::value, msg("last words"));
  caf::anon_send(c, close_atom::value);
  run();
  CHECK(server_rec.events == std::vector<std::string>{"opened", "message", "closed:"});
  CHECK(client_rec.events == std::vector<std::string>{"opened", "closed:"});
  // Writes after close go nowhere and do not crash.
  caf::anon_send(c, write_atom::value, msg("after"));
  run();
  CHECK(server_rec.messages.size() == 1);
}

TEST_CASE_METHOD(fixture, "an end that is killed resets the other end", "[scenario]") {
  auto [c, s] = dial();
  caf::anon_send_exit(c, caf::exit_reason::kill);
  run();
  REQUIRE(server_rec.events.size() == 2);
  CHECK(server_rec.events[1].rfind("closed:ECONNRESET", 0) == 0);
}

TEST_CASE_METHOD(fixture, "dialing a key nobody listens on fails with PEER_NOT_FOUND", "[scenario]") {
  auto c = inprocess_connect(sys, net, client_key, key_of(9));
  caf::anon_send(c, attach_atom::value, spawn_recorder(sys, client_rec));
  run();
  REQUIRE(client_rec.events.size() == 1);
  CHECK(client_rec.events[0].rfind("closed:PEER_NOT_FOUND", 0) == 0);
  CHECK(acc.conns.empty());
}

TEST_CASE_METHOD(fixture, "pause holds messages and the close behind them until resume", "[scenario]") {
  auto [c, s] = dial();
  caf::anon_send(s, pause_atom::value);
  run();
  caf::anon_send(c, write_atom::value, msg("a"));
  caf::anon_send(c, write_atom::value, msg("b"));
  caf::anon_send(c, close_atom::value);
  run();
  CHECK(server_rec.events == std::vector<std::string>{"opened"});
  caf::anon_send(s, resume_atom::value);
  run();
  CHECK(server_rec.events == std::vector<std::string>{"opened", "message", "message", "closed:"});
}

TEST_CASE_METHOD(fixture, "a server that stops listening is no longer reachable", "[scenario]") {
  caf::anon_send(net, unlisten_atom::value, server_key);
  run();
  auto c = inprocess_connect(sys, net, client_key, server_key);
  caf::anon_send(c, attach_atom::value, spawn_recorder(sys, client_rec));
  run();
  REQUIRE(client_rec.events.size() == 1);
  CHECK(client_rec.events[0].rfind("closed:PEER_NOT_FOUND", 0) == 0);
}
