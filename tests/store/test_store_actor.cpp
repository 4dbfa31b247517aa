#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>

#include "actors/store/tail_recovery.hpp"
#include "store_actor_fixture.hpp"

using namespace std::chrono_literals;
using namespace ht;
using namespace ht::store::test;

namespace {

// Every line of `data` is complete and a JSON object: no corrupt line.
void require_only_whole_json_lines(const std::string& data) {
  std::string rest;
  auto lines = split_lines(data, &rest);
  REQUIRE(rest.empty());
  for (auto& l : lines)
    REQUIRE_FALSE(nlohmann::json::parse(l, nullptr, false).is_discarded());
}

} // namespace

TEST_CASE("store: 10,000 traces land in order with few write calls", "[scenario]") {
  store_fixture f;
  auto store = f.spawn();
  auto replies = f.append_traces(store, 0, 10000, key_a, 448);
  f.advance(f.cfg.flush_interval);
  REQUIRE(replies->errors.empty());
  REQUIRE(replies->values.size() == 10000);
  CHECK(replies->values.back() == 0); // nothing left buffered
  CHECK(read_file(f.path()) == expected_traces(0, 10000, 448));
  auto st = f.status(store);
  CHECK(st.written_lines == 10000);
  CHECK(st.buffered_bytes == 0);
  // Group commit: ~4.5 MB in batches of flush_bytes (256 KiB: 18), not
  // one call per trace.
  auto total = read_file(f.path()).size();
  CHECK(f.fs->stats().writev_calls <= total / f.cfg.flush_bytes + 2);
  CHECK(f.fs->stats().writev_calls < 100);
  CHECK(st.write_calls == f.fs->stats().writev_calls);
  f.stop(store);
}

TEST_CASE("store: replies come after the lines are written, on the flush timer", "[scenario]") {
  store_fixture f;
  f.cfg.flush_interval = 50ms;
  auto store = f.spawn();
  auto replies = f.append_traces(store, 0, 100);
  CHECK(replies->delivered() == 0);
  CHECK(f.fs->stats().writev_calls == 0);
  f.advance(49ms);
  CHECK(replies->delivered() == 0);
  CHECK_FALSE(file_exists(f.path()));
  f.advance(1ms);
  CHECK(replies->values.size() == 100);
  CHECK(f.fs->stats().writev_calls == 1); // 100 appends, one write
  CHECK(read_file(f.path()) == expected_traces(0, 100));
  f.stop(store);
}

TEST_CASE("store: a full buffer is written before the timer", "[scenario]") {
  store_fixture f;
  f.cfg.flush_bytes = 1000;
  auto store = f.spawn();
  auto replies = f.append_traces(store, 0, 10, key_a, 300); // ~3 KB
  CHECK(replies->values.size() >= 6); // written at 1000-byte marks, no timer
  f.advance(f.cfg.flush_interval);
  CHECK(replies->values.size() == 10);
  CHECK(read_file(f.path()) == expected_traces(0, 10, 300));
  f.stop(store);
}

TEST_CASE("store: files of different clients stay apart", "[scenario]") {
  store_fixture f;
  auto store = f.spawn();
  auto ra = f.append_traces(store, 0, 50, key_a, 0, "a");
  auto rb = f.append_traces(store, 0, 30, key_b, 0, "b");
  f.advance(f.cfg.flush_interval);
  CHECK(ra->values.size() == 50);
  CHECK(rb->values.size() == 30);
  CHECK(read_file(f.path(key_a)) == expected_traces(0, 50, 0, "a"));
  CHECK(read_file(f.path(key_b)) == expected_traces(0, 30, 0, "b"));
  f.stop(store);
}

TEST_CASE("store: fsync at most every fsync_interval", "[scenario]") {
  store_fixture f;
  f.cfg.flush_interval = 10ms;
  f.cfg.fsync_interval = 1s;
  auto store = f.spawn();
  for (int i = 0; i < 50; ++i) { // 50 write passes within one second
    f.append_traces(store, i, i + 1);
    f.advance(10ms);
  }
  CHECK(f.fs->stats().writev_calls == 50);
  CHECK(f.fs->stats().fsync_calls == 0);
  f.advance(509ms); // the first write was at 10 ms: its sync is due at 1010 ms
  CHECK(f.fs->stats().fsync_calls == 0);
  f.advance(1ms);
  CHECK(f.fs->stats().fsync_calls == 1);
  f.advance(2s); // nothing new written: no more fsyncs
  CHECK(f.fs->stats().fsync_calls == 1);
  f.stop(store);
}

