#include <catch2/catch.hpp>

#include "actors/store/log_paths.hpp"
#include "actors/store/tail_recovery.hpp"
#include "store_test_util.hpp"

using namespace ht::store;
using namespace ht::store::test;

TEST_CASE("parse_trace_line accepts trace lines only", "[unit]") {
  auto t = parse_trace_line(trace_line("3220392801237528", 41));
  REQUIRE(t);
  CHECK(t->found);
  CHECK(t->session_id == "3220392801237528");
  CHECK(t->trace_number == 41);

  // The JS server's own line, verbatim from the issue.
  auto js = parse_trace_line(
    R"({"time":"2026-11-24T06:42:57.879Z","userId":"bench___dfdd1faa","traceTimestamp":"2026-11-24T06:42:57.876Z","traceSessionId":"3220392801237528","traceNumber":0,"id":"hit","props":{"username":"bench"},"object":{"id":1,"className":"Bench","props":{"kind":"bench"}},"caller":{"filename":"/app/bench.js","functionName":"hit","props":{"i":0}}})");
  REQUIRE(js);
  CHECK(js->trace_number == 0);

  CHECK_FALSE(parse_trace_line(note_line("New session from ab. sessionId=1")));
  CHECK_FALSE(parse_trace_line(R"({"traceSessionId":"s","traceNumber":"7"})"));
  CHECK_FALSE(parse_trace_line(R"({"traceSessionId":5,"traceNumber":7})"));
  CHECK_FALSE(parse_trace_line(R"({"traceSessionId":"s","traceNumber":7.5})"));
  CHECK_FALSE(parse_trace_line(R"({"traceSessionId":"s","traceNumber":18446744073709551615})"));
  CHECK_FALSE(parse_trace_line(R"({"props":{"traceSessionId":"s","traceNumber":7}})"));
  CHECK_FALSE(parse_trace_line(R"(["traceNumber",1])"));
  CHECK_FALSE(parse_trace_line(R"({"traceSessionId":"s","traceNumber":7)")); // cut short
  CHECK_FALSE(parse_trace_line(""));
  auto neg = parse_trace_line(R"({"traceSessionId":"s","traceNumber":-3})");
  REQUIRE(neg);
  CHECK(neg->trace_number == -3);
}

TEST_CASE("last_trace_in skips notes and an unfinished last line", "[unit]") {
  std::string data = trace_line("s1", 1) + "\n" + trace_line("s1", 2) + "\n"
                     + note_line("x") + "\n" + trace_line("s1", 3); // no '\n'
  auto t = last_trace_in(data);
  REQUIRE(t);
  CHECK(t->trace_number == 2);
  CHECK_FALSE(last_trace_in(note_line("only notes") + "\n"));
  CHECK_FALSE(last_trace_in(""));
}

TEST_CASE("scan_file_tail finds the last trace for every chunk size", "[unit]") {
  temp_dir dir;
  auto fs = make_posix_file_system();
  auto path = dir / "f.log";
  // Lines of different lengths, notes, a corrupt line and a crash-cut tail.
  std::string data;
  for (int i = 0; i < 20; ++i)
    data += trace_line("sess", i, 40 + static_cast<size_t>(i) * 7) + "\n";
  data += "{corrupt\n" + note_line("Skipped 3 messages!") + "\n";
  data += trace_line("sess", 99).substr(0, 30); // partial: ignored
  write_file(path, data);
  for (size_t chunk = 1; chunk <= 300; ++chunk) {
    tail_scan_options opts;
    opts.chunk_bytes = chunk;
    auto r = scan_file_tail(*fs, path, opts);
    REQUIRE(r.err == 0);
    REQUIRE(r.trace);
    REQUIRE(r.trace->trace_number == 19);
    REQUIRE(r.trace->session_id == "sess");
  }
}

TEST_CASE("scan_file_tail reads only the tail of a big file", "[unit]") {
  temp_dir dir;
  auto fs = make_posix_file_system();
  auto path = dir / "big.log";
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 50000; ++i) // ~22 MB
      out << trace_line("s", i, 448) << '\n';
    out << note_line("New session from x. sessionId=s") << '\n';
  }
  auto r = scan_file_tail(*fs, path);
  REQUIRE(r.trace);
  CHECK(r.trace->trace_number == 49999);
  CHECK(r.bytes_read <= 64 * 1024);
}

