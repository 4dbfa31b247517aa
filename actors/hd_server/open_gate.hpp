#pragma once
// Hands a network connection to the server root only once it is open.
//
// A PEER_HANDSHAKE can be replayed by anyone who saw it: the Noise message
// names the client's key but proves nothing until the secret-stream header
// (keyed by the handshake) arrives. The server root supersedes a client's
// live session as soon as it accepts a new connection for that key, so an
// unproven connection must never reach it. The gate owns the connection
// until opened(...) arrives, then passes itself (a connection_actor) to the
// acceptor and relays every event and command between the two. A connection
// that closes before opening ends here, silently for the server root.
#include <functional>

#include <caf/actor_system.hpp>

#include "messages/connection.hpp"

namespace ht {

using open_gate_actor = connection_actor::extend_with<connection_handler_actor>;

/// `on_settled(opened)` runs once, inside the gate, when the connection
/// opened (true) or closed before opening (false).
open_gate_actor spawn_open_gate(caf::actor_system& sys, connection_actor inner, acceptor_actor acceptor,
                                std::function<void(bool opened)> on_settled);

} // namespace ht
