// The server role end to end inside one process: transport -> session ->
// store -> file, driven deterministically by CAF's test coordinator.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <random>

#include <unistd.h>

#include "actors/store/tail_recovery.hpp"
#include "server/server_fixture.hpp"

using namespace ht;
using namespace ht::test;

namespace {

const std::string null_handshake
  = R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})";

std::string handshake_of(const std::string& session, int64_t n) {
  return R"({"lastSeenTraceSessionId":")" + session + R"(","lastSeenTraceNumber":)"
         + std::to_string(n) + "}";
}

// What the JS client does on a handshake: resend every buffered trace the
// server has not seen (all of them for another session).
void replay(server_fixture& f, const server_fixture::client& c,
            const std::string& session, int64_t total) {
  REQUIRE_FALSE(c.view->received.empty());
  auto hs = ordered_json::parse(c.view->received.front());
  int64_t next = 0;
  if (hs["lastSeenTraceSessionId"] == session)
    next = hs["lastSeenTraceNumber"].get<int64_t>() + 1;
  for (auto n = next; n < total; ++n)
    f.send(c, make_trace(session, n));
}

} // namespace

TEST_CASE_METHOD(server_fixture, "a new client gets the null handshake first", "[scenario]") {
  start_server();
  auto c = connect(key_of(1));
  CHECK(c.view->opened);
  REQUIRE(c.view->received.size() == 1);
  CHECK(c.view->received[0] == null_handshake);
}

TEST_CASE_METHOD(server_fixture, "10,000 traces land on disk in order, each once", "[scenario]") {
  start_server();
  auto c = connect(key_of(1));
  for (int i = 0; i < 10000; ++i)
    send(c, make_trace("s1", i));
  settle();
  auto ls = lines(key_of(1));
  REQUIRE(ls.size() == 10001);
  CHECK(notes(ls) == std::vector<std::string>{"New session from " + to_hex(key_of(1))
                                              + ". sessionId=s1"});
  CHECK(trace_numbers(ls) == iota_numbers(0, 10000));
  // Every trace line starts with the server's time and userId.
  for (size_t i = 1; i < ls.size(); ++i) {
    auto it = ls[i].begin();
    REQUIRE(it.key() == "time");
    CHECK((++it).key() == "userId");
  }
  CHECK(ls[1]["userId"] == "bench___01010101");
}

TEST_CASE_METHOD(server_fixture, "new session and gap notes are written", "[scenario]") {
  start_server();
  auto c = connect(key_of(2));
  send(c, make_trace("a", 0));
  send(c, make_trace("a", 1));
  send(c, make_trace("a", 5));
  send(c, make_trace("b", 0));
  settle();
  auto hex = to_hex(key_of(2));
  CHECK(notes(lines(key_of(2)))
        == std::vector<std::string>{"New session from " + hex + ". sessionId=a",
                                    "Skipped 3 messages! lastSeenTraceNumber=1 traceNumber=5",
                                    "New session from " + hex + ". sessionId=b"});
}

TEST_CASE_METHOD(server_fixture, "a reconnecting client replays without duplicates", "[scenario]") {
  start_server();
  auto key = key_of(3);
  auto c1 = connect(key);
  for (int i = 0; i < 100; ++i)
    send(c1, make_trace("s", i));
  settle();
  caf::anon_send(c1.conn, close_atom::value);
  settle();
  auto c2 = connect(key);
  REQUIRE(c2.view->received.size() == 1);
  CHECK(c2.view->received[0] == handshake_of("s", 99));
  // The JS client resends from its buffer; the server must not write twice
  // even if the client replays too much.
  for (int i = 50; i < 150; ++i)
    send(c2, make_trace("s", i));
  settle();
  auto ls = lines(key);
  CHECK(trace_numbers(ls) == iota_numbers(0, 150));
  CHECK(notes(ls).size() == 1);
}

TEST_CASE_METHOD(server_fixture, "a reconnect while the old connection lingers supersedes it", "[scenario]") {
  start_server();
  auto key = key_of(4);
  auto c1 = connect(key);
  for (int i = 0; i < 10; ++i)
    send(c1, make_trace("s", i));
  settle();
  auto c2 = connect(key); // c1 is never closed by the client
  REQUIRE(c2.view->received.size() == 1);
  CHECK(c2.view->received[0] == handshake_of("s", 9));
  REQUIRE(c1.view->closes.size() == 1); // the server closed the old one
  replay(*this, c2, "s", 20);
  settle();
  CHECK(trace_numbers(lines(key)) == iota_numbers(0, 20));
}

