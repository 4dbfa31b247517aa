// The hypertrace-logger-server binary as an operator runs it: options,
// keys.dat, the start line, orderly exit on SIGTERM/SIGINT, clear errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "actors/server/keys.hpp"
#include "support/binary_process.hpp"
#include "support/temp_dir.hpp"

namespace {

/// One of our binaries, its stdout and stderr captured.
struct server_process : ht::test::binary_process {
  /// The server binary; unless `args` name a bootstrap list, it joins the
  /// test's own local DHT node (local_bootstrap()) on 127.0.0.1.
  explicit server_process(std::vector<std::string> args, const std::string& cwd);

  server_process(const char* binary, std::vector<std::string> args, const std::string& cwd,
                 const std::string& stdin_path = "/dev/null")
    : binary_process(binary, std::move(args), cwd, stdin_path) {}
};

/// One hypertrace-logger-dht on 127.0.0.1 (a free port) for the whole test
/// binary: the bootstrap node every server here joins, with no internet.
const std::string& local_bootstrap() {
  static server_process dht(HT_DHT_BINARY, {"--host=127.0.0.1", "--port=0"}, ".");
  static std::string address = [] {
    REQUIRE(dht.wait_for(" id "));
    std::smatch m;
    REQUIRE(std::regex_search(dht.output, m, std::regex("listening on (127\\.0\\.0\\.1:[0-9]+)")));
    return m[1].str();
  }();
  return address;
}

server_process::server_process(std::vector<std::string> args, const std::string& cwd)
  : server_process(HT_SERVER_BINARY,
                   [&] {
                     bool has = false;
                     for (auto& a : args)
                       has = has || a.rfind("--bootstrap", 0) == 0;
                     if (!has) {
                       args.push_back("--bootstrap=" + local_bootstrap());
                       args.push_back("--host=127.0.0.1");
                     }
                     return args;
                   }(),
                   cwd) {}

} // namespace

TEST_CASE("the server starts, prints its key, and exits 0 on SIGTERM and SIGINT", "[scenario]") {
  for (int sig : {SIGTERM, SIGINT}) {
    ht::test::temp_dir dir{"ht-bin"};
    server_process srv({"--folder=logs"}, dir.path());
    // The line comes once the server is announced on the (local) DHT.
    REQUIRE(srv.wait_for("server started on "));
    auto kp = ht::load_or_create_key_file(dir.path() + "/keys.dat");
    REQUIRE(srv.wait_for("server started on " + ht::to_hex(kp.public_key_bytes) + "\n"));
    ::kill(srv.pid, sig);
    CHECK(srv.wait_exit() == 0);
    CHECK(srv.output.find("shutting down") != std::string::npos);
  }
}

TEST_CASE("the server reuses its key file", "[scenario]") {
  ht::test::temp_dir dir{"ht-bin"};
  std::string first;
  for (int i = 0; i < 2; ++i) {
    server_process srv({"--keys=my.keys"}, dir.path());
    REQUIRE(srv.wait_for("server started on "));
    REQUIRE(srv.wait_for("\n"));
    auto line = srv.output.substr(srv.output.find("server started on "), 82);
    if (i == 0)
      first = line;
    else
      CHECK(line == first);
    ::kill(srv.pid, SIGTERM);
    CHECK(srv.wait_exit() == 0);
  }
}

TEST_CASE("a damaged key file stops the server with a clear error", "[scenario]") {
  ht::test::temp_dir dir{"ht-bin"};
  const std::string damaged = R"({"publicKey":")" + std::string(64, '0') + "\"}";
  std::ofstream(dir.path() + "/keys.dat") << damaged;
  server_process srv({}, dir.path());
  CHECK(srv.wait_exit() == 1);
  CHECK(srv.output.find("error: key file ./keys.dat: missing \"secretKey\"") != std::string::npos);
  std::ifstream in(dir.path() + "/keys.dat");
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str() == damaged); // untouched
}

TEST_CASE("unknown options are rejected and --help lists the options", "[scenario]") {
  ht::test::temp_dir dir{"ht-bin"};
  {
    server_process srv({"--no-such-option=1"}, dir.path());
    CHECK(srv.wait_exit() == 2);
    CHECK(srv.output.find("no-such-option") != std::string::npos);
  }
  {
    server_process srv({"--help"}, dir.path());
    CHECK(srv.wait_exit() == 0);
    for (auto opt : {"--folder", "--keys", "--bootstrap", "--port", "--allow",
                     "--flush-interval", "--fsync-interval", "--rotate-bytes",
                     "--rotate-keep", "--memory-cap", "--max-message-bytes",
                     "--handshakes-per-host", "--config-file"})
      CHECK(srv.output.find(opt) != std::string::npos);
  }
  struct stat st;
  CHECK(::stat((dir.path() + "/keys.dat").c_str(), &st) != 0); // no side effects
}

TEST_CASE("the scheduler defaults to one worker per core (at least 2) and no moderate idle poll; "
          "the flags override",
          "[scenario]") {
  // CAF's own defaults, max(cores, 4) workers and 500 moderate polls 50 µs
  // apart, cost the server CPU in idle polling on small machines
  // (bench/hyperdht, docs/hyperdht.md).
  ht::test::temp_dir dir{"ht-bin"};
  const std::string cores =
    std::to_string(std::max(2u, std::thread::hardware_concurrency()));
  {
    server_process srv({"--dump-config"}, dir.path());
    CHECK(srv.wait_exit() == 0);
    CHECK(srv.output.find("max-threads = " + cores + "\n") != std::string::npos);
    CHECK(srv.output.find("moderate-poll-attempts = 0\n") != std::string::npos);
  }
  {
    server_process srv({"--dump-config", "--scheduler.max-threads=3",
                        "--work-stealing.moderate-poll-attempts=7"}, dir.path());
    CHECK(srv.wait_exit() == 0);
    CHECK(srv.output.find("max-threads = 3\n") != std::string::npos);
    CHECK(srv.output.find("moderate-poll-attempts = 7\n") != std::string::npos);
  }
  struct stat st;
  CHECK(::stat((dir.path() + "/keys.dat").c_str(), &st) != 0); // no side effects
}

