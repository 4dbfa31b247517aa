#pragma once
// Our client against our server (actors/server, its real store on a temp
// folder) over the in-process transport, for the scenarios that check what
// reaches the .log file (test_e2e_server, test_ingress_bytes).
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/client/client.hpp"
#include "actors/server/server.hpp"
#include "actors/transport/inprocess.hpp"
#include "support/caf_fixture.hpp"
#include "support/temp_dir.hpp"

namespace ht::test {

struct server_fixture : caf_fixture {
  temp_dir dir;
  inprocess_network_actor net = spawn_inprocess_network(sys);
  server_actor server;
  public_key spk{}, cpk{};
  std::vector<connection_actor> ends;  // the client's connection ends (keep_ends)
  std::vector<client_event> events;    // what the client reported (record_events)
  std::optional<client> cl;

  /// Our server listening at key 0xAA..., storing in a fresh temp folder
  /// named after `dir_prefix`; the client (key `client_key_byte`...) comes
  /// with start_client().
  server_fixture(const std::string& dir_prefix, uint8_t client_key_byte) : dir(dir_prefix) {
    sys.await_actors_before_shutdown(false);
    spk.fill(0xAA);
    cpk.fill(client_key_byte);
    server_config cfg;
    cfg.store.folder = dir.path();
    cfg.store.flush_interval = std::chrono::milliseconds(10);
    server = spawn_server(sys, cfg);
    caf::anon_send(net, listen_atom::value, spk, caf::actor_cast<acceptor_actor>(server));
    run();
  }

  struct client_setup {
    bool keep_ends = false;      // keep each connection end in `ends`
    bool record_events = false;  // the client's events into `events`
  };

  /// Starts the client with `o`, its sockets connecting to the server as cpk.
  void start_client(client_options o, client_setup setup) {
    if (setup.keep_ends)
      o.create_socket = [this] {
        ends.push_back(inprocess_connect(sys, net, cpk, spk));
        return ends.back();
      };
    else
      o.create_socket = [this] { return inprocess_connect(sys, net, cpk, spk); };
    if (setup.record_events)
      o.on_event = [this](const client_event& e) { events.push_back(e); };
    cl.emplace(client::start(sys, o));
    run();
  }

  ~server_fixture() {
    auto root = cl->actor();
    cl.reset();
    run();
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(net, caf::exit_reason::user_shutdown);
    run();
  }

  /// The traceNumbers in the client's .log file, in file order, and notes.
  std::pair<std::vector<int64_t>, std::vector<std::string>> read_log() {
    std::ifstream in(dir.path() + "/" + to_hex(cpk) + ".log");
    std::vector<int64_t> numbers;
    std::vector<std::string> notes;
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("traceNumber"))
        numbers.push_back(j["traceNumber"].get<int64_t>());
      else if (j.is_object() && j.contains("note"))
        notes.push_back(j["note"].get<std::string>());
    }
    return {numbers, notes};
  }
};

} // namespace ht::test
