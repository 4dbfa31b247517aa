// A real crash: the server role (root, sessions, detached store) in a
// forked child process on the real scheduler, killed with SIGKILL while its
// store holds lines it has not written; then a second child restarts it on
// the same folder and the client replays. Every trace ends up in the file
// exactly once.
//
// The server binary cannot be reached from another process yet (there is no
// network transport), so each child runs the real server_actor and store
// with the in-process transport and a scripted client that speaks the
// session protocol as the JS client does (handshake, then replay everything
// after lastSeen). The client's buffer, which must outlive the server, is
// the trace generator both children share.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <csignal>
#include <fstream>
#include <mutex>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/server/server.hpp"
#include "actors/store/store.hpp"
#include "actors/transport/inprocess.hpp"
#include "server/server_fixture.hpp" // make_trace, key_of
#include "support/temp_dir.hpp"

using namespace std::chrono_literals;
using namespace ht;
using namespace ht::test;

namespace {

struct threaded_config : caf::actor_system_config {
  threaded_config() {
    set("logger.verbosity", caf::atom("quiet"));
    set("logger.console", caf::atom("none"));
    set("scheduler.max-threads", 2);
  }
};

// What the client end sees, shared with the test thread.
struct wire_view {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::string> received;

  std::optional<std::string> wait_first(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> g{mtx};
    if (!cv.wait_for(g, limit, [&] { return !received.empty(); }))
      return std::nullopt;
    return received.front();
  }
};

connection_handler_actor spawn_wire_view(caf::actor_system& sys,
                                         std::shared_ptr<wire_view> v) {
  return sys.spawn([v]() -> connection_handler_actor::behavior_type {
    return {
      [](opened_atom, connection_id, public_key) {},
      [v](message_atom, connection_id, bytes& data) {
        std::lock_guard<std::mutex> g{v->mtx};
        v->received.emplace_back(data.begin(), data.end());
        v->cv.notify_all();
      },
      [](closed_atom, connection_id, std::string&, std::string&) {},
    };
  });
}

// One server incarnation with the client connected to it.
struct incarnation {
  threaded_config cfg;
  caf::actor_system sys{cfg};
  inprocess_network_actor net = spawn_inprocess_network(sys);
  public_key server_key = key_of(0xaa);
  std::mutex store_mtx;
  store_actor store;
  server_actor server;
  connection_actor conn;
  std::shared_ptr<wire_view> view = std::make_shared<wire_view>();

  explicit incarnation(server_config sc) {
    sc.make_store = [this](caf::actor_system& s, const store_config& c) {
      auto st = spawn_store(s, c);
      std::lock_guard<std::mutex> g{store_mtx};
      store = st;
      return st;
    };
    server = spawn_server(sys, sc);
    caf::anon_send(net, listen_atom::value, server_key,
                   caf::actor_cast<acceptor_actor>(server));
  }

  void connect(const public_key& client) {
    conn = inprocess_connect(sys, net, client, server_key);
    caf::anon_send(conn, attach_atom::value, spawn_wire_view(sys, view));
  }

  void send(const std::string& msg) {
    caf::anon_send(conn, write_atom::value, bytes(msg.begin(), msg.end()));
  }

  store_status store_status_now() {
    store_actor st;
    {
      std::lock_guard<std::mutex> g{store_mtx};
      st = store;
    }
    store_status out;
    caf::scoped_actor self{sys};
    self->request(st, 5s, status_atom::value)
      .receive([&](store_status& x) { out = x; }, [&](caf::error&) { ::_exit(3); });
    return out;
  }

  bool flush() {
    bool ok = false;
    caf::scoped_actor self{sys};
    self->request(store, 5s, flush_atom::value)
      .receive([&](bool x) { ok = x; }, [&](caf::error&) {});
    return ok;
  }
};

constexpr int64_t phase_a = 1000; // written before the kill
constexpr int64_t phase_b = 1500; // sent, then the kill: not all written
constexpr int64_t total = 1600;   // the client's buffer after the restart

server_config config_for(const std::string& folder, caf::timespan flush_interval) {
  server_config sc;
  sc.store.folder = folder;
  sc.store.detached = true;
  sc.store.flush_interval = flush_interval;
  sc.store.fsync_interval = 1h; // nothing is fsynced but by flush()
  return sc;
}

std::vector<nlohmann::json> file_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);)
    out.push_back(nlohmann::json::parse(l)); // throws on a torn line
  return out;
}

} // namespace

