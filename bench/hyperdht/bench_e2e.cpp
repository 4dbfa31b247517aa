// End-to-end benchmark over the network layer (issue 10 §7, one
// connection), all in one run on 127.0.0.1 with a private DHT (our
// hypertrace-logger-dht as the only bootstrap node; never the public
// network, never ports 49737-49741):
//
//   1. the unmodified npm hypertrace-logger 1.1.1 Client
//      (bench/hyperdht/e2e-client.js) -> our hypertrace-logger-server;
//   2. the same Client, the same traces -> the JS hypertrace-logger Server
//      (tests/interop/hd-server-peer.js jsserver);
//   3. our client (ht::client over hyperdht_client_socket, in this
//      process) -> our hypertrace-logger-server.
//
// Each server is a fresh process. For each run it prints:
//   - traces/s: first trace handed to the client -> last one on disk (the
//     .log file polled every 2 ms until it holds all N trace lines);
//   - server CPU µs per trace: the server process's CPU time (the sum of
//     its threads' /proc/<pid>/task/*/schedstat, ns) over that same window, minus its idle rate
//     (measured for 2 s before the client starts) times the window;
//   - server peak RSS: VmHWM (/proc/<pid>/status) after the run;
//   - connect: client's connect call -> its 'open' event (the connection
//     is up), and -> the server's session handshake (ready to trace);
//   - for our client, traces/s per server core: traces/s ÷ (server CPU
//     seconds / wall seconds) over the window.
// then the ratios against the JS Server and the targets with
// met / not met.
//
//   bench_e2e [traces = 50000]
//
// Not a test: it prints figures, nothing passes or fails (the exit status
// is non-zero only when a run could not complete).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/client/client.hpp"
#include "actors/dht/host_port.hpp"
#include "actors/hd_client/hd_socket_factory.hpp"
#include "dht/noise/crypto.hpp"
#include "support/binary_process.hpp"
#include "messages/bytes.hpp"
#include "support/node_process.hpp"
#include "support/proc_stats.hpp"
#include "support/temp_dir.hpp"

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

using ht::bench::free_port;
using ht::bench::load_average;

/// CLOCK_REALTIME in ms (comparable with the JS side's timeOrigin + now()).
double wall_ms() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

/// CPU time of a process in µs with ns resolution: the sum of its live
/// threads' on-CPU time (/proc/<pid>/task/*/schedstat, first field). The
/// servers' threads live as long as the process, so none is lost; without
/// schedstat, the 10 ms ticks of /proc/<pid>/stat.
double cpu_us(int pid) {
  std::string base = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(base.c_str());
  if (!d)
    return ht::bench::cpu_us(pid);
  double ns = 0;
  bool any = false;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.')
      continue;
    std::ifstream f(base + "/" + e->d_name + "/schedstat");
    double run = 0;
    if (f >> run) {
      ns += run;
      any = true;
    }
  }
  ::closedir(d);
  return any ? ns / 1e3 : ht::bench::cpu_us(pid);
}

/// A /proc/<pid>/status size field (VmHWM: peak resident set, VmRSS:
/// now) in MB.
double status_mb(int pid, const std::string& field = "VmHWM") {
  long kb = ht::bench::status_field(pid, field);
  return kb < 0 ? 0 : double(kb) / 1024.0;
}
double peak_rss_mb(int pid) { return status_mb(pid); }

/// The load's bounds on stderr, for `perf record -p <pid>` / `perf report
/// --pid`: which server process, CLOCK_MONOTONIC seconds (perf -k mono).
void note_phase(const std::string& name, int pid, const char* what) {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  std::fprintf(stderr, "[%s] server pid %d: %s at %.6f\n", name.c_str(), pid, what,
               double(ts.tv_sec) + double(ts.tv_nsec) / 1e9);
}

std::string seed_hex(uint8_t b) {
  std::vector<uint8_t> s(32, b);
  return ht::to_hex(s.data(), s.size());
}

ht::noise::keypair keys_from(uint8_t seed) {
  ht::noise::key32 s;
  s.fill(seed);
  return ht::noise::keypair::from_seed(s);
}