TEST_CASE("store: fsync_interval 0 syncs every write before replying", "[scenario]") {
  store_fixture f;
  f.cfg.fsync_interval = caf::timespan{0};
  auto store = f.spawn();
  for (int i = 0; i < 5; ++i) {
    auto r = f.append_traces(store, i, i + 1);
    CHECK(r->delivered() == 0);
    f.advance(f.cfg.flush_interval);
    CHECK(r->values.size() == 1);
    CHECK(f.fs->stats().fsync_calls >= static_cast<uint64_t>(i + 1));
  }
  CHECK(f.status(store).fsyncs >= 5);
  f.stop(store);
}

TEST_CASE("store: flush writes and fsyncs everything at once", "[scenario]") {
  store_fixture f;
  auto store = f.spawn();
  auto replies = f.append_traces(store, 0, 20);
  auto flushed = f.ask<bool>(store, flush_atom::value);
  REQUIRE(flushed->ok());
  CHECK(flushed->value);
  CHECK(replies->values.size() == 20);
  CHECK(read_file(f.path()) == expected_traces(0, 20));
  CHECK(f.fs->stats().fsync_calls >= 1);
  f.stop(store);
}

TEST_CASE("store: exit flushes and fsyncs what was accepted", "[scenario]") {
  store_fixture f;
  f.cfg.flush_interval = 10s;
  auto store = f.spawn();
  auto replies = f.append_traces(store, 0, 25);
  CHECK_FALSE(file_exists(f.path()));
  f.stop(store);
  CHECK(read_file(f.path()) == expected_traces(0, 25));
  CHECK(f.fs->stats().fsync_calls >= 1);
  CHECK(replies->values.size() == 25); // written in on_exit: acknowledged
}

TEST_CASE("store: invalid client keys and lines are rejected", "[scenario]") {
  store_fixture f;
  auto store = f.spawn();
  for (std::string bad : {std::string("../../etc/passwd"), std::string(64, 'A'),
                          std::string(63, 'a') + "/", std::string(), std::string(65, 'a')}) {
    auto a = f.ask<uint64_t>(store, append_atom::value, bad,
                             std::vector<std::string>{trace_line("s", 1)});
    REQUIRE(a->done);
    CHECK(a->err == caf::sec::invalid_argument);
    auto r = f.ask<last_seen_trace>(store, recover_atom::value, bad);
    REQUIRE(r->done);
    CHECK(r->err == caf::sec::invalid_argument);
  }
  auto nl = f.ask<uint64_t>(store, append_atom::value, key_a,
                            std::vector<std::string>{trace_line("s", 1), "{\"a\":1}\n{\"b\":2}"});
  CHECK(nl->err == caf::sec::invalid_argument);
  auto empty = f.ask<uint64_t>(store, append_atom::value, key_a, std::vector<std::string>{""});
  CHECK(empty->err == caf::sec::invalid_argument);
  f.advance(f.cfg.flush_interval);
  CHECK_FALSE(file_exists(f.path())); // all-or-nothing: nothing was taken
  // Only our own folder was touched: nothing but what we made is in it.
  CHECK(f.fs->stats().open_append_calls == 0);
  f.stop(store);
}

TEST_CASE("store: folder removed while running is recreated, nothing lost", "[scenario]") {
  store_fixture f;
  f.cfg.folder = f.dir / "logs";
  auto store = f.spawn();
  auto r1 = f.append_traces(store, 0, 10);
  f.advance(f.cfg.flush_interval);
  REQUIRE(r1->values.size() == 10);
  remove_tree(f.cfg.folder);
  auto r2 = f.append_traces(store, 10, 20);
  f.advance(f.cfg.flush_interval);
  CHECK(r2->values.size() == 10);
  CHECK(read_file(f.path()) == expected_traces(10, 20));
  auto st = f.status(store);
  CHECK(st.reopened_files == 1);
  CHECK(st.write_errors == 0);
  // The file alone removed, then again.
  REQUIRE(::unlink(f.path().c_str()) == 0);
  auto r3 = f.append_traces(store, 20, 30);
  f.advance(f.cfg.flush_interval);
  CHECK(r3->values.size() == 10);
  CHECK(read_file(f.path()) == expected_traces(20, 30));
  f.stop(store);
}

