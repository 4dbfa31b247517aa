// Many host threads tracing at once through a real, multi-threaded actor
// system: every trace arrives exactly once, numbered without gaps, each
// thread's traces in its own order. Run under ASan+UBSan in CI (and TSan
// locally: see docs/client.md).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "actors/client/client.hpp"
#include "actors/transport/inprocess.hpp"
#include "fake_server.hpp"

using namespace ht;
using namespace std::chrono_literals;

namespace {

struct Sensor {
  tracer tr;
  explicit Sensor(int thread) : tr(create_tracer(this, {{{"thread", thread}}, nullptr})) {}
  void sample(int t, int i) { tr.trace("sample", {{"t", t}, {"i", i}}); }
};

struct threaded_config : caf::actor_system_config {
  threaded_config() {
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
    set("logger.console", caf::atom("none"));
  }
};

template <class Pred>
bool wait_until(Pred pred, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(5ms); // real threads: polling is the wait
  }
  return true;
}

} // namespace

TEST_CASE("many host threads tracing at once: each trace exactly once",
          "[scenario]") {
  constexpr int threads = 4;
  constexpr int per_thread = 5000;
  test::fake_server_state server; // outlives the actor system
  threaded_config cfg;
  caf::actor_system sys{cfg};
  auto net = spawn_inprocess_network(sys);
  auto srv = test::spawn_fake_server(sys, server);
  // However the test ends, the server and the network end before the
  // system waits for its actors.
  struct ender {
    caf::actor a, b;
    ~ender() {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
    }
  } end_them{caf::actor_cast<caf::actor>(srv), caf::actor_cast<caf::actor>(net)};
  public_key server_pk{}, client_pk{};
  server_pk.fill(1);
  client_pk.fill(2);
  caf::anon_send(net, listen_atom::value, server_pk, caf::actor_cast<acceptor_actor>(srv));
  // A disconnect in the middle of the flood: replay must still be exact.
  server.kill_after = {threads * per_thread / 3};
  std::atomic<int> closes{0};
  client_options o;
  o.create_socket = [&] { return inprocess_connect(sys, net, client_pk, server_pk); };
  o.backoff = {10ms, 50ms};
  // Room for every trace and add_props record: this test is about loss.
  o.queue_bytes = size_t{threads * per_thread + 1000} * 1024;
  o.buffer_bytes = o.queue_bytes + (64u << 20);
  o.on_event = [&](const client_event& e) {
    if (e.kind == client_event_kind::close)
      ++closes;
  };
  auto cl = client::start(sys, o);
  REQUIRE(wait_until([&] { return cl.is_running(); }, 10s));
  std::vector<std::thread> hosts;
  for (int t = 0; t < threads; ++t)
    hosts.emplace_back([t, &cl] {
      Sensor s(t);
      for (int i = 0; i < per_thread; ++i) {
        s.sample(t, i);
        if (i % 1000 == 0)
          cl.add_props({{"progress_" + std::to_string(t), i}});
      }
    });
  for (auto& h : hosts)
    h.join();
  bool all_in = wait_until([&] {
    std::lock_guard<std::mutex> guard{server.mtx};
    return server.log.size() >= size_t{threads * per_thread};
  }, 120s);
  if (!all_in) {
    auto st = cl.stats();
    std::lock_guard<std::mutex> guard{server.mtx};
    FAIL("server has " << server.log.size() << " traces, kills " << server.kills
         << ", accepted " << server.accepted << "; client: encoded " << st.traces
         << ", buffered " << st.buffered_traces << ", unwritten " << st.unwritten_traces
         << ", connected " << st.connected << ", connects " << st.connects
         << ", queue drops " << st.dropped_queue);
  }
  cl.stop();
  REQUIRE(wait_until([&] { return closes.load() == 1; }, 30s));
  std::lock_guard<std::mutex> guard{server.mtx};
  REQUIRE(server.log.size() == size_t{threads * per_thread});
  CHECK(server.kills == 1);
  std::vector<int> next(threads, 0);
  int64_t number = 0;
  bool in_order = true, numbered = true;
  for (auto& line : server.log) {
    auto j = nlohmann::json::parse(line);
    numbered = numbered && j["traceNumber"] == number++;
    int t = j["caller"]["props"]["t"];
    int i = j["caller"]["props"]["i"];
    in_order = in_order && i == next[t];
    next[t] = i + 1;
  }
  CHECK(numbered);
  CHECK(in_order);
  CHECK(cl.stats().dropped_queue == 0);
}

TEST_CASE("trace() from many threads while trace functions are set and cleared",
          "[unit]") {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> calls{0};
  ht::set_trace_function([&](trace_event&) { ++calls; });
  Sensor s(0); // enabled: created while a function was installed
  std::vector<std::thread> ts;
  std::atomic<uint64_t> traced{0};
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([&] {
      while (!stop) {
        s.sample(0, 0);
        ++traced;
      }
    });
  while (traced.load() < 1000)
    std::this_thread::yield(); // the tracing threads are running
  auto start = traced.load();
  for (int k = 0; k < 2000 || traced.load() < start + 10000; ++k) {
    if (k % 2)
      ht::set_trace_function([&](trace_event&) { ++calls; });
    else
      ht::clear_trace_function();
  }
  stop = true;
  for (auto& t : ts)
    t.join();
  ht::clear_trace_function();
  CHECK(calls.load() <= traced.load());
  CHECK(traced.load() >= start + 10000);
}