TEST_CASE_METHOD(server_fixture, "killed and restarted, the server recovers from its files: nothing lost, nothing twice", "[scenario]") {
  start_server();
  auto key = key_of(5);
  auto c1 = connect(key);
  for (int i = 0; i < 500; ++i)
    send(c1, make_trace("s", i));
  settle();
  for (int i = 500; i < 700; ++i)
    send(c1, make_trace("s", i)); // still in flight when the server dies
  run();
  kill_server();
  CHECK(c1.view->closes.size() == 1);

  // The kill may also have cost the file its tail: cut it at a random
  // point, leaving a partial last line as a crash can.
  auto raw = raw_lines(key);
  REQUIRE(raw.size() > 300);
  std::mt19937 rng(42);
  auto keep = 200 + rng() % 100;
  {
    std::ofstream out(log_path(key), std::ios::trunc);
    for (size_t i = 0; i < keep; ++i)
      out << raw[i] << "\n";
    out << raw[keep].substr(0, raw[keep].size() / 2); // no newline
  }

  start_server();
  auto c2 = connect(key);
  REQUIRE(c2.view->received.size() == 1);
  CHECK(c2.view->received[0] == handshake_of("s", static_cast<int64_t>(keep) - 2));
  replay(*this, c2, "s", 1000);
  settle();
  // Every line but the torn one parses; the traces are 0..999 exactly once.
  std::vector<ordered_json> parsed;
  size_t torn = 0;
  for (auto& l : raw_lines(key)) {
    try {
      parsed.push_back(ordered_json::parse(l));
    } catch (const nlohmann::json::exception&) {
      ++torn;
    }
  }
  CHECK(torn == 1);
  CHECK(trace_numbers(parsed) == iota_numbers(0, 1000));
}

TEST_CASE_METHOD(server_fixture, "a trace whose keys the client escaped is recovered after a restart", "[scenario]") {
  // The session accepts "trace\u004eumber" (JSON.parse does) and keeps the
  // client's text; recovery reads the file with the same parser the session
  // uses to reconcile, so the restarted server's handshake names that trace
  // and the client's replay adds nothing twice.
  start_server();
  auto key = key_of(31);
  auto c1 = connect(key);
  for (int i = 0; i < 10; ++i) {
    auto t = make_trace("s", i);
    if (i == 9)
      t.replace(t.find("\"traceNumber\""), 13, R"("trace\u004eumber")");
    send(c1, t);
  }
  settle();
  kill_server();
  start_server();
  auto c2 = connect(key);
  REQUIRE(c2.view->received.size() == 1);
  CHECK(c2.view->received[0] == handshake_of("s", 9));
  replay(*this, c2, "s", 12);
  settle();
  CHECK(trace_numbers(lines(key)) == iota_numbers(0, 12));
}

TEST_CASE_METHOD(server_fixture, "bad input gets a note each and the connection goes on", "[scenario]") {
  cfg.limits.max_message_bytes = 4096;
  start_server();
  auto key = key_of(6);
  auto c = connect(key);
  send(c, "not json");
  send(c, "[1]");
  send(c, R"({"traceSessionId":"s"})");
  send(c, R"({"traceSessionId":1,"traceNumber":1})");
  send(c, "{\"traceSessionId\":\"\xc3\x28\",\"traceNumber\":0}");
  send(c, make_trace("s", 0, std::string(5000, 'x')));
  send(c, make_trace("s", 0, "J\xc3\xbcrgen"));
  send(c, make_trace("s", 1));
  settle();
  auto ls = lines(key);
  auto ns = notes(ls);
  REQUIRE(ns.size() == 8);
  for (int i = 0; i < 6; ++i)
    CHECK(ns[i].rfind("Malformed message: ", 0) == 0);
  CHECK(ns[6].rfind("Sanitized props.username", 0) == 0);
  CHECK(ns[7].rfind("New session from", 0) == 0);
  CHECK(trace_numbers(ls) == std::vector<int64_t>{0, 1});
  CHECK(c.view->closes.empty());
}

TEST_CASE_METHOD(server_fixture, "a peer that keeps sending garbage is cut off; others are unaffected", "[scenario]") {
  cfg.limits.max_bad_messages_in_row = 20;
  start_server();
  auto bad = connect(key_of(7));
  auto good = connect(key_of(8));
  for (int i = 0; i < 1000; ++i) {
    send(bad, "garbage " + std::to_string(i));
    if (i < 100)
      send(good, make_trace("g", i));
  }
  settle();
  REQUIRE(bad.view->closes.size() == 1);
  CHECK(notes(lines(key_of(7))).size() == 21);
  CHECK(trace_numbers(lines(key_of(8))) == iota_numbers(0, 100));
}

