#include "actors/hyperdht/hyperdht_stack.hpp"

#include <caf/all.hpp>

#include "actors/udx/socket_actor.hpp"

namespace ht {

caf::expected<hyperdht_stack> spawn_hyperdht_stack(caf::actor_system& sys,
                                                   hyperdht_stack_options opts) {
  if (opts.mode == rpc::node_mode::persistent && !opts.public_address)
    return caf::make_error(caf::sec::invalid_argument,
                           "hyperdht stack: a persistent node needs a public address");
  udx_socket_options so;
  so.host = opts.host;
  so.port = opts.port;
  auto sock = spawn_udx_socket(sys, so);
  if (!sock)
    return sock.error();
  hyperdht_stack out;
  out.socket = *sock;
  caf::scoped_actor self{sys};
  caf::error failed;
  self->request(out.socket, caf::infinite, udx_address_atom::value)
    .receive([&](const udx_endpoint& e) { out.bound = e; },
             [&](caf::error& e) { failed = std::move(e); });
  if (failed) {
    self->send_exit(out.socket, caf::exit_reason::user_shutdown);
    return failed;
  }
  dht_node_options d;
  d.config.mode = opts.mode;
  d.config.bootstrap = opts.bootstrap;
  d.config.seed = opts.seed;
  d.config.public_address = opts.public_address;
  if (d.config.public_address && d.config.public_address->port == 0)
    d.config.public_address->port = out.bound.port;
  d.sockets.push_back(out.socket);
  out.dht = spawn_dht_node(sys, std::move(d));
  out.hyperdht = spawn_hyperdht_node(sys, out.dht, std::move(opts.hyperdht));
  return out;
}

} // namespace ht
