// hypertrace-logger-send: try a server from a shell. Reads NDJSON traces
// from standard input (one JSON object per line, the JS trace shape:
// {"id", "object": {"className", "id", "props"}, "caller": {"filename",
// "functionName", "props"}}), sends each through the client library over
// HyperDHT to --server, then asks the server what it has: a fresh
// connection with the same key pair gets the server's session handshake,
// whose lastSeenTraceNumber acknowledges everything up to it.
//
//   hypertrace-logger-send --server=<64 hex> --bootstrap=host:port[,...] < traces.ndjson
//
// Prints a summary; exit 0 only if every line was a trace and the server
// acknowledged all of them, 1 otherwise, 2 for bad options.
#include <atomic>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/client/client.hpp"
#include "actors/dht/host_port.hpp"
#include "actors/hd_client/hd_socket_factory.hpp"

namespace {

using json = ht::json;  // ordered, as the client keeps props

struct send_config : caf::actor_system_config {
  std::string server;                  // the server's public key, hex
  std::vector<std::string> bootstrap;  // host:port
  std::string host = "0.0.0.0";
  uint16_t port = 0;
  std::string seed;                    // 64 hex: our key pair's seed (default random)
  uint64_t connect_timeout_ms = 30000;
  uint64_t ack_timeout_ms = 30000;
  // How long each connection waits for the server to end its side after we
  // ended ours, before it aborts the stream. The JS Server 1.1.1 never ends
  // its side (it only reads), so against it every close ends this way.
  uint64_t close_timeout_ms = 2000;