TEST_CASE("store: write errors are reported once, retried, nothing lost", "[scenario]") {
  int err = GENERATE(ENOSPC, EIO);
  store_fixture f;
  cerr_capture cap;
  f.cfg.retry_min = 100ms;
  f.cfg.retry_max = 400ms;
  auto store = f.spawn();
  auto r0 = f.append_traces(store, 0, 5);
  f.advance(f.cfg.flush_interval);
  REQUIRE(r0->values.size() == 5);
  f.fs->fail_writes(err);
  auto r1 = f.append_traces(store, 5, 50);
  f.advance(f.cfg.flush_interval);
  auto st = f.status(store);
  CHECK(st.failing);
  CHECK(st.write_errors == 1);
  CHECK(st.last_error.find(std::strerror(err)) != std::string::npos);
  CHECK(st.last_error.find(f.path()) != std::string::npos);
  CHECK(st.buffered_bytes == expected_traces(5, 50).size());
  CHECK(r1->delivered() == 0);
  // More data and several retries during the episode: still one report.
  auto r2 = f.append_traces(store, 50, 60);
  f.advance_steps(3s);
  st = f.status(store);
  CHECK(st.write_errors >= 5);
  CHECK(st.write_errors <= 15); // backoff, not a busy loop
  CHECK(cap.count("retrying)") == 1);
  CHECK(r1->delivered() == 0);
  CHECK(read_file(f.path()) == expected_traces(0, 5));
  // The disk recovers: everything lands, replies go out, one "again" line.
  f.fs->clear_faults();
  f.advance(f.cfg.retry_max);
  CHECK(r1->values.size() == 45);
  CHECK(r2->values.size() == 10);
  CHECK(read_file(f.path()) == expected_traces(0, 60));
  st = f.status(store);
  CHECK_FALSE(st.failing);
  CHECK(st.last_error.empty());
  CHECK(st.buffered_bytes == 0);
  CHECK(cap.count("writing again") == 1);
  // A second episode is reported again.
  f.fs->fail_writes(err, 1);
  auto r3 = f.append_traces(store, 60, 61);
  f.advance(f.cfg.flush_interval);
  f.advance(f.cfg.retry_max);
  CHECK(r3->values.size() == 1);
  CHECK(cap.count("retrying)") == 2);
  CHECK(read_file(f.path()) == expected_traces(0, 61));
  f.stop(store);
}

TEST_CASE("store: short writes and mid-line errors never leave a corrupt line", "[scenario]") {
  store_fixture f;
  cerr_capture cap;
  auto store = f.spawn();
  f.fs->short_writes(97);
  // Every third call fails: the file often ends mid-line between retries.
  auto r = f.append_traces(store, 0, 200, key_a, 120);
  for (int round = 0; round < 200 && r->values.size() < 200; ++round) {
    f.fs->fail_writes(EIO, 1, 2);
    f.advance(f.cfg.retry_max);
    // Whatever is on disk now: whole lines, in order, then at most a part of
    // the next one (that the store owes and will finish first).
    std::string rest;
    auto lines = split_lines(read_file(f.path()), &rest);
    for (size_t i = 0; i < lines.size(); ++i)
      REQUIRE(lines[i] == trace_line("s", static_cast<int64_t>(i), 120));
    if (!rest.empty())
      REQUIRE(trace_line("s", static_cast<int64_t>(lines.size()), 120).rfind(rest, 0) == 0);
  }
  f.fs->clear_faults();
  f.advance(f.cfg.retry_max);
  CHECK(r->values.size() == 200);
  CHECK(read_file(f.path()) == expected_traces(0, 200, 120));
  require_only_whole_json_lines(read_file(f.path()));
  f.stop(store);
}

