// hypertrace-logger-server: loads (or creates) the key pair, starts the
// supervising server root with its store, listens on HyperDHT (announces
// hash(public key), answers handshakes, accepts secret-stream connections),
// and runs until SIGINT/SIGTERM (SIGUSR1 prints its handshake counters), then
// shuts down in order: unannounce, stop accepting, drain sessions, flush and
// fsync, exit 0.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <malloc.h>
#include <sstream>
#include <thread>

#include <caf/all.hpp>

#include "actors/dht/host_port.hpp"
#include "actors/hd_server/allow_list.hpp"
#include "actors/hd_server/hd_server.hpp"
#include "actors/hyperdht/hyperdht_stack.hpp"
#include "actors/server/idle_trim.hpp"
#include "actors/server/keys.hpp"
#include "actors/server/server.hpp"
#include "main/server_config.hpp"
#include "main/daemon_main.hpp"

namespace {

// hyperdht's BOOTSTRAP_NODES (lib/constants.js), by address.
const char* const public_bootstrap[] = {"88.99.3.86:49737", "142.93.90.113:49737",
                                        "138.68.147.8:49737"};

std::vector<std::string> split_list(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& item : in) {
    std::stringstream ss(item);
    std::string part;
    while (std::getline(ss, part, ','))
      if (!part.empty())
        out.push_back(part);
  }
  return out;
}