  send_config() {
    set("scheduler.max-threads", 2);
    set("logger.verbosity", caf::atom("quiet"));
    set("logger.console", caf::atom("none"));
    opt_group{custom_options_, "global"}
      .add(server, "server", "the server's public key (64 hex characters, required)")
      .add(bootstrap, "bootstrap", "DHT nodes to join, host:port (required)")
      .add(host, "host", "local address to bind")
      .add(port, "port", "local UDP port (0: any)")
      .add(seed, "seed", "64 hex characters: a fixed key pair (default: a random one)")
      .add(connect_timeout_ms, "connect-timeout", "ms to wait for the first connection")
      .add(ack_timeout_ms, "ack-timeout", "ms to wait for the server to acknowledge everything")
      .add(close_timeout_ms, "close-timeout",
           "ms each connection waits for the server to end its side after ours");
  }
};

bool parse_key(const std::string& hex, std::array<uint8_t, 32>& out) {
  ht::bytes b;
  if (!ht::from_hex(hex, b) || b.size() != 32) return false;
  std::copy(b.begin(), b.end(), out.begin());
  return true;
}

std::string str_or_empty(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

/// One NDJSON line as a trace; an error text if it is not one.
std::optional<std::string> to_trace(const std::string& line, ht::manual_trace& t) {
  auto j = json::parse(line, nullptr, false);
  if (j.is_discarded()) return "not JSON";
  if (!j.is_object()) return "not a JSON object";
  t.id = str_or_empty(j, "id");
  if (auto o = j.find("object"); o != j.end()) {
    if (!o->is_object()) return "\"object\" is not an object";
    t.class_name = str_or_empty(*o, "className");
    if (auto id = o->find("id"); id != o->end() && id->is_number_unsigned()) t.object_id = id->get<uint64_t>();
    if (auto p = o->find("props"); p != o->end()) t.object_props = *p;
  }
  if (auto c = j.find("caller"); c != j.end()) {
    if (!c->is_object()) return "\"caller\" is not an object";
    t.filename = str_or_empty(*c, "filename");
    t.function_name = str_or_empty(*c, "functionName");
    if (auto p = c->find("props"); p != c->end()) t.caller_props = *p;
  }
  return std::nullopt;
}

/// What the server's session handshake on a fresh connection says.
struct server_view {
  std::optional<std::string> session;
  std::optional<int64_t> last;
  std::string error;
};

server_view ask_server(caf::actor_system& sys, ht::hyperdht_client_socket& hd,
                       std::chrono::milliseconds limit, std::chrono::milliseconds close_limit) {
  server_view out;
  caf::scoped_actor self{sys};
  auto conn = hd.connect();
  self->send(conn, ht::attach_atom::value, caf::actor_cast<ht::connection_handler_actor>(self));
  bool done = false;
  while (!done) {
    self->receive(
      [&](ht::opened_atom, ht::connection_id, const ht::public_key&) {},
      [&](ht::message_atom, ht::connection_id, const ht::bytes& m) {
        auto j = json::parse(m.begin(), m.end(), nullptr, false);
        if (j.is_object()) {
          if (j.value("lastSeenTraceSessionId", json()).is_string())
            out.session = j["lastSeenTraceSessionId"].get<std::string>();
          if (j.value("lastSeenTraceNumber", json()).is_number_integer())
            out.last = j["lastSeenTraceNumber"].get<int64_t>();
        } else {
          out.error = "the server's handshake is not JSON";
        }
        done = true;
      },
      [&](ht::closed_atom, ht::connection_id, const std::string& code, const std::string& text) {
        out.error = code + (text.empty() ? "" : ": " + text);
        done = true;
      },
      caf::after(limit) >> [&] {
        out.error = "no handshake from the server in time";
        done = true;
      });
  }
  // End our side and wait for the connection to close (both ends ended, or
  // the close timeout aborted it), bounded: leaving it open and exiting
  // would leave the server to find out by a timeout (ETIMEDOUT).
  self->send(conn, ht::close_atom::value);
  bool closed = false;
  auto close_deadline = std::chrono::steady_clock::now() + close_limit;
  while (!closed && std::chrono::steady_clock::now() < close_deadline) {
    self->receive(
      [&](ht::opened_atom, ht::connection_id, const ht::public_key&) {},
      [&](ht::message_atom, ht::connection_id, const ht::bytes&) {},
      [&](ht::closed_atom, ht::connection_id, const std::string&, const std::string&) { closed = true; },
      caf::after(close_limit) >> [&] {});
  }
  if (!closed) self->send_exit(conn, caf::exit_reason::kill);
  return out;
}

int run(send_config& cfg) {
  ht::hyperdht_client_socket_options o;
  if (!parse_key(cfg.server, o.server)) {
    std::cerr << "error: --server must be the server's public key, 64 hex characters\n";
    return 2;
  }
  if (cfg.bootstrap.empty()) {
    std::cerr << "error: --bootstrap is required (host:port of DHT nodes)\n";
    return 2;
  }
  try {
    for (auto& b : cfg.bootstrap) o.bootstrap.push_back(ht::dht::parse_host_port(b));
  } catch (const std::exception& e) {
    std::cerr << "error: --bootstrap " << e.what() << "\n";
    return 2;
  }
  if (!cfg.seed.empty()) {
    ht::noise::key32 seed{};
    if (!parse_key(cfg.seed, seed)) {
      std::cerr << "error: --seed must be 64 hex characters\n";
      return 2;
    }
    o.keys = ht::noise::keypair::from_seed(seed);
  }
  o.host = cfg.host;
  o.port = cfg.port;
  o.connection.close_timeout = std::chrono::milliseconds(cfg.close_timeout_ms);

  caf::actor_system sys{cfg};
  auto hd = ht::hyperdht_client_socket::start(sys, o);
  if (!hd) {
    std::cerr << "error: cannot start the DHT socket: " << sys.render(hd.error()) << "\n";
    return 1;
  }

  ht::client_options co;
  co.create_socket = (*hd)->create_socket();
  co.install_trace_function = false;
  co.on_event = [](const ht::client_event& e) {
    if (e.kind == ht::client_event_kind::connection_error)
      std::cerr << "connection error: " << e.code << " " << e.message << "\n";
  };
  auto cl = ht::client::start(sys, std::move(co));

  // Read and hand over every line (the client buffers until connected).
  uint64_t sent = 0, bad = 0, lineno = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ht::manual_trace t;
    if (auto err = to_trace(line, t)) {
      std::cerr << "line " << lineno << ": " << *err << ", skipped\n";
      ++bad;
      continue;
    }
    cl.add_trace(std::move(t));
    ++sent;
  }

  // Delivered once the server's view of our session reaches the last number.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.connect_timeout_ms);
  while (!cl.is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!cl.is_running()) {
    auto e = cl.last_connection_error();
    std::cerr << "error: could not reach the server"
              << (e ? ": " + e->code + " " + e->message : std::string{}) << "\n";
    cl.stop();
    (*hd)->stop();
    std::cout << "sent 0 of " << sent << " traces; acknowledged 0; bad lines " << bad << "\n";
    return 1;
  }
  auto session = cl.session_id();
  int64_t acked = 0;
  std::string why;
  auto ack_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.ack_timeout_ms);
  while (sent > 0) {
    auto stats = cl.stats();
    if (stats.unwritten_traces == 0 && stats.traces >= sent) {
      auto v = ask_server(sys, **hd, std::chrono::seconds(10),
                          std::chrono::milliseconds(cfg.close_timeout_ms) + std::chrono::seconds(3));
      why = v.error;
      if (v.session && *v.session == session && v.last) acked = *v.last + 1;
      if (acked >= static_cast<int64_t>(sent)) break;
    }
    if (std::chrono::steady_clock::now() > ack_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  cl.stop();
  caf::scoped_actor self{sys};
  self->wait_for(cl.actor());
  (*hd)->stop_after_flush(std::chrono::seconds(1));

  std::cout << "session " << session << ": sent " << sent << " traces, server acknowledged "
            << acked << ", bad lines " << bad << "\n";
  if (acked < static_cast<int64_t>(sent) && !why.empty())
    std::cerr << "last check: " << why << "\n";
  return (bad == 0 && acked == static_cast<int64_t>(sent)) ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  send_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "error: " << caf::to_string(err) << " (see --help)\n";
    return 2;
  }
  if (cfg.cli_helptext_printed) return 0;
  return run(cfg);
}