TEST_CASE("server: SIGKILL with unwritten lines in the store, restart, replay: every trace once",
          "[scenario]") {
  temp_dir dir{"ht-crash"};
  auto key = key_of(77);
  auto path = dir.path() + "/" + to_hex(key) + ".log";
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child 1. The store writes only when asked (flush_interval 1 h):
    // traces 0..999 are flushed into the file, then 1000..1499 are sent and
    // the kill comes while the store holds the first of them unwritten.
    ::close(fds[0]);
    incarnation inc{config_for(dir.path(), 1h)};
    inc.connect(key);
    if (!inc.view->wait_first(20s))
      ::_exit(2);
    for (int64_t i = 0; i < phase_a; ++i)
      inc.send(make_trace("s", i));
    // Flush until the note and every phase-A trace are in the file.
    for (int tries = 0; inc.store_status_now().written_lines < phase_a + 1; ++tries) {
      if (tries > 2000)
        ::_exit(4);
      inc.flush();
      std::this_thread::sleep_for(5ms);
    }
    for (int64_t i = phase_a; i < phase_b; ++i)
      inc.send(make_trace("s", i));
    store_status st;
    for (int tries = 0; (st = inc.store_status_now()).buffered_bytes == 0; ++tries) {
      if (tries > 2000)
        ::_exit(5);
      std::this_thread::sleep_for(5ms);
    }
    uint64_t report[2] = {st.written_lines, st.buffered_bytes};
    if (::write(fds[1], report, sizeof(report)) != sizeof(report))
      ::_exit(6);
    for (;;)
      std::this_thread::sleep_for(1s); // until the kill
  }
  ::close(fds[1]);
  uint64_t report[2] = {0, 0};
  pollfd p{fds[0], POLLIN, 0};
  REQUIRE(::poll(&p, 1, 120000) == 1);
  bool got = ::read(fds[0], report, sizeof(report)) == sizeof(report);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  REQUIRE(got);
  CHECK(WIFSIGNALED(status));
  INFO("at the kill the store had written " << report[0] << " lines and held "
                                            << report[1] << " bytes unwritten");
  CHECK(report[0] == phase_a + 1);
  CHECK(report[1] > 0);
  // What the store held is gone: the file ends at trace 999.
  auto before = file_lines(path);
  REQUIRE(before.size() == phase_a + 1);
  CHECK(before.back()["traceNumber"] == phase_a - 1);

  // Child 2: the server restarts on the same folder; the client reconnects,
  // reads the handshake and replays what the server has not seen, then
  // goes on; an orderly shutdown writes and fsyncs everything.
  pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    incarnation inc{config_for(dir.path(), 5ms)};
    inc.connect(key);
    auto hs = inc.view->wait_first(20s);
    if (!hs)
      ::_exit(2);
    auto j = nlohmann::json::parse(*hs);
    int64_t next = 0;
    if (j["lastSeenTraceSessionId"] == "s")
      next = j["lastSeenTraceNumber"].get<int64_t>() + 1;
    if (next != phase_a)
      ::_exit(10); // the handshake must name the last trace in the file
    for (int64_t i = next; i < total; ++i)
      inc.send(make_trace("s", i));
    // Let the session take every message before the shutdown closes it.
    for (int tries = 0; inc.store_status_now().written_lines < total - phase_a; ++tries) {
      if (tries > 4000)
        ::_exit(7);
      std::this_thread::sleep_for(5ms);
    }
    bool ok = false;
    caf::scoped_actor self{inc.sys};
    self->request(inc.server, 20s, shutdown_atom::value)
      .receive([&](bool x) { ok = x; }, [&](caf::error&) {});
    ::_exit(ok ? 0 : 8);
  }
  status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  auto after = file_lines(path);
  std::vector<int64_t> numbers;
  size_t notes = 0;
  for (auto& l : after) {
    if (l.contains("traceNumber"))
      numbers.push_back(l["traceNumber"].get<int64_t>());
    else
      ++notes;
  }
  CHECK(numbers == iota_numbers(0, total));
  CHECK(notes == 1); // "New session": the restart continued the session
}
