// hypertrace-logger-dht: a persistent HyperDHT node on --host:--port (the
// role of hyperdht's DHT.bootstrapper(port, host)): a dht-rpc node with the
// hyperdht node on top, so it stores announcements and mutable/immutable
// records and relays handshakes and holepunches, and a private network needs
// no JS DHT node. SIGUSR1 prints one status line to stdout. Runs until
// SIGINT/SIGTERM and exits 0.
#include <csignal>
#include <iostream>

#include <caf/all.hpp>

#include "actors/dht/host_port.hpp"
#include "actors/dht/node_actor.hpp"
#include "actors/hyperdht/hyperdht_node.hpp"
#include "actors/udx/socket_actor.hpp"
#include "main/dht_config.hpp"
#include "main/daemon_main.hpp"

namespace {

/// One line of counters (SIGUSR1): what this node stores and relays.
void print_status(const ht::hd_status& s) {
  std::cout << "status persistent=" << (s.serving_storage ? 1 : 0)
            << " table=" << s.dht.stats.table_size << " requests=" << s.requests
            << " forwards=" << s.forwards << " records=" << s.records
            << " mutables=" << s.mutables << " immutables=" << s.immutables
            << " announces=" << s.store.announces << " unannounces=" << s.store.unannounces
            << " mutable_puts=" << s.store.mutable_puts
            << " immutable_puts=" << s.store.immutable_puts
            << " dropped=" << s.store.dropped + s.router.dropped << " relayed=" << s.router.relayed
            << std::endl;
}

int run(ht::dht_app_config& cfg, const sigset_t& signals) {
  if (cfg.host.empty()) {
    std::cerr << "error: --host is required: the public IPv4 address of this node "
                 "(see --help)\n";
    return 2;
  }
  ht::rpc::ipv4_address public_host;
  try {
    public_host = ht::rpc::ipv4_address::parse(cfg.host, cfg.port);
  } catch (const std::exception&) {
    std::cerr << "error: --host '" << cfg.host << "' is not an IPv4 address\n";
    return 2;
  }
  if (public_host.host == std::array<uint8_t, 4>{0, 0, 0, 0}) {
    std::cerr << "error: --host must be an explicit IPv4 address, not 0.0.0.0 "
                 "(the node id is derived from it)\n";
    return 2;
  }
  ht::dht_node_options opts;
  try {
    for (auto& b : cfg.bootstrap)
      opts.config.bootstrap.push_back(ht::dht::parse_host_port(b));
  } catch (const std::exception& e) {
    std::cerr << "error: --bootstrap " << e.what() << "\n";
    return 2;
  }

  caf::actor_system sys{cfg};
  ht::udx_socket_options so;
  so.host = cfg.host;
  so.port = cfg.port;
  auto sock = ht::spawn_udx_socket(sys, so);
  if (!sock) {
    std::cerr << "error: " << sys.render(sock.error()) << "\n";
    return 1;
  }
  caf::scoped_actor self{sys};
  ht::udx_endpoint bound;
  self->request(*sock, caf::infinite, ht::udx_address_atom::value)
    .receive([&](const ht::udx_endpoint& e) { bound = e; }, [](caf::error&) {});
  public_host.port = bound.port;

  opts.config.mode = ht::rpc::node_mode::persistent;
  opts.config.public_address = public_host;
  opts.config.seed = cfg.seed;
  opts.sockets.push_back(*sock);
  auto node = ht::spawn_dht_node(sys, std::move(opts));
  auto hyperdht = ht::spawn_hyperdht_node(sys, node);
  ht::dht_status st;
  self->request(node, caf::infinite, ht::status_atom::value)
    .receive([&](const ht::dht_status& s) { st = s; }, [](caf::error&) {});
  std::cout << "dht node listening on " << ht::dht::to_string(public_host) << " id "
            << ht::to_hex(st.id.data(), st.id.size()) << std::endl;

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGUSR1)
      break;
    self->request(hyperdht, std::chrono::seconds(5), ht::status_atom::value)
      .receive([](const ht::hd_status& s) { print_status(s); },
               [](caf::error& e) { std::cout << "status unavailable: " << caf::to_string(e) << std::endl; });
  }
  std::cerr << "received " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
  self->send_exit(hyperdht, caf::exit_reason::user_shutdown);
  self->wait_for(hyperdht);
  self->send(node, ht::close_atom::value);
  self->wait_for(node);
  self->send_exit(*sock, caf::exit_reason::user_shutdown);
  self->wait_for(*sock);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  return ht::daemon_main<ht::dht_app_config>(argc, argv, {SIGINT, SIGTERM, SIGUSR1}, run);
}
