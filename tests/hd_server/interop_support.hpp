#pragma once
// What the interop tests of tests/hd_server share: our server and DHT node
// binaries as child processes, the JS scripts' output, the .log files.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "dht/noise/crypto.hpp"
#include "messages/bytes.hpp"
#include "support/binary_process.hpp"
#include "support/node_process.hpp"
#include "support/temp_dir.hpp"

namespace hd_interop {

using ht::test::binary_process;
using ht::test::node_process;
using json = nlohmann::json;

// Traces per run. Under ASan/UBSan everything runs 5-10x slower: the run
// is scaled down by 5 so the ctest entry stays well under 120 s.
#if defined(__SANITIZE_ADDRESS__)
constexpr int trace_scale = 5;
#else
constexpr int trace_scale = 1;
#endif

inline const std::string script = "hd-server-peer.js";

inline std::string seed_hex(uint8_t b) {
  std::vector<uint8_t> s(32, b);
  return ht::to_hex(s.data(), s.size());
}

inline std::string client_key_hex(uint8_t seed) {
  ht::noise::key32 s;
  s.fill(seed);
  return ht::to_hex(ht::noise::keypair::from_seed(s).public_key);
}

struct testnet {
  node_process js{script, {"testnet", "3"}};
  std::string bootstrap = json::parse(js.read_line())["bootstrap"].get<std::string>();
};

struct our_server {
  ht::test::temp_dir dir{"ht-hds"};
  std::unique_ptr<binary_process> proc;
  std::string key;

  void start(const std::string& bootstrap, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--bootstrap=" + bootstrap, "--host=127.0.0.1", "--folder=logs"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<binary_process>(HT_SERVER_BINARY, args, dir.path());
    REQUIRE(proc->wait_for("server started on ", 30));
    REQUIRE(proc->wait_for("\n", 5));
    std::smatch m;
    REQUIRE(std::regex_search(proc->output, m, std::regex("server started on ([0-9a-f]{64})")));
    key = m[1];
    // Printed on stderr, which may come after stdout's "server started on".
    const std::regex listening("listening on udp ([0-9.]+:[0-9]+),");
    for (int i = 0; i < 100 && !std::regex_search(proc->output, m, listening); ++i)
      proc->pump(100);
    REQUIRE(std::regex_search(proc->output, m, listening));
    address = m[1];
  }
  std::string log(const std::string& client) const { return dir.path() + "/logs/" + client + ".log"; }

  /// The listener's counters (the binary prints them on SIGUSR1).
  std::map<std::string, uint64_t> status() {
    const size_t from = proc->output.size();
    ::kill(proc->pid, SIGUSR1);
    std::smatch m;
    const std::regex line("status ([^\n]*)\n");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::string tail;
    while (!std::regex_search(tail = proc->output.substr(from), m, line)) {
      if (std::chrono::steady_clock::now() > deadline)
        FAIL("no status line from the server:\n" << proc->output);
      proc->pump(100);
    }
    std::map<std::string, uint64_t> out;
    const std::string text = m[1];
    std::regex kv("(\\w+)=(\\d+)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kv); it != std::sregex_iterator(); ++it)
      out[(*it)[1]] = std::stoull((*it)[2]);
    return out;
  }

  std::string address;  // host:port of its UDP socket
};

/// Our hypertrace-logger-dht (a persistent bootstrap/storage/relay node) on
/// 127.0.0.1, any free port.
struct dht_node {
  ht::test::temp_dir dir{"ht-hdn"};
  std::unique_ptr<binary_process> proc;
  std::string address;

  explicit dht_node(int seed, const std::string& bootstrap = "") {
#ifdef HT_DHT_BINARY
    std::vector<std::string> args{"--host=127.0.0.1", "--port=0", "--seed=" + std::to_string(seed)};
    if (!bootstrap.empty())
      args.push_back("--bootstrap=" + bootstrap);
    proc = std::make_unique<binary_process>(HT_DHT_BINARY, args, dir.path());
    REQUIRE(proc->wait_for("listening on 127.0.0.1:", 20));
    REQUIRE(proc->wait_for("\n", 5));
    std::smatch m;
    REQUIRE(std::regex_search(proc->output, m, std::regex("listening on (127\\.0\\.0\\.1:\\d+)")));
    address = m[1];
#else
    (void)seed;
    (void)bootstrap;
    FAIL("built without hypertrace-logger-dht");
#endif
  }
};

/// Resident set size of a process, in KiB (0 if unknown).
inline long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string l;
  while (std::getline(in, l))
    if (l.rfind("VmRSS:", 0) == 0)
      return std::stol(l.substr(6));
  return 0;
}

inline std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string l;
  while (std::getline(in, l))
    lines.push_back(l);
  return lines;
}

// traceNumber -> how often it is in the file.
inline std::map<int64_t, int> trace_numbers(const std::vector<std::string>& lines) {
  std::map<int64_t, int> seen;
  for (const auto& l : lines) {
    auto j = json::parse(l);
    if (j.contains("traceNumber"))
      ++seen[j["traceNumber"].get<int64_t>()];
  }
  return seen;
}

// Waits (bounded) until the file holds `n` distinct trace numbers.
inline bool wait_traces(const std::string& path, int n, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    int count = 0;
    std::string l;
    while (std::getline(in, l))
      count += l.find("\"traceNumber\":") != std::string::npos;
    if (count >= n)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// The client script's next line that starts with `prefix` (events before it
// skipped, or kept in `skipped`), within about `seconds`.
inline std::string line_starting(node_process& p, const std::string& prefix, int seconds = 60,
                                 std::vector<std::string>* skipped = nullptr) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    auto l = p.read_line(seconds * 1000);
    if (l.rfind(prefix, 0) == 0)
      return l;
    if (skipped)
      skipped->push_back(l);
  }
  return "(nothing starting with " + prefix + ")";
}

inline std::string masked(std::string line) {
  static const std::regex times("\"(time|traceTimestamp)\":\"[^\"]*\"");
  return std::regex_replace(line, times, "\"$1\":\"*\"");
}

inline int notes_with(const std::vector<std::string>& lines, const std::string& text) {
  int n = 0;
  for (const auto& l : lines)
    n += l.find("\"note\":\"" + text) != std::string::npos;
  return n;
}

inline uint16_t free_udp_port() {
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    uint16_t p = ntohs(a.sin_port);
    if (p < 49737 || p > 49741)
      return p;
  }
}

} // namespace hd_interop
