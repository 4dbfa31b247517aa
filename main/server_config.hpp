#pragma once
// The server binary's options, through CAF's configuration machinery: every
// option is a CLI flag (--folder=...) and a key of the optional config file
// (caf-application.ini, or --config-file=...). --help lists them.
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system_config.hpp>

namespace ht {

struct server_app_config : caf::actor_system_config {
  std::string folder = "./";
  std::string keys = "./keys.dat";
  // The HyperDHT listener. bootstrap and allow entries may each hold a
  // comma-separated list; empty bootstrap: hyperdht's public nodes.
  std::vector<std::string> bootstrap;
  std::string host = "0.0.0.0";
  uint16_t port = 0;
  std::vector<std::string> allow;
  // Store and session tuning.
  caf::timespan flush_interval = std::chrono::milliseconds(50);
  caf::timespan fsync_interval = std::chrono::seconds(1);
  size_t rotate_bytes = 256u << 20;
  size_t rotate_keep = 5;
  size_t memory_cap = 256u << 20;
  size_t max_message_bytes = 1u << 20;
  // Handshakes one client host (IPv4 address) may have accepted per 10 s.
  // Many legitimate clients behind one NAT share an address; a flood from
  // one source is the other reason for the bound. The total stays bounded
  // (4,096 per 10 s) whatever this says.
  size_t handshakes_per_host = 32;

  server_app_config() {
    // The scheduler (the flag and ini key still override it). CAF 0.17
    // starts max(cores, 4) workers; on a 2-core machine the 2 extra workers
    // only add idle polling and context switches (bench_e2e, bench/hyperdht:
    // about 8.5 µs of server CPU per trace with 4 workers, 5.5-7.3 µs with
    // 2). One worker per core, at least 2. No moderate idle poll either
    // (CAF: 500 polls 50 µs apart): after its 100 spinning polls a worker
    // waits on its condition variable, woken by new work (4.3-4.7 µs per
    // trace, idle 2-3 ms of CPU per second instead of 11-19). The ~30 s
    // interop (a) runs once blamed on it were the JS reference half
    // (tests/interop/hd-server-peer.js, jsserver()).
    set("scheduler.max-threads",
        static_cast<size_t>(std::max(2u, std::thread::hardware_concurrency())));
    set("work-stealing.moderate-poll-attempts", size_t{0});
    opt_group{custom_options_, "global"}
      .add(folder, "folder", "folder for <client key hex>.log files")
      .add(keys, "keys", "key pair file (JSON, as the JS server writes it)")
      .add(bootstrap, "bootstrap",
           "HyperDHT bootstrap nodes host:port[,host:port...] (default: hyperdht's public nodes)")
      .add(host, "host", "IPv4 address to bind the UDP socket to")
      .add(port, "port", "UDP port to bind (0: any free port)")
      .add(allow, "allow",
           "client public keys allowed to connect: hex keys (comma-separated) or a file "
           "with one key a line (default: every key)")
      .add(flush_interval, "flush-interval",
           "how long the store gathers lines before a write")
      .add(fsync_interval, "fsync-interval",
           "fsync at most this often (0s: after every write)")
      .add(rotate_bytes, "rotate-bytes", "rotate a .log file above this size (0: never)")
      .add(rotate_keep, "rotate-keep", "rotated files to keep per client")
      .add(memory_cap, "memory-cap",
           "bytes the store buffers while it cannot write before sessions stop reading")
      .add(max_message_bytes, "max-message-bytes", "largest accepted trace message")
      .add(handshakes_per_host, "handshakes-per-host",
           "handshakes accepted from one client IPv4 address per 10 s (1-4096; raise it for "
           "many clients behind one NAT)");
  }
};

} // namespace ht
