#pragma once
// One of our binaries (hypertrace-logger-dht, hypertrace-logger-server) run
// as an operator runs it, for the tests of the binaries and the interop
// tests that run them (tests/hd_server): stdout and stderr
// together collected in `output`, waited on by text or pattern, stopped with
// a signal.
#include <csignal>
#include <regex>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ht::test {

struct binary_process {
  pid_t pid = -1;
  int out = -1;        // our end of the child's stdout and stderr
  std::string output;  // all it wrote so far
  size_t consumed = 0; // output before this was already matched by await()

  /// Starts `binary args...` in `cwd` (empty: the test's working directory)
  /// with `stdin_path` as its stdin (empty: the test's own stdin).
  /// Throws std::runtime_error if it cannot be started.
  binary_process(const std::string& binary, std::vector<std::string> args,
                 const std::string& cwd = "", const std::string& stdin_path = "");
  ~binary_process();  // SIGKILL if it still runs
  binary_process(const binary_process&) = delete;
  binary_process& operator=(const binary_process&) = delete;

  /// Reads output until `needle` shows up or `seconds` pass; false then, or
  /// when the child closed its output without it.
  bool wait_for(const std::string& needle, int seconds = 20);

  /// Reads what the child wrote, waiting up to `timeout_ms` for it: the
  /// bytes read, 0 if nothing came in time, -1 once its output is closed.
  long pump(int timeout_ms);

  /// The first match of `re` after what await() matched before (waits up to
  /// `seconds`). Throws std::runtime_error with the output so far if none
  /// comes in time or the child closes its output.
  std::smatch await(const std::regex& re, int seconds = 20);

  /// Waits for the child to exit and reads what is left of its output: its
  /// exit status, or 128 + the signal that ended it.
  int wait_exit();

  /// Sends `sig`, then wait_exit().
  int stop(int sig = SIGTERM);
};

} // namespace ht::test