TEST_CASE("store: past the memory cap replies are withheld from the client holding unwritten lines, then delivered", "[scenario]") {
  store_fixture f;
  cerr_capture cap;
  f.cfg.memory_cap_bytes = 4000;
  auto store = f.spawn();
  auto line_bytes = trace_line("a", 0, 200).size() + 1;
  // Client A's batch gets written; every write after it fails, so client
  // B's data stays in memory, above the cap. B is the one held back: A's
  // lines are all in the file, so its replies go out.
  auto ra = f.append_traces(store, 0, 5, key_a, 200, "a");
  auto rb = f.append_traces(store, 0, 30, key_b, 200, "b");
  f.fs->fail_writes(ENOSPC, ht::store::faulty_file_system::forever, 1);
  f.advance(f.cfg.flush_interval);
  CHECK(read_file(f.path(key_a)) == expected_traces(0, 5, 200, "a"));
  auto st = f.status(store);
  CHECK(st.buffered_bytes == 30 * line_bytes);
  CHECK(st.buffered_bytes > f.cfg.memory_cap_bytes);
  CHECK(ra->delivered() == 5); // written, and A holds nothing unwritten
  CHECK(rb->delivered() == 0);
  CHECK(st.withheld_replies == 30);
  // Accepting more is fine (never dropped); A's new line cannot be written
  // either now, so A waits too.
  auto ra2 = f.append_traces(store, 5, 6, key_a, 200, "a");
  f.advance(1s);
  CHECK(ra2->delivered() == 0);
  CHECK(rb->delivered() == 0);
  // Writing resumes: all replies go out, in order per requester.
  f.fs->clear_faults();
  f.advance(f.cfg.retry_max);
  CHECK(ra->values.size() == 5);
  CHECK(ra2->values.size() == 1);
  CHECK(rb->values.size() == 30);
  CHECK(read_file(f.path(key_a)) == expected_traces(0, 6, 200, "a"));
  CHECK(read_file(f.path(key_b)) == expected_traces(0, 30, 200, "b"));
  CHECK(f.status(store).withheld_replies == 0);
  f.stop(store);
}

TEST_CASE("store: recover finds the last trace, also in rotated and unwritten lines", "[scenario]") {
  store_fixture f;
  f.cfg.rotate_bytes = 1000;
  f.cfg.rotate_keep = 3;
  auto store = f.spawn();
  auto none = f.ask<last_seen_trace>(store, recover_atom::value, key_a);
  REQUIRE(none->ok());
  CHECK_FALSE(none->value.found);
  f.append_traces(store, 0, 12, key_a, 200, "s1");
  f.advance(f.cfg.flush_interval);
  auto r = f.ask<last_seen_trace>(store, recover_atom::value, key_a);
  REQUIRE(r->ok());
  CHECK(r->value.session_id == "s1");
  CHECK(r->value.trace_number == 11);
  // A note after a rotation: .log has no trace, .log.1 has.
  f.append_batches(store, key_a, {{std::string(900, ' ') + "{}"}});
  f.append_batches(store, key_a, {{note_line("New session from x. sessionId=s2")}});
  f.advance(f.cfg.flush_interval);
  REQUIRE(f.status(store).rotations >= 3);
  r = f.ask<last_seen_trace>(store, recover_atom::value, key_a);
  CHECK(r->value.trace_number == 11);
  // Accepted, not yet written: recover sees it too (it is newer).
  f.append_traces(store, 0, 1, key_a, 0, "s2");
  r = f.ask<last_seen_trace>(store, recover_atom::value, key_a);
  CHECK(r->value.session_id == "s2");
  CHECK(r->value.trace_number == 0);
  f.stop(store);
}

