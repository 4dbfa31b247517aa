// Many concurrent clients against one server over HyperDHT (issue 10 §7).
//
//   bench_connections [clients=1000] [traces per client=100] [connects in flight=64]
//
// On 127.0.0.1 with a private DHT (our hypertrace-logger-dht as the only
// bootstrap node; never the public network, never ports 49737-49741):
//  1. starts hypertrace-logger-server as an operator does (its own process,
//     its own folder), waits for "server started on", and reads its RSS;
//  2. opens `clients` connections from this one process: one hyperdht stack
//     (one UDP socket, one DHT node) shared by `clients` ht::client
//     instances, each with its own key pair (its own hd_connect per
//     attempt), in four steps of a quarter each, at most `connects in
//     flight` connecting at once; after each step it waits until the server
//     has every session (a non-empty <key>.log: the "New session" note) and
//     reads the server's RSS again: memory per idle connection = ΔRSS / n,
//     fitted over the steps and from idle to all;
//  3. measures the server's CPU while every connection idles for 10 s
//     (keep-alives), against 5 s of the server alone before any client;
//  4. has every client send `traces` traces at once and waits until every
//     line is on disk: aggregate traces/s, server CPU µs per trace, and
//     checks that each trace landed exactly once (session id and number).
//
// The server's per-host handshake bound (32 per 10 s by default) would let
// 1,000 clients from one address in only over minutes, so the benchmark
// starts the server with --handshakes-per-host=4096 (the global bound), as an
// operator with many clients behind one NAT would (README, server options);
// HT_BENCH_HANDSHAKES_PER_HOST=32 measures the connect phase under the
// default instead.
//
// Not a test: it prints figures, nothing passes or fails.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/client/client.hpp"
#include "actors/dht/host_port.hpp"
#include "actors/hd_client/hd_connect.hpp"
#include "actors/hyperdht/hyperdht_stack.hpp"
#include "support/child.hpp"
#include "support/proc_stats.hpp"

extern char** environ;

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

using ht::bench::child;
using ht::bench::cpu_us;
using ht::bench::free_port;
using ht::bench::load_average;
using ht::bench::status_field;

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

double self_cpu_us() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

long open_fds(int pid) {
  long n = 0;
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.')
        ++n;
    ::closedir(d);
  }
  return n;
}

/// One client's .log file, read as it grows.
struct log_tail {
  uint64_t offset = 0;
  uint64_t trace_lines = 0;
  uint64_t note_lines = 0;
  std::string partial;

  void poll(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return;
    char b[65536];
    for (;;) {
      auto n = ::pread(fd, b, sizeof b, off_t(offset));
      if (n <= 0)
        break;
      offset += uint64_t(n);
      partial.append(b, size_t(n));
      size_t start = 0;
      for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n', start)) {
        // Trace lines carry the user id right after the time; notes a "note".
        if (partial.find("\"userId\"", start) < nl)
          ++trace_lines;
        else
          ++note_lines;
        start = nl + 1;
      }
      partial.erase(0, start);
    }
    ::close(fd);
  }
};

/// Trace number `n` of client `i` (about 300 bytes on the wire).
ht::manual_trace bench_trace(size_t i, size_t n) {
  ht::manual_trace t;
  t.id = n == 0 ? "start" : "hit";
  t.class_name = "Bench";
  t.object_id = i + 1;
  t.object_props = {{"kind", "bench"}};
  t.filename = "/app/bench.cpp";
  t.function_name = "hit";
  t.caller_props = ht::json{{"i", n}};
  return t;
}

struct bench_config : caf::actor_system_config {
  bench_config() {
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
    set("logger.console", caf::atom("none"));
  }
};

struct one_client {
  ht::noise::keypair keys;
  std::string key_hex;
  std::unique_ptr<ht::client> cl;
  std::string session;
  log_tail tail;
};

/// .log files in `dir` that hold at least one line (the "New session" note).
size_t sessions_on_disk(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() != 68 || name.compare(64, 4, ".log") != 0)
        continue;
      struct stat st {};
      if (::stat((dir + "/" + name).c_str(), &st) == 0 && st.st_size > 0)
        ++n;
    }
    ::closedir(d);
  }
  return n;
}

