// A benchmark's child process (a node or server binary): stdout read line by
// line through a pipe, stderr to a file or inherited.
#pragma once

#include <csignal>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ht::bench {

class child {
public:
  /// Starts args[0] with args; stderr to `stderr_path`, or this process's
  /// stderr if empty. `exit_signal` is what the destructor sends if stop()
  /// was not called (SIGTERM lets the child clean up, SIGKILL never waits).
  explicit child(std::vector<std::string> args, const std::string& stderr_path = {},
                 int exit_signal = SIGKILL);
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child();

  pid_t pid() const { return pid_; }

  /// The next stdout line; throws if nothing comes for `timeout_ms` or the
  /// child closes its stdout.
  std::string read_line(int timeout_ms = 20000);
  /// Reads stdout until a line containing `needle`; returns that line.
  /// Throws if none comes within `seconds` or the child exits.
  std::string wait_line(const std::string& needle, int seconds);
  /// SIGTERM, then the exit status (or -signal), waiting at most `seconds`
  /// before SIGKILL; `took` is how long it took in seconds.
  int stop(int seconds, double& took);

private:
  /// Reads what is there into buf_ after waiting up to `timeout_ms`; false
  /// if nothing came in time.
  bool fill(int timeout_ms);

  pid_t pid_ = -1;
  int out_ = -1;
  int exit_signal_;
  std::string buf_;
  std::string name_;
};

} // namespace ht::bench
