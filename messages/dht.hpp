#pragma once
// The dht-rpc node actor (actors/dht/): the typed interface the layer above
// (HyperDHT: its commands, announcer, connect and holepunch) and the
// bootstrap binary talk to. The actor owns one sans-IO rpc::node
// (dht/rpc/node.hpp), the UDX socket(s) it is the datagram handler of, and
// its timer; everything here is in-process only.
//
//   request   one request with retries -> the reply, or a dht_error
//   query     an iterative query; replies streamed to a sink, then one done
//   register  a handler actor for one user command number (hyperdht's 0-10);
//             a user command without a handler is answered UNKNOWN_COMMAND,
//             as a JS node without a 'request' listener does
//   reply / error / relay  answers to an incoming_request a handler got
//   status / closest       what the node knows (id, table, NAT view, stats)
//   subscribe              bootstrapped / persistent / nat events
//
// Sockets are numbered: every incoming_request names the socket it arrived
// on and every request/reply may name the socket to send from. A node has
// one socket (0) today; NAT traversal adds a second (dht-rpc's client and
// server sockets) by passing two sockets at spawn time, with no change here.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "dht/rpc/node.hpp"
#include "messages/atoms.hpp"
#include "messages/udx.hpp"

namespace ht::enc {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ipv4_address& x) {
  return f(caf::meta::type_name("ipv4_address"), x.host, x.port);
}

} // namespace ht::enc

