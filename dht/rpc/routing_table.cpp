#include "dht/rpc/routing_table.hpp"

#include <algorithm>

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
// then rows d+1..255 together, then rows d-1, d-2, ..., 0, each group
// sorted on its own.
std::vector<const table_node*> routing_table::closest(const key32& target, size_t n) const {
  std::vector<const table_node*> out;
  if (n == 0) return out;
  const size_t d = row_of(target);
  auto by_distance = [&](const table_node* a, const table_node* b) {
    return compare_distance(target, a->id, b->id) < 0;
  };
  auto take = [&](std::vector<const table_node*>& group) {
    std::sort(group.begin(), group.end(), by_distance);
    for (const table_node* p : group) {
      if (out.size() >= n) break;
      out.push_back(p);
    }
  };
  std::vector<const table_node*> group;
  for (const auto& s : rows_[d]) group.push_back(&s.node);
  take(group);
  group.clear();
  for (size_t i = d + 1; i < rows && out.size() < n; i++)
    for (const auto& s : rows_[i]) group.push_back(&s.node);
  if (out.size() < n) take(group);
  for (size_t i = d; i-- > 0 && out.size() < n;) {
    group.clear();
    for (const auto& s : rows_[i]) group.push_back(&s.node);
    take(group);
  }
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
