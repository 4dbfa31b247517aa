#pragma once
// Our server binary as a child process, its stdout and stderr captured (for
// the interop tests of tests/hd_server).
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ht::test {

struct child_process {
  pid_t pid = -1;
  int out = -1;
  std::string output;

  child_process(const std::string& binary, std::vector<std::string> args, const std::string& cwd) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
    args.insert(args.begin(), binary);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid, binary.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    out = p[0];
    if (rc != 0)
      throw std::runtime_error("cannot start " + binary);
  }
  ~child_process() {
    kill(SIGKILL);
    ::close(out);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Reads what is there (waiting up to `ms` for the first byte).
  void pump(int ms) {
    pollfd pfd{out, POLLIN, 0};
    if (::poll(&pfd, 1, ms) <= 0)
      return;
    char buf[4096];
    auto n = ::read(out, buf, sizeof(buf));
    if (n > 0)
      output.append(buf, static_cast<size_t>(n));
  }
  /// Reads output until `needle` shows up or `seconds` pass.
  bool wait_for(const std::string& needle, int seconds = 30) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (output.find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline)
        return false;
      pump(100);
    }
    return true;
  }
  void kill(int sig) {
    if (pid <= 0)
      return;
    ::kill(pid, sig);
    if (sig == SIGKILL) {
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  int wait_exit() {
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
    for (int i = 0; i < 5; ++i)
      pump(10);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
};

} // namespace ht::test
