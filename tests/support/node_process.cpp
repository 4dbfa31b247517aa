#include "support/node_process.hpp"

#include "support/spawn.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ht::test {

namespace {

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

} // namespace

node_process::node_process(const std::string& script,
                           const std::vector<std::string>& args) {
  std::string dir = HT_INTEROP_DIR;
  struct stat st;
  if (::stat((dir + "/node_modules").c_str(), &st) != 0)
    throw std::runtime_error("interop packages missing: run `npm ci` in " + dir
                             + " (scripts/install-deps does)");
  spawn_options opts;
  opts.cwd = dir;
  opts.pipe_stdin = true;
  opts.search_path = true;
  std::vector<std::string> argv{dir + "/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = spawn_child("node", argv, opts);
  pid_ = child.pid;
  in_fd_ = child.in;
  out_fd_ = child.out;
  // A child that dies must not kill the test with SIGPIPE on write_line.
  ::signal(SIGPIPE, SIG_IGN);
}

node_process::~node_process() {
  if (in_fd_ >= 0)
    ::close(in_fd_);
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0)
    ::close(out_fd_);
}

std::string node_process::read_line(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      auto line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0)
      throw std::runtime_error("node child: no line within timeout");
    if (read_some(out_fd_, pending_, static_cast<int>(left)) < 0)
      throw std::runtime_error("node child closed its output (exited?)");
  }
}

void node_process::write_line(const std::string& line) {
  std::string data = line + "\n";
  size_t off = 0;
  while (off < data.size()) {
    auto n = ::write(in_fd_, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw sys_error("write to node child");
    off += static_cast<size_t>(n);
  }
}

void node_process::close_stdin() {
  if (in_fd_ >= 0) {
    ::close(in_fd_);
    in_fd_ = -1;
  }
}

int node_process::wait(int timeout_ms) {
  if (exited_)
    return status_;
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(timeout_ms);
  int st = 0;
  for (;;) {
    auto r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_)
      break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      break;
    }
    // Polling the child's exit is the one wait here; interop tests talk to
    // a real process on the real clock.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  exited_ = true;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  return status_;
}

} // namespace ht::test
