// The in-process server pipeline, session actor to bytes on disk: one or
// more clients push 448-byte traces through the in-process transport into
// the server (sessions, store with group commit, real files). Prints
// traces/s, CPU µs per trace and peak RSS, next to the JS server 1.1.1
// (its real Server class on an in-process stand-in for hyperdht) measured
// in the same run.
//
//   bench_server_pipeline [traces per client = 200000] [clients = 4]
//
// HT_BENCH_NO_JS=1 skips the JS reference. The measured phase's bounds are
// printed to stderr as CLOCK_MONOTONIC seconds, so a profile can be cut to
// it: perf record -k mono -g ..., then perf report --time <from>,<to>.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/server/iso_time.hpp"
#include "actors/server/server.hpp"
#include "actors/server/session_protocol.hpp"
#include "actors/transport/inprocess.hpp"

using namespace ht;

namespace {

std::string trace(int64_t n) {
  nlohmann::ordered_json j;
  j["traceTimestamp"] = "2026-11-24T06:42:57.876Z";
  j["traceSessionId"] = "3220392801237528";
  j["traceNumber"] = n;
  j["id"] = "hit";
  j["props"] = {{"username", "bench"}, {"padding", std::string(160, 'x')}};
  j["object"] = {{"id", 1}, {"className", "Bench"}, {"props", {{"kind", "bench"}}}};
  j["caller"] = {{"filename", "/app/bench.js"}, {"functionName", "hit"}, {"props", {{"i", n}}}};
  return j.dump();
}

double monotonic_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
         + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

} // namespace

int main(int argc, char** argv) {
  int64_t per_client = argc > 1 ? std::atoll(argv[1]) : 200000;
  int clients = argc > 2 ? std::atoi(argv[2]) : 4;
  char tmpl[] = "/tmp/ht-bench-server-XXXXXX";
  std::string folder = ::mkdtemp(tmpl);
  auto msg_bytes = trace(0).size();

  // Prepare every message up front: the bench measures the server, not the
  // making of traces.
  std::vector<std::vector<bytes>> messages(clients);
  std::vector<uint64_t> expected_size(clients, 0);
  auto now = iso8601_ms(std::chrono::system_clock::now()); // always 24 chars
  for (int c = 0; c < clients; ++c) {
    // The exact file size to wait for: the same formatter, same messages.
    public_key key{};
    key.fill(static_cast<uint8_t>(c + 1));
    session_protocol formatter(to_hex(key), 1, {});
    std::vector<std::string> lines;
    for (int64_t i = 0; i < per_client; ++i) {
      auto t = trace(i);
      formatter.on_message(t, now, lines);
      messages[c].emplace_back(t.begin(), t.end());
    }
    for (auto& l : lines)
      expected_size[c] += l.size() + 1;
  }

  caf::actor_system_config cfg;
  cfg.set("logger.verbosity", caf::atom("quiet"));
  cfg.set("scheduler.max-threads", 2);
  double cpu0, wall_s, cpu_s;
  {
    caf::actor_system sys{cfg};
    server_config scfg;
    scfg.store.folder = folder;
    scfg.store.detached = true;
    auto server = spawn_server(sys, scfg);
    auto net = spawn_inprocess_network(sys);
    public_key server_key{};
    server_key.fill(0xaa);
    caf::anon_send(net, listen_atom::value, server_key,
                   caf::actor_cast<acceptor_actor>(server));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

    double mono0 = monotonic_seconds();
    cpu0 = cpu_seconds();
    auto start = std::chrono::steady_clock::now();
    std::vector<std::string> files;
    std::vector<connection_actor> conns;
    for (int c = 0; c < clients; ++c) {
      public_key key{};
      key.fill(static_cast<uint8_t>(c + 1));
      files.push_back(folder + "/" + to_hex(key) + ".log");
      auto conn = inprocess_connect(sys, net, key, server_key);
      for (auto& m : messages[c])
        caf::anon_send(conn, write_atom::value, std::move(m));
      conns.push_back(conn);
    }
    // Done when every file holds the note and all traces.
    for (int c = 0; c < clients; ++c)
      while (file_size(files[c]) < expected_size[c])
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cpu_s = cpu_seconds() - cpu0;
    std::fprintf(stderr, "measured phase (CLOCK_MONOTONIC): %.6f,%.6f\n", mono0,
                 monotonic_seconds());
    caf::scoped_actor self{sys};
    self->request(server, caf::infinite, shutdown_atom::value).receive([](bool) {}, [](caf::error&) {});
    caf::anon_send_exit(net, caf::exit_reason::user_shutdown);
  }
  auto total = static_cast<double>(per_client) * clients;
  std::printf("C++ server pipeline: %d clients x %lld traces of %zu bytes\n",
              clients, static_cast<long long>(per_client), msg_bytes);
  std::printf("  %.0f traces/s, %.2f us CPU per trace, peak RSS %ld MiB\n",
              total / wall_s, cpu_s * 1e6 / total, peak_rss_kib() / 1024);

  if (const char* no_js = std::getenv("HT_BENCH_NO_JS"); no_js && *no_js == '1') {
    std::system(("rm -rf '" + folder + "'").c_str());
    return 0;
  }
  // The JS server in the same run (one connection, as it processes one
  // trace at a time per connection anyway).
  std::string js_folder = folder + "/js";
  std::system(("mkdir -p '" + js_folder + "'").c_str());
  int64_t js_traces = std::min<int64_t>(per_client, 50000);
  std::string cmd = "cd '" HT_SOURCE_DIR "/tests/interop' && node '" HT_SOURCE_DIR
                    "/bench/server/js-server-pipeline.js' '" + js_folder + "' "
                    + std::to_string(js_traces);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
  char buf[512] = {0};
  if (pipe && std::fgets(buf, sizeof(buf), pipe.get())) {
    auto js = nlohmann::json::parse(buf);
    double js_cpu_us = js["cpuSeconds"].get<double>() * 1e6 / js["traces"].get<double>();
    double js_rate = js["traces"].get<double>() / js["wallSeconds"].get<double>();
    std::printf("JS server 1.1.1 (same machine, same run): %lld traces of %d bytes\n",
                static_cast<long long>(js_traces), js["bytes"].get<int>());
    std::printf("  %.0f traces/s, %.2f us CPU per trace\n", js_rate, js_cpu_us);
    std::printf("ratio C++/JS: %.1fx traces/s, %.1fx less CPU per trace\n",
                (total / wall_s) / js_rate, js_cpu_us / (cpu_s * 1e6 / total));
  } else {
    std::printf("JS reference unavailable (run npm ci in tests/interop)\n");
  }
  std::system(("rm -rf '" + folder + "'").c_str());
  return 0;
}
