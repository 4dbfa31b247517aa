#include "dht/rpc/routing_table.hpp"

#include <algorithm>
#include <cstring>

#include <endian.h>

namespace ht::rpc {

int compare_distance(const key32& target, const key32& a, const key32& b) {
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i] == b[i]) continue;
    const int da = a[i] ^ target[i], db = b[i] ^ target[i];
    return da < db ? -1 : 1;
  }
  return 0;
}

size_t shared_prefix_bits(const key32& a, const key32& b) {
  for (size_t i = 0; i < a.size(); i++) {
    const unsigned x = a[i] ^ b[i];
    if (x == 0) continue;
    size_t lead = 0;
    for (unsigned bit = 0x80; (x & bit) == 0; bit >>= 1) lead++;
    return i * 8 + lead;
  }
  return a.size() * 8;
}

routing_table::routing_table(const key32& id, size_t k) : id_(id), k_(k), rows_(rows) {}

size_t routing_table::row_of(const key32& node_id) const {
  return std::min(shared_prefix_bits(id_, node_id), rows - 1);
}

routing_table::slot* routing_table::find(const key32& id) {
  for (auto& s : rows_[row_of(id)])
    if (s.node.id == id) return &s;
  return nullptr;
}

const routing_table::slot* routing_table::find(const key32& id) const {
  for (const auto& s : rows_[row_of(id)])
    if (s.node.id == id) return &s;
  return nullptr;
}

routing_table::add_result routing_table::add(const table_node& n) {
  if (n.id == id_) return add_result::self;
  if (slot* s = find(n.id)) {
    s->node = n;
    order_.splice(order_.end(), order_, s->age);
    return add_result::updated;
  }
  auto& row = rows_[row_of(n.id)];
  if (row.size() >= k_) return add_result::full;
  order_.push_back(n.id);
  row.push_back(slot{n, std::prev(order_.end())});
  mark_row(row_of(n.id), true);
  size_++;
  return add_result::added;
}

bool routing_table::remove(const key32& id) {
  auto& row = rows_[row_of(id)];
  for (size_t i = 0; i < row.size(); i++) {
    if (row[i].node.id != id) continue;
    order_.erase(row[i].age);
    if (i + 1 != row.size()) row[i] = std::move(row.back());
    row.pop_back();
    if (row.empty()) mark_row(row_of(id), false);
    size_--;
    return true;
  }
  return false;
}

table_node* routing_table::get(const key32& id) {
  slot* s = find(id);
  return s ? &s->node : nullptr;
}

const table_node* routing_table::get(const key32& id) const {
  const slot* s = find(id);
  return s ? &s->node : nullptr;
}

void routing_table::touch(const key32& id) {
  if (slot* s = find(id)) order_.splice(order_.end(), order_, s->age);
}

std::vector<const table_node*> routing_table::row(size_t i) const {
  std::vector<const table_node*> out;
  for (const auto& s : rows_[i]) out.push_back(&s.node);
  return out;
}

// Let d be the row target falls into (it first differs from our id at bit
// d). A node of row i < d differs from target first at bit i; every node of
// a row i > d differs from target first at bit d; nodes of row d agree with
// target at bit d, so they are the closest. Hence the XOR order is: row d,
// then rows d+1..255 together, then rows d-1, d-2, ..., 0, every node of a
// group closer than any node of a later group. So the groups are walked in
// that order, each node inserted into a sorted list bounded to n, and the
// walk stops after the first group that leaves the list full: the rows
// beyond it are never looked at, and nothing is sorted but the n winners.
void routing_table::closest(const key32& target, size_t n, std::vector<const table_node*>& out) const {
  out.clear();
  keys_.clear();
  if (n == 0 || size_ == 0) return;
  // Big-endian words, so that comparing words compares the bytes in order.
  auto word = [](const key32& k, size_t w) {
    uint64_t v;
    std::memcpy(&v, k.data() + w * 8, 8);
    return be64toh(v);
  };
  const distance_key t{{word(target, 0), word(target, 1), word(target, 2), word(target, 3)}};
  auto key_of = [&](const key32& id) {
    return distance_key{{word(id, 0) ^ t.w[0], word(id, 1) ^ t.w[1], word(id, 2) ^ t.w[2],
                         word(id, 3) ^ t.w[3]}};
  };
  auto less = [](const distance_key& a, const distance_key& b) {
    for (size_t w = 0; w < 4; w++)
      if (a.w[w] != b.w[w]) return a.w[w] < b.w[w];
    return false;
  };
  // keys_ holds the best so far, sorted; a node enters only if it beats the
  // last one (or there is room), shifting the farther ones by one.
  auto insert = [&](const table_node& node) {
    const candidate c{key_of(node.id), &node};
    size_t pos = keys_.size();
    if (pos == n) {
      if (!less(c.key, keys_[pos - 1].key)) return;
      pos--;  // the last one drops out
    } else {
      keys_.push_back(c);
    }
    while (pos > 0 && less(c.key, keys_[pos - 1].key)) {
      keys_[pos] = keys_[pos - 1];
      pos--;
    }
    keys_[pos] = c;
  };
  const size_t d = row_of(target);
  for (const auto& s : rows_[d]) insert(s.node);
  if (keys_.size() < n) {
    // Only the rows that hold nodes (a table has a few dozen of 256).
    for (size_t i = next_row(d + 1); i < rows; i = next_row(i + 1))
      for (const auto& s : rows_[i]) insert(s.node);
    for (size_t i = prev_row(d); i < rows && keys_.size() < n; i = prev_row(i))
      for (const auto& s : rows_[i]) insert(s.node);
  }
  for (const candidate& c : keys_) out.push_back(c.node);
}

