#pragma once
// The transport seam. Server sessions and the client talk to a *connection*:
// an ordered, reliable, message-preserving duplex of byte messages, owned by
// an actor and carrying the remote peer's public key. The in-process
// transport (actors/transport/) implements it today; the secret-stream over
// UDX connection implements the same interface.
//
// Life cycle, as seen by the handler that attached itself:
//   opened(id, remote_key)   once, before any message
//   message(id, bytes)       zero or more, in order, one per remote write
//   closed(id, code, text)   exactly once, last; code is empty for a clean
//                            end and a stable error code otherwise (e.g.
//                            "PEER_NOT_FOUND", "ETIMEDOUT", "ECONNRESET")
// A connection that fails before opening still ends with closed(...).
#include <cstdint>
#include <string>

#include <caf/typed_actor.hpp>
#include <caf/replies_to.hpp>

#include "messages/atoms.hpp"
#include "messages/bytes.hpp"

namespace ht {

/// Identifies one connection for the lifetime of the process, so that a
/// handler that reconnects can tell late events of an old connection apart.
using connection_id = uint64_t;

/// Returns a fresh, process-wide unique connection id.
connection_id next_connection_id();

/// What a connection reports to its owner.
using connection_handler_actor = caf::typed_actor<
  caf::reacts_to<opened_atom, connection_id, public_key>,
  caf::reacts_to<message_atom, connection_id, bytes>,
  caf::reacts_to<closed_atom, connection_id, std::string, std::string>>;

/// What an owner may tell its connection.
using connection_actor = caf::typed_actor<
  // Starts delivering events to the handler. Events that happen before the
  // attach are held and delivered in order after it.
  caf::reacts_to<attach_atom, connection_handler_actor>,
  // Sends one message; the remote handler receives exactly these bytes as
  // one message(...) event.
  caf::reacts_to<write_atom, bytes>,
  // Ends the connection after pending writes; the handler then gets closed.
  caf::reacts_to<close_atom>,
  // Backpressure: stop delivering message events until resume. Messages
  // that arrive meanwhile are held by the transport (and, for network
  // transports, the peer is flow-controlled).
  caf::reacts_to<pause_atom>,
  caf::reacts_to<resume_atom>>;

/// Where a listening transport hands each incoming connection.
using acceptor_actor = caf::typed_actor<
  caf::reacts_to<accept_atom, connection_actor, public_key>>;

} // namespace ht
