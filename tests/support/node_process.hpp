#pragma once
// Runs a Node.js script of tests/interop as a child process for interop
// tests: the JS reference stack on one side, our C++ on the other. The child
// gets pipes for stdin and stdout (stderr passes through to the test log),
// so a test can exchange line-based commands with it.
#include <string>
#include <vector>

namespace ht::test {

class node_process {
public:
  /// Starts `node <HT_INTEROP_DIR>/<script> args...` with the working
  /// directory tests/interop. Throws std::runtime_error if node cannot be
  /// started or the pinned npm packages are not installed (run `npm ci`).
  node_process(const std::string& script, const std::vector<std::string>& args = {});
  ~node_process();
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// Reads one line from the child's stdout (without the newline). Throws
  /// if the child closed stdout or nothing arrived within timeout_ms.
  std::string read_line(int timeout_ms = 30000);

  /// Writes a line (a newline is appended) to the child's stdin.
  void write_line(const std::string& line);

  /// Closes the child's stdin (an end-of-input signal for the script).
  void close_stdin();

  /// Waits for the child to exit and returns its exit status (or -signal).
  /// Kills it with SIGKILL if it has not exited within timeout_ms.
  int wait(int timeout_ms = 30000);

  int pid() const { return pid_; }

private:
  int pid_ = -1;
  int in_fd_ = -1;   // our end of the child's stdin
  int out_fd_ = -1;  // our end of the child's stdout
  std::string pending_;
  bool exited_ = false;
  int status_ = 0;
};

} // namespace ht::test