TEST_CASE_METHOD(server_fixture, "socket errors are written as notes", "[scenario]") {
  start_server();
  auto key = key_of(9);
  auto c = connect(key);
  send(c, make_trace("s", 0));
  settle();
  caf::anon_send_exit(c.conn, caf::exit_reason::kill); // the client end dies
  settle();
  auto ns = notes(lines(key));
  REQUIRE(ns.size() == 2);
  CHECK(ns[1].rfind("Socket error. code=ECONNRESET message=", 0) == 0);
}

TEST_CASE_METHOD(server_fixture, "a crashed session is cleaned up without affecting others", "[scenario]") {
  start_server();
  auto a = connect(key_of(10));
  auto b = connect(key_of(11));
  for (int i = 0; i < 50; ++i) {
    send(a, make_trace("a", i));
    send(b, make_trace("b", i));
  }
  settle();
  auto session = ask<caf::actor>(status_atom::value, to_hex(key_of(10)));
  REQUIRE(session);
  caf::anon_send_exit(session, caf::exit_reason::kill);
  settle();
  CHECK(a.view->closes.size() == 1); // its client learns and will reconnect
  CHECK(status().session_crashes == 1);
  for (int i = 50; i < 100; ++i)
    send(b, make_trace("b", i));
  settle();
  CHECK(trace_numbers(lines(key_of(11))) == iota_numbers(0, 100));
  // The crashed client reconnects and continues exactly once.
  auto a2 = connect(key_of(10));
  replay(*this, a2, "a", 80);
  settle();
  CHECK(trace_numbers(lines(key_of(10))) == iota_numbers(0, 80));
  auto ns = notes(lines(key_of(10)));
  REQUIRE(ns.size() == 2);
  CHECK(ns[1].rfind("Session crashed: ", 0) == 0);
}

TEST_CASE_METHOD(server_fixture, "a crashed store is restarted and nothing accepted is lost", "[scenario]") {
  start_server();
  auto key = key_of(12);
  auto c = connect(key);
  for (int i = 0; i < 100; ++i)
    send(c, make_trace("s", i));
  settle();
  for (int i = 100; i < 300; ++i)
    send(c, make_trace("s", i));
  run(); // lines in flight to the store, not yet written
  REQUIRE(stores.size() == 1);
  caf::anon_send_exit(stores[0], caf::exit_reason::kill);
  settle();
  CHECK(stores.size() == 2);
  CHECK(status().store_restarts == 1);
  for (int i = 300; i < 400; ++i)
    send(c, make_trace("s", i));
  settle();
  CHECK(trace_numbers(lines(key)) == iota_numbers(0, 400));
}

namespace {

// A store that writes every line at once but never acknowledges, then dies
// when told: the one way a batch can be on disk without the session knowing
// (the real store acknowledges what it wrote even on its way out).
store_actor spawn_mute_store(caf::actor_system& sys, std::string folder) {
  return sys.spawn([folder](store_actor::pointer self) -> store_actor::behavior_type {
    return {
      [self, folder](append_atom, std::string& hex, std::vector<std::string>& lines)
        -> caf::result<uint64_t> {
        std::ofstream out(folder + "/" + hex + ".log", std::ios::app);
        for (auto& l : lines)
          out << l << "\n";
        return self->make_response_promise<uint64_t>(); // never delivered
      },
      [](flush_atom) { return true; },
      [](recover_atom, std::string&) { return last_seen_trace{}; },
      [](status_atom) { return store_status{}; },
    };
  });
}

} // namespace

TEST_CASE_METHOD(server_fixture, "a store that dies after writing but before acknowledging causes no duplicates", "[scenario]") {
  auto real = cfg.make_store;
  cfg.make_store = [&](caf::actor_system& s, const store_config& sc) {
    if (stores.empty()) {
      stores.push_back(spawn_mute_store(s, sc.folder));
      return stores.back();
    }
    return real(s, sc);
  };
  start_server();
  auto key = key_of(17);
  auto c = connect(key);
  for (int i = 0; i < 100; ++i)
    send(c, make_trace("s", i));
  run();
  CHECK(trace_numbers(lines(key)) == iota_numbers(0, 1)); // first batch written, unacked
  caf::anon_send_exit(stores.front(), caf::exit_reason::kill);
  settle();
  for (int i = 100; i < 150; ++i)
    send(c, make_trace("s", i));
  settle();
  CHECK(stores.size() == 2);
  CHECK(trace_numbers(lines(key)) == iota_numbers(0, 150));
}

