#pragma once
// A whole server (root, sessions, real store on a temp folder) behind the
// in-process transport, and scripted clients that speak the session
// protocol the way the JS client does: read the handshake, then send (or
// replay) JSON traces.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/server/server.hpp"
#include "doubles/faulty_file_system.hpp"
#include "actors/store/store.hpp"
#include "actors/transport/inprocess.hpp"
#include "support/caf_fixture.hpp"
#include "support/temp_dir.hpp"

namespace ht::test {

using ordered_json = nlohmann::ordered_json;

inline public_key key_of(uint8_t b) {
  public_key k{};
  k.fill(b);
  return k;
}

/// What one scripted client saw on its connection.
struct client_view {
  std::vector<std::string> received; // messages from the server, in order
  std::vector<std::string> closes;   // "code:text" per closed event
  bool opened = false;
};

inline connection_handler_actor spawn_view(caf::actor_system& sys,
                                           std::shared_ptr<client_view> v) {
  return sys.spawn([v]() -> connection_handler_actor::behavior_type {
    return {
      [v](opened_atom, connection_id, public_key) { v->opened = true; },
      [v](message_atom, connection_id, bytes& data) {
        v->received.emplace_back(data.begin(), data.end());
      },
      [v](closed_atom, connection_id, std::string& code, std::string& text) {
        v->closes.push_back(code + ":" + text);
      },
    };
  });
}

inline std::string make_trace(const std::string& session, int64_t n,
                              const std::string& user = "bench") {
  return R"({"traceTimestamp":"2026-11-24T06:42:57.876Z","traceSessionId":")" + session
         + R"(","traceNumber":)" + std::to_string(n)
         + R"(,"id":"hit","props":{"username":")" + user
         + R"("},"object":{"id":1,"className":"Bench","props":{"kind":"bench"}},"caller":{"filename":"/app/bench.js","functionName":"hit","props":{"i":)"
         + std::to_string(n) + "}}}";
}

struct server_fixture : caf_fixture {
  temp_dir dir{"ht-server"};
  inprocess_network_actor net = spawn_inprocess_network(sys);
  public_key server_key = key_of(0xaa);
  server_config cfg;
  std::shared_ptr<store::faulty_file_system> fs
    = std::make_shared<store::faulty_file_system>();
  std::vector<store_actor> stores; // every store the server made, in order
  server_actor server;

  server_fixture() {
    cfg.store.folder = dir.path();
    cfg.store.flush_interval = std::chrono::milliseconds(10);
    cfg.store.retry_min = std::chrono::milliseconds(10);
    cfg.store.retry_max = std::chrono::milliseconds(50);
    cfg.make_store = [this](caf::actor_system& s, const store_config& sc) {
      auto st = spawn_store(s, sc, fs);
      stores.push_back(st);
      return st;
    };
  }

  ~server_fixture() {
    if (server)
      caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(net, caf::exit_reason::user_shutdown);
    run();
  }

  void start_server() {
    server = spawn_server(sys, cfg);
    caf::anon_send(net, listen_atom::value, server_key,
                   caf::actor_cast<acceptor_actor>(server));
    run();
  }

  /// Kills the server root and everything under it, like SIGKILL would.
  void kill_server() {
    caf::anon_send_exit(server, caf::exit_reason::kill);
    server = nullptr;
    run();
  }

  struct client {
    connection_actor conn;
    std::shared_ptr<client_view> view;
  };

  client connect(const public_key& key) {
    client c{inprocess_connect(sys, net, key, server_key),
             std::make_shared<client_view>()};
    caf::anon_send(c.conn, attach_atom::value, spawn_view(sys, c.view));
    settle();
    return c;
  }

  void send(const client& c, const std::string& msg) {
    caf::anon_send(c.conn, write_atom::value, bytes(msg.begin(), msg.end()));
  }

  /// Lets timers run until the store has written everything it holds.
  void settle() {
    for (int i = 0; i < 30; ++i)
      advance(std::chrono::milliseconds(10));
  }

  /// Sends a request to the server and lets time pass until the reply.
  template <class T, class... Ts>
  T ask(Ts... xs) {
    auto result = std::make_shared<std::optional<T>>();
    auto srv = server;
    sys.spawn([=](caf::event_based_actor* self) {
      self->request(srv, caf::infinite, xs...)
        .then([=](T& x) { *result = std::move(x); }, [](caf::error&) {});
    });
    run_until([&] { return result->has_value(); }, std::chrono::seconds(30),
              std::chrono::milliseconds(5));
    REQUIRE(result->has_value());
    return std::move(**result);
  }

  server_status status() { return ask<server_status>(status_atom::value); }

  /// The status of the store the server uses now.
  store_status current_store_status() {
    auto result = std::make_shared<std::optional<store_status>>();
    auto st = stores.back();
    sys.spawn([=](caf::event_based_actor* self) {
      self->request(st, caf::infinite, status_atom::value)
        .then([=](store_status& x) { *result = std::move(x); }, [](caf::error&) {});
    });
    run();
    REQUIRE(result->has_value());
    return std::move(**result);
  }

  std::string log_path(const public_key& key) {
    return dir.path() + "/" + to_hex(key) + ".log";
  }

  std::vector<std::string> raw_lines(const public_key& key) {
    std::vector<std::string> out;
    std::ifstream in(log_path(key));
    for (std::string line; std::getline(in, line);)
      out.push_back(line);
    return out;
  }

  std::vector<ordered_json> lines(const public_key& key) {
    std::vector<ordered_json> out;
    for (auto& l : raw_lines(key))
      out.push_back(ordered_json::parse(l));
    return out;
  }

  static std::vector<int64_t> trace_numbers(const std::vector<ordered_json>& ls) {
    std::vector<int64_t> out;
    for (auto& l : ls)
      if (l.contains("traceNumber"))
        out.push_back(l["traceNumber"].get<int64_t>());
    return out;
  }

  static std::vector<std::string> notes(const std::vector<ordered_json>& ls) {
    std::vector<std::string> out;
    for (auto& l : ls)
      if (l.contains("note"))
        out.push_back(l["note"].get<std::string>());
    return out;
  }
};

inline std::vector<int64_t> iota_numbers(int64_t from, int64_t to) {
  std::vector<int64_t> v;
  for (auto i = from; i < to; ++i)
    v.push_back(i);
  return v;
}

} // namespace ht::test
