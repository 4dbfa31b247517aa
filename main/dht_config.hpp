#pragma once
// hypertrace-logger-dht's options, through CAF's configuration machinery
// like the server's: each option is a CLI flag and a key of the optional
// config file ([global] section). --help lists them.
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

namespace ht {

struct dht_app_config : caf::actor_system_config {
  std::string host;                   // required: the node's public IPv4
  uint16_t port = 49737;              // hyperdht's default port
  std::vector<std::string> bootstrap; // other nodes, host:port
  uint64_t seed = 0;                  // 0: random (tests pin it)

  dht_app_config() {
    // Two scheduler threads: one node actor and its socket have little to
    // run in parallel, and every idle worker polls (bench/dht: 7.8 vs 11.4
    // CPU us per request with CAF's default of one worker per core on 4
    // cores). Overridable: --scheduler.max-threads=N.
    set("scheduler.max-threads", 2);
    // No busy polling of an idle worker before it sleeps (CAF's default:
    // 500 polls 50 us apart): the node answers from the worker a datagram
    // wakes, so the polls are pure cost. bench/dht, alternating runs on
    // the shared 2-core machine: median 4.5 vs 7.6 CPU us per request, as
    // many answered per second (docs/dht.md, "Benchmark"); the server
    // binary does the same (main/server_config.hpp). Overridable:
    // --work-stealing.moderate-poll-attempts=N.
    set("work-stealing.moderate-poll-attempts", size_t{0});
    opt_group{custom_options_, "global"}
      .add(host, "host",
           "public IPv4 address to bind and announce (required; the node id "
           "is derived from host:port, so 0.0.0.0 is not allowed)")
      .add(port, "port", "UDP port (0: any free port)")
      .add(bootstrap, "bootstrap", "other DHT nodes to join, host:port (none: a new network)")
      .add(seed, "seed", "PRNG seed for tokens and tids (0: random)");
  }
};

} // namespace ht
