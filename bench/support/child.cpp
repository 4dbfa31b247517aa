#include "child.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace ht::bench {

using steady = std::chrono::steady_clock;

child::child(std::vector<std::string> args, const std::string& stderr_path, int exit_signal)
    : exit_signal_(exit_signal), name_(args.at(0)) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  if (!stderr_path.empty())
    posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = ::posix_spawn(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(p[1]);
  if (rc != 0) {
    ::close(p[0]);
    throw std::runtime_error("cannot start " + args[0]);
  }
  out_ = p[0];
}

child::~child() {
  if (pid_ > 0) {
    ::kill(pid_, exit_signal_);
    ::waitpid(pid_, nullptr, 0);
  }
  ::close(out_);
}

bool child::fill(int timeout_ms) {
  pollfd pfd{out_, POLLIN, 0};
  if (::poll(&pfd, 1, timeout_ms) <= 0)
    return false;
  char b[1024];
  auto n = ::read(out_, b, sizeof b);
  if (n <= 0)
    throw std::runtime_error(name_ + " exited");
  buf_.append(b, size_t(n));
  return true;
}

std::string child::read_line(int timeout_ms) {
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      auto line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    if (!fill(timeout_ms))
      throw std::runtime_error(name_ + " said nothing");
  }
}

std::string child::wait_line(const std::string& needle, int seconds) {
  auto deadline = steady::now() + std::chrono::seconds(seconds);
  for (;;) {
    for (auto nl = buf_.find('\n'); nl != std::string::npos; nl = buf_.find('\n')) {
      auto line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (line.find(needle) != std::string::npos)
        return line;
    }
    if (steady::now() > deadline)
      throw std::runtime_error(name_ + ": no '" + needle + "' in time");
    fill(100);
  }
}

int child::stop(int seconds, double& took) {
  auto t0 = steady::now();
  auto since = [&] { return std::chrono::duration<double>(steady::now() - t0).count(); };
  ::kill(pid_, SIGTERM);
  int st = 0;
  while (::waitpid(pid_, &st, WNOHANG) == 0) {
    if (since() > seconds) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  took = since();
  pid_ = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

} // namespace ht::bench
