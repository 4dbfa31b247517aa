#pragma once
// What the main() of our daemons (hypertrace-logger-server, -dht) does
// before running: block the signals main waits for, then read the options
// through CAF's configuration machinery.
#include <csignal>
#include <initializer_list>
#include <iostream>

#include <pthread.h>

#include <caf/error.hpp>

namespace ht {

/// Blocks `wait_signals` before any thread starts, so every CAF worker
/// inherits the mask and only sigwait() in main sees them; parses the
/// options into a Config. Returns 2 (with the error on stderr) for bad
/// options, 0 once --help printed them, else run(cfg, blocked signals).
template <class Config, class Run>
int daemon_main(int argc, char** argv, std::initializer_list<int> wait_signals, Run run) {
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : wait_signals)
    sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "error: " << caf::to_string(err) << " (see --help)\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  return run(cfg, signals);
}

} // namespace ht