namespace ht {

using dht_request_atom = caf::atom_constant<caf::atom("dhtreq")>;
using dht_query_atom = caf::atom_constant<caf::atom("dhtquery")>;
using dht_cancel_atom = caf::atom_constant<caf::atom("dhtcancel")>;
using dht_register_atom = caf::atom_constant<caf::atom("dhtreg")>;
using dht_unregister_atom = caf::atom_constant<caf::atom("dhtunreg")>;
using dht_incoming_atom = caf::atom_constant<caf::atom("dhtin")>;
using dht_reply_atom = caf::atom_constant<caf::atom("dhtreply")>;
using dht_error_atom = caf::atom_constant<caf::atom("dhterror")>;
using dht_relay_atom = caf::atom_constant<caf::atom("dhtrelay")>;
using dht_qreply_atom = caf::atom_constant<caf::atom("dhtqreply")>;
using dht_qdone_atom = caf::atom_constant<caf::atom("dhtqdone")>;
using dht_closest_atom = caf::atom_constant<caf::atom("dhtclosest")>;
using dht_token_atom = caf::atom_constant<caf::atom("dhttoken")>;
using dht_subscribe_atom = caf::atom_constant<caf::atom("dhtsub")>;
using dht_event_atom = caf::atom_constant<caf::atom("dhtevent")>;
using dht_serve_atom = caf::atom_constant<caf::atom("dhtserve")>;

/// Why a request (or the node) failed. Delivered as caf::error with
/// category dht_error_category; dht_error_of() maps it back.
enum class dht_error : uint8_t {
  timeout = 1,     // no response after all retries
  closing,         // the node is closing or gone
  too_many,        // the node's cap on pending requests is reached
  cancelled,
  bad_socket,      // no socket with that index
};
constexpr caf::atom_value dht_error_category = caf::atom("dht");
const char* to_string(dht_error e);
caf::error make_error(dht_error e);
/// The dht_error a caf::error carries, if it is one of ours.
std::optional<dht_error> dht_error_of(const caf::error& err);
/// "dht: timeout" for ours, CAF's text for any other error.
std::string describe(const caf::error& err);

/// Where relay() sends the request on to (dht-rpc's req.relay(value, to)).
struct dht_relay_options {
  std::optional<bytes> value;
  rpc::ipv4_address to;
  std::optional<uint8_t> socket;   // default: the socket it arrived on
};

/// What the node knows about itself.
struct dht_status {
  rpc::key32 id{};
  bool ephemeral = true;
  bool bootstrapped = false;
  std::optional<rpc::ipv4_address> public_address;  // NAT view or configured
  rpc::firewall_class firewall = rpc::firewall_class::unknown;
  rpc::node_stats stats;                            // includes table_size
  std::vector<udx_endpoint> bound;                  // per socket index
  int64_t backlog_bytes = 0;   // datagrams handed over by the socket, not yet processed
  uint64_t unknown_commands = 0;  // user requests answered UNKNOWN_COMMAND
  uint64_t not_ipv4 = 0;          // datagrams from IPv6 senders, dropped (dht-rpc is IPv4 only)
};

/// A node event for subscribers. A new subscriber first gets the events
/// that already happened (bootstrapped, persistent, the current NAT view).
/// `ephemeral`: a node that was persistent is ephemeral again (an adaptive
/// node after a sleep, dht-rpc's 'ephemeral'); storage stops until the next
/// `persistent`.
struct dht_event {
  enum class kind : uint8_t { bootstrapped, persistent, nat, ephemeral };
  kind what = kind::bootstrapped;
  std::optional<rpc::ipv4_address> address;         // nat
  rpc::firewall_class firewall = rpc::firewall_class::unknown;
};
const char* to_string(dht_event::kind k);

/// Receives the user requests of the command(s) it registered for and
/// answers each (or not: a request left unanswered simply times out at the
/// sender, as in dht-rpc) with reply/error/relay to the node.
using dht_command_handler_actor =
  caf::typed_actor<caf::reacts_to<dht_incoming_atom, rpc::incoming_request>>;

/// Receives the replies of one query as they arrive (handle, reply) and then
/// exactly one done with the closest replies (<= k, XOR-sorted) or an error.
using dht_query_sink_actor = caf::typed_actor<
  caf::reacts_to<dht_qreply_atom, uint64_t, rpc::reply>,
  caf::reacts_to<dht_qdone_atom, rpc::query_done_event>>;

/// Receives node events.
using dht_event_sink_actor =
  caf::typed_actor<caf::reacts_to<dht_event_atom, dht_event>>;

/// The node actor.
using dht_node_actor = caf::typed_actor<
  // One request with retries. The reply may carry a non-zero error code
  // (the remote's answer); failures are a dht_error.
  caf::replies_to<dht_request_atom, rpc::request_options>::with<rpc::reply>,
  // A query streamed to the sink; the reply is its handle (for cancel).
  caf::replies_to<dht_query_atom, rpc::query_options,
                  dht_query_sink_actor>::with<uint64_t>,
  // A query answered once, when done.
  caf::replies_to<dht_query_atom, rpc::query_options>::with<rpc::query_done_event>,
  // Ends a query early; its sink gets done with error "cancelled".
  caf::reacts_to<dht_cancel_atom, uint64_t>,
  // User command number -> handler (replaces a previous one). The node
  // monitors handlers and forgets those that terminate.
  caf::reacts_to<dht_register_atom, uint64_t, dht_command_handler_actor>,
  caf::reacts_to<dht_unregister_atom, uint64_t>,
  // Answers to an incoming request (all the node needs is in it).
  caf::reacts_to<dht_reply_atom, rpc::incoming_request, rpc::reply_options>,
  caf::reacts_to<dht_error_atom, rpc::incoming_request, uint64_t, rpc::reply_options>,
  caf::reacts_to<dht_relay_atom, rpc::incoming_request, dht_relay_options>,
  caf::replies_to<status_atom>::with<dht_status>,
  // The n closest nodes of the routing table to a target, XOR-sorted.
  caf::replies_to<dht_closest_atom, rpc::key32, uint64_t>::with<
    std::vector<rpc::ipv4_address>>,
  // A token for an address, as reply() would include it.
  caf::replies_to<dht_token_atom, rpc::ipv4_address>::with<rpc::key32>,
  caf::reacts_to<dht_subscribe_atom, dht_event_sink_actor>,
  // Fails pending requests and queries (closing), then exits.
  caf::reacts_to<close_atom>,
  // From socket n (the tag it was registered with): one receive batch
  // (one recvmmsg's worth), queued per source host and served round-robin
  // (docs/dht.md, "Fair service"). This is the socket's datagram handler
  // API.
  caf::reacts_to<udx_recv_atom, uint8_t, udx_datagrams>,
  // Internal: one bounded round of the per-source queues.
  caf::reacts_to<dht_serve_atom>,
  // The node's own timer (generation of the armed wake-up).
  caf::reacts_to<tick_atom, uint64_t>,
  // Internal: send what the core queued (after the mailbox's backlog).
  caf::reacts_to<flush_atom>>;

} // namespace ht

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::rpc::request_options)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::rpc::query_options)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::rpc::reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::rpc::reply_options)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::rpc::incoming_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::rpc::query_done_event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::dht_relay_options)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::dht_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(ht::dht_event)
