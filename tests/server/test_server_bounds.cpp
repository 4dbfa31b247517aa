// The root's bounds: a store that stops answering, recovery that keeps
// failing, the waiting queue and the last-seen map. Every bound keeps the
// exactly-once guarantee: what the root forgets, it recovers from the files.
#include <catch2/catch.hpp>

#include <cerrno>
#include <iostream>
#include <sstream>

#include "server/server_fixture.hpp"

using namespace ht;
using namespace ht::test;

namespace {

struct cerr_capture {
  std::stringstream buf;
  std::streambuf* old = std::cerr.rdbuf(buf.rdbuf());
  ~cerr_capture() { std::cerr.rdbuf(old); }
  bool has(const std::string& what) const { return buf.str().find(what) != std::string::npos; }
};

std::string handshake_of(const std::string& session, int64_t n) {
  return R"({"lastSeenTraceSessionId":")" + session + R"(","lastSeenTraceNumber":)"
         + std::to_string(n) + "}";
}

// A store stuck the way a store blocked in a system call is: appends and
// status requests are never answered; flush and recover only when
// `answers_recovery` (so sessions start).
store_actor spawn_stuck_store(caf::actor_system& sys, bool answers_recovery) {
  return sys.spawn([answers_recovery](store_actor::pointer self) -> store_actor::behavior_type {
    return {
      [self](append_atom, std::string&, std::vector<std::string>&) {
        return self->make_response_promise<uint64_t>(); // never delivered
      },
      [self, answers_recovery](flush_atom) -> caf::result<bool> {
        if (answers_recovery)
          return true;
        return self->make_response_promise<bool>();
      },
      [self, answers_recovery](recover_atom, std::string&) -> caf::result<last_seen_trace> {
        if (answers_recovery)
          return last_seen_trace{};
        return self->make_response_promise<last_seen_trace>();
      },
      [self](status_atom) {
        return self->make_response_promise<store_status>(); // never delivered
      },
    };
  });
}

} // namespace

TEST_CASE_METHOD(server_fixture, "a store that stops answering is noticed, replaced, and nothing is lost", "[scenario]") {
  cerr_capture err;
  cfg.store_timeout = std::chrono::seconds(2);
  auto real = cfg.make_store;
  cfg.make_store = [&](caf::actor_system& s, const store_config& sc) {
    if (stores.empty()) {
      stores.push_back(spawn_stuck_store(s, true));
      return stores.back();
    }
    return real(s, sc);
  };
  start_server();
  auto key = key_of(50);
  auto c = connect(key);
  for (int i = 0; i < 100; ++i)
    send(c, make_trace("s", i));
  run();
  // The session waits for its append, reports it after the timeout; the
  // root's status probe times out too, and the store is replaced.
  CHECK(run_until([&] { return stores.size() == 2; }, std::chrono::seconds(10),
                  std::chrono::milliseconds(100)));
  settle();
  CHECK(status().store_timeouts == 1);
  CHECK(err.has("the store did not answer a status request within 2000 ms; restarting it"));
  CHECK(trace_numbers(lines(key)) == iota_numbers(0, 100));
  for (int i = 100; i < 150; ++i)
    send(c, make_trace("s", i));
  settle();
  CHECK(trace_numbers(lines(key)) == iota_numbers(0, 150));
  CHECK(status().store_timeouts == 1); // a working store is left alone
}

TEST_CASE_METHOD(server_fixture, "a store that does not answer the root's recovery is replaced and the client is served", "[scenario]") {
  cerr_capture err;
  cfg.store_timeout = std::chrono::seconds(1);
  auto real = cfg.make_store;
  cfg.make_store = [&](caf::actor_system& s, const store_config& sc) {
    if (stores.empty()) {
      stores.push_back(spawn_stuck_store(s, false));
      return stores.back();
    }
    return real(s, sc);
  };
  start_server();
  auto key = key_of(56);
  auto c = connect(key);
  CHECK(c.view->received.empty()); // the flush before the recovery hangs
  // The flush times out, the status probe too: the store is replaced and
  // the recovery retried against the new one.
  CHECK(run_until([&] { return !c.view->received.empty(); }, std::chrono::seconds(10),
                  std::chrono::milliseconds(100)));
  CHECK(stores.size() == 2);
  CHECK(status().store_timeouts == 1);
  CHECK(err.has("the store did not answer a status request within 1000 ms"));
  send(c, make_trace("s", 0));
  settle();
  CHECK(trace_numbers(lines(key)) == std::vector<int64_t>{0});
}

