// A small host application: a shop with a few traced classes, the
// hypertrace-logger client started in-process, and a server (the real
// server role) listening on the in-process network. Running it leaves
// <folder>/<client key hex>.log with 12 traces (exit status 0 when all
// reached the file); each trace line is the JS client's JSON
// plus the server's "time" and "userId".
//
//   host_app [folder]      (default: ./host_app_logs)
//
// With --server=<public key hex> --bootstrap=host:port[,...] the client
// instead connects over HyperDHT (hyperdht_client_socket's create_socket)
// to a server running elsewhere (ours or the JS one), and no server runs in
// this process; exit status 0 when all 12 traces were handed to a
// connection that then closed cleanly.
//
//   host_app --server=<hex> --bootstrap=127.0.0.1:49800
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include <caf/all.hpp>

#include "actors/client/client.hpp"
#ifdef HT_HOST_APP_HYPERDHT
#include "actors/dht/host_port.hpp"
#include "actors/hd_client/hd_socket_factory.hpp"
#endif
#include "actors/server/server.hpp"
#include "actors/transport/inprocess.hpp"

namespace shop {

class Store {
public:
  Store() : tracer_(ht::create_tracer(this, {{{"city", "Lisbon"}}, nullptr})) {
    tracer_.trace("open");
  }
  const ht::tracer& tracer() const { return tracer_; }

private:
  ht::tracer tracer_;
};

class Cart {
public:
  explicit Cart(const Store& store) : tracer_(ht::create_tracer(this, {nullptr, &store.tracer()})) {}
  void add(const std::string& sku, int qty) {
    items_ += qty;
    tracer_.trace("add", {{"sku", sku}, {"qty", qty}});
  }
  int items() const { return items_; }
  const ht::tracer& tracer() const { return tracer_; }

private:
  ht::tracer tracer_;
  int items_ = 0;
};

class Payment {
public:
  explicit Payment(const Cart& cart) : tracer_(ht::create_tracer(this, {nullptr, &cart.tracer()})) {}
  bool charge(double amount) {
    bool ok = amount < 100;
    ht::json props = {{"amount", amount}, {"ok", ok}};
    if (!ok)
      props["error"] = ht::error_json("EDECLINED", "card declined");
    tracer_.trace("charge", std::move(props));
    return ok;
  }

private:
  ht::tracer tracer_;
};

} // namespace shop

namespace {

void run_shop(ht::client& client) {
  // The host application does its work; the traces go out in the background.
  shop::Store store;
  for (int i = 0; i < 3; ++i) {
    shop::Cart cart(store);
    cart.add("apple", 2 + i);
    cart.add("pear", 1);
    shop::Payment pay(cart);
    pay.charge(40.0 * (i + 1));
  }
  client.add_props({{"phase", "done"}});
  shop::Store().tracer().trace("closing");
}

#ifdef HT_HOST_APP_HYPERDHT
/// The client over HyperDHT to a server elsewhere.
int run_hyperdht(const std::string& server_hex, const std::string& bootstrap) {
  ht::hyperdht_client_socket_options o;
  ht::bytes key;
  if (!ht::from_hex(server_hex, key) || key.size() != 32) {
    std::fprintf(stderr, "--server must be 64 hex characters\n");
    return 2;
  }
  std::copy(key.begin(), key.end(), o.server.begin());
  try {
    size_t at = 0;
    while (at < bootstrap.size()) {
      auto comma = bootstrap.find(',', at);
      if (comma == std::string::npos) comma = bootstrap.size();
      o.bootstrap.push_back(ht::dht::parse_host_port(bootstrap.substr(at, comma - at)));
      at = comma + 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "--bootstrap: %s\n", e.what());
    return 2;
  }
  caf::actor_system_config cfg;
  cfg.set("logger.console", caf::atom("none"));
  caf::actor_system sys{cfg};
  auto hd = ht::hyperdht_client_socket::start(sys, o);
  if (!hd) {
    std::fprintf(stderr, "cannot start the DHT socket: %s\n", sys.render(hd.error()).c_str());
    return 1;
  }
  std::mutex m;
  std::condition_variable cv;
  bool closed = false;
  ht::client_options opts;
  opts.create_socket = (*hd)->create_socket();
  opts.initial_props = {{"username", "example"}, {"app", "host_app"}};
  opts.on_event = [&](const ht::client_event& e) {
    std::printf("client event: %s %s %s\n", ht::to_string(e.kind), e.code.c_str(), e.message.c_str());
    if (e.kind == ht::client_event_kind::close) {
      std::lock_guard<std::mutex> g{m};
      closed = true;
      cv.notify_all();
    }
  };
  auto client = ht::client::start(sys, opts);
  run_shop(client);
  client.stop();
  {
    std::unique_lock<std::mutex> g{m};
    cv.wait_for(g, std::chrono::seconds(40), [&] { return closed; });
  }
  auto s = client.stats();
  std::printf("%llu traces sent, %llu never written\n", static_cast<unsigned long long>(s.traces),
              static_cast<unsigned long long>(s.unwritten_traces));
  (*hd)->stop();
  return closed && s.traces == 12 && s.unwritten_traces == 0 ? 0 : 1;
}

#endif

} // namespace