void remove_tree(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.')
        ::unlink((dir + "/" + e->d_name).c_str());
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

struct memory_point {
  size_t connections;
  long rss_kb, hwm_kb, fds, threads;
};

int run(size_t clients, size_t traces, size_t in_flight) {
  std::cout << "bench_connections: " << clients << " clients x " << traces << " traces, " << in_flight
            << " connects in flight; load average " << load_average() << "\n";
  char tmpl[] = "/tmp/ht-bench-conn-XXXXXX";
  if (!::mkdtemp(tmpl))
    throw std::runtime_error("mkdtemp");
  const std::string dir = tmpl;

  uint16_t dht_port = free_port();
  child dht({HT_DHT_BINARY, "--host=127.0.0.1", "--port=" + std::to_string(dht_port)}, dir + "/dht.stderr");
  dht.wait_line("listening on", 20);
  const std::string bootstrap = "127.0.0.1:" + std::to_string(dht_port);

  uint16_t server_port = free_port();
  const char* hph = std::getenv("HT_BENCH_HANDSHAKES_PER_HOST");
  const std::string handshakes_per_host = hph ? hph : "4096";
  std::cout << "server: --handshakes-per-host=" << handshakes_per_host << "\n";
  child server({HT_SERVER_BINARY, "--host=127.0.0.1", "--port=" + std::to_string(server_port),
                "--bootstrap=" + bootstrap, "--folder=" + dir, "--keys=" + dir + "/keys.dat",
                "--handshakes-per-host=" + handshakes_per_host},
               dir + "/server.stderr");
  auto started = server.wait_line("server started on ", 60);
  const std::string server_hex = started.substr(started.find("on ") + 3, 64);
  ht::bytes server_bytes;
  ht::from_hex(server_hex, server_bytes);
  ht::public_key server_key{};
  std::copy(server_bytes.begin(), server_bytes.end(), server_key.begin());

  std::this_thread::sleep_for(2s);
  std::vector<memory_point> mem;
  auto sample = [&](size_t n) {
    mem.push_back({n, status_field(server.pid(), "VmRSS"), status_field(server.pid(), "VmHWM"), open_fds(server.pid()),
                   status_field(server.pid(), "Threads")});
    auto& m = mem.back();
    std::cout << "  " << n << " connections: server RSS " << m.rss_kb << " kB, VmHWM " << m.hwm_kb << " kB, "
              << m.fds << " fds, " << m.threads << " threads\n";
  };
  sample(0);
  // The server's own background (announcer pings, DHT upkeep) before any client.
  double base_cpu0 = cpu_us(server.pid());
  auto t_base = steady::now();
  std::this_thread::sleep_for(5s);
  double base_rate = (cpu_us(server.pid()) - base_cpu0) / seconds_since(t_base);

  bench_config cfg;
  caf::actor_system sys{cfg};
  // An error from here on: say it and leave at once; the actor system
  // would otherwise wait for the clients' actors forever.
  try {
  ht::hyperdht_stack_options so;
  so.host = "127.0.0.1";
  so.bootstrap = {ht::dht::parse_host_port(bootstrap)};
  auto stack = ht::spawn_hyperdht_stack(sys, so);
  if (!stack)
    throw std::runtime_error("client stack: " + sys.render(stack.error()));

  std::atomic<uint64_t> connection_errors{0}, reconnects{0};
  std::vector<one_client> cs(clients);
  auto start_client = [&](size_t i) {
    auto& c = cs[i];
    c.keys = ht::noise::keypair::random();
    c.key_hex = ht::to_hex(c.keys.public_key);
    ht::client_options co;
    auto st = *stack;
    auto keys = c.keys;
    co.create_socket = [&sys, st, keys, server_key] {
      ht::hd_connect_params p;
      p.socket = st.socket;
      p.dht = st.dht;
      p.keys = keys;
      p.server = server_key;
      return caf::actor_cast<ht::connection_actor>(ht::spawn_hd_connect(sys, std::move(p)));
    };
    co.install_trace_function = false;
    co.buffer_bytes = 1 << 20;
    co.initial_props = {{"username", "bench" + std::to_string(i)}};
    co.on_event = [&](const ht::client_event& e) {
      if (e.kind == ht::client_event_kind::connection_error)
        ++connection_errors;
      else if (e.kind == ht::client_event_kind::reconnect)
        ++reconnects;
    };
    c.cl = std::make_unique<ht::client>(ht::client::start(sys, std::move(co)));
    c.session = c.cl->session_id();
    // The server writes a client's file (its "New session" note) with the
    // first trace: one trace at start shows each session on disk.
    c.cl->add_trace(bench_trace(i, 0));
  };

  // Connect in four steps of a quarter each, at most in_flight at once.
  auto t_connect = steady::now();
  double wait_disk_total = 0;
  size_t started_n = 0;
  auto next_report = steady::now();
  for (int step = 1; step <= 4; ++step) {
    size_t target = clients * size_t(step) / 4;
    if (target == started_n)
      continue;
    for (;;) {
      size_t running = 0;
      for (size_t i = 0; i < started_n; ++i)
        running += cs[i].cl->is_running() ? 1 : 0;
      while (started_n < target && started_n - running < in_flight)
        start_client(started_n++);
      if (running == target)
        break;
      if (seconds_since(t_connect) > 600)
        throw std::runtime_error("connect phase over 600 s (" + std::to_string(running) + " of " +
                                 std::to_string(target) + " connected)");
      if (std::getenv("HT_BENCH_VERBOSE") && steady::now() > next_report) {
        next_report = steady::now() + 1s;
        std::cout << "    " << running << "/" << target << " connected, " << connection_errors << " errors, "
                  << sessions_on_disk(dir) << " sessions on disk\n";
      }
      std::this_thread::sleep_for(5ms);
    }
    auto t_disk = steady::now();
    while (sessions_on_disk(dir) < target) {
      if (seconds_since(t_disk) > 60)
        throw std::runtime_error("sessions missing on disk");
      std::this_thread::sleep_for(20ms);
    }
    wait_disk_total += seconds_since(t_disk);
    if (step == 4)
      std::cout << "connect phase: " << clients << " connected in " << seconds_since(t_connect) << " s ("
                << double(clients) / seconds_since(t_connect) << " connects/s), " << connection_errors
                << " connection errors, " << reconnects << " reconnects\n";
    std::this_thread::sleep_for(2s); // let allocations settle (keep-alives run)
    sample(target);
  }

  // Idle: keep-alives only.
  double idle_cpu0 = cpu_us(server.pid());
  auto t_idle = steady::now();
  std::this_thread::sleep_for(10s); // two keep-alive periods (5 s)
  double idle_s = seconds_since(t_idle);
  double idle_cpu = cpu_us(server.pid()) - idle_cpu0;
  sample(clients);

  // Send: every client `traces` traces at once.
  double cpu0 = cpu_us(server.pid()), self0 = self_cpu_us();
  auto t_send = steady::now();
  for (size_t n = 0; n < traces; ++n)
    for (size_t i = 0; i < clients; ++i) {
      cs[i].cl->add_trace(bench_trace(i, n + 1));
    }
  double hand_over = seconds_since(t_send);
  const uint64_t expected = uint64_t(clients) * (traces + 1);
  uint64_t on_disk = 0;
  for (;;) {
    on_disk = 0;
    for (auto& c : cs) {
      if (c.tail.trace_lines < traces + 1)
        c.tail.poll(dir + "/" + c.key_hex + ".log");
      on_disk += c.tail.trace_lines;
    }
    if (on_disk >= expected || seconds_since(t_send) > 120 + double(expected) / 1000)
      break;
    std::this_thread::sleep_for(10ms);
  }
  double send_s = seconds_since(t_send);
  double send_cpu = cpu_us(server.pid()) - cpu0;
  double load_cpu = self_cpu_us() - self0;
  sample(clients);

  // Exactly once: every (session, number) of every client, once, in its file.
  uint64_t missing = 0, duplicates = 0, foreign = 0, sessions_noted = 0;
  for (auto& c : cs) {
    std::vector<uint32_t> seen(traces + 1, 0);
    std::ifstream f(dir + "/" + c.key_hex + ".log");
    std::string line;
    while (std::getline(f, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object())
        continue;
      if (j.contains("note")) {
        sessions_noted += j["note"].get<std::string>().rfind("New session", 0) == 0 ? 1 : 0;
        continue;
      }
      auto num = j.value("traceNumber", int64_t(-1));
      if (j.value("traceSessionId", std::string()) != c.session || num < 0 || uint64_t(num) > traces) {
        ++foreign;
        continue;
      }
      ++seen[size_t(num)];
    }
    for (auto s : seen) {
      missing += s == 0 ? 1 : 0;
      duplicates += s > 1 ? s - 1 : 0;
    }
  }

  // glibc keeps freed heap for reuse; the server gives it back once idle
  // (actors/server/idle_trim.hpp: heap use steady for two 1 s periods).
  std::this_thread::sleep_for(4s);
  long rss_idle_after = status_field(server.pid(), "VmRSS");

  for (auto& c : cs)
    c.cl->stop();
  {
    caf::scoped_actor self{sys};
    for (auto& c : cs)
      self->wait_for(c.cl->actor());
  }
  caf::anon_send(stack->dht, ht::close_atom::value);
  caf::anon_send_exit(stack->hyperdht, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(stack->socket, caf::exit_reason::user_shutdown);
  double shutdown_s = 0;
  int server_rc = server.stop(30, shutdown_s);
  double dht_s = 0;
  dht.stop(5, dht_s);

  uint64_t refused = 0;
  {
    std::ifstream f(dir + "/server.stderr");
    std::string line;
    while (std::getline(f, line))
      refused += line.find("refused") != std::string::npos ? 1 : 0;
  }

  // Memory per idle connection: from idle to all, and the least-squares
  // slope over the five points (less sensitive to one allocator step).
  const auto& m0 = mem[0];
  const memory_point* all = nullptr;
  for (auto& m : mem)
    if (m.connections == clients && !all)
      all = &m;
  double per_conn_kb = double(all->rss_kb - m0.rss_kb) / double(clients);
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  size_t k = 0;
  for (auto& m : mem) {
    if (&m > all)
      break;
    sx += double(m.connections), sy += double(m.rss_kb);
    sxx += double(m.connections) * double(m.connections), sxy += double(m.connections) * double(m.rss_kb);
    ++k;
  }
  double slope_kb = (double(k) * sxy - sx * sy) / (double(k) * sxx - sx * sx);
  std::printf("\nserver memory per idle connection: %.1f KB (ΔRSS %ld kB / %zu), slope over %zu points %.1f KB;"
              " VmHWM %ld kB; target <= 50 KB: %s\n",
              per_conn_kb, all->rss_kb - m0.rss_kb, clients, k, slope_kb, all->hwm_kb,
              per_conn_kb <= 50.0 ? "met" : "not met");
  std::printf("server fds: %ld idle, %ld with %zu connections (RLIMIT_NOFILE of this process: %ld)\n",
              m0.fds, all->fds, clients, long(sysconf(_SC_OPEN_MAX)));
  std::printf("server CPU idle: %.0f µs/s with no client; %.0f µs/s while %zu connections idle"
              " (%.2f %% of a core; %.1f µs/s per connection above no client)\n",
              base_rate, idle_cpu / idle_s, clients, idle_cpu / idle_s / 1e4,
              (idle_cpu / idle_s - base_rate) / double(clients));
  const double sent = double(clients) * double(traces);
  std::printf("send: %zu x %zu traces on disk in %.2f s (hand-over %.2f s): %.0f traces/s;"
              " server CPU %.2f µs/trace, load generator CPU %.2f µs/trace%s\n",
              clients, traces, send_s, hand_over, sent / send_s, send_cpu / sent, load_cpu / sent,
              on_disk >= expected ? "" : " (TIMED OUT before all were on disk)");
  std::printf("server RSS after the burst: %ld kB at once, %ld kB 4 s later (connections open, idle)\n",
              mem.back().rss_kb, rss_idle_after);
  std::printf("exactly once: %llu expected, %llu missing, %llu duplicates, %llu foreign lines;"
              " %llu 'New session' notes for %zu clients\n",
              (unsigned long long)expected, (unsigned long long)missing, (unsigned long long)duplicates,
              (unsigned long long)foreign, (unsigned long long)sessions_noted, clients);
  std::printf("server: %llu 'refused' lines on stderr; SIGTERM to exit %.2f s, exit code %d;"
              " server VmHWM %ld kB at the end; load average %s\n",
              (unsigned long long)refused, shutdown_s, server_rc, mem.back().hwm_kb, load_average().c_str());
  (void)wait_disk_total;
  if (std::getenv("HT_BENCH_KEEP"))
    std::cout << "kept " << dir << "\n";
  else
    remove_tree(dir);
  return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_connections: " << e.what() << " (files kept in " << dir << ")" << std::endl;
    ::kill(server.pid(), SIGKILL);
    ::kill(dht.pid(), SIGKILL);
    std::_Exit(1);
  }
}

} // namespace

int main(int argc, char** argv) {
  std::cout << std::unitbuf;
  size_t clients = argc > 1 ? std::stoul(argv[1]) : 1000;
  size_t traces = argc > 2 ? std::stoul(argv[2]) : 100;
  size_t in_flight = argc > 3 ? std::stoul(argv[3]) : 64;
  if (clients < 4 || traces < 1 || in_flight < 1) {
    std::cerr << "usage: bench_connections [clients >= 4] [traces per client >= 1] [connects in flight >= 1]\n";
    return 2;
  }
  try {
    return run(clients, traces, in_flight);
  } catch (const std::exception& e) {
    std::cerr << "bench_connections: " << e.what() << "\n";
    return 1;
  }
}
