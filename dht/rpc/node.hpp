#pragma once
// A dht-rpc node, sans-IO (the quinn-proto model): fed datagrams and the
// current time, polled for datagrams to send, events for the layer above
// and the next time it wants to be woken. No sockets, no threads, no
// clocks of its own; the node actor (actors/dht) owns those.
//
// It speaks dht-rpc 6.27.0 as JS nodes do: internal commands (PING,
// PING_NAT, FIND_NODE, DOWN_HINT, DELAYED_PING) are answered here; user
// commands (hyperdht's PEER_HANDSHAKE, FIND_PEER, ANNOUNCE, ...) come out as
// request events and are answered through reply()/error()/relay(), which
// need nothing but the event itself (no per-request state is kept for them,
// so a flood of user requests cannot grow the node).
//
// Sockets: every datagram in and out carries a socket index. Today a node
// has one socket (index 0); NAT traversal adds a second (dht-rpc's
// client/server split) without changing this interface.
//
// THIS FILE IS THE CONTRACT between the core (dht/rpc) and the actor
// (actors/dht). Change it only together with both sides.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dht/rpc/message.hpp"

namespace ht::rpc {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = clock::duration;

/// How a node decides whether to join others' routing tables.
enum class node_mode {
  ephemeral,   // never sends its id (dht-rpc ephemeral: true; a client)
  persistent,  // a configured public host:port, persistent from the start (bootstrapper)
  adaptive,    // dht-rpc ephemeral: false: persistent once bootstrapped and reachable
};

/// The NAT sampler's view of our public address (dht-rpc nat-sampler).
enum class firewall_class { unknown = 0, open = 1, consistent = 2, random = 3 };

struct node_config {
  std::vector<ipv4_address> bootstrap;         // "host:port" list, already parsed
  node_mode mode = node_mode::ephemeral;
  std::optional<ipv4_address> public_address;  // required for node_mode::persistent
  uint64_t seed = 0;                           // PRNG seed (tids, secrets, jitter): 0 = random
  size_t k = 20;
  size_t concurrency = 10;                     // per query
  duration request_timeout = std::chrono::seconds(1);
  unsigned retries = 3;                        // a request goes out at most retries + 1 times
  size_t max_pending_requests = 4096;          // our own requests in flight or queued
  duration tick_interval = std::chrono::seconds(5);
};

/// A request we received with a user command (flag 4 clear). Carries all
/// reply()/error()/relay() need.
struct incoming_request {
  uint8_t socket = 0;
  ipv4_address from;                 // observed sender
  std::optional<key32> from_id;      // kept only if it is node_id(from)
  ipv4_address to;                   // where the sender says it sent it
  uint16_t tid = 0;
  bool internal = false;
  uint64_t command = 0;
  std::optional<key32> target;
  std::optional<bytes> value;
  std::optional<key32> token;        // as sent
  bool token_valid = false;          // token was one of ours for from.host
};

/// A response to one of our requests.
struct reply {
  ipv4_address from;
  std::optional<key32> from_id;
  ipv4_address to;                   // how the responder saw us (a NAT sample)
  std::optional<key32> token;
  std::vector<ipv4_address> closer_nodes;
  uint64_t error = 0;
  std::optional<bytes> value;
  duration rtt{0};
};

enum class request_error {
  timeout,        // no response after all retries
  closing,        // the node is closing / was destroyed
  too_many,       // max_pending_requests reached
  cancelled,
};
const char* to_string(request_error e);

struct request_options {
  ipv4_address to;
  bool internal = false;
  uint64_t command = 0;
  std::optional<key32> target;
  std::optional<bytes> value;
  std::optional<key32> token;
  std::optional<unsigned> retries;   // default: config.retries
  uint8_t socket = 0;
};

struct query_options {
  key32 target{};
  bool internal = false;
  uint64_t command = 0;
  std::optional<bytes> value;
  std::vector<ipv4_address> nodes;   // seeds; empty: the table's closest, topped up with bootstrap
  bool commit = false;               // re-send to the closest repliers with their tokens
  std::optional<size_t> concurrency; // default: config.concurrency
};

struct reply_options {
  std::optional<bytes> value;
  bool token = true;                 // include a fresh token for the requester's host
  bool closer_nodes = true;          // when the request had a target
  std::optional<ipv4_address> to;    // reply somewhere else (hyperdht's FROM_SERVER -> REPLY)
  std::optional<uint8_t> socket;
};

// --- events ---------------------------------------------------------------
struct request_event { incoming_request req; };
/// The outcome of request(): exactly one per handle.
struct response_event {
  uint64_t handle = 0;
  std::optional<reply> res;            // set on success (res->error may be non-zero)
  std::optional<request_error> error;  // set on failure
};
/// One reply of a running query (streamed as they arrive).
struct query_reply_event { uint64_t handle = 0; reply res; };
/// A query ended: its closest replies (<= k, XOR-sorted), exactly one per handle.
struct query_done_event {
  uint64_t handle = 0;
  std::vector<reply> closest;
  std::optional<std::string> error;    // e.g. "Too few nodes responded", closing
};
struct bootstrapped_event {};
struct persistent_event {};            // now sends its id and serves storage
// An adaptive node that was persistent is ephemeral again: it stops sending
// its id, and the layer above stops serving storage (dht-rpc's 'ephemeral',
// index.js:552-573: after a wake-up from sleep, the network may have changed).
struct ephemeral_event {};
struct nat_event { std::optional<ipv4_address> address; firewall_class firewall; };

using event = std::variant<request_event, response_event, query_reply_event,
                           query_done_event, bootstrapped_event, persistent_event,
                           nat_event, ephemeral_event>;

struct transmit {
  uint8_t socket = 0;
  ipv4_address to;
  bytes data;
};

struct node_stats {
  uint64_t datagrams_in = 0, datagrams_out = 0;
  uint64_t malformed = 0;              // dropped: did not decode
  uint64_t requests_in = 0, responses_in = 0;
  uint64_t unmatched_responses = 0;    // unknown tid or wrong sender
  uint64_t requests_out = 0, retries = 0, timeouts = 0;
  uint64_t invalid_tokens = 0;
  size_t table_size = 0;
  size_t pending_requests = 0;
};

class node {
public:
  node(node_config cfg, time_point now);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // --- driving it ---
  /// One datagram arrived on `socket` from `from`. Malformed input is
  /// counted and dropped; never throws for remote input.
  void receive(uint8_t socket, const ipv4_address& from, const uint8_t* data,
               size_t size, time_point now);
  /// Timers: call handle_timeout(now) once now >= poll_timeout().
  std::optional<time_point> poll_timeout() const;
  void handle_timeout(time_point now);
  std::optional<transmit> poll_transmit();
  /// The same into out, false if there is nothing to send. The node keeps
  /// out.data's old storage for a later datagram (at most a few hundred
  /// buffers), so a caller that polls into the same transmit objects and
  /// sends from them answers without allocating.
  bool poll_transmit(transmit& out);
  std::optional<event> poll_event();

