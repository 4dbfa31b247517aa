#pragma once
// The hyperdht node actor (actors/hyperdht/): hyperdht's request handling on
// top of one dht-rpc node actor (messages/dht.hpp). It registers for the
// user commands PEER_HANDSHAKE and PEER_HOLEPUNCH (served by every node,
// through dht/hyperdht/router) and FIND_PEER .. PLUGIN (served while the dht
// node is persistent, through dht/hyperdht/persistent; before that they are
// answered UNKNOWN_COMMAND, as hyperdht's onrequest returning false makes
// dht-rpc do), and carries out the sans-IO decisions with dht_reply /
// dht_error / dht_relay.
//
// Local servers (a hyperdht server listening in this process) register with
// hd_listen: handshakes and holepunches for their target are handed to their
// handler, and the handler's answer goes back through the router
// (server_handshake_reply / server_holepunch_reply); the handler never talks
// to the dht node for these replies itself. A handler that terminates is
// unlistened.
#include <cstdint>
#include <optional>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "dht/hyperdht/decision.hpp"
#include "dht/hyperdht/persistent.hpp"
#include "dht/hyperdht/router.hpp"
#include "messages/dht.hpp"

namespace ht {

using hd_listen_atom = caf::atom_constant<caf::atom("hdlisten")>;
using hd_unlisten_atom = caf::atom_constant<caf::atom("hdunlisten")>;
using hd_handshake_atom = caf::atom_constant<caf::atom("hdhandshk")>;
using hd_holepunch_atom = caf::atom_constant<caf::atom("hdholepnch")>;
using hd_dht_atom = caf::atom_constant<caf::atom("hddht")>;

/// A server listening on this node. Answers each handshake with the reply
/// noise (nullopt: refuse, nothing is sent) and each holepunch with the
/// reply payload (nullopt: nothing is sent). Unanswered within the node's
/// handler timeout counts as a refusal.
using hd_server_handler_actor = caf::typed_actor<
  caf::replies_to<hd_handshake_atom, rpc::incoming_request,
                  hyperdht::handshake_for_server>::with<std::optional<bytes>>,
  caf::replies_to<hd_holepunch_atom, rpc::incoming_request,
                  hyperdht::holepunch_for_server>::with<std::optional<bytes>>>;

/// What the hyperdht node knows: its dht node's status, the router's and
/// (once persistent) the storage's counters and sizes.
struct hd_status {
  dht_status dht;
  bool serving_storage = false;       // the dht node is persistent: commands 2-10 served
  hyperdht::router_stats router;
  hyperdht::persistent_stats store;
  uint64_t forwards = 0;              // router entries (announced + local servers)
  uint64_t local_servers = 0;
  uint64_t records = 0, mutables = 0, immutables = 0;
  uint64_t requests = 0;              // user requests handed to us by the dht node
  uint64_t handler_failures = 0;      // a local server's handler timed out or failed
  uint64_t no_handler = 0;            // to-server decisions for a target with no handler (raced unlisten)
  uint64_t server_overload = 0;       // dropped: max_pending_server_requests were waiting
};

/// The hyperdht node actor.
using hyperdht_node_actor = caf::typed_actor<
  // A local server: target = hash(its public key), record = its encoded
  // peer_record (what FIND_PEER / LOOKUP answer with). Replaces a previous
  // registration of the same target.
  caf::reacts_to<hd_listen_atom, rpc::key32, bytes, hd_server_handler_actor>,
  caf::reacts_to<hd_unlisten_atom, rpc::key32>,
  caf::replies_to<hd_dht_atom>::with<dht_node_actor>,
  caf::replies_to<status_atom>::with<hd_status>,
  // Internal: the dht node's requests and events, and the expiry timer.
  caf::reacts_to<dht_incoming_atom, rpc::incoming_request>,
  caf::reacts_to<dht_event_atom, dht_event>,
  caf::reacts_to<tick_atom>>;

} // namespace ht

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::hyperdht::handshake_for_server)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::hyperdht::holepunch_for_server)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::hd_status)
// A handler's answer (CAF 0.17 has no inspect() for std::optional; local only).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::optional<ht::bytes>)
