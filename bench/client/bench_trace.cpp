// Host-thread cost of one trace() call: median and p99 over every call, for
// 1 and 2 host threads, tracing on (our client connected over the
// in-process transport to a server that discards traces) and off, next to
// the JS reference (hypertrace + hypertrace-logger Client, via
// tests/interop/client-bench.js) measured in the same run.
//
//   bench_client_trace [calls per thread, default 200000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/client/client.hpp"
#include "actors/transport/inprocess.hpp"
#if HT_BENCH_HAS_NODE
#  include "support/node_process.hpp"
#endif

using namespace ht;
using clk = std::chrono::steady_clock;

namespace {

struct Sensor {
  tracer tr;
  Sensor() : tr(create_tracer(this, {{{"thread", 0}}, nullptr})) {}
  void sample(int i) { tr.trace("sample", {{"i", i}}); }
  void bare() { tr.trace("sample"); }
};

struct figures {
  double median_ns = 0, p99_ns = 0;
};

figures summarize(std::vector<int64_t>& t) {
  std::sort(t.begin(), t.end());
  return {static_cast<double>(t[t.size() / 2]),
          static_cast<double>(t[t.size() * 99 / 100])};
}

// Times every call; `threads` host threads run at once and their samples
// are pooled.
template <class F>
figures run(int threads, int calls, F&& call) {
  std::vector<std::vector<int64_t>> per(threads);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      auto& v = per[t];
      v.resize(static_cast<size_t>(calls));
      for (int i = 0; i < 20000; ++i)
        call(i); // warm up
      for (int i = 0; i < calls; ++i) {
        auto a = clk::now();
        call(i);
        v[static_cast<size_t>(i)] = (clk::now() - a).count();
      }
    });
  for (auto& t : ts)
    t.join();
  std::vector<int64_t> all;
  for (auto& v : per)
    all.insert(all.end(), v.begin(), v.end());
  return summarize(all);
}

// Accepts connections, sends the handshake of a new session, discards traces.
using sink_actor = acceptor_actor::extend_with<connection_handler_actor>;
sink_actor::behavior_type sink_impl(sink_actor::pointer self, int) {
  return {
    [self](accept_atom, connection_actor& conn, public_key&) {
      self->send(conn, attach_atom::value, caf::actor_cast<connection_handler_actor>(self));
      std::string hs = R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})";
      self->send(conn, write_atom::value, bytes(hs.begin(), hs.end()));
    },
    [](opened_atom, connection_id, public_key&) {},
    [](message_atom, connection_id, bytes&) {},
    [](closed_atom, connection_id, std::string&, std::string&) {},
  };
}

struct bench_config : caf::actor_system_config {
  bench_config() {
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
    set("logger.console", caf::atom("none"));
  }
};

void row(const char* what, figures f, double timer) {
  std::printf("  %-44s median %7.0f ns  p99 %7.0f ns  (minus timer: median %6.0f ns)\n",
              what, f.median_ns, f.p99_ns, std::max(0.0, f.median_ns - timer));
}

} // namespace

int main(int argc, char** argv) {
  int calls = argc > 1 ? std::atoi(argv[1]) : 200000;
  if (calls < 1000) {
    std::fprintf(stderr, "calls per thread must be >= 1000\n");
    return 2;
  }
  auto timer = run(1, calls, [](int) {});
  std::printf("host-thread cost of one trace() call, %d calls per thread\n", calls);
  std::printf("  (empty timed call: median %.0f ns, p99 %.0f ns)\n", timer.median_ns,
              timer.p99_ns);

  // Tracing off.
  Sensor disabled; // created while off: the shared no-op tracer
  std::vector<figures> off;
  {
    set_trace_function([](trace_event&) {});
    Sensor enabled; // an enabled tracer, then tracing switched off
    clear_trace_function();
    off.push_back(run(1, calls, [&](int) { disabled.bare(); }));
    off.push_back(run(1, calls, [&](int) { enabled.bare(); }));
    off.push_back(run(2, calls, [&](int) { enabled.bare(); }));
  }
  row("off, no-op tracer, 1 thread", off[0], timer.median_ns);
  row("off, enabled tracer, 1 thread", off[1], timer.median_ns);
  row("off, enabled tracer, 2 threads", off[2], timer.median_ns);

  // Tracing on: the client, connected.
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto net = spawn_inprocess_network(sys);
  auto srv = sys.spawn(sink_impl, 0);
  public_key spk{}, cpk{};
  spk.fill(1);
  cpk.fill(2);
  caf::anon_send(net, listen_atom::value, spk, caf::actor_cast<acceptor_actor>(srv));
  client_options o;
  o.create_socket = [&] { return inprocess_connect(sys, net, cpk, spk); };
  o.queue_bytes = (static_cast<size_t>(calls) * 4 + 100000) * 1024;
  o.buffer_bytes = o.queue_bytes + (64u << 20);
  auto cl = client::start(sys, o);
  for (int i = 0; i < 1000 && !cl.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!cl.is_running()) {
    std::fprintf(stderr, "client did not connect\n");
    return 1;
  }
  std::vector<figures> on;
  Sensor s1;
  on.push_back(run(1, calls, [&](int i) { s1.sample(i); }));
  on.push_back(run(1, calls, [&](int) { s1.bare(); }));
  on.push_back(run(2, calls, [&](int i) { s1.sample(i); }));
  row("on, trace(id, {i}), 1 thread", on[0], timer.median_ns);
  row("on, trace(id), 1 thread", on[1], timer.median_ns);
  row("on, trace(id, {i}), 2 threads", on[2], timer.median_ns);
  auto st = cl.stats();
  std::printf("  client: %llu traces encoded, %llu dropped at the queue\n",
              static_cast<unsigned long long>(st.traces),
              static_cast<unsigned long long>(st.dropped_queue));
  cl.stop();

#if HT_BENCH_HAS_NODE
  try {
    test::node_process js("client-bench.js", {std::to_string(calls)});
    auto j = nlohmann::json::parse(js.read_line(600000));
    js.wait();
    double jon = j["on"]["median_ns"], jon99 = j["on"]["p99_ns"];
    double joff = j["off"]["median_ns"], jt = j["timer"]["median_ns"];
    std::printf("JS reference (hypertrace + hypertrace-logger Client), 1 thread:\n");
    std::printf("  on:  median %.0f ns  p99 %.0f ns   off: median %.0f ns  (empty timed call %.0f ns)\n",
                jon, jon99, joff, jt);
    std::printf("ratio JS/C++ (on, 1 thread, with props): median %.1fx  p99 %.1fx\n",
                jon / on[0].median_ns, jon99 / on[0].p99_ns);
  } catch (const std::exception& e) {
    std::printf("JS reference not measured: %s\n", e.what());
  }
#else
  std::printf("JS reference not measured (built without the test support)\n");
#endif
  caf::anon_send_exit(srv, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(net, caf::exit_reason::user_shutdown);
  return 0;
}
