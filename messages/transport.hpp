#pragma once
// The in-process transport: a stand-in for HyperDHT inside one actor system.
// Servers listen under their public key; clients dial a key and get a
// connection_actor end at once, like hyperdht's connect(). Used by tests,
// examples and benchmarks.
#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/bytes.hpp"
#include "messages/connection.hpp"

namespace ht {

using link_atom = caf::atom_constant<caf::atom("link")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using peer_gone_atom = caf::atom_constant<caf::atom("peergone")>;

/// One end of an in-process connection: the public connection interface
/// plus what its peer end tells it.
using inprocess_end_actor = connection_actor::extend<
  // Pairs this end with its peer, which speaks for `remote`.
  caf::reacts_to<link_atom, connection_actor, public_key>,
  // A message the peer end wrote.
  caf::reacts_to<deliver_atom, bytes>,
  // The peer end closed (code empty) or failed (code, text).
  caf::reacts_to<peer_gone_atom, std::string, std::string>>;

/// Servers listening under a public key.
using inprocess_network_actor = caf::typed_actor<
  caf::reacts_to<listen_atom, public_key, acceptor_actor>,
  caf::reacts_to<unlisten_atom, public_key>,
  // Dial `server` on behalf of the dialing end `client_end`, which speaks
  // for `client`.
  caf::reacts_to<connect_atom, inprocess_end_actor, public_key /* client */,
                 public_key /* server */>>;

} // namespace ht