/// Counts the trace lines of a growing .log file, reading only what is new.
class log_counter {
public:
  explicit log_counter(std::string path) : path_(std::move(path)) {}
  int poll() {
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0)
        return traces_;
    }
    char buf[1 << 16];
    for (;;) {
      auto n = ::read(fd_, buf, sizeof buf);
      if (n <= 0)
        break;
      partial_.append(buf, size_t(n));
    }
    size_t start = 0;
    for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', start)) {
      if (partial_.compare(start, 8, "{\"time\":") == 0 &&
          partial_.find("\"traceNumber\":", start) < nl)
        ++traces_;
      start = nl + 1;
    }
    partial_.erase(0, start);
    return traces_;
  }
  ~log_counter() {
    if (fd_ >= 0)
      ::close(fd_);
  }

private:
  std::string path_;
  int fd_ = -1;
  std::string partial_;
  int traces_ = 0;
};

/// What one client -> server run measured.
struct result {
  std::string name;
  bool ok = false;
  bool skipped = false;  // not asked for (HT_BENCH_NO_JS): neither ok nor failed
  std::string why;
  int traces = 0;
  double connect_open_ms = 0;   // connect call -> connection up
  double connect_ready_ms = 0;  // connect call -> server's session handshake
  double window_s = 0;          // first trace -> last on disk
  double server_cpu_us = 0;     // over the window, idle subtracted
  double idle_us_per_s = 0;
  double idle_rss_mb = 0;       // VmRSS before the load
  double peak_rss_mb = 0;
  double traces_per_s() const { return window_s > 0 ? traces / window_s : 0; }
  double cpu_us_per_trace() const { return traces > 0 ? server_cpu_us / traces : 0; }
  double per_core() const {
    double util = window_s > 0 ? server_cpu_us / 1e6 / window_s : 0;
    return util > 0 ? traces_per_s() / util : 0;
  }
};

/// The server's idle CPU rate (µs per s) over `span`.
double idle_rate(int pid, std::chrono::milliseconds span) {
  double c0 = cpu_us(pid), t0 = wall_ms();
  std::this_thread::sleep_for(span);
  return (cpu_us(pid) - c0) / ((wall_ms() - t0) / 1e3);
}

/// Waits until the file holds `n` trace lines; returns the wall time (ms)
/// the last one was seen, or 0 if it stalled for 60 s.
double wait_on_disk(const std::string& path, int n, int& seen) {
  log_counter count(path);
  double last_progress = wall_ms();
  int last = 0;
  for (;;) {
    seen = count.poll();
    double t = wall_ms();
    if (seen >= n)
      return t;
    if (seen != last) {
      last = seen;
      last_progress = t;
    } else if (t - last_progress > 60000) {
      return 0;
    }
    std::this_thread::sleep_for(2ms);
  }
}

/// `v` with `decimals` digits after the point.
std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// Our server as a child process, in `dir`, announced on the private DHT.
std::unique_ptr<ht::test::binary_process> start_our_server(const std::string& bootstrap,
                                                         const std::string& dir,
                                                         std::string& key) {
  std::vector<std::string> args{"--bootstrap=" + bootstrap, "--host=127.0.0.1",
                                "--port=" + std::to_string(free_port()), "--folder=logs"};
  // HT_BENCH_SERVER_ARGS: more options for our server, space-separated
  // (e.g. CAF's --scheduler.max-threads=2), to compare settings.
  if (const char* extra = std::getenv("HT_BENCH_SERVER_ARGS")) {
    std::istringstream in(extra);
    for (std::string a; in >> a;)
      args.push_back(a);
  }
  auto p = std::make_unique<ht::test::binary_process>(HT_SERVER_BINARY, args, dir);
  if (!p->wait_for("server started on ", 60) || !p->wait_for("\n", 5))
    throw std::runtime_error("our server did not announce itself: " + p->output);
  std::smatch m;
  if (!std::regex_search(p->output, m, std::regex("server started on ([0-9a-f]{64})")))
    throw std::runtime_error("no key in our server's output");
  key = m[1];
  return p;
}

