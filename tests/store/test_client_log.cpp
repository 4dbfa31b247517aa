#include <catch2/catch.hpp>

#include <cerrno>
#include <memory>

#include "actors/store/client_log.hpp"
#include "doubles/faulty_file_system.hpp"
#include "actors/store/log_paths.hpp"
#include "store_test_util.hpp"

using namespace ht::store;
using namespace ht::store::test;

namespace {

struct log_fixture {
  temp_dir dir;
  std::shared_ptr<faulty_file_system> fs = std::make_shared<faulty_file_system>();
  log_policy policy;
  log_fixture() { policy.folder = dir.path(); }
  std::string path(uint32_t gen = 0) const { return log_path(policy.folder, key_a, gen); }
  std::string expected(int from, int to, size_t size = 0) const {
    std::string s;
    for (int i = from; i < to; ++i)
      s += trace_line("s", i, size) + "\n";
    return s;
  }
};

void add(client_log& log, int from, int to, size_t size = 0) {
  for (int i = from; i < to; ++i) {
    auto l = trace_line("s", i, size);
    log.append(l.data(), l.size());
  }
}

} // namespace

TEST_CASE("client_log writes a batch with one write call", "[unit]") {
  log_fixture f;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 500);
  CHECK(log.buffered() == f.expected(0, 500).size());
  CHECK(log.committed() == 0);
  REQUIRE(log.write_pending());
  CHECK(f.fs->stats().writev_calls == 1);
  CHECK(log.committed() == log.accepted());
  CHECK(log.buffered() == 0);
  CHECK(log.committed_lines() == 500);
  CHECK(read_file(f.path()) == f.expected(0, 500));
  // Nothing pending: no call at all.
  REQUIRE(log.write_pending());
  CHECK(f.fs->stats().writev_calls == 1);
}

TEST_CASE("client_log releases a burst's buffer once it is written; an idle client pins little", "[unit]") {
  log_fixture f;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 200); // ~45 KB, as one client of bench_connections sends at once
  REQUIRE(log.buffer_capacity() > 32 * 1024);
  REQUIRE(log.write_pending());
  CHECK(read_file(f.path()) == f.expected(0, 200));
  CHECK(log.buffer_capacity() <= 16 * 1024);
  // A small batch keeps its small buffer (no allocation per batch).
  add(log, 200, 210);
  auto cap = log.buffer_capacity();
  REQUIRE(log.write_pending());
  CHECK(log.buffer_capacity() == cap);
  CHECK(read_file(f.path()) == f.expected(0, 210));
}

TEST_CASE("client_log finishes a line after short writes", "[unit]") {
  log_fixture f;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 20);
  f.fs->short_writes(7);
  REQUIRE(log.write_pending());
  CHECK(read_file(f.path()) == f.expected(0, 20));
  CHECK(log.committed_lines() == 20);
  CHECK(f.fs->stats().writev_calls > 20);
}

TEST_CASE("client_log keeps data on write errors and never tears a line", "[unit]") {
  log_fixture f;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 3);
  REQUIRE(log.write_pending());
  add(log, 3, 10);
  SECTION("disk full before anything is written") {
    f.fs->fail_writes(ENOSPC);
    auto err = log.write_pending();
    CHECK(err.err == ENOSPC);
    CHECK(std::string(err.op) == "write");
    CHECK(err.path == f.path());
    CHECK(read_file(f.path()) == f.expected(0, 3));
  }
  SECTION("disk full in the middle of a line") {
    // The first call writes 25 bytes (part of line 3), every later one fails.
    f.fs->short_writes(25, 1);
    f.fs->fail_writes(EIO, faulty_file_system::forever, 1);
    auto err = log.write_pending();
    CHECK(err.err == EIO);
    auto partial = read_file(f.path());
    CHECK(partial == f.expected(0, 3) + trace_line("s", 3).substr(0, 25));
    // The rest of that line is still owed, and still buffered.
    CHECK(log.committed_lines() == 3);
    CHECK(log.buffered() == f.expected(3, 10).size());
  }
  CHECK(log.committed() < log.accepted());
  f.fs->clear_faults();
  REQUIRE(log.write_pending());
  CHECK(read_file(f.path()) == f.expected(0, 10));
  CHECK(log.committed_lines() == 10);
  CHECK(log.buffered() == 0);
}

TEST_CASE("client_log rotates at line boundaries and keeps K files", "[unit]") {
  log_fixture f;
  auto line_size = trace_line("s", 0, 200).size() + 1; // 201 bytes with '\n'
  REQUIRE(line_size == 201);
  f.policy.rotate_bytes = 2000; // 9 lines fit (1809 bytes), the 10th does not
  f.policy.rotate_keep = 2;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 5, 200);
  REQUIRE(log.write_pending());
  add(log, 5, 40, 200); // spans several rotations in one batch
  REQUIRE(log.write_pending());
  CHECK(log.rotations() == 4); // files of 9 lines: 0-8, 9-17, 18-26, 27-35, 36-39
  CHECK(read_file(f.path(0)) == f.expected(36, 40, 200));
  CHECK(read_file(f.path(1)) == f.expected(27, 36, 200));
  CHECK(read_file(f.path(2)) == f.expected(18, 27, 200));
  CHECK_FALSE(file_exists(f.path(3)));
  CHECK(f.fs->stats().fsync_calls >= 4); // each finished file is synced first
}

