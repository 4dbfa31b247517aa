#pragma once
// The client side of hyperdht's connect (lib/connect.js), sans-IO: from the
// server's public key to "open a UDX stream to this address with this
// finished handshake", or a failure with hyperdht's error code.
//
//   1. findPeer(hash(pk)): the caller runs the FIND_PEER query and feeds
//      each reply (on_find_peer_reply) and its end (on_find_peer_done).
//   2. Every reply carrying a peer record names a node that can reach the
//      server (a relay, or the server's own persistent node). A
//      PEER_HANDSHAKE FROM_CLIENT (Noise IK initiator, one message reused
//      for every node, as NoiseWrap is created once) goes to each, at most
//      `max_in_flight` (2) at once; the first valid REPLY wins.
//   3. Reply checks (router.js peerHandshake, connect.js connectThroughNode):
//      mode REPLY, noise present, res.from == the node asked; the server
//      payload must have version 1, error NONE and udx.
//   4. Where the stream goes (connect.js holepunch(), notes §2.6):
//      rule 1  UDX packets from the server already arrived: there;
//      rule 2  not relayed (the node asked was the server): that node;
//      rule 3  server OPEN, or relayed with no holepunch relays offered:
//              the first non-bogon addresses4 entry, else serverAddress;
//      (rule 4, our client OPEN and waiting passively, does not apply: we
//       always say firewall UNKNOWN)
//      rule 5  LAN: relayed and clientAddress.host == serverAddress.host:
//              DHT-ping the best-matching non-reserved addresses4 entry and
//              connect there once it answers;
//      rule 6  holepunching: not implemented yet. CANNOT_HOLEPUNCH if the
//              server offers no relays, else HOLEPUNCH_ABORTED (the seam:
//              a holepuncher would start here).
//
// The caller polls next_action() after every input and carries the actions
// out; wake_at() says when to call on_timeout().
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dht/hyperdht/messages.hpp"
#include "dht/noise/payload.hpp"
#include "dht/noise/peer_handshake.hpp"
#include "dht/rpc/node.hpp"

namespace ht::hyperdht {

/// hyperdht's error codes (lib/errors.js) a connect can end with.
enum class connect_error {
  peer_not_found,          // PEER_NOT_FOUND: no node knows the server
  peer_connection_failed,  // PEER_CONNECTION_FAILED: nodes knew it, no valid handshake reply
  server_incompatible,     // SERVER_INCOMPATIBLE: payload version != 1
  server_error,            // SERVER_ERROR: payload error != NONE, or no udx
  holepunch_aborted,       // HOLEPUNCH_ABORTED: LAN ping failed / holepunch needed
  cannot_holepunch,        // CANNOT_HOLEPUNCH: relayed, server not reachable, no relays
  handshake_invalid,       // HANDSHAKE_INVALID
  query_failed,            // the FIND_PEER query itself failed (node closing, ...)
};
/// "PEER_NOT_FOUND", ... (what closed(...) carries).
const char* to_code(connect_error e);

struct client_connect_config {
  size_t max_in_flight = 2;          // connect.js: new Semaphore(2)
  size_t max_queued_nodes = 64;      // nodes waiting for a slot (memory bound)
  // The whole find + handshake phase (hyperdht bounds it only by the query
  // and the request retries; we bound it too).
  std::chrono::milliseconds handshake_timeout{20000};
  // The LAN ping (rule 5).
  std::chrono::milliseconds lan_timeout{5000};
  // Our own addresses, for the LAN rule's best match (Holepuncher.localAddresses).
  std::vector<enc::ipv4_address> local_addresses;
  // addresses4 we send (hyperdht: our public address if OPEN, then local
  // addresses when `localConnection`); empty as connect.js sends it while
  // our firewall is UNKNOWN and LAN hints are off.
  std::vector<enc::ipv4_address> our_addresses4;
  std::optional<noise::keypair> fixed_ephemeral;  // tests only
};

/// Send a PEER_HANDSHAKE request (the caller sends `request` through the dht
/// node and feeds back on_handshake_reply / on_handshake_failed with `attempt`).
struct send_handshake {
  uint64_t attempt = 0;
  rpc::request_options request;
};
/// Rule 5: DHT-ping `to`; feed back on_lan_ping.
struct lan_ping {
  enc::ipv4_address to;
};
/// Done: open the UDX stream to `to` (remote id `remote_udx_id`) and start
/// secret-stream from `handshake`.
struct open_stream {
  enc::ipv4_address to;
  uint32_t remote_udx_id = 0;
  noise::peer_handshake_result handshake;
  noise::noise_payload payload;     // the server's
  bool relayed = false;
  enc::ipv4_address relay_address;  // the node whose reply won
  enc::ipv4_address server_address;
  enc::ipv4_address client_address;
  int rule = 0;                     // which rule of §2.6 chose `to` (1, 2, 3, 5)
};
/// Done: failed.
struct connect_failed {
  connect_error error;
  std::string text;
};
/// Stop the FIND_PEER query (a winner was found or the connect ended).
struct cancel_query {};

using connect_action = std::variant<send_handshake, lan_ping, open_stream, connect_failed, cancel_query>;

class client_connect {
public:
  using time_point = std::chrono::steady_clock::time_point;

