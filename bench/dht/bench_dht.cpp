// dht-rpc node benchmark, C++ vs JS in one run:
//  1. requests answered per second and CPU µs per request: the same load
//     generator (bench/dht/load.js: PING and FIND_NODE over plain UDP, a
//     window in flight, no retries) against the JS dht-rpc node
//     (bench/dht/js-node.js, a DHT.bootstrapper) and against our
//     hypertrace-logger-dht, each in its own process, CPU read from
//     /proc/<pid>/stat around the load. Both tables hold the same 30 real
//     nodes first (sockets that PING with their ids), so FIND_NODE replies
//     carry 20 closer nodes on both sides.
//     For scale, the same load against the sans-IO core alone ("core": one
//     thread, a plain UDP socket, recvmmsg/sendmmsg, no actors), its
//     thread's CPU time measured: what the actor plumbing adds.
//  2. FIND_NODE query latency in a 20-node local network: 20 JS nodes in
//     one node process vs 20 C++ node actors in one process.
//
//   bench_dht [requests=100000] [window=64] [lookups=100]
//
// Not a test: it prints figures and ratios, nothing passes or fails.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/dht/node_actor.hpp"
#include "actors/udx/socket_actor.hpp"
#include "support/child.hpp"
#include "support/node_process.hpp"
#include "support/proc_stats.hpp"

extern char** environ;

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

using ht::bench::cpu_us;
using ht::bench::free_port;

/// 30 real "nodes": sockets that PING the node once with their own id, so
/// the node puts them in its table (dht-rpc adds requesters with a valid id).
void fill_table(uint16_t port, int count) {
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    uint16_t own_port = 0;
    int fd = ht::bench::loopback_udp_socket(own_port);
    ht::rpc::request r;
    r.tid = static_cast<uint16_t>(i);
    r.to = ht::rpc::ipv4_address::parse("127.0.0.1", port);
    r.id = ht::rpc::node_id(ht::rpc::ipv4_address::parse("127.0.0.1", own_port));
    r.internal = true;
    r.command = static_cast<uint64_t>(ht::rpc::internal_command::ping);
    auto data = ht::rpc::encode(r);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    fds.push_back(fd);
  }
  for (int fd : fds) {
    pollfd pfd{fd, POLLIN, 0};
    ::poll(&pfd, 1, 2000);
    ::close(fd);
  }
}

struct load_result {
  json load;
  double cpu_us = 0;
};


/// One thread serving a plain UDP socket with poll + recvmmsg + sendmmsg
/// (no actors), the datagrams handled by `Handler`:
///  - core_handler: the sans-IO dht-rpc node (what the protocol costs
///    without the actor plumbing);
///  - echo_handler: no protocol at all, every datagram goes straight back
///    as a "response" (type byte 0x13, no flags, the request's tid), the
///    floor the kernel and this loop alone cost per request.
/// The thread's CPU time is read from outside (pthread_getcpuclockid), so
/// measuring adds no system call to the loop.
struct outgoing {
  ht::rpc::ipv4_address to;
  const uint8_t* data;
  size_t size;
};
struct loop_stats {
  uint64_t wakeups = 0, recv_calls = 0, datagrams = 0, send_calls = 0;
  double user_us = 0, sys_us = 0;  // the loop thread's, from getrusage(RUSAGE_THREAD)
};

double tv_us(const timeval& t) { return double(t.tv_sec) * 1e6 + double(t.tv_usec); }

/// Default: wait with poll() then recvmmsg(MSG_DONTWAIT), as an event loop
/// does. HT_BENCH_DHT_LOOP=block: a blocking recvmmsg(MSG_WAITFORONE) with a
/// 50 ms SO_RCVTIMEO instead (one system call less per wakeup).
bool poll_loop() {
  const char* l = std::getenv("HT_BENCH_DHT_LOOP");
  return !(l && std::string(l) == "block");
}

