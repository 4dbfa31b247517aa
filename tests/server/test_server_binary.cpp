// The hypertrace-logger-server binary as an operator runs it: options,
// keys.dat, the start line, orderly exit on SIGTERM/SIGINT, clear errors.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/server/keys.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

namespace {

/// The server binary with its stdout and stderr captured.
struct server_process {
  pid_t pid = -1;
  int out = -1;
  std::string output;

  explicit server_process(std::vector<std::string> args, const std::string& cwd) {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    args.insert(args.begin(), HT_SERVER_BINARY);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid, HT_SERVER_BINARY, &fa, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    out = p[0];
  }

  ~server_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    ::close(out);
  }

  /// Reads output until `needle` shows up or 20 s pass.
  bool wait_for(const std::string& needle) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (output.find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline)
        return false;
      pollfd pfd{out, POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0)
        continue;
      char buf[1024];
      auto n = ::read(out, buf, sizeof(buf));
      if (n <= 0)
        return output.find(needle) != std::string::npos;
      output.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  int wait_exit() {
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
    wait_for("\x01"); // drain what is left
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
};

} // namespace

TEST_CASE("the server starts, prints its key, and exits 0 on SIGTERM and SIGINT", "[scenario]") {
  for (int sig : {SIGTERM, SIGINT}) {
    ht::test::temp_dir dir{"ht-bin"};
    server_process srv({"--folder=logs"}, dir.path());
    REQUIRE(srv.wait_for("\n"));
    std::smatch m;
    REQUIRE(std::regex_search(srv.output, m, std::regex("server started on ([0-9a-f]{64})\n")));
    auto kp = ht::load_or_create_key_file(dir.path() + "/keys.dat");
    CHECK(m[1] == ht::to_hex(kp.public_key_bytes));
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
                     "--config-file"})
      CHECK(srv.output.find(opt) != std::string::npos);
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
