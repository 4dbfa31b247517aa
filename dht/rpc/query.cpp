#include "dht/rpc/query.hpp"

#include "dht/rpc/routing_table.hpp"

namespace ht::rpc {

namespace {
// A referred node remembers at most this many referrers for DOWN_HINTs.
constexpr size_t max_refs = 32;
// closerNodes read per reply: JS nodes send at most k = 20 (table.closest).
constexpr size_t max_closer_nodes = 20;
} // namespace

query_machine::query_machine(query_params p, table_source table,
                             std::vector<ipv4_address> bootstrap)
  : p_(std::move(p)), table_(std::move(table)), bootstrap_(std::move(bootstrap)) {}

void query_machine::seed(const std::vector<ipv4_address>& nodes) {
  // Added in reverse so the LIFO pops the first one first (query.js:50-62).
  for (size_t i = nodes.size(); i-- > 0;) add_pending(nodes[i], std::nullopt);
}

void query_machine::start() {
  // query.js _open (122-131): the table tops up whatever seeds we have,
  // then the bootstrap nodes if that is still fewer than k.
  add_from_table();
  if (pending_.size() < p_.k)
    for (const auto& b : bootstrap_) add_pending(b, std::nullopt);
  read_more();
}

bool query_machine::is_closer(const key32& id) const {
  return closest_.size() < p_.k ||
         compare_distance(p_.target, id, *closest_.back().from_id) < 0;
}

bool query_machine::add_pending(const ipv4_address& addr, const std::optional<ipv4_address>& ref) {
  const uint64_t key = address_key(addr);
  const key32 id = node_id(addr);
  const bool closer = is_closer(id);
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    seen_entry& e = it->second;
    if (e.state == seen_state::down) {
      if (ref) actions_.push_back({action::down_hint, *ref, addr, {}});
    } else if (e.state == seen_state::referred && ref && e.refs.size() < max_refs) {
      e.refs.push_back(*ref);
    }
    return closer;
  }
  if (!closer) return false;
  seen_entry e;
  if (ref) e.refs.push_back(*ref);
  seen_.emplace(key, std::move(e));
  pending_.push_back({addr, id});
  return true;
}

void query_machine::add_from_table() {
  if (pending_.size() >= p_.k) return;
  from_table_ = true;
  if (!table_) return;
  for (const auto& a : table_(p_.k - pending_.size())) add_pending(a, std::nullopt);
}

void query_machine::read_more() {
  if (finished_ || committing_) return;
  const size_t concurrency = (slowdown_ ? 3 : p_.concurrency) + slow_;
  while (inflight_ < concurrency && !pending_.empty()) {
    candidate c = pending_.back();
    pending_.pop_back();
    if (!is_closer(c.id)) continue;
    visit(c);
  }
  // Seeds given by the caller (cached closest nodes): let the first ones
  // answer before going wide (query.js:187-191).
  if (!from_table_ && successes_ == 0 && errors_ == 0) slowdown_ = true;
  if (!pending_.empty()) return;
  if (inflight_ == 0 || (slow_ == inflight_ && closest_.size() >= p_.k)) {
    if (!from_table_ && successes_ * 4 < p_.k) {
      add_from_table();
      read_more();
      return;
    }
    flush();
  }
}

void query_machine::visit(const candidate& c) {
  inflight_++;
  visits_[address_key(c.addr)] = visit_state{};
  actions_.push_back({action::visit, c.addr, {}, {}});
}

void query_machine::dec(const ipv4_address& to) {
  auto v = visits_.find(address_key(to));
  if (v->second.cycled) slow_--;
  visits_.erase(v);
  inflight_--;
}

void query_machine::push_closest(const reply& r) {
  size_t i = closest_.size();
  while (i > 0) {
    const int cmp = compare_distance(p_.target, *closest_[i - 1].from_id, *r.from_id);
    if (cmp == 0) return;  // already there (query.js keeps the first)
    if (cmp < 0) break;
    i--;
  }
  closest_.insert(closest_.begin() + ptrdiff_t(i), r);
  if (closest_.size() > p_.k) closest_.pop_back();
}

void query_machine::on_reply(const ipv4_address& to, const reply& r) {
  if (finished_ || !visits_.count(address_key(to))) return;
  dec(to);
  seen_[address_key(to)] = seen_entry{seen_state::done, {}};
  if (committing_) return;

  if (r.error == 0) successes_++;
  else errors_++;
  if (r.error == 0 && r.from_id && is_closer(*r.from_id)) push_closest(r);

  size_t scanned = 0;
  for (const auto& n : r.closer_nodes) {
    if (scanned++ >= max_closer_nodes) break;
    if (node_id(n) == p_.self_id) continue;
    if (!add_pending(n, r.from)) break;
  }
  if (!from_table_ && successes_ + errors_ >= p_.concurrency) slowdown_ = false;
  if (r.error == 0) replies_.push_back(r);
  read_more();
}

void query_machine::on_error(const ipv4_address& to, bool timeout) {
  if (finished_ || !visits_.count(address_key(to))) return;
  seen_entry& e = seen_[address_key(to)];
  if (timeout) {
    std::vector<ipv4_address> refs = std::move(e.refs);
    e = seen_entry{seen_state::down, {}};
    for (const auto& ref : refs) actions_.push_back({action::down_hint, ref, to, {}});
  }
  dec(to);
  errors_++;
  read_more();
}

void query_machine::on_cycle(const ipv4_address& to) {
  auto v = visits_.find(address_key(to));
  if (finished_ || v == visits_.end() || v->second.cycled) return;
  v->second.cycled = true;
  slow_++;
  read_more();
}

void query_machine::flush() {
  if (committing_) return;
  committing_ = true;
  if (!p_.commit) {
    finish(std::nullopt);
    return;
  }
  if (closest_.empty()) {
    finish(std::string("Too few nodes responded"));
    return;
  }
  commits_pending_ = closest_.size();
  size_t missing = 0;
  for (const auto& r : closest_) {
    if (r.token) actions_.push_back({action::commit, r.from, {}, *r.token});
    else missing++;
  }
  for (size_t i = 0; i < missing; i++)
    on_commit_done(false, "No token received for closest node");
}

void query_machine::on_commit_done(bool ok, const std::string& error) {
  if (finished_ || commits_pending_ == 0) return;
  commits_pending_--;
  if (ok) commits_ok_++;
  else error_ = error;  // the last failure is reported if all fail
  if (commits_pending_ > 0) return;
  if (commits_ok_ > 0) finish(std::nullopt);
  else finish(error_);
}

void query_machine::finish(std::optional<std::string> error) {
  finished_ = true;
  error_ = std::move(error);
}

std::vector<query_machine::action> query_machine::take_actions() {
  std::vector<action> out;
  out.swap(actions_);
  return out;
}

std::vector<reply> query_machine::take_replies() {
  std::vector<reply> out;
  out.swap(replies_);
  return out;
}

} // namespace ht::rpc
