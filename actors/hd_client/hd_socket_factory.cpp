#include "actors/hd_client/hd_socket_factory.hpp"

#include <caf/all.hpp>

namespace ht {

caf::expected<std::shared_ptr<hyperdht_client_socket>>
hyperdht_client_socket::start(caf::actor_system& sys, hyperdht_client_socket_options opts) {
  if (opts.bootstrap.empty())
    return caf::make_error(caf::sec::invalid_argument, "a bootstrap list is required");
  hyperdht_stack_options so;
  so.host = opts.host;
  so.port = opts.port;
  so.mode = rpc::node_mode::ephemeral;
  so.bootstrap = opts.bootstrap;
  auto stack = spawn_hyperdht_stack(sys, so);
  if (!stack) return stack.error();
  std::shared_ptr<hyperdht_client_socket> out(new hyperdht_client_socket(sys));
  out->keys_ = opts.keys ? *opts.keys : noise::keypair::random();
  out->opts_ = std::move(opts);
  out->stack_ = *stack;
  return out;
}

hyperdht_client_socket::~hyperdht_client_socket() { stop(); }

void hyperdht_client_socket::stop() {
  if (stopped_) return;
  stopped_ = true;
  caf::anon_send(stack_.dht, close_atom::value);
  caf::anon_send_exit(stack_.hyperdht, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(stack_.socket, caf::exit_reason::user_shutdown);
}

void hyperdht_client_socket::stop_after_flush(std::chrono::milliseconds limit) {
  if (stopped_) return;
  // The socket handles its messages in order, and stop()'s exit message
  // would overtake them: a round trip first lets everything queued before
  // it go out.
  caf::scoped_actor self{sys_};
  self->request(stack_.socket, limit, udx_stats_atom::value)
    .receive([](const udx_socket_info&) {}, [](caf::error&) {});
  stop();
}

connection_actor hyperdht_client_socket::connect() {
  hd_connect_params p;
  p.socket = stack_.socket;
  p.dht = stack_.dht;
  p.keys = keys_;
  p.server = opts_.server;
  p.connect = opts_.connect;
  p.connection = opts_.connection;
  return caf::actor_cast<connection_actor>(spawn_hd_connect(sys_, std::move(p)));
}

std::function<connection_actor()> hyperdht_client_socket::create_socket() {
  // The factory holds the stack alive for as long as the client keeps it.
  auto keep = shared_from_this();
  return [keep] { return keep->connect(); };
}

} // namespace ht