TEST_CASE("scan_file_tail on missing, empty and trace-less files", "[unit]") {
  temp_dir dir;
  auto fs = make_posix_file_system();
  auto missing = scan_file_tail(*fs, dir / "nope.log");
  CHECK_FALSE(missing.exists);
  CHECK(missing.err == 0);
  write_file(dir / "empty.log", "");
  auto empty = scan_file_tail(*fs, dir / "empty.log");
  CHECK(empty.exists);
  CHECK_FALSE(empty.trace);
  write_file(dir / "notes.log", note_line("a") + "\n" + note_line("b") + "\n");
  CHECK_FALSE(scan_file_tail(*fs, dir / "notes.log").trace);
  write_file(dir / "partial.log", trace_line("s", 1)); // never finished
  CHECK_FALSE(scan_file_tail(*fs, dir / "partial.log").trace);
}

TEST_CASE("scan_file_tail skips over-long lines with bounded memory", "[unit]") {
  temp_dir dir;
  auto fs = make_posix_file_system();
  auto path = dir / "long.log";
  std::string huge = "{\"traceSessionId\":\"x\",\"traceNumber\":1,\"pad\":\""
                     + std::string(10000, 'p') + "\"}";
  write_file(path, trace_line("s", 5) + "\n" + huge + "\n" + note_line("n") + "\n");
  tail_scan_options opts;
  opts.chunk_bytes = 256;
  opts.max_line_bytes = 1024;
  auto r = scan_file_tail(*fs, path, opts);
  REQUIRE(r.trace);
  CHECK(r.trace->trace_number == 5); // the long one was skipped
  opts.max_line_bytes = 1u << 20;
  r = scan_file_tail(*fs, path, opts);
  REQUIRE(r.trace);
  CHECK(r.trace->trace_number == 1);
}

TEST_CASE("recover_client falls back to rotated files", "[unit]") {
  temp_dir dir;
  auto fs = make_posix_file_system();
  auto k = key_b;
  // Nothing at all.
  auto none = recover_client(*fs, dir.path(), k, 3);
  CHECK(none.err == 0);
  CHECK_FALSE(none.trace.found);
  // .log.2 only (.log and .log.1 missing).
  write_file(log_path(dir.path(), k, 2), trace_line("old", 7) + "\n");
  auto r2 = recover_client(*fs, dir.path(), k, 3);
  CHECK(r2.trace.found);
  CHECK(r2.trace.trace_number == 7);
  // .log.1 newer than .log.2; .log holds only a note and a cut line.
  write_file(log_path(dir.path(), k, 1), trace_line("mid", 8) + "\n");
  write_file(log_path(dir.path(), k, 0), note_line("New session") + "\n" + trace_line("new", 1).substr(0, 50));
  auto r1 = recover_client(*fs, dir.path(), k, 3);
  CHECK(r1.trace.session_id == "mid");
  CHECK(r1.trace.trace_number == 8);
  // keep = 0 never looks at rotated files.
  CHECK_FALSE(recover_client(*fs, dir.path(), k, 0).trace.found);
}

TEST_CASE("parse_trace_line reads keys written with escapes (as the session does)", "[unit]") {
  // The session accepts "trace\u004eumber" as traceNumber (JSON.parse does)
  // and writes the client's text as it came: recovery must see that line as
  // the trace it is, or a restart hands out an older number and the
  // client's replay duplicates what follows.
  auto t = parse_trace_line(R"({"traceSessionId":"s","trace\u004eumber":7})");
  REQUIRE(t);
  CHECK(t->session_id == "s");
  CHECK(t->trace_number == 7);
  auto u = parse_trace_line(R"({"\u0074raceSessionId":"s2","traceNumber":8})");
  REQUIRE(u);
  CHECK(u->session_id == "s2");
  CHECK_FALSE(parse_trace_line(R"({"note":"a \"quoted\" note"})"));
}
