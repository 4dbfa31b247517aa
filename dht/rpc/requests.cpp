#include "dht/rpc/requests.hpp"

#include <algorithm>

namespace ht::rpc {

request_table::request_table(config cfg, uint16_t first_tid)
  : cfg_(cfg), tid_(first_tid), cwnd_(cfg.max_window) {
  // One tid per pending request: never more than 65536 at once.
  cfg_.max_pending = std::min<size_t>(cfg_.max_pending, 65536);
}

uint16_t request_table::next_tid() {
  // JS counts up from a random start (io.js:64, 318-320); we also skip tids
  // still in flight so a late response can never be matched to a newer
  // request. submit() guarantees a free tid exists.
  while (by_tid_.count(tid_)) tid_++;
  return tid_++;
}

bool request_table::submit(uint64_t id, request_spec spec, unsigned retries, time_point now,
                           std::optional<duration> timeout) {
  if (closed_ || reqs_.size() >= cfg_.max_pending || reqs_.count(id)) return false;
  state s;
  s.tid = next_tid();
  s.spec = std::move(spec);
  s.retries = retries;
  s.timeout = timeout;
  s.first_sent = now;
  by_tid_[s.tid] = id;
  auto& st = reqs_.emplace(id, std::move(s)).first->second;
  send_or_queue(id, st, now);
  return true;
}

void request_table::send_or_queue(uint64_t id, state& s, time_point now) {
  if (cwnd_.full()) {
    // io.js:439-442: wait for the next drain; no timer runs meanwhile.
    s.queued = true;
    queue_.push_back(id);
    return;
  }
  send_now(id, s, now);
}

void request_table::send_now(uint64_t id, state& s, time_point now) {
  s.queued = false;
  s.sent++;
  sends_++;
  cwnd_.send();
  s.deadline = now + s.timeout.value_or(cfg_.timeout);
  deadlines_.emplace(*s.deadline, id);
  sends_out_.push_back(request_send{id, s.tid, s.sent, s.spec});
}

void request_table::forget(std::unordered_map<uint64_t, state>::iterator it) {
  state& s = it->second;
  by_tid_.erase(s.tid);
  if (s.deadline) deadlines_.erase({*s.deadline, it->first});
  if (s.queued) {
    auto q = std::find(queue_.begin(), queue_.end(), it->first);
    if (q != queue_.end()) queue_.erase(q);
  }
  reqs_.erase(it);
}

bool request_table::cancel(uint64_t id) {
  auto it = reqs_.find(id);
  if (it == reqs_.end()) return false;
  if (it->second.sent > 0) cwnd_.recv();  // as io.js Request.destroy
  forget(it);
  return true;
}

std::optional<request_table::match_result> request_table::match(uint16_t tid,
                                                                const ipv4_address& from,
                                                                time_point now) {
  auto t = by_tid_.find(tid);
  if (t == by_tid_.end()) {
    unmatched_++;
    return std::nullopt;
  }
  auto it = reqs_.find(t->second);
  // JS matches on the tid alone (io.js:110-112); we also require the
  // response to come from where the request went, so a third party cannot
  // answer (or cancel) our requests by guessing tids.
  if (!(it->second.spec.to == from)) {
    unmatched_++;
    return std::nullopt;
  }
  cwnd_.recv();
  match_result r{it->first, now - it->second.first_sent, std::move(it->second.spec)};
  forget(it);
  return r;
}

void request_table::handle_timeout(time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const uint64_t id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = reqs_.find(id);
    if (it == reqs_.end()) continue;
    state& s = it->second;
    s.deadline.reset();
    if (s.sent > s.retries) {
      // io.js oncycle (595-606): the last send went unanswered.
      timeouts_++;
      cwnd_.recv();
      forget(it);
      outcomes_.push_back({id, request_outcome::timeout});
    } else {
      resends_++;
      outcomes_.push_back({id, request_outcome::cycle});
      send_or_queue(id, s, now);
    }
  }
}

void request_table::drain(time_point now) {
  cwnd_.drain();
  while (!cwnd_.full() && !queue_.empty()) {
    const uint64_t id = queue_.front();
    queue_.pop_front();
    auto it = reqs_.find(id);
    if (it == reqs_.end() || !it->second.queued) continue;
    send_now(id, it->second, now);
  }
}

void request_table::close() {
  closed_ = true;
  std::vector<uint64_t> ids;
  ids.reserve(reqs_.size());
  for (const auto& [id, s] : reqs_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) outcomes_.push_back({id, request_outcome::closed});
  reqs_.clear();
  by_tid_.clear();
  deadlines_.clear();
  queue_.clear();
}

std::optional<request_table::time_point> request_table::next_timeout() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

std::vector<request_send> request_table::take_sends() {
  std::vector<request_send> out;
  out.swap(sends_out_);
  return out;
}

std::vector<request_outcome> request_table::take_outcomes() {
  std::vector<request_outcome> out;
  out.swap(outcomes_);
  return out;
}

} // namespace ht::rpc
