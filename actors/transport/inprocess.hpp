#pragma once
// The in-process implementation of the transport seam (messages/connection.hpp).
#include <caf/actor_system.hpp>

#include "messages/transport.hpp"

namespace ht {

/// Spawns the registry of listening servers.
inprocess_network_actor spawn_inprocess_network(caf::actor_system& sys);

/// Dials `server` as `client`. Returns the client's end at once; it reports
/// opened(...) once paired, or closed(.., "PEER_NOT_FOUND", ..) when no
/// server listens under that key, as hyperdht's connect() does. Writes made
/// before the pairing are held and sent in order.
connection_actor inprocess_connect(caf::actor_system& sys,
                                   const inprocess_network_actor& net,
                                   const public_key& client,
                                   const public_key& server);

/// Spawns one unpaired end (the network pairs two of them).
inprocess_end_actor spawn_inprocess_end(caf::actor_system& sys);

} // namespace ht
