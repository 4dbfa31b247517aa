#include "support/spawn.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <unistd.h>

extern char** environ;

namespace ht::test {

spawned spawn_child(const std::string& program, const std::vector<std::string>& args,
                    const spawn_options& opts) {
  int in_pipe[2] = {-1, -1}, out_pipe[2];
  if ((opts.pipe_stdin && ::pipe2(in_pipe, O_CLOEXEC) != 0) || ::pipe2(out_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (opts.pipe_stdin)
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  else if (!opts.stdin_path.empty())
    posix_spawn_file_actions_addopen(&actions, 0, opts.stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  if (opts.stderr_too)
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
  if (!opts.cwd.empty())
    posix_spawn_file_actions_addchdir_np(&actions, opts.cwd.c_str());
  std::vector<std::string> argv_s{program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  spawned child;
  int rc = opts.search_path
             ? ::posix_spawnp(&child.pid, program.c_str(), &actions, nullptr, argv.data(), environ)
             : ::posix_spawn(&child.pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (opts.pipe_stdin) {
    ::close(in_pipe[0]);
    child.in = in_pipe[1];
  }
  ::close(out_pipe[1]);
  child.out = out_pipe[0];
  if (rc != 0) {
    if (child.in >= 0)
      ::close(child.in);
    ::close(child.out);
    throw std::runtime_error("cannot start " + program + ": " + std::strerror(rc));
  }
  return child;
}

long read_some(int fd, std::string& into, int timeout_ms) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return 0;
    char buf[4096];
    auto got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return -1;
    into.append(buf, static_cast<size_t>(got));
    return got;
  }
}

} // namespace ht::test