  client_connect(const noise::keypair& our_keys, const key32& server_public_key,
                 uint32_t our_udx_id, time_point now, client_connect_config cfg = {});
  ~client_connect();

  /// hash(server public key): the FIND_PEER target and the handshake target.
  const key32& target() const { return target_; }

  /// One FIND_PEER query reply. Replies without a (decodable) peer record
  /// are skipped, as mapFindPeer does.
  void on_find_peer_reply(const rpc::reply& r);
  /// The query ended (error: it failed as a whole).
  void on_find_peer_done(const std::optional<std::string>& error = std::nullopt);
  /// The response to handshake `attempt`.
  void on_handshake_reply(uint64_t attempt, const rpc::reply& r, time_point now);
  /// Handshake `attempt` failed in the dht layer (timeout, ...).
  void on_handshake_failed(uint64_t attempt, const std::string& why);
  /// Rule 1: a UDX packet for our id arrived from `from` before the stream
  /// was connected.
  void on_server_packet(const enc::ipv4_address& from);
  /// The LAN ping's outcome.
  void on_lan_ping(bool answered);
  void on_timeout(time_point now);

  std::optional<connect_action> next_action();
  std::optional<time_point> wake_at() const;
  bool done() const { return state_ == state::done; }

  struct stats {
    uint64_t find_peer_replies = 0, records = 0, attempts = 0, bad_replies = 0,
             failed_requests = 0, stale_replies = 0;
  };
  const stats& counters() const { return stats_; }

private:
  enum class state { finding, lan, done };
  struct attempt_info {
    uint64_t id;
    enc::ipv4_address to;
    uint64_t generation;
  };

  void pump();
  void start_attempt(const enc::ipv4_address& to);
  void won(const handshake_message& hs, const rpc::reply& r, const attempt_info& a, time_point now);
  void choose_route(time_point now);
  void finish_stream(const enc::ipv4_address& to, int rule);
  void fail(connect_error e, std::string text);
  void maybe_exhausted();

  noise::keypair keys_;
  key32 server_pk_{};
  key32 target_{};
  uint32_t udx_id_;
  client_connect_config cfg_;
  state state_ = state::finding;
  time_point deadline_;

  std::unique_ptr<noise::peer_handshake> hs_;
  bytes request_noise_;    // our first Noise message, sent to every node
  uint64_t generation_ = 0;  // bumps when a bad reply kills the handshake

  bool query_done_ = false;
  std::deque<enc::ipv4_address> queued_;
  std::vector<enc::ipv4_address> tried_;
  std::vector<attempt_info> in_flight_;
  uint64_t next_attempt_ = 1;

  std::optional<enc::ipv4_address> early_packet_from_;
  std::optional<open_stream> winner_;
  enc::ipv4_address lan_target_;
  bool lan_holepunchable_ = false;
  std::deque<connect_action> actions_;
  stats stats_;
};

} // namespace ht::hyperdht