/// HT_BENCH_DHT_COALESCE_US=N: after a batch, sleep N us before waiting for
/// the next one, so that more datagrams queue up per wakeup (as interrupt
/// coalescing does): fewer wakeups and system calls per request, for
/// latency. Default 0: off. Only to measure what batching could save.
long coalesce_us() {
  const char* c = std::getenv("HT_BENCH_DHT_COALESCE_US");
  return c ? std::atol(c) : 0;
}

template <class Handler>
struct udp_loop_server {
  uint16_t port = 0;
  std::atomic<bool> stop{false};
  std::atomic<bool> ready{false};
  clockid_t cpu_clock{};
  loop_stats stats;  // read after join() only
  Handler handler;
  std::thread thread;

  udp_loop_server() {
    port = free_port();
    thread = std::thread([this] { serve(); });
    while (!ready.load())
      std::this_thread::sleep_for(1ms);
  }
  ~udp_loop_server() { join(); }
  void join() {
    stop = true;
    if (thread.joinable())
      thread.join();
  }
  double cpu_us() const {
    timespec ts{};
    clock_gettime(cpu_clock, &ts);
    return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) / 1e3;
  }
  void serve() {
    pthread_getcpuclockid(pthread_self(), &cpu_clock);
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    const bool use_poll = poll_loop();
    const long coalesce = coalesce_us();
    timeval tmo{0, 50000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    handler.start(port);
    ready = true;
    constexpr unsigned batch = 64;
    constexpr size_t slot = 2048;
    std::vector<uint8_t> buf(batch * slot);
    // Receive headers are set up once; recvmmsg changes only msg_len,
    // msg_namelen and msg_flags of the entries it fills, reset below.
    mmsghdr msgs[batch];
    iovec iov[batch];
    sockaddr_in from[batch];
    for (unsigned i = 0; i < batch; ++i) {
      iov[i] = {buf.data() + i * slot, slot};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    mmsghdr smsgs[batch];
    iovec siov[batch];
    sockaddr_in to[batch];
    std::memset(smsgs, 0, sizeof smsgs);
    std::vector<outgoing> out;
    rusage ru0{};
    getrusage(RUSAGE_THREAD, &ru0);
    while (!stop.load(std::memory_order_relaxed)) {
      if (use_poll) {
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, 50) <= 0) {
          handler.idle();
          continue;
        }
      }
      stats.wakeups++;
      int n = ::recvmmsg(fd, msgs, batch, use_poll ? MSG_DONTWAIT : MSG_WAITFORONE, nullptr);
      stats.recv_calls++;
      if (n <= 0) {
        handler.idle();
        continue;
      }
      stats.datagrams += unsigned(n);
      out.clear();
      handler.handle(msgs, from, buf.data(), slot, n, out);
      for (int i = 0; i < n; ++i) {
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_flags = 0;
      }
      for (size_t done = 0; done < out.size();) {
        unsigned m = 0;
        for (; m < batch && done + m < out.size(); ++m) {
          auto& t = out[done + m];
          to[m] = {};
          to[m].sin_family = AF_INET;
          to[m].sin_port = htons(t.to.port);
          std::memcpy(&to[m].sin_addr, t.to.host.data(), 4);
          siov[m] = {const_cast<uint8_t*>(t.data), t.size};
          smsgs[m].msg_hdr.msg_iov = &siov[m];
          smsgs[m].msg_hdr.msg_iovlen = 1;
          smsgs[m].msg_hdr.msg_name = &to[m];
          smsgs[m].msg_hdr.msg_namelen = sizeof to[m];
        }
        int sent = ::sendmmsg(fd, smsgs, m, 0);
        stats.send_calls++;
        done += sent > 0 ? size_t(sent) : m;
      }
      if (coalesce > 0) {
        timespec ts{0, coalesce * 1000};
        ::nanosleep(&ts, nullptr);
      }
    }
    rusage ru1{};
    getrusage(RUSAGE_THREAD, &ru1);
    stats.user_us = tv_us(ru1.ru_utime) - tv_us(ru0.ru_utime);
    stats.sys_us = tv_us(ru1.ru_stime) - tv_us(ru0.ru_stime);
    ::close(fd);
  }
};