void routing_table::mark_row(size_t i, bool nonempty) {
  const uint64_t bit = uint64_t(1) << (i % 64);
  if (nonempty) nonempty_[i / 64] |= bit;
  else nonempty_[i / 64] &= ~bit;
}

size_t routing_table::next_row(size_t i) const {
  while (i < rows) {
    const uint64_t m = nonempty_[i / 64] >> (i % 64);
    if (m) return i + size_t(__builtin_ctzll(m));
    i = (i / 64 + 1) * 64;
  }
  return rows;
}

size_t routing_table::prev_row(size_t i) const {
  // The highest non-empty row below i, or `rows` if none.
  while (i > 0) {
    const size_t w = (i - 1) / 64;
    const unsigned used = unsigned((i - 1) % 64) + 1;  // bits [0, used) of word w are below i
    const uint64_t m = used == 64 ? nonempty_[w] : nonempty_[w] & ((uint64_t(1) << used) - 1);
    if (m) return w * 64 + 63 - size_t(__builtin_clzll(m));
    i = w * 64;
  }
  return rows;
}

std::vector<const table_node*> routing_table::closest(const key32& target, size_t n) const {
  std::vector<const table_node*> out;
  closest(target, n, out);
  return out;
}

std::vector<const table_node*> routing_table::oldest(size_t n) const {
  std::vector<const table_node*> out;
  for (auto it = order_.begin(); it != order_.end() && out.size() < n; ++it) out.push_back(get(*it));
  return out;
}

std::vector<const table_node*> routing_table::latest(size_t n) const {
  std::vector<const table_node*> out;
  for (auto it = order_.rbegin(); it != order_.rend() && out.size() < n; ++it) out.push_back(get(*it));
  return out;
}

std::vector<table_node> routing_table::snapshot() const {
  std::vector<table_node> out;
  out.reserve(size_);
  for (const key32& id : order_) out.push_back(*get(id));
  return out;
}

const table_node* routing_table::eviction_candidate(const key32& id, uint64_t tick) const {
  const table_node* best = nullptr;
  for (const auto& s : rows_[row_of(id)]) {
    const table_node& n = s.node;
    if (n.pinged == tick) continue;
    if (!best || n.pinged < best->pinged || (n.pinged == best->pinged && n.added < best->added))
      best = &n;
  }
  return best;
}

key32 routing_table::random_id_in_row(size_t i, std::mt19937_64& rng) const {
  key32 out = id_;
  if (i >= rows) i = rows - 1;
  // Keep bits [0, i), flip bit i, randomize the rest.
  const size_t byte = i / 8;
  const uint8_t bit = uint8_t(0x80 >> (i % 8));
  const uint8_t keep = uint8_t(~((bit << 1) - 1));  // bits above `bit` in that byte
  const uint8_t r = uint8_t(rng());
  out[byte] = uint8_t((id_[byte] & keep) | ((id_[byte] ^ bit) & bit) | (r & (bit - 1)));
  for (size_t j = byte + 1; j < out.size(); j++) out[j] = uint8_t(rng());
  return out;
}

const table_node* routing_table::random_node(std::mt19937_64& rng) const {
  if (size_ == 0) return nullptr;
  size_t n = std::uniform_int_distribution<size_t>(0, size_ - 1)(rng);
  for (const auto& row : rows_) {
    if (n < row.size()) return &row[n].node;
    n -= row.size();
  }
  return nullptr;
}

} // namespace ht::rpc
