// UDX loopback throughput and CPU per MB: our C++ actors against
// themselves and against udx-native (libudx), side by side with JS->JS
// measured in the same run, plus the same under 1% loss through a relay.
//
//   bench_udx [MiB]      (default 256 clean, a quarter of it under loss)
//
// CPU is user+system time of every process taking part (ours via
// getrusage, node via process.cpuUsage()), divided by the MiB moved.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include <sys/resource.h>

#include <caf/all.hpp>

#include "actors/udx/socket_actor.hpp"
#include "actors/udx/stream_actor.hpp"
#include "interop_support.hpp"

using namespace ht;
using namespace ht::udx::test;

namespace {

constexpr double MiB = 1 << 20;

double cpu_seconds() {
  rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct counter {
  std::mutex mtx;
  std::condition_variable cv;
  uint64_t received = 0;
  bool ended = false;
};
using counter_ptr = std::shared_ptr<counter>;

udx_stream_handler_actor::behavior_type counting(udx_stream_handler_actor::pointer,
                                                 counter_ptr c) {
  return {
    [=](udx_data_atom, uint32_t, const bytes& b) {
      std::lock_guard<std::mutex> g{c->mtx};
      c->received += b.size();
    },
    [=](udx_end_atom, uint32_t) {
      {
        std::lock_guard<std::mutex> g{c->mtx};
        c->ended = true;
      }
      c->cv.notify_all();
    },
    [=](udx_msg_atom, uint32_t, const bytes&) {},
    [=](closed_atom, uint32_t, const std::string&) {},
  };
}

/// Streams `total` bytes from one reused random chunk, one write in flight.
caf::behavior bulk_writer(caf::event_based_actor* self, udx_stream_actor s,
                          uint64_t total) {
  auto chunk = std::make_shared<bytes>(256 * 1024);
  std::mt19937_64 rng(1);
  for (auto& b : *chunk)
    b = static_cast<uint8_t>(rng());
  auto left = std::make_shared<uint64_t>(total);
  // The step function re-arms itself through a weak reference: a strong
  // one would be a cycle (and leak); the behavior below owns it.
  auto step = std::make_shared<std::function<void()>>();
  std::weak_ptr<std::function<void()>> weak_step = step;
  *step = [=] {
    if (*left == 0) {
      self->send(s, udx_end_atom::value);
      self->quit();
      return;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(*left, chunk->size()));
    *left -= n;
    self->request(s, caf::infinite, write_atom::value, bytes(chunk->begin(), chunk->begin() + static_cast<long>(n)))
      .then([=](uint64_t) {
              if (auto f = weak_step.lock())
                (*f)();
            }, [=](caf::error&) { self->quit(); });
  };
  self->send(self, tick_atom::value);
  return {[=](tick_atom) { (*step)(); }};
}

struct figure {
  double mbps = 0;       // MiB/s
  double cpu_ms = 0;     // CPU milliseconds per MiB, all processes
};

/// Where a and b send: to each other, or through a relay dropping `loss`
/// of the packets (no duplication or reordering: loss alone).
struct path {
  std::unique_ptr<loss_proxy> proxy;
  uint16_t a_target, b_target;

  path(uint16_t a_port, uint16_t b_port, double loss)
    : a_target(b_port), b_target(a_port) {
    if (loss <= 0)
      return;
    loss_proxy::profile p;
    p.loss = loss;
    p.duplicate = 0;
    p.reorder = 0;
    // "ours" = a, "theirs" = b: a sends to port_a, b to port_b
    proxy = std::make_unique<loss_proxy>(a_port, b_port, p, 1);
    a_target = proxy->port_a();
    b_target = proxy->port_b();
  }
};

struct bench {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  uint32_t next_id = 100;

  bench() {
    cfg.set("logger.verbosity", caf::atom("quiet"));
    cfg.set("logger.console", caf::atom("none"));
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  udx_socket_actor socket(udx_endpoint& local) {
    udx_socket_options o;
    o.host = "127.0.0.1";
    auto s = spawn_udx_socket(*sys, o);
    if (!s)
      throw std::runtime_error("bind failed");
    caf::scoped_actor self{*sys};
    self->request(*s, caf::infinite, udx_address_atom::value)
      .receive([&](const udx_endpoint& e) { local = e; }, [](caf::error&) {});
    return *s;
  }

  udx_stream_actor stream(udx_socket_actor sock, uint32_t id, uint32_t rid,
                          uint16_t port, udx_stream_handler_actor h) {
    udx_stream_options o;
    o.local_id = id;
    o.remote_id = rid;
    o.remote = udx_endpoint::parse("127.0.0.1", port);
    o.handler = h;
    return spawn_udx_stream(*sys, sock, o);
  }

  static double js_cpu(js_peer& p) {
    p.send({{"cmd", "cpu"}});
    return p.next([](const json& j) { return j["event"] == "cpu"; })["us"].get<double>() / 1e6;
  }

  // What a C++ sender's recovery did: the figures to look at first when a
  // throughput moves.
  void print_sender_state(udx_stream_actor sender) {
    caf::scoped_actor self{*sys};
    self->request(sender, caf::infinite, udx_stats_atom::value)
      .receive(
        [&](const udx_stream_info& i) {
          std::printf("  C++ sender: %llu packets, %llu retransmitted, %llu loss episodes, "
                      "%llu RTOs, cwnd %u, MTU %u, srtt %lld us\n",
                      static_cast<unsigned long long>(i.packets_sent),
                      static_cast<unsigned long long>(i.retransmits),
                      static_cast<unsigned long long>(i.loss_episodes),
                      static_cast<unsigned long long>(i.rto_fired), i.cwnd, i.mtu,
                      static_cast<long long>(i.srtt_us));
        },
        [](caf::error&) {});
  }

  figure cpp_to_cpp(uint64_t total, double loss) {
    udx_endpoint la, lb;
    auto sa = socket(la), sb = socket(lb);
    path route(la.port, lb.port, loss);
    uint16_t a_target = route.a_target, b_target = route.b_target;
    auto c = std::make_shared<counter>();
    uint32_t ida = next_id++, idb = next_id++;
    auto h = sys->spawn(counting, c);
    auto hb = sys->spawn(counting, std::make_shared<counter>());
    auto a = stream(sa, ida, idb, a_target, hb);
    auto b = stream(sb, idb, ida, b_target, h);
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_seconds();
    sys->spawn(bulk_writer, a, total);
    {
      std::unique_lock<std::mutex> g{c->mtx};
      c->cv.wait_for(g, std::chrono::seconds(600), [&] { return c->ended; });
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = cpu_seconds() - c0;
    if (loss > 0)
      print_sender_state(a);
    for (auto x : {caf::actor_cast<caf::actor>(a), caf::actor_cast<caf::actor>(b),
                   caf::actor_cast<caf::actor>(sa), caf::actor_cast<caf::actor>(sb),
                   caf::actor_cast<caf::actor>(h), caf::actor_cast<caf::actor>(hb)})
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    return figure{total / MiB / secs, cpu * 1000 / (total / MiB)};
  }

  figure js_to_js(uint64_t total, double loss) {
    js_peer a, b;
    path route(a.port, b.port, loss);
    uint16_t a_target = route.a_target, b_target = route.b_target;
    a.send({{"cmd", "stream"}, {"id", 1}, {"remoteId", 2}, {"port", a_target}, {"hash", false}});
    b.send({{"cmd", "stream"}, {"id", 2}, {"remoteId", 1}, {"port", b_target}, {"hash", false}});
    a.event("connected", 1);
    b.event("connected", 2);
    double c0 = js_cpu(a) + js_cpu(b);
    auto t0 = std::chrono::steady_clock::now();
    a.send({{"cmd", "send"}, {"id", 1}, {"bytes", total}, {"end", true}, {"fast", true}});
    b.event("end", 2, 600000);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = js_cpu(a) + js_cpu(b) - c0;
    return figure{total / MiB / secs, cpu * 1000 / (total / MiB)};
  }

  figure cpp_js(uint64_t total, bool cpp_sends) {
    udx_endpoint l;
    auto s = socket(l);
    js_peer js;
    auto c = std::make_shared<counter>();
    auto h = sys->spawn(counting, c);
    uint32_t id = next_id++;
    auto st = stream(s, id, 1, js.port, h);
    js.send({{"cmd", "stream"}, {"id", 1}, {"remoteId", id}, {"port", l.port}, {"hash", false}});
    js.event("connected", 1);
    double c0 = cpu_seconds() + js_cpu(js);
    auto t0 = std::chrono::steady_clock::now();
    if (cpp_sends) {
      sys->spawn(bulk_writer, st, total);
      js.event("end", 1, 600000);
      print_sender_state(st);
    } else {
      js.send({{"cmd", "send"}, {"id", 1}, {"bytes", total}, {"end", true}, {"fast", true}});
      std::unique_lock<std::mutex> g{c->mtx};
      c->cv.wait_for(g, std::chrono::seconds(600), [&] { return c->ended; });
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = cpu_seconds() + js_cpu(js) - c0;
    for (auto x : {caf::actor_cast<caf::actor>(st), caf::actor_cast<caf::actor>(s),
                   caf::actor_cast<caf::actor>(h)})
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    return figure{total / MiB / secs, cpu * 1000 / (total / MiB)};
  }
};

void row(const char* name, figure f, figure ref) {
  std::printf("%-26s %9.1f MiB/s  %6.2fx   %7.2f CPU ms/MiB  %6.2fx\n", name, f.mbps,
              f.mbps / ref.mbps, f.cpu_ms, f.cpu_ms / ref.cpu_ms);
}

} // namespace

int main(int argc, char** argv) {
  uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  uint64_t total = mib << 20;
  uint64_t lossy = std::max<uint64_t>(total / 4, 1 << 20);
  if (sodium_init() < 0)
    return 1;
  bench b;
  std::printf("UDX loopback, %llu MiB per clean run, %llu MiB under 1%% loss\n",
              static_cast<unsigned long long>(mib),
              static_cast<unsigned long long>(lossy >> 20));
  auto js = b.js_to_js(total, 0);
  auto cc = b.cpp_to_cpp(total, 0);
  auto cj = b.cpp_js(total, true);
  auto jc = b.cpp_js(total, false);
  std::printf("%-26s %15s %7s   %20s %7s\n", "direction", "throughput", "vs JS", "CPU (both ends)", "vs JS");
  row("JS  -> JS  (udx-native)", js, js);
  row("C++ -> C++", cc, js);
  row("C++ -> JS", cj, js);
  row("JS  -> C++", jc, js);
  auto jsl = b.js_to_js(lossy, 0.01);
  auto ccl = b.cpp_to_cpp(lossy, 0.01);
  std::printf("1%% loss relay (throughput only; the relay shares the CPU):\n");
  std::printf("%-26s %9.1f MiB/s  %6.2fx\n", "JS  -> JS  (udx-native)", jsl.mbps, 1.0);
  std::printf("%-26s %9.1f MiB/s  %6.2fx\n", "C++ -> C++", ccl.mbps, ccl.mbps / jsl.mbps);
  std::printf("ratio C++->C++ / JS->JS clean: %.2f\n", cc.mbps / js.mbps);
  return 0;
}