/// The sans-IO node, fed each recvmmsg batch, its transmits sent by one
/// sendmmsg.
struct core_handler {
  std::unique_ptr<ht::rpc::node> node;
  std::vector<ht::rpc::transmit> tx;
  void start(uint16_t port) {
    ht::rpc::node_config cfg;
    cfg.mode = ht::rpc::node_mode::persistent;
    cfg.public_address = ht::rpc::ipv4_address::parse("127.0.0.1", port);
    node = std::make_unique<ht::rpc::node>(cfg, ht::rpc::clock::now());
  }
  void idle() { node->handle_timeout(ht::rpc::clock::now()); }
  void handle(mmsghdr* msgs, sockaddr_in* from, uint8_t* buf, size_t slot, int n,
              std::vector<outgoing>& out) {
    auto now = ht::rpc::clock::now();
    for (int i = 0; i < n; ++i) {
      ht::rpc::ipv4_address f;
      std::memcpy(f.host.data(), &from[i].sin_addr, 4);
      f.port = ntohs(from[i].sin_port);
      node->receive(0, f, buf + size_t(i) * slot, msgs[i].msg_len, now);
    }
    if (auto t = node->poll_timeout(); t && *t <= now)
      node->handle_timeout(now);
    while (node->poll_event()) {
    }
    // Poll into the same transmit objects every time: the node takes their
    // old buffers back, so answering allocates nothing once warm.
    size_t used = 0;
    for (;; used++) {
      if (used == tx.size())
        tx.emplace_back();
      if (!node->poll_transmit(tx[used]))
        break;
    }
    for (size_t i = 0; i < used; ++i)
      out.push_back({tx[i].to, tx[i].data.data(), tx[i].data.size()});
  }
};

/// No protocol: each datagram goes back to its sender as a response with
/// the request's tid (byte 0 = 0x13, flags byte = 0, so load.js counts it
/// answered and not an error).
struct echo_handler {
  void start(uint16_t) {}
  void idle() {}
  void handle(mmsghdr* msgs, sockaddr_in* from, uint8_t* buf, size_t slot, int n,
              std::vector<outgoing>& out) {
    for (int i = 0; i < n; ++i) {
      uint8_t* d = buf + size_t(i) * slot;
      size_t len = msgs[i].msg_len;
      if (len < 4)
        continue;
      d[0] = 0x13;
      d[1] = 0;
      ht::rpc::ipv4_address f;
      std::memcpy(f.host.data(), &from[i].sin_addr, 4);
      f.port = ntohs(from[i].sin_port);
      out.push_back({f, d, len});
    }
  }
};

/// The sans-IO node without any socket: the same request mix as load.js
/// (PING and FIND_NODE half and half from one ephemeral client, FIND_NODE
/// toward 64 random targets, 30 nodes in the table), fed to receive() and
/// the replies taken with poll_transmit(), on this thread. What the
/// protocol code itself costs per request, free of the kernel and of the
/// machine's load (CPU time of this thread).
struct inprocess_result {
  double cpu_us_per_request = 0;
  uint64_t replies = 0;
  size_t reply_bytes = 0;
};