namespace {

// The real store behind a proxy that records the bytes of each append
// request, to see how the session cuts its batches.
store_actor spawn_recording_store(caf::actor_system& sys, store_actor inner,
                                  std::shared_ptr<std::vector<size_t>> sizes) {
  return sys.spawn([inner, sizes](store_actor::pointer self) -> store_actor::behavior_type {
    // The server ends the store it knows, this proxy: the real store must
    // end with it (flushing while the test's folder still exists), not
    // outlive the fixture and retry writing to a removed folder forever.
    self->link_to(inner);
    return {
      [self, inner, sizes](append_atom, std::string& hex, std::vector<std::string>& lines)
        -> caf::result<uint64_t> {
        size_t n = 0;
        for (auto& l : lines)
          n += l.size() + 1;
        sizes->push_back(n);
        return self->delegate(inner, append_atom::value, std::move(hex), std::move(lines));
      },
      [self, inner](flush_atom) -> caf::result<bool> {
        return self->delegate(inner, flush_atom::value);
      },
      [self, inner](recover_atom, std::string& hex) -> caf::result<last_seen_trace> {
        return self->delegate(inner, recover_atom::value, std::move(hex));
      },
      [self, inner](status_atom) -> caf::result<store_status> {
        return self->delegate(inner, status_atom::value);
      },
    };
  });
}

} // namespace

/// After 300 traces sent with no time passing: every full batch (all but
/// the last, at most flush_bytes of ~400-byte lines) is in the file, in
/// order, once; the rest is there once the flush interval (10 s) ends.
static void check_full_batches_then_all(server_fixture& f, const public_key& key) {
  auto written = f.trace_numbers(f.lines(key));
  CHECK(written.size() + f.cfg.store.flush_bytes / 400 >= 300);
  CHECK(written == iota_numbers(0, static_cast<int64_t>(written.size())));
  f.advance(std::chrono::seconds(10));
  CHECK(f.trace_numbers(f.lines(key)) == iota_numbers(0, 300));
}

TEST_CASE_METHOD(server_fixture, "a session hands its lines to the store in batches of at most the store's flush_bytes, each written at once", "[scenario]") {
  // One batch in flight: while the store holds the first trace, the other
  // 299 (~150 KB) pile up in the session. They must not go as one request:
  // a whole window in one batch sits in memory three times (the session,
  // the message, the store's buffer). A batch that reaches flush_bytes is
  // written at once, so no flush interval is waited for.
  cfg.store.flush_bytes = 8 * 1024;
  cfg.store.flush_interval = std::chrono::seconds(10);
  auto sizes = std::make_shared<std::vector<size_t>>();
  auto real = cfg.make_store;
  cfg.make_store = [real, sizes](caf::actor_system& s, const store_config& sc) {
    return spawn_recording_store(s, real(s, sc), sizes);
  };
  start_server();
  auto key = key_of(18);
  auto c = connect(key);
  for (int i = 0; i < 300; ++i)
    send(c, make_trace("s", i));
  // The first batch (the first trace) is small: written after the interval.
  // The rest follow in full batches, each written at once.
  run();
  advance(std::chrono::seconds(10));
  auto line = make_trace("s", 299).size() + 200; // a trace line: ours plus time, userId
  std::string batches;
  for (auto n : *sizes)
    batches += " " + std::to_string(n);
  INFO("bytes of each batch handed to the store:" << batches);
  REQUIRE(sizes->size() > 10);
  for (auto n : *sizes)
    CHECK(n < cfg.store.flush_bytes + line);
  check_full_batches_then_all(*this, key);
}

TEST_CASE_METHOD(server_fixture, "while a small batch waits for the store's flush interval, a full one goes at once and the store writes both", "[scenario]") {
  // Without the second batch, the session would hold every line that
  // arrives during the flush interval (at 50,000 traces/s, 50 ms is over
  // 1 MB) until the store acknowledged the first, small batch.
  cfg.store.flush_bytes = 8 * 1024;
  cfg.store.flush_interval = std::chrono::seconds(10);
  start_server();
  auto key = key_of(19);
  auto c = connect(key);
  for (int i = 0; i < 300; ++i)
    send(c, make_trace("s", i));
  run(); // no time passes: no flush interval ends
  check_full_batches_then_all(*this, key);
}