/// The start of a run against server process `server_pid`: the server
/// settles, then its idle CPU rate and resident set before any load.
result start_run(const std::string& name, int server_pid, int n) {
  result r;
  r.name = name;
  r.traces = n;
  std::this_thread::sleep_for(300ms);
  r.idle_us_per_s = idle_rate(server_pid, 2000ms);
  r.idle_rss_mb = status_mb(server_pid, "VmRSS");
  note_phase(name, server_pid, "client starts");
  return r;
}

/// The end of a run whose first trace the server got at wall time `first`
/// (ms) with CPU `cpu_first` (µs): waits for all r.traces on disk, then the
/// window, the server CPU over it minus the idle rate, and the peak RSS.
void finish_run(result& r, int server_pid, const std::string& log_path, double first, double cpu_first) {
  int seen = 0;
  double last = wait_on_disk(log_path, r.traces, seen);
  double cpu_last = cpu_us(server_pid);
  note_phase(r.name, server_pid, "last trace on disk");
  r.peak_rss_mb = peak_rss_mb(server_pid);
  if (last == 0) {
    r.why = "only " + std::to_string(seen) + " of " + std::to_string(r.traces) + " traces on disk";
  } else {
    r.ok = true;
    r.window_s = (last - first) / 1e3;
    r.server_cpu_us = std::max(0.0, cpu_last - cpu_first - r.idle_us_per_s * r.window_s);
  }
}

/// The JS Client (e2e-client.js) against a server process `server_pid`.
result run_js_client(const std::string& name, int server_pid, const std::string& bootstrap,
                     const std::string& server_key, const std::string& log_path, int n) {
  result r = start_run(name, server_pid, n);
  ht::test::node_process client("../../bench/hyperdht/e2e-client.js",
                                {bootstrap, server_key, seed_hex(7), std::to_string(n), "4242"});
  double connecting = 0, open = 0, ready = 0, first = 0, cpu_first = 0;
  while (first == 0) {
    auto line = json::parse(client.read_line(120000));
    auto step = line.value("step", std::string{});
    double t = line.value("t", 0.0);
    if (step == "connecting")
      connecting = t;
    else if (step == "open")
      open = t;
    else if (step == "ready")
      ready = t;
    else if (step == "first") {
      first = t;
      cpu_first = cpu_us(server_pid);
      note_phase(name, server_pid, "first trace");
    } else if (step == "connection-error") {
      std::cerr << name << ": connection error " << line.dump() << "\n";
    }
  }
  r.connect_open_ms = open - connecting;
  r.connect_ready_ms = ready - connecting;
  finish_run(r, server_pid, log_path, first, cpu_first);
  client.close_stdin();
  client.wait(10000);
  return r;
}

/// Our client (in this process) against our server process `server_pid`.
result run_cpp_client(const std::string& name, int server_pid, const std::string& bootstrap,
                      const std::string& server_key, const std::string& log_path, int n) {
  result r = start_run(name, server_pid, n);

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  cfg.set("logger.console", caf::atom("none"));
  caf::actor_system sys{cfg};
  ht::hyperdht_client_socket_options o;
  ht::bytes key;
  ht::from_hex(server_key, key);
  std::copy(key.begin(), key.end(), o.server.begin());
  o.bootstrap = {ht::dht::parse_host_port(bootstrap)};
  o.keys = keys_from(9);
  o.host = "127.0.0.1";
  o.port = free_port();
  auto hd = ht::hyperdht_client_socket::start(sys, o);
  if (!hd) {
    r.why = "cannot start the client's DHT socket: " + sys.render(hd.error());
    return r;
  }
  std::atomic<double> open{0};
  ht::client_options co;
  co.create_socket = (*hd)->create_socket();
  co.install_trace_function = false;
  co.initial_props = {{"username", "bench"}};
  co.buffer_bytes = size_t(1) << 30;  // never drop in this run: all N are measured
  co.on_event = [&open](const ht::client_event& e) {
    if (e.kind == ht::client_event_kind::open && open.load() == 0)
      open = wall_ms();
    if (e.kind == ht::client_event_kind::connection_error)
      std::cerr << "our client: connection error " << e.code << " " << e.message << "\n";
  };
  double connecting = wall_ms();
  auto cl = ht::client::start(sys, std::move(co));
  // Like the JS run, trace once connected (our client has no counter for
  // the server's handshake: traces made before it wait in the client's
  // buffer, about one round trip on loopback, and count in the window).
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!cl.is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  if (!cl.is_running()) {
    r.why = "our client did not connect";
    return r;
  }
  r.connect_open_ms = open.load() - connecting;
  r.connect_ready_ms = -1;  // not observable from outside the client

  double first = wall_ms(), cpu_first = cpu_us(server_pid);
  note_phase(name, server_pid, "first trace");
  for (int i = 0; i < n; ++i) {
    ht::manual_trace t;
    t.id = "enter";
    t.class_name = "Room";
    t.object_id = 1;
    t.object_props = {{"name", "lobby"}};
    t.filename = "/app/room.cpp";
    t.function_name = "enter";
    t.caller_props = ht::json{{"i", i}, {"even", i % 2 == 0}, {"label", "n" + std::to_string(i)}};
    cl.add_trace(std::move(t));
  }
  finish_run(r, server_pid, log_path, first, cpu_first);
  if (!r.ok)
    r.why += " (client dropped " + std::to_string(cl.stats().dropped_queue + cl.stats().dropped_unwritten) + ")";
  cl.stop();
  caf::scoped_actor self{sys};
  self->wait_for(cl.actor());
  (*hd)->stop();
  return r;
}

