// The store on real threads and in a real process: the detached mode the
// server uses in production, and a real SIGKILL in the middle of writing.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstring>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "actors/store/log_paths.hpp"
#include "actors/store/store.hpp"
#include "actors/store/tail_recovery.hpp"
#include "store_test_util.hpp"

using namespace std::chrono_literals;
using namespace ht;
using namespace ht::store::test;

namespace {

struct quiet_config : caf::actor_system_config {
  quiet_config() {
    set("logger.verbosity", caf::atom("quiet"));
    set("logger.console", caf::atom("none"));
    set("scheduler.max-threads", 2);
  }
};

std::vector<std::string> batch(int64_t from, int64_t to, size_t size = 0) {
  std::vector<std::string> b;
  for (auto i = from; i < to; ++i)
    b.push_back(trace_line("k", i, size));
  return b;
}

// All lines of a client's files, oldest file first; `rest` gets a torn
// last line of the current file, if any.
std::vector<std::string> all_lines(const std::string& folder, uint32_t keep,
                                   std::string& rest) {
  std::vector<std::string> out;
  for (auto gen = static_cast<int64_t>(keep); gen >= 0; --gen) {
    auto p = ht::store::log_path(folder, key_a, static_cast<uint32_t>(gen));
    if (!file_exists(p))
      continue;
    std::string r;
    auto lines = split_lines(read_file(p), &r);
    if (gen > 0)
      REQUIRE(r.empty()); // a rotated file always ends on a whole line
    else
      rest = r;
    out.insert(out.end(), lines.begin(), lines.end());
  }
  return out;
}

} // namespace

TEST_CASE("store: detached store on the real scheduler", "[scenario]") {
  temp_dir dir;
  quiet_config cfg;
  caf::actor_system sys{cfg};
  store_config sc;
  sc.folder = dir.path();
  sc.detached = true;
  sc.flush_interval = 2ms;
  auto store = spawn_store(sys, sc);
  caf::scoped_actor self{sys};
  for (int b = 0; b < 20; ++b) {
    bool ok = false;
    self->request(store, caf::infinite, append_atom::value, key_a, batch(b * 50, b * 50 + 50))
      .receive([&](uint64_t) { ok = true; },
               [&](caf::error& e) { FAIL(sys.render(e)); });
    REQUIRE(ok);
  }
  std::string expected;
  for (auto& l : batch(0, 1000))
    expected += l + "\n";
  CHECK(read_file(ht::store::log_path(dir.path(), key_a)) == expected);
  self->send_exit(store, caf::exit_reason::user_shutdown);
}

TEST_CASE("store: a real SIGKILL loses nothing acknowledged and duplicates nothing",
          "[scenario]") {
  temp_dir dir;
  constexpr uint32_t keep = 1000;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: write batches as fast as the store acknowledges them and tell
    // the parent the last acknowledged trace number after each reply.
    ::close(fds[0]);
    quiet_config cfg;
    caf::actor_system sys{cfg};
    store_config sc;
    sc.folder = dir.path();
    sc.detached = true;
    sc.flush_interval = 1ms;
    sc.rotate_bytes = 300 * 1024;
    sc.rotate_keep = keep;
    auto store = spawn_store(sys, sc);
    caf::scoped_actor self{sys};
    for (int64_t n = 0;; n += 37) {
      bool ok = false;
      self->request(store, caf::infinite, append_atom::value, key_a, batch(n, n + 37, 448))
        .receive([&](uint64_t) { ok = true; }, [&](caf::error&) {});
      int64_t last = n + 36;
      if (!ok || ::write(fds[1], &last, sizeof(last)) != sizeof(last))
        ::_exit(1);
    }
  }
  ::close(fds[1]);
  // Parent: let it run until well past a few rotations, then kill -9.
  int64_t acked = -1;
  while (acked < 15000) {
    pollfd p{fds[0], POLLIN, 0};
    REQUIRE(::poll(&p, 1, 60000) == 1);
    int64_t v;
    REQUIRE(::read(fds[0], &v, sizeof(v)) == sizeof(v));
    acked = v;
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  // Replies that were in flight at the kill: also acknowledged.
  for (int64_t v; ::read(fds[0], &v, sizeof(v)) == sizeof(v);)
    acked = v;
  ::close(fds[0]);

  // On disk: traces 0..k in order, each once, k >= every acknowledged one.
  std::string rest;
  auto lines = all_lines(dir.path(), keep, rest);
  int64_t k = -1;
  for (auto& l : lines) {
    auto t = ht::store::parse_trace_line(l);
    REQUIRE(t);
    REQUIRE(t->trace_number == k + 1);
    k = t->trace_number;
  }
  CHECK(k >= acked);

  // Restart: recover resumes after k; the client replays from there.
  quiet_config cfg;
  caf::actor_system sys{cfg};
  store_config sc;
  sc.folder = dir.path();
  sc.rotate_bytes = 300 * 1024;
  sc.rotate_keep = keep;
  sc.flush_interval = 1ms;
  auto store = spawn_store(sys, sc);
  caf::scoped_actor self{sys};
  last_seen_trace rec;
  self->request(store, caf::infinite, recover_atom::value, key_a)
    .receive([&](last_seen_trace& t) { rec = t; },
             [&](caf::error& e) { FAIL(sys.render(e)); });
  REQUIRE(rec.found);
  CHECK(rec.session_id == "k");
  CHECK(rec.trace_number == k);
  self->request(store, caf::infinite, append_atom::value, key_a, batch(k + 1, k + 101, 448))
    .receive([&](uint64_t) {}, [&](caf::error& e) { FAIL(sys.render(e)); });
  self->send_exit(store, caf::exit_reason::user_shutdown);
  self->wait_for(store);
  std::string rest2;
  auto after = all_lines(dir.path(), keep, rest2);
  CHECK(rest2.empty());
  int64_t n = -1;
  size_t torn = 0;
  for (auto& l : after) {
    auto t = ht::store::parse_trace_line(l);
    if (!t) { // the torn fragment from the kill, alone on its line
      ++torn;
      CHECK(l == rest);
      continue;
    }
    REQUIRE(t->trace_number == n + 1);
    n = t->trace_number;
  }
  CHECK(n == k + 100);
  CHECK(torn == (rest.empty() ? 0u : 1u));
}
