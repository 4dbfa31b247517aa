#pragma once
// dht-rpc's Kademlia routing table (npm kademlia-routing-table 1.x, as
// dht-rpc 6.27.0 uses it together with its time-ordered node set).
//
// 256 rows indexed by the length of the prefix a node id shares with ours,
// at most k nodes per row. On top of the JS table this one also keeps the
// recency order dht-rpc keeps in index.js `this.nodes` (a time-ordered set):
// a node seen again becomes the most recent, liveness pings go to the
// oldest. closest() is an exact XOR sort (the JS table is only row-sorted).
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <random>
#include <vector>

#include "dht/rpc/message.hpp"

namespace ht::rpc {

/// How a's distance to target compares to b's: <0 closer, 0 equal, >0 farther.
int compare_distance(const key32& target, const key32& a, const key32& b);
/// The number of leading bits a and b share (256 when equal).
size_t shared_prefix_bits(const key32& a, const key32& b);

/// One routing-table entry. Times are node ticks (5 s), as in index.js.
struct table_node {
  key32 id{};
  ipv4_address addr;
  std::optional<ipv4_address> to;  // how this node saw us when it was added
  uint64_t added = 0;              // tick it was added
  uint64_t pinged = 0;             // tick we last interacted with it
  uint64_t seen = 0;               // tick we last heard from it
  uint64_t sampled = 0;            // tick its `to` last went into the NAT sampler (0: never)
  uint64_t seen_seq = 0;           // strictly increasing "heard from it" stamp
  uint32_t down_hints = 0;         // DOWN_HINTs received about it
};

class routing_table {
public:
  static constexpr size_t rows = 256;

  explicit routing_table(const key32& id, size_t k = 20);
  routing_table(const routing_table&) = delete;
  routing_table& operator=(const routing_table&) = delete;

  const key32& id() const { return id_; }
  size_t k() const { return k_; }
  size_t size() const { return size_; }

  /// The row a node id belongs to: its shared-prefix length with our id
  /// (row 255 also holds an id equal to ours, as in the JS table).
  size_t row_of(const key32& node_id) const;

  enum class add_result {
    added,    // new entry, now the most recent
    updated,  // already present: replaced and made the most recent
    full,     // its row holds k nodes: see eviction_candidate()
    self,     // our own id: never stored
  };
  add_result add(const table_node& n);
  bool remove(const key32& id);
  table_node* get(const key32& id);
  const table_node* get(const key32& id) const;
  /// Makes a stored node the most recent one (dht-rpc `nodes.add(oldNode)`).
  void touch(const key32& id);

  /// Up to n nodes, exactly sorted by XOR distance to target.
  std::vector<const table_node*> closest(const key32& target, size_t n) const;
  /// The same into out (cleared first), allocating nothing once out and
  /// the table's scratch space have grown to n: the FIND_NODE hot path.
  void closest(const key32& target, size_t n, std::vector<const table_node*>& out) const;
  /// Up to n nodes, least recently seen first (liveness pings).
  std::vector<const table_node*> oldest(size_t n) const;
  /// Up to n nodes, most recently seen first.
  std::vector<const table_node*> latest(size_t n) const;
  /// All nodes, least recently seen first.
  std::vector<table_node> snapshot() const;
  /// The nodes of row i (unordered).
  std::vector<const table_node*> row(size_t i) const;

  /// The node of id's row to ping before anything else may enter it
  /// (index.js _onfullrow): the least recently pinged, then the oldest
  /// added, skipping nodes pinged during `tick`. None if every node of the
  /// row was pinged this tick.
  const table_node* eviction_candidate(const key32& id, uint64_t tick) const;

  /// A random id that falls into row i (shares exactly i bits with ours),
  /// for refreshing that row.
  key32 random_id_in_row(size_t i, std::mt19937_64& rng) const;
  /// A uniformly chosen stored node, or none if empty.
  const table_node* random_node(std::mt19937_64& rng) const;

private:
  struct slot {
    table_node node;
    std::list<key32>::iterator age;  // position in order_
  };
  slot* find(const key32& id);
  const slot* find(const key32& id) const;

  /// XOR distance to a target as four big-endian words: compares as the
  /// 32-byte distance does, in at most four steps.
  struct distance_key {
    uint64_t w[4];
  };
  void mark_row(size_t i, bool nonempty);
  size_t next_row(size_t i) const;  // first non-empty row >= i, or rows
  size_t prev_row(size_t i) const;  // last non-empty row < i, or rows
  key32 id_;
  size_t k_;
  uint64_t nonempty_[4] = {0, 0, 0, 0};  // bit i: rows_[i] holds nodes
  struct candidate {
    distance_key key;
    const table_node* node;
  };
  mutable std::vector<candidate> keys_;  // closest(): the best so far, sorted
  size_t size_ = 0;
  std::vector<std::vector<slot>> rows_;  // rows_[i]: at most k slots, unordered
  std::list<key32> order_;               // ids, least recently seen first
};

} // namespace ht::rpc