TEST_CASE("client_log puts an oversized line alone in a fresh file", "[unit]") {
  log_fixture f;
  f.policy.rotate_bytes = 300;
  f.policy.rotate_keep = 3;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 1, 400); // bigger than rotate_bytes, first in an empty file
  add(log, 1, 2, 200);
  add(log, 2, 3, 400); // bigger than rotate_bytes: never split
  add(log, 3, 4, 200);
  REQUIRE(log.write_pending());
  CHECK(read_file(f.path(3)) == f.expected(0, 1, 400));
  CHECK(read_file(f.path(2)) == f.expected(1, 2, 200));
  CHECK(read_file(f.path(1)) == f.expected(2, 3, 400));
  CHECK(read_file(f.path(0)) == f.expected(3, 4, 200));
}

TEST_CASE("client_log with rotate_keep 0 drops the full file", "[unit]") {
  log_fixture f;
  f.policy.rotate_bytes = 500; // two 201-byte lines per file
  f.policy.rotate_keep = 0;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 5, 200);
  REQUIRE(log.write_pending());
  CHECK(log.rotations() == 2);
  CHECK(read_file(f.path(0)) == f.expected(4, 5, 200));
  CHECK_FALSE(file_exists(f.path(1)));
}

TEST_CASE("client_log recreates a removed folder and file", "[unit]") {
  log_fixture f;
  f.policy.folder = f.dir / "sub/dir";
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 3);
  REQUIRE(log.write_pending()); // creates sub/dir
  CHECK(read_file(f.path()) == f.expected(0, 3));
  SECTION("file removed") {
    REQUIRE(::unlink(f.path().c_str()) == 0);
  }
  SECTION("folder removed") {
    remove_tree(f.dir / "sub");
  }
  SECTION("file replaced") {
    REQUIRE(::rename(f.path().c_str(), (f.dir / "moved").c_str()) == 0);
    write_file(f.path(), "");
  }
  add(log, 3, 6);
  REQUIRE(log.write_pending());
  CHECK(log.reopens() == 1);
  CHECK(read_file(f.path()) == f.expected(3, 6));
}

TEST_CASE("client_log rewrites a torn line whole when its file vanished", "[unit]") {
  log_fixture f;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 2);
  f.fs->short_writes(10, 1);
  f.fs->fail_writes(EIO, 1, 1);
  CHECK(log.write_pending().err == EIO); // 10 bytes of line 0 on disk
  REQUIRE(::unlink(f.path().c_str()) == 0);
  REQUIRE(log.write_pending());
  CHECK(read_file(f.path()) == f.expected(0, 2));
}

TEST_CASE("client_log finishes a torn line in a file renamed away", "[unit]") {
  log_fixture f;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 2);
  f.fs->short_writes(10, 1);
  f.fs->fail_writes(EIO, 1, 1);
  CHECK(log.write_pending().err == EIO);
  REQUIRE(::rename(f.path().c_str(), (f.dir / "old.log").c_str()) == 0);
  REQUIRE(log.write_pending());
  // The started line is completed where it started; the rest goes to the
  // file that now has the name.
  CHECK(read_file(f.dir / "old.log") == f.expected(0, 1));
  CHECK(read_file(f.path()) == f.expected(1, 2));
}

TEST_CASE("client_log terminates a crash-cut last line before appending", "[unit]") {
  log_fixture f;
  write_file(f.path(), trace_line("s", 0) + "\n" + trace_line("s", 1).substr(0, 20));
  client_log log(*f.fs, f.policy, key_a);
  add(log, 2, 4);
  REQUIRE(log.write_pending());
  auto lines = split_lines(read_file(f.path()));
  REQUIRE(lines.size() == 4);
  CHECK(lines[1] == trace_line("s", 1).substr(0, 20)); // left as garbage, alone
  CHECK(lines[2] == trace_line("s", 2));
  CHECK(lines[3] == trace_line("s", 3));
  CHECK(f.fs->stats().writev_calls == 1); // the '\n' rides in the same writev
}

TEST_CASE("client_log sync fsyncs only when dirty", "[unit]") {
  log_fixture f;
  client_log log(*f.fs, f.policy, key_a);
  CHECK_FALSE(log.dirty());
  add(log, 0, 2);
  REQUIRE(log.write_pending());
  CHECK(log.dirty());
  REQUIRE(log.sync());
  CHECK_FALSE(log.dirty());
  auto n = f.fs->stats().fsync_calls;
  REQUIRE(log.sync());
  CHECK(f.fs->stats().fsync_calls == n);
  add(log, 2, 3);
  REQUIRE(log.write_pending());
  f.fs->fail_fsyncs(EIO, 1);
  CHECK(log.sync().err == EIO);
  CHECK(log.dirty()); // retried later
  REQUIRE(log.sync());
  CHECK_FALSE(log.dirty());
}

TEST_CASE("client_log reports an unopenable file", "[unit]") {
  log_fixture f;
  client_log log(*f.fs, f.policy, key_a);
  add(log, 0, 1);
  f.fs->fail_opens(EACCES, 1);
  auto st = log.write_pending();
  CHECK(st.err == EACCES);
  CHECK(std::string(st.op) == "open");
  REQUIRE(log.write_pending());
  CHECK(read_file(f.path()) == f.expected(0, 1));
}