TEST_CASE_METHOD(server_fixture, "the folder removed while running is recreated and nothing is lost", "[scenario]") {
  start_server();
  auto key = key_of(13);
  auto c = connect(key);
  for (int i = 0; i < 100; ++i)
    send(c, make_trace("s", i));
  settle();
  remove_tree(dir.path());
  for (int i = 100; i < 200; ++i)
    send(c, make_trace("s", i));
  settle();
  // The old lines went with the folder; everything after is there, once.
  CHECK(trace_numbers(lines(key)) == iota_numbers(100, 200));
}

TEST_CASE_METHOD(server_fixture, "write errors: data kept, retried, backpressure past the cap, then all written", "[scenario]") {
  cfg.store.memory_cap_bytes = 64 * 1024;
  cfg.session_window_bytes = 16 * 1024;
  start_server();
  auto key = key_of(14);
  auto c = connect(key);
  send(c, make_trace("s", 0));
  settle();
  fs->fail_writes(ENOSPC);
  for (int i = 1; i < 2000; ++i) // ~700 KB: far past the cap
    send(c, make_trace("s", i));
  settle();
  CHECK(trace_numbers(lines(key)) == std::vector<int64_t>{0});
  fs->clear_faults();
  for (int i = 0; i < 100; ++i)
    advance(std::chrono::milliseconds(50));
  auto ls = lines(key); // parse fails on any corrupt line
  CHECK(trace_numbers(ls) == iota_numbers(0, 2000));
}

TEST_CASE_METHOD(server_fixture, "a peer whose writes fail does not delay another peer's traces", "[scenario]") {
  // The fixture's store writes every 10 ms and backs off 10..50 ms after an
  // error. One client's file fails (EIO, only its path) while its session
  // floods far past the store's memory cap; the other client's traces keep
  // landing within a few write intervals, as they do with no trouble around.
  cfg.store.memory_cap_bytes = 64 * 1024;
  cfg.store.min_share_bytes = 16 * 1024;
  cfg.session_window_bytes = 16 * 1024;
  start_server();
  auto bad = key_of(40);
  auto good = key_of(41);
  auto a = connect(bad);
  auto b = connect(good);
  send(a, make_trace("a", 0));
  send(b, make_trace("b", 0));
  settle();
  fs->fault_only_paths(to_hex(bad));
  fs->fail_writes(EIO, store::faulty_file_system::forever, /*after=*/1);
  // ~480 KB. The one write that still succeeds takes the first two
  // batches (the second, full, goes while the first waits), so the rest
  // must still be well over the cap.
  for (int i = 1; i < 1500; ++i)
    send(a, make_trace("a", i));
  for (int i = 0; i < 20; ++i)
    advance(std::chrono::milliseconds(10));
  auto held = current_store_status();
  CHECK(held.failing);
  CHECK(held.buffered_bytes > cfg.store.memory_cap_bytes); // the bad peer's pile

  int64_t sent = 1;
  bool on_time = true;
  for (int round = 0; round < 30 && on_time; ++round) {
    for (int k = 0; k < 5; ++k) // ~1.7 KB a round: ~3 windows in all
      send(b, make_trace("b", sent++));
    for (int t = 0; t < 3; ++t)
      advance(std::chrono::milliseconds(10));
    auto got = trace_numbers(lines(good));
    on_time = got == iota_numbers(0, sent);
    INFO("round " << round << ": " << got.size() << " of " << sent << " traces in the file");
    CHECK(on_time);
  }
  CHECK(trace_numbers(lines(bad)).size() < 1500);
  fs->clear_faults();
  for (int i = 0; i < 40; ++i)
    advance(std::chrono::milliseconds(50));
  CHECK(trace_numbers(lines(bad)) == iota_numbers(0, 1500));
  CHECK(trace_numbers(lines(good)) == iota_numbers(0, sent));
}

TEST_CASE_METHOD(server_fixture, "orderly shutdown drains sessions and flushes everything", "[scenario]") {
  cfg.store.flush_interval = std::chrono::hours(1); // only the shutdown writes
  cfg.store.fsync_interval = std::chrono::hours(1);
  start_server();
  auto key = key_of(15);
  auto c = connect(key);
  for (int i = 0; i < 1000; ++i)
    send(c, make_trace("s", i));
  run();
  CHECK(ask<bool>(shutdown_atom::value));
  CHECK(c.view->closes.size() == 1);
  CHECK(fs->stats().fsync_calls >= 1);
  CHECK(trace_numbers(lines(key)) == iota_numbers(0, 1000));
  // New connections are refused after shutdown.
  auto late = connect(key_of(16));
  CHECK(late.view->received.empty());
  CHECK(late.view->closes.size() == 1);
}