TEST_CASE("options come from a config file too", "[scenario]") {
  ht::test::temp_dir dir{"ht-bin"};
  std::ofstream(dir.path() + "/server.ini") << "[global]\nkeys=\"from-ini.dat\"\n";
  server_process srv({"--config-file=server.ini"}, dir.path());
  REQUIRE(srv.wait_for("server started on "));
  ::kill(srv.pid, SIGTERM);
  CHECK(srv.wait_exit() == 0);
  struct stat st;
  CHECK(::stat((dir.path() + "/from-ini.dat").c_str(), &st) == 0);
}

TEST_CASE("no bootstrap node answering is said plainly; the server keeps trying", "[scenario]") {
  ht::test::temp_dir dir{"ht-bin"};
  // A port nobody listens on (the DHT node's own port, +1 away from it, is
  // not guaranteed free; a closed UDP socket's port is).
  server_process srv({"--bootstrap=127.0.0.1:9", "--host=127.0.0.1"}, dir.path());
  REQUIRE(srv.wait_for("no DHT node answered", 60));
  CHECK(srv.output.find("bootstrap 127.0.0.1:9") != std::string::npos);
  CHECK(srv.output.find("server started on") == std::string::npos);
  // Still running, and still exits cleanly.
  CHECK(::kill(srv.pid, 0) == 0);
  ::kill(srv.pid, SIGTERM);
  CHECK(srv.wait_exit() == 0);
}

TEST_CASE("bad --allow and --bootstrap values are clear startup errors", "[scenario]") {
  ht::test::temp_dir dir{"ht-bin"};
  {
    server_process srv({"--allow=abcd"}, dir.path());
    CHECK(srv.wait_exit() == 2);
    CHECK(srv.output.find("--allow: 'abcd' is not a public key (64 hex digits)") != std::string::npos);
  }
  {
    std::ofstream(dir.path() + "/allow.txt") << std::string(64, 'a') << "\n# a comment\n" << std::string(63, 'b')
                                             << "x\n";
    server_process srv({"--allow=allow.txt"}, dir.path());
    CHECK(srv.wait_exit() == 2);
    CHECK(srv.output.find("allow.txt:3: '" + std::string(63, 'b') + "x' is not a public key") != std::string::npos);
  }
  {
    server_process srv({"--bootstrap=localhost"}, dir.path());
    CHECK(srv.wait_exit() == 2);
    CHECK(srv.output.find("error: --bootstrap") != std::string::npos);
  }
  struct stat st;
  CHECK(::stat((dir.path() + "/keys.dat").c_str(), &st) != 0); // no side effects
  {
    // Good keys, inline (comma-separated) or from a file, start the server.
    std::ofstream(dir.path() + "/good.txt") << std::string(64, 'a') << "\n" << std::string(64, 'B') << "\n";
    server_process srv({"--allow=good.txt", "--allow=" + std::string(64, 'c') + "," + std::string(64, 'd')},
                       dir.path());
    REQUIRE(srv.wait_for("server started on "));
    ::kill(srv.pid, SIGTERM);
    CHECK(srv.wait_exit() == 0);
  }
}

TEST_CASE("--handshakes-per-host bounds the handshakes accepted from one address", "[scenario]") {
  ht::test::temp_dir dir{"ht-bin"};
  for (auto bad : {"--handshakes-per-host=0", "--handshakes-per-host=4097"}) {
    server_process srv({bad}, dir.path());
    CHECK(srv.wait_exit() == 2);
    CHECK(srv.output.find("error: --handshakes-per-host must be between 1 and 4096") != std::string::npos);
  }
  struct stat st;
  CHECK(::stat((dir.path() + "/keys.dat").c_str(), &st) != 0); // no side effects
#ifdef HT_SEND_BINARY
  // hypertrace-logger-send connects twice from 127.0.0.1 (the traces, then
  // a fresh connection asking what the server has): with a bound of 1 the
  // second handshake within 10 s is refused, and the server says why.
  server_process srv({"--handshakes-per-host=1"}, dir.path());
  REQUIRE(srv.wait_for("server started on "));
  std::smatch m;
  REQUIRE(std::regex_search(srv.output, m, std::regex("server started on ([0-9a-f]{64})")));
  std::ofstream(dir.path() + "/one.ndjson") << "{\"object\":{\"className\":\"Shop\",\"id\":1},"
                                               "\"caller\":{\"functionName\":\"buy\"}}\n";
  server_process send(HT_SEND_BINARY,
                      {"--server=" + m[1].str(), "--bootstrap=" + local_bootstrap(), "--host=127.0.0.1",
                       "--ack-timeout=3000"},
                      dir.path(), dir.path() + "/one.ndjson");
  CHECK(srv.wait_for("refused: too many handshakes from 127.0.0.1", 60));
  ::kill(srv.pid, SIGTERM);
  CHECK(srv.wait_exit() == 0);
#endif
}
