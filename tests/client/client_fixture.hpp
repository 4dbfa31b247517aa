#pragma once
// A deterministic world for client scenarios: CAF's test coordinator, the
// in-process transport, a fake server speaking server.js's protocol, and a
// client whose events are recorded.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/client/client.hpp"
#include "actors/transport/inprocess.hpp"
#include "fake_server.hpp"
#include "support/caf_fixture.hpp"

namespace ht::test {

inline public_key key_of(uint8_t b) {
  public_key k{};
  k.fill(b);
  return k;
}

/// A trace from no tracer, as a host adds one with add_trace(); the JS
/// comparison (tests/interop/client-capture.js) adds the same fields.
inline manual_trace worker_trace(std::string id) {
  manual_trace m;
  m.id = std::move(id);
  m.class_name = "Worker";
  m.object_id = 42;
  m.object_props = {{"pid", 7}};
  m.filename = "/app/worker.js";
  m.function_name = "run";
  m.caller_props = nlohmann::json{{"ok", true}};
  return m;
}

struct client_fixture : caf_fixture {
  inprocess_network_actor net = spawn_inprocess_network(sys);
  fake_server_state server;
  fake_server_actor server_actor;
  public_key server_pk = key_of(0xAA);
  public_key client_pk = key_of(0xBB);
  std::vector<client_event> events;
  std::vector<caf::actor_clock::time_point> connect_times;
  bool reconnect = true;
  std::optional<client> cl; // last member: stopped first

  client_fixture() { sys.await_actors_before_shutdown(false); }

  // Actors still alive at the end (a client waiting to reconnect, the
  // server, the network) are ended explicitly, in order, before the
  // state they reference goes away.
  ~client_fixture() {
    if (cl) {
      auto root = cl->actor();
      cl.reset();
      run();
      caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    }
    if (server_actor)
      caf::anon_send_exit(server_actor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(net, caf::exit_reason::user_shutdown);
    run();
  }

  void listen() {
    server_actor = spawn_fake_server(sys, server);
    caf::anon_send(net, listen_atom::value, server_pk,
                   caf::actor_cast<acceptor_actor>(server_actor));
    run();
  }

  client_options options() {
    client_options o;
    o.create_socket = [this] {
      connect_times.push_back(sys.clock().now());
      return inprocess_connect(sys, net, client_pk, server_pk);
    };
    o.can_reconnect = [this] { return reconnect; };
    o.on_event = [this](const client_event& e) { events.push_back(e); };
    return o;
  }

  void start(client_options o) {
    cl.emplace(client::start(sys, std::move(o)));
    run();
  }

  std::vector<std::string> event_names() const {
    std::vector<std::string> v;
    for (auto& e : events)
      v.push_back(std::string{to_string(e.kind)}
                  + (e.code.empty() ? "" : ":" + e.code)
                  + (e.count ? ":" + std::to_string(e.count) : ""));
    return v;
  }

  bool has_event(const std::string& name) const {
    for (auto& n : event_names())
      if (n == name)
        return true;
    return false;
  }

  std::vector<nlohmann::json> logged() const {
    std::vector<nlohmann::json> v;
    for (auto& l : server.log)
      v.push_back(nlohmann::json::parse(l));
    return v;
  }

  /// The trace numbers the server logged, in order (read as it logged
  /// them: parsing every line again per check was a third of the replay
  /// scenario's time under ASan).
  const std::vector<int64_t>& numbers() const { return server.numbers; }
};

} // namespace ht::test