TEST_CASE_METHOD(server_fixture, "a store held back by a failing disk is not mistaken for a stuck one", "[scenario]") {
  cerr_capture err;
  cfg.store_timeout = std::chrono::milliseconds(200);
  start_server();
  auto key = key_of(51);
  auto c = connect(key);
  send(c, make_trace("s", 0));
  settle();
  fs->fail_writes(ENOSPC);
  for (int i = 1; i < 50; ++i)
    send(c, make_trace("s", i));
  for (int i = 0; i < 40; ++i) // 2 s: ten store timeouts
    advance(std::chrono::milliseconds(50));
  CHECK(status().store_timeouts == 0);
  CHECK(stores.size() == 1);
  fs->clear_faults();
  settle();
  CHECK(trace_numbers(lines(key)) == iota_numbers(0, 50));
}

TEST_CASE_METHOD(server_fixture, "recovery that keeps failing backs off, then gives up with a note and closes the connection", "[scenario]") {
  cerr_capture err;
  cfg.recovery_retry_min = std::chrono::milliseconds(100);
  cfg.recovery_retry_max = std::chrono::milliseconds(400);
  cfg.recovery_attempts = 4;
  start_server();
  auto key = key_of(52);
  auto hex = to_hex(key);
  fs->fault_only_paths(hex);
  fs->fail_reads(EIO);
  auto c = connect(key); // attempts at 0, 100 ms, 300 ms, 700 ms
  CHECK(c.view->received.empty());
  CHECK(c.view->closes.empty()); // 300 ms in: still trying
  for (int i = 0; i < 30; ++i)
    advance(std::chrono::milliseconds(10));
  CHECK(c.view->closes.empty()); // 600 ms: the fourth attempt is not due yet
  for (int i = 0; i < 20; ++i)
    advance(std::chrono::milliseconds(10));
  REQUIRE(c.view->closes.size() == 1);
  CHECK(c.view->received.empty());
  CHECK(status().recovery_failures == 1);
  CHECK(err.has("cannot recover the last trace of " + hex + " after 4 attempts"));
  CHECK(notes(lines(key)).size() == 1);
  CHECK(notes(lines(key))[0].rfind("Recovery failed: cannot recover", 0) == 0);
  // Nothing is left scheduled for it; once the file reads again, the next
  // connection starts from scratch.
  fs->clear_faults();
  auto c2 = connect(key);
  REQUIRE(c2.view->received.size() == 1);
  CHECK(c2.view->received[0]
        == R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})");
  CHECK(status().waiting_connections == 0);
}

TEST_CASE_METHOD(server_fixture, "the waiting queue is bounded per key and in all", "[scenario]") {
  cerr_capture err;
  cfg.max_waiting_per_key = 2;
  cfg.max_waiting_connections = 3;
  cfg.recovery_retry_min = std::chrono::seconds(1);
  cfg.recovery_retry_max = std::chrono::seconds(1);
  start_server();
  fs->fail_reads(EIO); // no key can be recovered: connections wait
  auto a1 = connect(key_of(53));
  auto a2 = connect(key_of(53));
  auto a3 = connect(key_of(53)); // a newer connection of the key: a1 goes
  CHECK(a1.view->closes.size() == 1);
  CHECK(a2.view->closes.empty());
  CHECK(a3.view->closes.empty());
  CHECK(err.has("superseded while waiting (more than 2 waiting for this key)"));
  auto b1 = connect(key_of(54));
  auto c1 = connect(key_of(55)); // the fourth in all: refused
  CHECK(b1.view->closes.empty());
  CHECK(c1.view->closes.size() == 1);
  CHECK(err.has("refusing connections: 3 are waiting for their sessions"));
  auto st = status();
  CHECK(st.refused_connections == 2);
  CHECK(st.waiting_connections == 3);
  // Once recovery works, the waiting ones are served in order.
  fs->clear_faults();
  for (int i = 0; i < 150; ++i)
    advance(std::chrono::milliseconds(10));
  CHECK(b1.view->received.size() == 1);
  CHECK(a2.view->received.size() == 1);
  send(b1, make_trace("b", 0));
  settle();
  CHECK(trace_numbers(lines(key_of(54))) == std::vector<int64_t>{0});
}

TEST_CASE_METHOD(server_fixture, "the last-seen map is bounded; a forgotten key is recovered from its file", "[scenario]") {
  cfg.max_remembered_keys = 4;
  start_server();
  for (uint8_t k = 60; k < 70; ++k) {
    auto c = connect(key_of(k));
    for (int i = 0; i < 5; ++i)
      send(c, make_trace("s", i));
    settle();
    caf::anon_send(c.conn, close_atom::value);
    settle();
  }
  CHECK(status().remembered_keys == 4);
  // Key 60 was forgotten long ago: its handshake comes from its file, and
  // the client's replay adds nothing twice.
  auto again = connect(key_of(60));
  REQUIRE(again.view->received.size() == 1);
  CHECK(again.view->received[0] == handshake_of("s", 4));
  for (int i = 0; i < 8; ++i)
    send(again, make_trace("s", i));
  settle();
  CHECK(trace_numbers(lines(key_of(60))) == iota_numbers(0, 8));
  CHECK(status().remembered_keys == 4);
}