int main(int argc, char** argv) {
  std::string server_hex, bootstrap, folder = "host_app_logs";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--server=", 0) == 0) server_hex = a.substr(9);
    else if (a.rfind("--bootstrap=", 0) == 0) bootstrap = a.substr(12);
    else folder = a;
  }
  if (!server_hex.empty()) {
    if (bootstrap.empty()) {
      std::fprintf(stderr, "--bootstrap=host:port is required with --server\n");
      return 2;
    }
#ifdef HT_HOST_APP_HYPERDHT
    return run_hyperdht(server_hex, bootstrap);
#else
    std::fprintf(stderr, "built without the HyperDHT client (actors/hd_client)\n");
    return 2;
#endif
  }
  std::filesystem::create_directories(folder);

  caf::actor_system_config cfg;
  cfg.set("logger.console", caf::atom("none"));
  caf::actor_system sys{cfg};

  // The server: in a real deployment it runs elsewhere, reached over HyperDHT.
  ht::public_key server_key{}, client_key{};
  server_key.fill(0x5e);
  client_key.fill(0xc1);
  auto net = ht::spawn_inprocess_network(sys);
  ht::server_config scfg;
  scfg.store.folder = folder;
  auto server = ht::spawn_server(sys, scfg);
  caf::anon_send(net, ht::listen_atom::value, server_key,
                 caf::actor_cast<ht::acceptor_actor>(server));

  // The client, as a host application embeds it.
  std::mutex m;
  std::condition_variable cv;
  bool closed = false;
  ht::client_options opts;
  opts.create_socket = [&] { return ht::inprocess_connect(sys, net, client_key, server_key); };
  opts.initial_props = {{"username", "example"}, {"app", "host_app"}};
  opts.on_event = [&](const ht::client_event& e) {
    std::printf("client event: %s %s\n", ht::to_string(e.kind), e.code.c_str());
    if (e.kind == ht::client_event_kind::close) {
      std::lock_guard<std::mutex> g{m};
      closed = true;
      cv.notify_all();
    }
  };
  auto client = ht::client::start(sys, opts);
  run_shop(client);

  client.stop(); // delivers what is buffered, then closes
  {
    std::unique_lock<std::mutex> g{m};
    cv.wait_for(g, std::chrono::seconds(10), [&] { return closed; });
  }
  bool flushed = false;
  caf::scoped_actor self{sys};
  self->request(server, std::chrono::seconds(15), ht::shutdown_atom::value)
    .receive([&](bool ok) { flushed = ok; }, [](caf::error&) {});
  self->send_exit(net, caf::exit_reason::user_shutdown);
  auto path = folder + "/" + ht::to_hex(client_key) + ".log";
  auto s = client.stats();
  std::printf("%llu traces sent; server flushed: %s; log: %s\n",
              static_cast<unsigned long long>(s.traces), flushed ? "yes" : "no",
              path.c_str());
  return flushed && s.traces == 12 ? 0 : 1;
}