TEST_CASE("store: SIGKILL-style restart neither loses nor duplicates", "[scenario]") {
  store_fixture f;
  // A "session" that replays what the store did not acknowledge, after a
  // restart that resumes from recover() (the lead's session logic, inlined).
  int acked = 0;
  {
    auto store = f.spawn();
    auto r = f.append_traces(store, 0, 100);
    f.advance(f.cfg.flush_interval);
    REQUIRE(r->values.size() == 100);
    acked = 100;
    // Traces 100..119 are accepted, never written: the process dies with
    // the disk failing, and a torn half line at the end of the file.
    f.fs->fail_writes(EIO);
    cerr_capture cap;
    auto lost = f.append_traces(store, 100, 120);
    f.stop(store);
    CHECK(lost->values.empty());
    f.fs->clear_faults();
    std::ofstream(f.path(), std::ios::app) << trace_line("s", 100).substr(0, 40);
  }
  auto store = f.spawn();
  auto rec = f.ask<last_seen_trace>(store, recover_atom::value, key_a);
  REQUIRE(rec->ok());
  REQUIRE(rec->value.found);
  CHECK(rec->value.session_id == "s");
  CHECK(rec->value.trace_number == acked - 1);
  // The client still holds 100..119 (unacknowledged): resume after the
  // recovered number; nothing is written twice.
  auto next = static_cast<int>(rec->value.trace_number) + 1;
  auto r2 = f.append_traces(store, next, 130);
  f.advance(f.cfg.flush_interval);
  REQUIRE(r2->values.size() == 30);
  std::string rest;
  auto lines = split_lines(read_file(f.path()), &rest);
  CHECK(rest.empty());
  std::vector<int64_t> numbers;
  for (auto& l : lines)
    if (auto t = ht::store::parse_trace_line(l))
      numbers.push_back(t->trace_number);
  REQUIRE(numbers.size() == 130);
  for (int i = 0; i < 130; ++i)
    REQUIRE(numbers[static_cast<size_t>(i)] == i);
  // The torn fragment stayed a line of its own, not merged with trace 100.
  CHECK(lines.size() == 131);
  CHECK(lines[100] == trace_line("s", 100).substr(0, 40));
  f.stop(store);
}

TEST_CASE("store: idle files are closed and reopened on demand", "[scenario]") {
  store_fixture f;
  f.cfg.close_idle_after = 2s;
  auto store = f.spawn();
  f.append_traces(store, 0, 1);
  f.advance(f.cfg.flush_interval);
  CHECK(f.fs->stats().open_append_calls == 1);
  f.advance(5s);
  auto r = f.append_traces(store, 1, 2);
  f.advance(f.cfg.flush_interval);
  CHECK(r->values.size() == 1);
  CHECK(f.fs->stats().open_append_calls == 2);
  CHECK(read_file(f.path()) == expected_traces(0, 2));
  f.stop(store);
}

TEST_CASE("store: fsync failures are an episode too, retried on the sync timer", "[scenario]") {
  store_fixture f;
  cerr_capture cap;
  f.cfg.fsync_interval = 1s;
  auto store = f.spawn();
  f.fs->fail_fsyncs(EIO);
  auto r = f.append_traces(store, 0, 3);
  f.advance(f.cfg.flush_interval);
  CHECK(r->values.size() == 3); // written; fsync is due later
  f.advance_steps(3s, 100ms);
  auto st = f.status(store);
  CHECK(st.failing);
  CHECK(st.last_error.find("cannot fsync") != std::string::npos);
  CHECK(cap.count("retrying)") == 1);
  // Writes keep working meanwhile, and do not end the episode by themselves.
  auto r2 = f.append_traces(store, 3, 4);
  f.advance(f.cfg.flush_interval);
  CHECK(r2->values.size() == 1);
  CHECK(f.status(store).failing);
  CHECK(cap.count("writing again") == 0);
  f.fs->clear_faults();
  f.advance_steps(2s, 100ms);
  st = f.status(store);
  CHECK_FALSE(st.failing);
  CHECK(cap.count("writing again") == 1);
  CHECK(cap.count("retrying)") == 1);
  f.stop(store);
}

TEST_CASE("store: with fsync_interval 0 a failed fsync withholds the reply", "[scenario]") {
  store_fixture f;
  cerr_capture cap;
  f.cfg.fsync_interval = caf::timespan{0};
  f.cfg.close_idle_after = 1s;
  auto store = f.spawn();
  f.fs->fail_fsyncs(EIO, 1);
  auto r = f.append_traces(store, 0, 2);
  f.advance(f.cfg.flush_interval);
  CHECK(r->delivered() == 0); // in the file, not yet durable
  f.advance(1s);               // the sync timer retries
  CHECK(r->values.size() == 2);
  CHECK_FALSE(f.status(store).failing);
  f.stop(store);
}