inprocess_result run_inprocess(int requests) {
  using namespace ht::rpc;
  const auto self = ipv4_address::parse("127.0.0.1", 40000);
  node_config cfg;
  cfg.mode = node_mode::persistent;
  cfg.public_address = self;
  cfg.seed = 7;
  auto now = clock::now();
  node n(cfg, now);
  for (uint16_t i = 0; i < 30; ++i) {
    request r;
    r.tid = i;
    r.to = self;
    const auto from = ipv4_address::parse("127.0.0.1", uint16_t(41000 + i));
    r.id = node_id(from);
    r.internal = true;
    r.command = uint64_t(internal_command::ping);
    auto d = encode(r);
    n.receive(0, from, d.data(), d.size(), now);
  }
  while (n.poll_transmit()) {
  }
  while (n.poll_event()) {
  }
  std::vector<bytes> pings, finds;
  std::mt19937_64 rng(3);
  request ping;
  ping.to = self;
  ping.internal = true;
  ping.command = uint64_t(internal_command::ping);
  pings.push_back(encode(ping));
  for (int i = 0; i < 64; ++i) {
    request f = ping;
    f.command = uint64_t(internal_command::find_node);
    key32 t;
    for (auto& b : t)
      b = uint8_t(rng());
    f.target = t;
    finds.push_back(encode(f));
  }
  const auto client = ipv4_address::parse("127.0.0.1", 42000);
  std::vector<uint8_t> buf(2048);
  inprocess_result res;
  transmit out;
  timespec t0{}, t1{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  for (int i = 0; i < requests; ++i) {
    const bytes& tpl = (rng() & 1) ? finds[size_t(i) & 63] : pings[0];
    std::memcpy(buf.data(), tpl.data(), tpl.size());
    buf[2] = uint8_t(i);
    buf[3] = uint8_t(i >> 8);
    n.receive(0, client, buf.data(), tpl.size(), now);
    // as the loop does per batch (here: per datagram, the worst case)
    while (n.poll_event()) {
    }
    while (n.poll_transmit(out)) {
      res.replies++;
      res.reply_bytes += out.data.size();
    }
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
  const double us = double(t1.tv_sec - t0.tv_sec) * 1e6 + double(t1.tv_nsec - t0.tv_nsec) / 1e3;
  res.cpu_us_per_request = us / double(std::max(1, requests));
  return res;
}

/// Runs load.js against port; cpu() reads the server's CPU time in us.
template <class CpuFn>
load_result run_load(CpuFn cpu, uint16_t port, int requests, int window) {
  fill_table(port, 30);
  std::this_thread::sleep_for(200ms);
  double before = cpu();
  ht::test::node_process load("../../bench/dht/load.js",
                              {"--port", std::to_string(port), "--count",
                               std::to_string(requests), "--window", std::to_string(window)});
  load_result r;
  r.load = json::parse(load.read_line(600000));
  r.cpu_us = cpu() - before;
  load.wait();
  return r;
}

struct latency {
  double p50 = 0, p90 = 0, mean = 0;
};

latency summarize(std::vector<double> ms) {
  latency l;
  if (ms.empty())
    return l;
  std::sort(ms.begin(), ms.end());
  l.p50 = ms[ms.size() / 2];
  l.p90 = ms[ms.size() * 9 / 10];
  for (double m : ms)
    l.mean += m;
  l.mean /= double(ms.size());
  return l;
}

latency js_lookups(int lookups) {
  ht::test::node_process js("dht-interop.js", {"testnet", "20"});
  [[maybe_unused]] auto up = json::parse(js.read_line(120000)); // the network is up
  js.write_line(json{{"op", "timed"}, {"count", lookups}}.dump());
  auto res = json::parse(js.read_line(600000));
  js.write_line(R"({"op":"quit"})");
  js.wait();
  return summarize(res["ms"].get<std::vector<double>>());
}

latency cxx_lookups(int lookups) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::vector<std::pair<ht::udx_socket_actor, ht::dht_node_actor>> nodes;
  std::vector<ht::rpc::ipv4_address> bootstrap;
  for (int i = 0; i < 20; ++i) {
    ht::udx_socket_options so;
    so.host = "127.0.0.1";
    so.port = free_port();
    auto sock = ht::spawn_udx_socket(sys, so);
    if (!sock)
      throw std::runtime_error(sys.render(sock.error()));
    ht::dht_node_options o;
    o.config.bootstrap = bootstrap;
    o.config.mode = ht::rpc::node_mode::persistent;
    o.config.public_address = ht::rpc::ipv4_address::parse("127.0.0.1", so.port);
    o.sockets.push_back(*sock);
    auto addr = *o.config.public_address;
    auto node = ht::spawn_dht_node(sys, std::move(o));
    nodes.emplace_back(*sock, node);
    // one after the other, each bootstrapped before the next (as testnet.js)
    for (;;) {
      bool done = false;
      self->request(node, caf::infinite, ht::status_atom::value)
        .receive([&](const ht::dht_status& s) { done = s.bootstrapped; }, [](caf::error&) {});
      if (done)
        break;
      std::this_thread::sleep_for(5ms);
    }
    if (bootstrap.empty())
      bootstrap.push_back(addr);
  }
  std::mt19937_64 rng(1);
  std::vector<double> ms;
  for (int i = 0; i < lookups; ++i) {
    ht::rpc::query_options q;
    for (auto& b : q.target)
      b = static_cast<uint8_t>(rng());
    q.internal = true;
    q.command = static_cast<uint64_t>(ht::rpc::internal_command::find_node);
    auto start = std::chrono::steady_clock::now();
    self->request(nodes[size_t(i) % nodes.size()].second, caf::infinite, ht::dht_query_atom::value, q)
      .receive([](ht::rpc::query_done_event&) {}, [](caf::error&) {});
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  for (auto& [s, n] : nodes) {
    self->send(n, ht::close_atom::value);
    self->send_exit(s, caf::exit_reason::user_shutdown);
  }
  return summarize(ms);
}

} // namespace

/// HT_BENCH_DHT_ONLY=core,echo (any of js, cxx, core, inproc, echo, lookups)
/// runs only those parts, e.g. under `perf record`; unset: everything.
bool wanted(const char* part) {
  const char* only = std::getenv("HT_BENCH_DHT_ONLY");
  if (!only || !*only)
    return true;
  std::string list = std::string(",") + only + ",";
  return list.find(std::string(",") + part + ",") != std::string::npos;
}

int main(int argc, char** argv) {
  int requests = argc > 1 ? std::atoi(argv[1]) : 100000;
  int window = argc > 2 ? std::atoi(argv[2]) : 64;
  int lookups = argc > 3 ? std::atoi(argv[3]) : 100;
  try {
    load_result js, cxx, core, echo;
    loop_stats core_stats, echo_stats;
    if (wanted("js")) {
      auto port = free_port();
      ht::test::node_process node("../../bench/dht/js-node.js", {"--port", std::to_string(port)});
      [[maybe_unused]] auto ready = json::parse(node.read_line(30000));
      int pid = node.pid();
      js = run_load([pid] { return cpu_us(pid); }, port, requests, window);
      node.close_stdin();
      auto report = json::parse(node.read_line(30000));
      std::cout << "JS node table size " << report["table_size"] << "\n";
      node.wait();
    }
    if (wanted("cxx")) {
      auto port = free_port();
      ht::bench::child node({HT_DHT_BINARY, "--host=127.0.0.1", "--port=" + std::to_string(port)}, {},
                            SIGTERM);
      node.read_line(); // "dht node listening on ..."
      int pid = node.pid();
      cxx = run_load([pid] { return cpu_us(pid); }, port, requests, window);
    }
    if (wanted("core")) {
      udp_loop_server<core_handler> server;
      core = run_load([&] { return server.cpu_us(); }, server.port, requests, window);
      server.join();
      core_stats = server.stats;
    }
    inprocess_result inproc;
    if (wanted("inproc"))
      inproc = run_inprocess(std::max(requests, 200000));
    if (wanted("echo")) {
      udp_loop_server<echo_handler> server;
      echo = run_load([&] { return server.cpu_us(); }, server.port, requests, window);
      server.join();
      echo_stats = server.stats;
    }
    auto row = [](const char* name, const load_result& r) {
      if (r.load.is_null()) {
        std::printf("%-6s (not run)\n", name);
        return 0.0;
      }
      double answered = r.load["answered"].get<double>();
      double per_req = answered > 0 ? r.cpu_us / answered : 0;
      std::printf("%-6s %12.0f %8lld %8.2f %8.2f %10.0f %12.2f %14.0f\n", name,
                  r.load["answered_per_s"].get<double>(), r.load["lost"].get<long long>(),
                  r.load["latency_ms"]["p50"].get<double>(),
                  r.load["latency_ms"]["p99"].get<double>(), r.cpu_us / 1000, per_req,
                  per_req > 0 ? 1e6 / per_req : 0);
      return per_req;
    };
    std::printf("\ndht-rpc node under load.js (%d requests, window %d, half FIND_NODE, 30 nodes in each table)\n",
                requests, window);
    std::printf("%-6s %12s %8s %8s %8s %10s %12s %14s\n", "node", "answered/s", "lost",
                "p50 ms", "p99 ms", "CPU ms", "CPU us/req", "req per CPU-s");
    double js_us = row("JS", js);
    double cxx_us = row("C++", cxx);
    double core_us = row("core", core);
    double echo_us = row("echo", echo);
    if (js_us > 0 && cxx_us > 0)
      std::printf("C++ answers %.1fx the requests per CPU second of the JS node\n", js_us / cxx_us);
    if (js_us > 0 && core_us > 0)
      std::printf("(core: the sans-IO node alone on one thread with recvmmsg/sendmmsg, no actors: %.1fx)\n",
                  js_us / core_us);
    if (echo_us > 0)
      std::printf("(echo: the same loop answering without any protocol, the kernel floor: %.2f us/req,"
                  " %.1fx JS at most for any node on this loop)\n",
                  echo_us, js_us > 0 ? js_us / echo_us : 0.0);
    auto loop_row = [](const char* name, const loop_stats& s) {
      if (s.wakeups == 0)
        return;
      // The whole serve() run (the table fill and idle waits too), so
      // these shares are of the thread's time, not exactly of the load's.
      const double total = s.user_us + s.sys_us;
      std::printf("%-6s loop (%s%s): %.2f datagrams per recvmmsg, %.2f per sendmmsg; thread CPU"
                  " %.0f%% system, %.0f%% user (%.2f + %.2f us per datagram)\n",
                  name, poll_loop() ? "poll + recvmmsg" : "blocking recvmmsg",
                  coalesce_us() > 0 ? (", sleep " + std::to_string(coalesce_us()) + " us after each batch").c_str() : "",
                  double(s.datagrams) / double(std::max<uint64_t>(1, s.recv_calls)),
                  double(s.datagrams) / double(std::max<uint64_t>(1, s.send_calls)),
                  total > 0 ? 100 * s.sys_us / total : 0, total > 0 ? 100 * s.user_us / total : 0,
                  s.sys_us / double(std::max<uint64_t>(1, s.datagrams)),
                  s.user_us / double(std::max<uint64_t>(1, s.datagrams)));
    };
    if (inproc.replies > 0)
      std::printf("no-socket: the core fed in-process, same mix: %.3f us CPU per request"
                  " (%llu replies, %.0f bytes each on average)\n",
                  inproc.cpu_us_per_request, static_cast<unsigned long long>(inproc.replies),
                  double(inproc.reply_bytes) / double(inproc.replies));
    loop_row("core", core_stats);
    loop_row("echo", echo_stats);

    if (lookups > 0 && wanted("lookups")) {
      auto jl = js_lookups(lookups);
      auto cl = cxx_lookups(lookups);
      std::printf("\nFIND_NODE query latency, 20-node local network (%d lookups, one at a time)\n", lookups);
      std::printf("%-6s %8s %8s %8s\n", "nodes", "p50 ms", "p90 ms", "mean ms");
      std::printf("%-6s %8.2f %8.2f %8.2f\n", "JS", jl.p50, jl.p90, jl.mean);
      std::printf("%-6s %8.2f %8.2f %8.2f\n", "C++", cl.p50, cl.p90, cl.mean);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_dht: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
