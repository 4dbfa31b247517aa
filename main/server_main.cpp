// hypertrace-logger-server: loads (or creates) the key pair, starts the
// supervising server root with its store, and runs until SIGINT/SIGTERM,
// then shuts down in order: stop accepting, drain sessions, flush and
// fsync, exit 0.
#include <csignal>
#include <cstdio>
#include <iostream>

#include <caf/all.hpp>

#include "actors/server/keys.hpp"
#include "actors/server/server.hpp"
#include "main/server_config.hpp"

namespace {

int run(ht::server_app_config& cfg, const sigset_t& signals) {
  ht::key_pair kp;
  try {
    kp = ht::load_or_create_key_file(cfg.keys);
  } catch (const ht::key_file_error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  if (!cfg.bootstrap.empty() || cfg.port != 0 || !cfg.allow.empty())
    std::cerr << "warning: --bootstrap, --port and --allow take effect once the "
                 "HyperDHT transport is built; ignored for now\n";

  ht::server_config scfg;
  scfg.store.folder = cfg.folder;
  scfg.store.flush_interval = cfg.flush_interval;
  scfg.store.fsync_interval = cfg.fsync_interval;
  scfg.store.rotate_bytes = cfg.rotate_bytes;
  scfg.store.rotate_keep = static_cast<uint32_t>(cfg.rotate_keep);
  scfg.store.memory_cap_bytes = cfg.memory_cap;
  scfg.store.detached = true; // file I/O blocks: keep it off the workers
  scfg.limits.max_message_bytes = cfg.max_message_bytes;

  caf::actor_system sys{cfg};
  auto server = ht::spawn_server(sys, std::move(scfg));
  std::cout << "server started on " << ht::to_hex(kp.public_key_bytes)
            << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  std::cerr << "received " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
            << ", shutting down\n";
  int rc = 0;
  caf::scoped_actor self{sys};
  self->request(server, caf::infinite, ht::shutdown_atom::value)
    .receive([&](bool flushed) { rc = flushed ? 0 : 1; },
             [&](caf::error& err) {
               std::cerr << "error: shutdown failed: " << sys.render(err) << "\n";
               rc = 1;
             });
  if (rc != 0)
    std::cerr << "error: not everything could be written to " << cfg.folder << "\n";
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  // Block the shutdown signals before any thread starts, so every CAF
  // worker inherits the mask and only sigwait() in main sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ht::server_app_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "error: " << caf::to_string(err) << " (see --help)\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  return run(cfg, signals);
}
