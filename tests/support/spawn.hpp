#pragma once
// Starting a child process with pipes, and reading what it writes: the part
// node_process (a JS script of tests/interop) and binary_process (one of our
// binaries) share.
#include <string>
#include <vector>

#include <sys/types.h>

namespace ht::test {

struct spawn_options {
  std::string cwd;           // empty: the test's own working directory
  bool pipe_stdin = false;   // else the child inherits the test's stdin
  std::string stdin_path;    // if set (and no pipe_stdin): this file is the child's stdin
  bool stderr_too = false;   // stderr into the same pipe as stdout (else passed through)
  bool search_path = false;  // look `program` up in PATH (posix_spawnp)
};

struct spawned {
  pid_t pid = -1;
  int in = -1;   // our end of the child's stdin (pipe_stdin), else -1
  int out = -1;  // our end of the child's stdout
};

/// Starts `program` with `args` (argv[0] is `program`). Throws
/// std::runtime_error if the pipes cannot be made or the program not started.
spawned spawn_child(const std::string& program, const std::vector<std::string>& args,
                    const spawn_options& opts);

/// Appends what `fd` has to `into`, waiting up to `timeout_ms` for it: the
/// number of bytes read, 0 if nothing came in time, -1 at end of output.
long read_some(int fd, std::string& into, int timeout_ms);

} // namespace ht::test
