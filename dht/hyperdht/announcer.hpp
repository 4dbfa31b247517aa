#pragma once
// A listening server's announcer (hyperdht/lib/announcer.js, server.js:150-203),
// sans-IO: it asks for dht-rpc queries and requests (poll_output), is told
// their outcomes (on_query_done / on_response) and the time, and says when
// it wants to wake (poll_timeout).
//
// One update (announcer.js _update):
//   1. rotate the three relay generations (_cycle);
//   2. FIND_PEER query toward target = hash(pk), seeded with the previous
//      update's closest nodes;
//   3. for the first 3 closest replies that carry a token and a node id,
//      ANNOUNCE {peer: {pk, []}} signed for that node and token (_commit);
//      each success adds {relayAddress: reply.from, peerAddress: reply.to}
//      to the relays the handshake payload advertises;
//   4. UNANNOUNCE the relays of the previous generation that dropped out.
// Between updates (announcer.js _background): ping every relay each 3 s;
// fewer than min(n, 3) answers trigger an update at once, and after 100
// rounds (~5 min) an update runs anyway. stop() unannounces the current
// relays: FIND_PEER for a fresh token, then a signed UNANNOUNCE.
//
// One difference, on purpose: an update that leaves no relay at all (no
// node answered, e.g. the bootstrap nodes are down) is retried after a
// backoff (1 s doubling to 30 s) instead of after 100 empty ping rounds.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "dht/hyperdht/messages.hpp"
#include "dht/noise/crypto.hpp"
#include "dht/noise/payload.hpp"
#include "dht/rpc/node.hpp"

namespace ht::hyperdht {

struct announcer_config {
  std::chrono::milliseconds ping_interval{3000};  // announcer.js sleeper.pause(3000)
  unsigned rounds_per_update = 100;               // ~5 min between updates
  size_t announce_to = 3;                         // pickBest: replies.slice(0, 3)
  size_t min_active = 3;                          // MIN_ACTIVE
  std::chrono::milliseconds retry_min{1000};      // ours: no relay at all -> retry
  std::chrono::milliseconds retry_max{30000};
};

/// Run a dht-rpc query; report its end with on_query_done(id, ...).
struct announcer_query {
  uint64_t id = 0;
  rpc::query_options opts;
};
/// Send one request (with retries); report with on_response(id, reply or none).
struct announcer_request {
  uint64_t id = 0;
  rpc::request_options opts;
};
using announcer_output = std::variant<announcer_query, announcer_request>;

struct announcer_stats {
  uint64_t updates = 0;
  uint64_t empty_updates = 0;     // updates whose query got no reply at all
  uint64_t announced = 0;         // ANNOUNCEs answered without error
  uint64_t announce_failed = 0;
  uint64_t pings = 0, ping_failures = 0;
  uint64_t unannounced = 0;       // UNANNOUNCEs sent
};

class announcer {
public:
  using time_point = rpc::time_point;

  explicit announcer(const noise::keypair& kp, announcer_config cfg = {});

  const key32& target() const { return target_; }
  /// The encoded record {pk, relayAddresses: []} the local router entry holds.
  const bytes& record() const { return record_; }

  /// Starts the first update.
  void start(time_point now);
  /// Re-announces as soon as the current step is over (announcer.refresh()).
  void refresh();
  /// Stops updating and unannounces the current relays; stopped() once done.
  void stop(time_point now);

  void on_query_done(uint64_t id, const std::vector<rpc::reply>& closest, time_point now);
  void on_response(uint64_t id, const std::optional<rpc::reply>& res, time_point now);
  void on_timeout(time_point now);

  std::optional<announcer_output> poll_output();
  std::optional<time_point> poll_timeout() const { return wake_; }

  /// The relays the handshake payload advertises (holepunch.relays).
  const std::vector<noise::relay_info>& relays() const { return relays_; }
  /// At least one node stores our announce.
  bool announced() const { return !relays_.empty(); }
  /// Updates done so far (the first one ends start()'s work).
  uint64_t updates_done() const { return stats_.updates; }
  /// The last update's FIND_PEER query got no reply at all.
  bool last_update_empty() const { return last_empty_; }
  bool stopping() const { return stopping_; }
  /// stop() was called and every unannounce is answered or failed.
  bool stopped() const { return stopping_ && pending_.empty(); }
  const announcer_stats& stats() const { return stats_; }

private:
  enum class phase { idle, querying, committing, pinging, sleeping, stopped };
  enum class kind { query, commit, ping, unannounce_find, unannounce };
  struct pending {
    kind what = kind::query;
    ipv4_address to;
    std::optional<rpc::reply> msg;  // commit: the query reply it answers
  };

  void begin_update(time_point now);
  void end_commits(time_point now);
  void begin_pings(time_point now);
  void after_pings(time_point now);
  void unannounce(const ipv4_address& to);
  uint64_t send(announcer_output out);
  size_t open(kind k) const;

  noise::keypair kp_;
  announcer_config cfg_;
  key32 target_{};
  bytes record_;

  phase phase_ = phase::idle;
  bool stopping_ = false;
  bool refreshing_ = false;
  bool last_empty_ = false;
  unsigned round_ = 0;
  unsigned ping_answers_ = 0, ping_sent_ = 0;
  std::chrono::milliseconds retry_{0};
  std::optional<time_point> wake_;

  // _serverRelays: [0] oldest .. [2] current update's relays.
  std::vector<ipv4_address> generations_[3];
  std::vector<ipv4_address> closest_nodes_;
  std::vector<noise::relay_info> relays_;       // the current update's, in commit order
  std::vector<noise::relay_info> next_relays_;  // collected while committing

  uint64_t next_id_ = 1;
  std::map<uint64_t, pending> pending_;
  std::deque<announcer_output> out_;
  announcer_stats stats_;
};

} // namespace ht::hyperdht
