#include "support/binary_process.hpp"

#include <chrono>
#include <stdexcept>

#include <sys/wait.h>
#include <unistd.h>

#include "support/spawn.hpp"

namespace ht::test {

binary_process::binary_process(const std::string& binary, std::vector<std::string> args,
                               const std::string& cwd, const std::string& stdin_path) {
  spawn_options opts;
  opts.cwd = cwd;
  opts.stdin_path = stdin_path;
  opts.stderr_too = true;
  auto child = spawn_child(binary, args, opts);
  pid = child.pid;
  out = child.out;
}

binary_process::~binary_process() {
  if (pid > 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  ::close(out);
}

bool binary_process::wait_for(const std::string& needle, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (output.find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    if (read_some(out, output, 100) < 0)
      return output.find(needle) != std::string::npos;
  }
  return true;
}

long binary_process::pump(int timeout_ms) { return read_some(out, output, timeout_ms); }

std::smatch binary_process::await(const std::regex& re, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (;;) {
    std::smatch m;
    auto from = output.cbegin() + static_cast<std::ptrdiff_t>(consumed);
    if (std::regex_search(from, output.cend(), m, re)) {
      consumed = static_cast<size_t>(m[0].second - output.cbegin());
      return m;
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("no match in the output of pid " + std::to_string(pid) + ":\n"
                               + output);
    if (read_some(out, output, 100) < 0)
      throw std::runtime_error("pid " + std::to_string(pid) + " exited:\n" + output);
  }
}

int binary_process::wait_exit() {
  int st = 0;
  ::waitpid(pid, &st, 0);
  pid = -1;
  wait_for("\x01");  // drain what is left, up to the end of its output
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int binary_process::stop(int sig) {
  ::kill(pid, sig);
  return wait_exit();
}

} // namespace ht::test