void print(const result& r) {
  if (!r.ok) {
    std::printf("%-26s  %s: %s\n", r.name.c_str(), r.skipped ? "skipped" : "FAILED", r.why.c_str());
    return;
  }
  char ready[32] = "-";
  if (r.connect_ready_ms >= 0)
    std::snprintf(ready, sizeof ready, "%.1f", r.connect_ready_ms);
  std::printf("%-26s %9.0f %9.2f %8.1f %8.1f %8.1f %8s %9.0f\n", r.name.c_str(), r.traces_per_s(),
              r.cpu_us_per_trace(), r.peak_rss_mb, r.idle_rss_mb, r.connect_open_ms, ready,
              r.idle_us_per_s);
}

const char* met(bool b) { return b ? "met" : "NOT met"; }

} // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50000;
  ht::test::temp_dir root{"ht-e2e"};

  // The private DHT: our bootstrap node alone.
  const uint16_t dht_port = free_port();
  ht::test::binary_process dht(HT_DHT_BINARY,
                              {"--host=127.0.0.1", "--port=" + std::to_string(dht_port)}, root.path());
  if (!dht.wait_for("dht node listening on", 30)) {
    std::cerr << "hypertrace-logger-dht did not start: " << dht.output << "\n";
    return 1;
  }
  const std::string bootstrap = "127.0.0.1:" + std::to_string(dht_port);
  const std::string js_client = ht::to_hex(keys_from(7).public_key);
  const std::string cpp_client = ht::to_hex(keys_from(9).public_key);
  std::printf("bench_e2e: %d traces per run, private DHT %s, load average before: %s\n", n,
              bootstrap.c_str(), load_average().c_str());
  std::fflush(stdout);

  // A fresh server of ours in its own folder, and one client's run against
  // it (run_js_client or run_cpp_client).
  auto on_our_server = [&](const std::string& name, const std::string& folder,
                           const std::string& client_hex, auto run_client) {
    std::string dir = root / folder;
    ::mkdir(dir.c_str(), 0700);
    std::string key;
    auto server = start_our_server(bootstrap, dir, key);
    return run_client(name, server->pid, bootstrap, key, dir + "/logs/" + client_hex + ".log", n);
  };
  std::vector<result> results;
  try {
    results.push_back(on_our_server("JS Client -> our server", "ours-js", js_client, run_js_client));
    if (std::getenv("HT_BENCH_NO_JS")) {
      results.push_back(result{});
      results.back().name = "JS Client -> JS Server";
      results.back().why = "HT_BENCH_NO_JS is set";
      results.back().skipped = true;
    } else {
      std::string dir = root / "js";
      ::mkdir(dir.c_str(), 0700);
      ht::test::node_process server("hd-server-peer.js", {"jsserver", bootstrap, dir, seed_hex(8)});
      auto key = json::parse(server.read_line(60000))["listening"].get<std::string>();
      results.push_back(run_js_client("JS Client -> JS Server", server.pid(), bootstrap, key,
                                      dir + "/" + js_client + ".log", n));
      server.close_stdin();
      server.wait(10000);
    }
    results.push_back(on_our_server("our client -> our server", "ours-cpp", cpp_client, run_cpp_client));
  } catch (const std::exception& e) {
    std::cerr << "bench_e2e: " << e.what() << "\n";
    return 1;
  }

  std::printf("\nend to end over HyperDHT on 127.0.0.1, one connection, %d traces (load average after: %s)\n",
              n, load_average().c_str());
  std::printf("%-26s %9s %9s %8s %8s %8s %8s %9s\n", "client -> server", "traces/s", "µs/trace",
              "peak MB", "idle MB", "open ms", "ready ms", "idle µs/s");
  for (const auto& r : results)
    print(r);
  std::printf("(traces/s: first trace handed to the client -> last on disk; µs/trace: server process CPU over\n"
              " that window minus its idle rate; peak MB: server VmHWM; idle MB: server VmRSS before the load;\n"
              " open/ready: connect call -> connection up / -> server's session handshake; idle µs/s: the server's\n"
              " CPU per second before the load)\n");

  const auto& ours = results[0];
  const auto& js = results[1];
  const auto& cpp = results[2];
  if (ours.ok && js.ok) {
    std::printf("\nJS Client, our server vs the JS Server: traces/s x%.1f, server CPU per trace x%.1f less, "
                "peak RSS x%.1f less, connect (open) %.1f vs %.1f ms\n",
                ours.traces_per_s() / js.traces_per_s(), js.cpu_us_per_trace() / std::max(ours.cpu_us_per_trace(), 1e-9),
                js.peak_rss_mb / std::max(ours.peak_rss_mb, 1e-9), ours.connect_open_ms, js.connect_open_ms);
  }
  if (cpp.ok) {
    std::printf("our client -> our server: %.0f traces/s at %.2f server cores = %.0f traces/s per server core\n",
                cpp.traces_per_s(), cpp.server_cpu_us / 1e6 / cpp.window_s, cpp.per_core());
  }
  std::printf("\ntargets (issue 10 §7):\n");
  // What the JS Server did in the same run, for comparison (not run with
  // HT_BENCH_NO_JS=1).
  auto js_cpu = js.ok ? "JS Server " + fixed(js.cpu_us_per_trace(), 1) + " µs" : std::string("JS Server not run");
  auto js_rss = js.ok ? "JS Server " + fixed(js.peak_rss_mb, 1) + " MB" : std::string("JS Server not run");
  if (ours.ok)
    std::printf("  server CPU <= 5 µs per trace (JS Client -> our server): %.2f µs (%s)  %s\n",
                ours.cpu_us_per_trace(), js_cpu.c_str(), met(ours.cpu_us_per_trace() <= 5));
  if (cpp.ok)
    std::printf("  server CPU <= 5 µs per trace (our client -> our server):  %.2f µs  %s\n",
                cpp.cpu_us_per_trace(), met(cpp.cpu_us_per_trace() <= 5));
  if (ours.ok)
    std::printf("  peak RSS <= 15 MB for %d traces (our server, JS Client):   %.1f MB (%s)  %s%s\n",
                n, ours.peak_rss_mb, js_rss.c_str(), met(ours.peak_rss_mb <= 15),
                n == 50000 ? "" : " (target is for 50,000)");
  if (cpp.ok)
    std::printf("  peak RSS <= 15 MB for %d traces (our server, our client):  %.1f MB  %s\n", n,
                cpp.peak_rss_mb, met(cpp.peak_rss_mb <= 15));
  if (cpp.ok)
    std::printf("  our client -> our server >= 150,000 traces/s per server core: %.0f  %s\n",
                cpp.per_core(), met(cpp.per_core() >= 150000));
  // Non-zero only when a run that was asked for could not complete.
  bool all = std::all_of(results.begin(), results.end(),
                         [](const result& r) { return r.ok || r.skipped; });
  return all ? 0 : 1;
}
