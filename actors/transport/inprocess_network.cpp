// The registry of listening servers: pairs a dialing end with a fresh end
// handed to the server's acceptor.
#include <map>

#include <caf/all.hpp>

#include "actors/transport/inprocess.hpp"

namespace ht {

namespace {

struct network_state {
  std::map<public_key, acceptor_actor> listeners;
  static inline const char* name = "inprocess_network";
};

using network_pointer = inprocess_network_actor::stateful_pointer<network_state>;

inprocess_network_actor::behavior_type network_impl(network_pointer self) {
  // A listener that exits stops listening.
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& ls = self->state.listeners;
    for (auto i = ls.begin(); i != ls.end();)
      i = i->second.address() == dm.source ? ls.erase(i) : std::next(i);
  });
  return {
    [self](listen_atom, public_key& key, acceptor_actor& acceptor) {
      self->monitor(acceptor);
      self->state.listeners[key] = std::move(acceptor);
    },
    [self](unlisten_atom, public_key& key) { self->state.listeners.erase(key); },
    [self](connect_atom, inprocess_end_actor& client_end, public_key& client,
           public_key& server) {
      auto i = self->state.listeners.find(server);
      if (i == self->state.listeners.end()) {
        self->send(client_end, peer_gone_atom::value,
                   std::string{"PEER_NOT_FOUND"},
                   "no server listens on " + to_hex(server));
        return;
      }
      auto server_end = spawn_inprocess_end(self->system());
      self->send(server_end, link_atom::value,
                 caf::actor_cast<connection_actor>(client_end), client);
      self->send(client_end, link_atom::value,
                 caf::actor_cast<connection_actor>(server_end), server);
      self->send(i->second, accept_atom::value,
                 caf::actor_cast<connection_actor>(server_end), client);
    },
  };
}

} // namespace

inprocess_network_actor spawn_inprocess_network(caf::actor_system& sys) {
  return sys.spawn(network_impl);
}

connection_actor inprocess_connect(caf::actor_system& sys,
                                   const inprocess_network_actor& net,
                                   const public_key& client,
                                   const public_key& server) {
  auto end = spawn_inprocess_end(sys);
  caf::anon_send(net, connect_atom::value, end, client, server);
  return caf::actor_cast<connection_actor>(end);
}

} // namespace ht