  // --- the layer above ---
  /// Sends one request (with retries); the outcome is one response_event.
  uint64_t request(const request_options& opts, time_point now);
  /// An iterative query toward opts.target: query_reply_events then one
  /// query_done_event.
  uint64_t query(const query_options& opts, time_point now);
  void cancel(uint64_t handle);
  void reply(const incoming_request& req, const reply_options& opts = {});
  void error(const incoming_request& req, uint64_t code, const reply_options& opts = {});
  /// dht-rpc's req.relay(value, to): a new request with the same tid,
  /// command, target and internal flag, no token, to the next hop.
  void relay(const incoming_request& req, std::optional<bytes> value,
             const ipv4_address& to, std::optional<uint8_t> socket = {});
  /// Starts bootstrapping (also done by the first handle_timeout).
  void bootstrap(time_point now);
  /// Fails every pending request/query with `closing`; sends nothing more.
  void close();

  // --- state ---
  const key32& id() const;                 // table id (random until our address is known)
  bool ephemeral() const;
  bool bootstrapped() const;
  std::optional<ipv4_address> public_address() const;  // from NAT samples or config
  firewall_class firewall() const;
  /// The k closest known nodes to target, XOR-sorted.
  std::vector<ipv4_address> closest(const key32& target, size_t n) const;
  node_stats stats() const;
  /// A token for host (what reply() would include), for the layer above.
  key32 token_for(const ipv4_address& addr) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace ht::rpc