int run(ht::server_app_config& cfg, const sigset_t& signals) {
  // Options first: a bad one must not leave a key file or a socket behind.
  std::vector<ht::rpc::ipv4_address> bootstrap;
  std::string bootstrap_text;
  try {
    auto list = split_list(cfg.bootstrap);
    if (list.empty())
      list.assign(std::begin(public_bootstrap), std::end(public_bootstrap));
    for (auto& b : list) {
      bootstrap.push_back(ht::dht::parse_host_port(b));
      bootstrap_text += (bootstrap_text.empty() ? "" : ",") + b;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: --bootstrap " << e.what() << "\n";
    return 2;
  }
  std::set<ht::public_key> allow;
  for (const auto& spec : cfg.allow) {
    try {
      for (auto& k : ht::parse_allow_list(spec))
        allow.insert(k);
    } catch (const ht::allow_list_error& e) {
      std::cerr << "error: " << e.what() << "\n";
      return 2;
    }
  }

  ht::hyperdht::server_handshake_config hcfg;
  if (cfg.handshakes_per_host < 1 || cfg.handshakes_per_host > hcfg.max_entries) {
    std::cerr << "error: --handshakes-per-host must be between 1 and " << hcfg.max_entries << "\n";
    return 2;
  }
  hcfg.max_per_source = cfg.handshakes_per_host;

  ht::key_pair kp;
  try {
    kp = ht::load_or_create_key_file(cfg.keys);
  } catch (const ht::key_file_error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }

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

  ht::hyperdht_stack_options so;
  so.host = cfg.host;
  so.port = cfg.port;
  so.bootstrap = bootstrap;
  auto stack = ht::spawn_hyperdht_stack(sys, so);
  if (!stack) {
    std::cerr << "error: cannot listen on " << cfg.host << ":" << cfg.port << ": "
              << sys.render(stack.error()) << "\n";
    return 1;
  }
  auto server = ht::spawn_server(sys, std::move(scfg));

  const std::string key_hex = ht::to_hex(kp.public_key_bytes);
  ht::hd_server_options ho;
  ho.keys.public_key = kp.public_key_bytes;
  std::copy(kp.secret_key.begin(), kp.secret_key.end(), ho.keys.secret_key.begin());
  ho.allow = std::move(allow);
  ho.connection.max_message_bytes = cfg.max_message_bytes;
  // What one connection may hold on its way to the store, stage by stage
  // (the peer is flow-controlled by the UDX receive window; every stage
  // after it gives credit back only once its consumer processed it):
  // packets in the UDX stream (its receive window), stream data in the
  // connection's mailbox, decrypted messages in the session's mailbox, the
  // session's lines (session_window_bytes, above). With the libraries'
  // defaults (4 MiB windows, unbounded mailboxes) bench_e2e measured a
  // peak RSS of 12.6-17.9 MB for 50,000 traces; with these 10-11 MB at the
  // same throughput (docs/hyperdht.md, "Peak RSS"). 512 KiB of receive
  // window still carries about 10,000 traces/s per connection at 100 ms
  // of round trip.
  ho.connection.udx_tuning.rwnd_max = 512u << 10;
  ho.connection.udx_handler_window = 128u << 10;
  ho.connection.handler_window = 128u << 10;
  ho.handshake = hcfg;
  ho.on_event = [key_hex, bootstrap_text](const ht::hd_server_event& ev) {
    using k = ht::hd_server_event::kind;
    switch (ev.what) {
      case k::announced:
        std::cout << "server started on " << key_hex << std::endl;
        break;
      case k::no_bootstrap:
        std::cerr << "warning: no DHT node answered (bootstrap " << bootstrap_text
                  << "); not reachable yet, still trying" << std::endl;
        break;
      case k::reannounced:
        std::cerr << "DHT reachable again; announced (" << ev.text << ")" << std::endl;
        break;
      case k::refused:
        std::cerr << ev.text << std::endl;
        break;
      case k::unannounced:
        break;
    }
  };
  ht::hd_server_params hp{stack->socket, stack->dht, stack->hyperdht, server, std::move(ho)};
  auto listener = ht::spawn_hd_server(sys, std::move(hp));
  std::cerr << "listening on udp " << stack->bound.to_string() << ", bootstrap " << bootstrap_text
            << std::endl;

  // Gives freed heap back once the server is idle (after a burst glibc
  // would keep it; actors/server/idle_trim.hpp).
  std::thread([] {
    ht::idle_trim_policy trim;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      auto mi = mallinfo2();
      if (trim.sample(mi.uordblks, mi.fordblks))
        malloc_trim(0);
    }
  }).detach();

  int sig = 0;
  caf::scoped_actor asker{sys};
  // SIGUSR1 prints the listener's counters on stdout, one line (what the
  // live tests read to see that hostile peers leave bounded state behind).
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGUSR1)
      break;
    asker->request(listener, std::chrono::seconds(5), ht::status_atom::value)
      .receive(
        [](const ht::hd_server_status& s) {
          std::cout << "status announced=" << s.announced << " relays=" << s.relays
                    << " handshakes=" << s.handshakes << " accepted=" << s.accepted
                    << " resent=" << s.resent << " refused=" << s.refused << " bad=" << s.bad
                    << " flood=" << s.flood << " error_replies=" << s.error_replies
                    << " pending_streams=" << s.pending_streams << " opened=" << s.opened
                    << " never_opened=" << s.never_opened << " dedupe_entries=" << s.dedupe_entries
                    << std::endl;
        },
        [](caf::error&) { std::cout << "status unavailable" << std::endl; });
  }
  std::cerr << "received " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", shutting down\n";
  int rc = 0;
  caf::scoped_actor self{sys};
  // Unannounce first (bounded), so clients stop finding a server that is going.
  self->request(listener, caf::infinite, ht::close_atom::value, caf::timespan{std::chrono::seconds(2)})
    .receive([](bool) {}, [](caf::error&) {});
  self->request(server, caf::infinite, ht::shutdown_atom::value)
    .receive([&](bool flushed) { rc = flushed ? 0 : 1; },
             [&](caf::error& err) {
               std::cerr << "error: shutdown failed: " << sys.render(err) << "\n";
               rc = 1;
             });
  if (rc != 0)
    std::cerr << "error: not everything could be written to " << cfg.folder << "\n";
  // The network side goes last: the listener, the dht node (which ends the
  // hyperdht node), the socket.
  self->send_exit(listener, caf::exit_reason::user_shutdown);
  self->send(stack->dht, ht::close_atom::value);
  self->send_exit(stack->hyperdht, caf::exit_reason::user_shutdown);
  self->send_exit(stack->socket, caf::exit_reason::user_shutdown);
  // Everything is on disk now. Connection and UDX stream actors may still
  // linger (a closed stream resends its END for up to 10 s to a peer that
  // may be gone): the actor system waits for them, but not past 3 s.
  std::thread([rc] {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    std::_Exit(rc);
  }).detach();
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  // One malloc arena for all threads (glibc gives each thread its own, up
  // to 8 per core). Lines, packets and messages are allocated on one thread
  // and freed on another (socket -> stream -> connection -> session ->
  // store), so with per-thread arenas each arena keeps its own high-water
  // mark of freed memory: bench_e2e measured peak RSS 19-24 MB with them,
  // 16 MB with one, CPU per trace unchanged. Before any thread starts.
  mallopt(M_ARENA_MAX, 1);
  return ht::daemon_main<ht::server_app_config>(argc, argv, {SIGINT, SIGTERM, SIGUSR1}, run);
}