TEST_CASE("store: flush reports failure while data cannot be written", "[scenario]") {
  store_fixture f;
  cerr_capture cap;
  auto store = f.spawn();
  f.fs->fail_writes(ENOSPC);
  auto r = f.append_traces(store, 0, 3);
  auto flushed = f.ask<bool>(store, flush_atom::value);
  REQUIRE(flushed->ok());
  CHECK_FALSE(flushed->value);
  CHECK(r->delivered() == 0);
  f.fs->clear_faults();
  flushed = f.ask<bool>(store, flush_atom::value);
  REQUIRE(flushed->ok());
  CHECK(flushed->value);
  CHECK(r->values.size() == 3);
  CHECK(read_file(f.path()) == expected_traces(0, 3));
  f.stop(store);
}

TEST_CASE("store: out of descriptors, quiet files are closed and the write retried", "[scenario]") {
  store_fixture f;
  cerr_capture cap;
  auto store = f.spawn();
  auto ra = f.append_traces(store, 0, 2, key_a, 0, "a");
  f.advance(f.cfg.flush_interval);
  REQUIRE(ra->values.size() == 2); // key_a's file is open and quiet now
  f.fs->fail_opens(EMFILE, 1);
  auto rb = f.append_traces(store, 0, 2, key_b, 0, "b");
  f.advance(f.cfg.flush_interval);
  CHECK(rb->values.size() == 2);
  auto st = f.status(store);
  CHECK_FALSE(st.failing);
  CHECK(st.write_errors == 0);
  CHECK(cap.count("retrying)") == 0);
  CHECK(read_file(f.path(key_b)) == expected_traces(0, 2, 0, "b"));
  // key_a was closed to make room and reopens on demand.
  auto ra2 = f.append_traces(store, 2, 3, key_a, 0, "a");
  f.advance(f.cfg.flush_interval);
  CHECK(ra2->values.size() == 1);
  CHECK(read_file(f.path(key_a)) == expected_traces(0, 3, 0, "a"));
  f.stop(store);
}

TEST_CASE("store: a client over its fair share of the cap waits, even below the store-wide cap", "[scenario]") {
  store_fixture f;
  cerr_capture cap;
  f.cfg.memory_cap_bytes = 100 * 1024;
  f.cfg.min_share_bytes = 10 * 1024;
  auto store = f.spawn();
  auto small = trace_line("a", 0, 200).size() + 1;
  // A: five small lines, then ~60 KB; B: two lines. The first write of A
  // stops inside its sixth line, the rest of that line is finished, then
  // every write fails: A's first five lines are in the file, ~60 KB of A
  // and all of B are not.
  auto ra = f.append_traces(store, 0, 5, key_a, 200, "a");
  auto ra_big = f.append_traces(store, 5, 155, key_a, 400, "a");
  auto rb = f.append_traces(store, 0, 2, key_b, 200, "b");
  f.fs->short_writes(5 * small + 10, 1);
  f.fs->fail_writes(EIO, ht::store::faulty_file_system::forever, 2);
  f.advance(f.cfg.flush_interval);
  CHECK(read_file(f.path(key_a)).substr(0, 5 * small) == expected_traces(0, 5, 200, "a"));
  auto st = f.status(store);
  REQUIRE(st.buffered_bytes < f.cfg.memory_cap_bytes); // below the store-wide cap
  REQUIRE(st.buffered_bytes > f.cfg.memory_cap_bytes / 2); // A alone is over half
  // Two clients hold unwritten bytes: a share is half the cap. A is over
  // it, so even its written lines go unacknowledged; B is not held back by
  // the share (its lines are simply not written yet).
  CHECK(ra->delivered() == 0);
  CHECK(rb->delivered() == 0);
  f.fs->clear_faults();
  f.advance(f.cfg.retry_max);
  CHECK(ra->values.size() == 5);
  CHECK(ra_big->values.size() == 150);
  CHECK(rb->values.size() == 2);
  f.stop(store);
}
