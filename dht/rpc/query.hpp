#pragma once
// dht-rpc's iterative query (6.27.0 lib/query.js) as a state machine: no
// requests of its own, no clock. The node feeds it the outcome of each
// request it asked for and carries out the actions it emits (visit a node,
// send a DOWN_HINT, commit to a closest node).
//
// Rules kept from query.js:
// - seeds: the given nodes (first one visited first); fewer than k of them
//   are topped up with the table's closest, then the bootstrap nodes, which
//   the LIFO visits first (query.js:50-62, 111-131);
// - pending nodes are popped LIFO and only visited while closer than the
//   k-th best reply (query.js:176-185); at most `concurrency` visits in
//   flight, plus one per visit that is being resent ("slow", query.js:312);
//   with given seeds, 3 until the first answers arrive (query.js:187-191);
// - closest replies: error 0 and a valid id, at most k, XOR-sorted;
// - the closerNodes of a reply are scanned up to the first node that is not
//   closer (query.js:272-281); we also read at most 20 of them (what JS
//   nodes send), so a reply cannot make a query hold more than 20 new nodes;
// - a visit that times out marks its node down and sends DOWN_HINT to every
//   node that referred it, and to any node that refers it later
//   (query.js:151-154, 298-310, 318-332);
// - the end (query.js:193-209): nothing pending and nothing in flight, or
//   only slow visits left and k replies; if the seeds were given and fewer
//   than k/4 answered, the table is tried once more;
// - commit (query.js:211-248, 392-403): the same command and value with the
//   reply's token to each closest reply; done once all commits ended, failed
//   if none succeeded ("Too few nodes responded" with no closest replies).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dht/rpc/node.hpp"

namespace ht::rpc {

/// 48-bit key of an address (host and port), for maps.
inline uint64_t address_key(const ipv4_address& a) {
  return (uint64_t(a.host[0]) << 40) | (uint64_t(a.host[1]) << 32) |
         (uint64_t(a.host[2]) << 24) | (uint64_t(a.host[3]) << 16) | a.port;
}

struct query_params {
  key32 target{};
  bool internal = true;
  uint64_t command = 0;
  std::optional<bytes> value;
  size_t k = 20;
  size_t concurrency = 10;
  bool commit = false;
  key32 self_id{};  // our table id: never visited
};

class query_machine {
public:
  struct action {
    enum kind_t {
      visit,      // request {internal, command, target, value} to `to`
      down_hint,  // internal DOWN_HINT to `to`, value = encoded `down`
      commit,     // request {command, target, value, token} to `to` (not internal)
    };
    kind_t kind = visit;
    ipv4_address to;
    ipv4_address down;  // down_hint
    key32 token{};      // commit
  };
  /// Gives up to n table nodes closest to the target (the node's table).
  using table_source = std::function<std::vector<ipv4_address>(size_t n)>;

  query_machine(query_params p, table_source table, std::vector<ipv4_address> bootstrap);

  /// Seeds given by the caller (query_options::nodes), in visiting order.
  void seed(const std::vector<ipv4_address>& nodes);
  /// Opens the query (fills seeds from the table and bootstrap when none
  /// were given) and emits the first visits.
  void start();

  // Outcomes of the requests the actions started.
  void on_reply(const ipv4_address& to, const reply& r);
  void on_error(const ipv4_address& to, bool timeout);
  /// A visit's send timed out and it is being resent (query.js _oncycle).
  void on_cycle(const ipv4_address& to);
  void on_commit_done(bool ok, const std::string& error);

  std::vector<action> take_actions();
  /// Replies to stream to the layer above (error 0 only, as query.js pushes).
  std::vector<reply> take_replies();

  void set_concurrency(size_t c) { p_.concurrency = c; }
  bool finished() const { return finished_; }
  bool committing() const { return committing_; }
  const std::vector<reply>& closest() const { return closest_; }
  const std::optional<std::string>& error() const { return error_; }
  size_t successes() const { return successes_; }
  size_t errors() const { return errors_; }
  size_t in_flight() const { return inflight_; }
  size_t pending() const { return pending_.size(); }
  const query_params& params() const { return p_; }

private:
  struct candidate {
    ipv4_address addr;
    key32 id;
  };
  enum class seen_state { referred, done, down };
  struct seen_entry {
    seen_state state = seen_state::referred;
    std::vector<ipv4_address> refs;  // who told us about it (while referred)
  };
  struct visit_state {
    bool cycled = false;
  };

  bool is_closer(const key32& id) const;
  bool add_pending(const ipv4_address& addr, const std::optional<ipv4_address>& ref);
  void add_from_table();
  void read_more();
  void flush();
  void visit(const candidate& c);
  void dec(const ipv4_address& to);
  void push_closest(const reply& r);
  void finish(std::optional<std::string> error);

  query_params p_;
  table_source table_;
  std::vector<ipv4_address> bootstrap_;
  std::vector<ipv4_address> seeds_;
  bool from_table_ = false;
  bool slowdown_ = false;
  bool committing_ = false;
  bool finished_ = false;
  size_t inflight_ = 0, slow_ = 0;
  size_t successes_ = 0, errors_ = 0;
  std::vector<candidate> pending_;  // LIFO
  std::unordered_map<uint64_t, seen_entry> seen_;
  std::unordered_map<uint64_t, visit_state> visits_;
  std::vector<reply> closest_;
  std::vector<action> actions_;
  std::vector<reply> replies_;
  size_t commits_pending_ = 0, commits_ok_ = 0;
  std::optional<std::string> error_;
};

} // namespace ht::rpc
