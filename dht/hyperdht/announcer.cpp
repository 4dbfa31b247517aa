#include "dht/hyperdht/announcer.hpp"

#include <algorithm>

#include "dht/hyperdht/constants.hpp"
#include "dht/hyperdht/signing.hpp"

namespace ht::hyperdht {

namespace {

bool contains(const std::vector<ipv4_address>& v, const ipv4_address& a) {
  return std::find(v.begin(), v.end(), a) != v.end();
}

bytes encode_announce(const announce_message& m) {
  enc::writer w;
  m.encode(w);
  return w.take();
}

} // namespace

announcer::announcer(const noise::keypair& kp, announcer_config cfg) : kp_(kp), cfg_(cfg) {
  target_ = hash32(kp_.public_key);
  peer_record rec{kp_.public_key, {}};
  enc::writer w;
  rec.encode(w);
  record_ = w.take();
}

uint64_t announcer::send(announcer_output out) {
  uint64_t id = next_id_++;
  std::visit([id](auto& o) { o.id = id; }, out);
  out_.push_back(std::move(out));
  return id;
}

size_t announcer::open(kind k) const {
  return static_cast<size_t>(
    std::count_if(pending_.begin(), pending_.end(), [k](const auto& p) { return p.second.what == k; }));
}

std::optional<announcer_output> announcer::poll_output() {
  if (out_.empty())
    return std::nullopt;
  auto o = std::move(out_.front());
  out_.pop_front();
  return o;
}

void announcer::start(time_point now) {
  if (phase_ != phase::idle || stopping_)
    return;
  begin_update(now);
}

void announcer::refresh() {
  if (!stopping_)
    refreshing_ = true;
}

void announcer::begin_update(time_point now) {
  (void)now;
  refreshing_ = false;
  wake_.reset();
  // _cycle: the oldest generation is reused for this update's relays.
  generations_[0] = std::move(generations_[1]);
  generations_[1] = std::move(generations_[2]);
  generations_[2].clear();
  next_relays_.clear();

  rpc::query_options q;
  q.target = target_;
  q.command = command::find_peer;
  q.nodes = closest_nodes_;  // findPeer(target, {hash: false, nodes: _closestNodes})
  uint64_t id = send(announcer_query{0, std::move(q)});
  pending_[id] = pending{kind::query, {}, std::nullopt};
  phase_ = phase::querying;
}

void announcer::on_query_done(uint64_t id, const std::vector<rpc::reply>& closest, time_point now) {
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.what != kind::query)
    return;
  pending_.erase(it);
  if (stopping_ || phase_ != phase::querying)
    return;
  // A failed query still leaves its closest replies (announcer.js ignores the error).
  last_empty_ = closest.empty();
  if (last_empty_)
    ++stats_.empty_updates;
  closest_nodes_.clear();
  for (const auto& r : closest)
    closest_nodes_.push_back(r.from);

  // _commit to the first 3 replies (pickBest). A reply without a token or an
  // id cannot be signed for; JS would sign garbage and get no answer.
  size_t taken = 0;
  for (const auto& r : closest) {
    if (taken == cfg_.announce_to)
      break;
    ++taken;
    if (!r.token || !r.from_id)
      continue;
    announce_message ann;
    ann.peer = peer_record{kp_.public_key, {}};
    ann.signature = sign_announce(target_, *r.token, *r.from_id, ann, kp_);
    rpc::request_options req;
    req.to = r.from;
    req.command = command::announce;
    req.target = target_;
    req.token = r.token;
    req.value = encode_announce(ann);
    uint64_t rid = send(announcer_request{0, std::move(req)});
    pending_[rid] = pending{kind::commit, r.from, r};
  }
  phase_ = phase::committing;
  if (open(kind::commit) == 0)
    end_commits(now);
}

void announcer::on_response(uint64_t id, const std::optional<rpc::reply>& res, time_point now) {
  auto it = pending_.find(id);
  if (it == pending_.end())
    return;
  pending p = std::move(it->second);
  pending_.erase(it);
  switch (p.what) {
    case kind::query:
      break;
    case kind::commit:
      if (res && res->error == 0) {
        ++stats_.announced;
        next_relays_.push_back(noise::relay_info{p.msg->from, p.msg->to});
        if (!contains(generations_[2], p.msg->from))
          generations_[2].push_back(p.msg->from);
      } else {
        ++stats_.announce_failed;
      }
      if (phase_ == phase::committing && !stopping_ && open(kind::commit) == 0)
        end_commits(now);
      break;
    case kind::ping:
      if (res)
        ++ping_answers_;
      else
        ++stats_.ping_failures;
      if (phase_ == phase::pinging && !stopping_ && open(kind::ping) == 0)
        after_pings(now);
      break;
    case kind::unannounce_find: {
      // _unannounce: only a node that still has our record (value) is asked.
      if (!res || !res->token || !res->from_id || !res->value)
        break;
      announce_message un;
      un.peer = peer_record{kp_.public_key, {}};
      un.signature = sign_unannounce(target_, *res->token, *res->from_id, un, kp_);
      rpc::request_options req;
      req.to = p.to;
      req.command = command::unannounce;
      req.target = target_;
      req.token = res->token;
      req.value = encode_announce(un);
      uint64_t rid = send(announcer_request{0, std::move(req)});
      pending_[rid] = pending{kind::unannounce, p.to, std::nullopt};
      ++stats_.unannounced;
      break;
    }
    case kind::unannounce:
      break;
  }
}

void announcer::end_commits(time_point now) {
  ++stats_.updates;
  relays_ = next_relays_;
  // Relays of the previous update that are not relays any more.
  for (const auto& old : generations_[1])
    if (!contains(generations_[2], old))
      unannounce(old);
  if (relays_.empty()) {
    // Nothing stores us: try again soon rather than in 5 minutes (see header).
    retry_ = retry_.count() == 0 ? cfg_.retry_min : std::min(retry_ * 2, cfg_.retry_max);
    phase_ = phase::sleeping;
    round_ = cfg_.rounds_per_update;  // the wake-up runs an update
    wake_ = now + retry_;
    return;
  }
  retry_ = std::chrono::milliseconds{0};
  round_ = 0;
  begin_pings(now);
}

void announcer::begin_pings(time_point now) {
  wake_.reset();
  if (refreshing_ || round_ >= cfg_.rounds_per_update) {
    begin_update(now);
    return;
  }
  phase_ = phase::pinging;
  ping_answers_ = 0;
  ping_sent_ = 0;
  for (const auto& node : generations_[2]) {
    rpc::request_options req;
    req.to = node;
    req.internal = true;
    req.command = static_cast<uint64_t>(rpc::internal_command::ping);
    uint64_t rid = send(announcer_request{0, std::move(req)});
    pending_[rid] = pending{kind::ping, node, std::nullopt};
    ++ping_sent_;
    ++stats_.pings;
  }
  if (ping_sent_ == 0)
    after_pings(now);
}

void announcer::after_pings(time_point now) {
  ++round_;
  // We lost too many relay nodes: re-announce at once.
  if (ping_answers_ < std::min<size_t>(ping_sent_, cfg_.min_active))
    refreshing_ = true;
  if (refreshing_ || round_ >= cfg_.rounds_per_update) {
    begin_update(now);
    return;
  }
  phase_ = phase::sleeping;
  wake_ = now + cfg_.ping_interval;
}

void announcer::on_timeout(time_point now) {
  if (!wake_ || now < *wake_ || stopping_)
    return;
  wake_.reset();
  if (phase_ == phase::sleeping)
    begin_pings(now);
}

void announcer::unannounce(const ipv4_address& to) {
  rpc::request_options req;
  req.to = to;
  req.command = command::find_peer;
  req.target = target_;
  uint64_t rid = send(announcer_request{0, std::move(req)});
  pending_[rid] = pending{kind::unannounce_find, to, std::nullopt};
}

void announcer::stop(time_point now) {
  (void)now;
  if (stopping_)
    return;
  stopping_ = true;
  wake_.reset();
  // Whatever is in flight no longer matters, except unannounces.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.what == kind::unannounce_find || it->second.what == kind::unannounce)
      ++it;
    else
      it = pending_.erase(it);
  }
  out_.erase(std::remove_if(out_.begin(), out_.end(),
                            [this](const announcer_output& o) {
                              uint64_t id = std::visit([](const auto& x) { return x.id; }, o);
                              return pending_.count(id) == 0;
                            }),
             out_.end());
  // _unannounceCurrent: the relays this update committed to, plus any
  // the running update had reached already.
  std::vector<ipv4_address> all = generations_[2];
  if (phase_ == phase::committing || phase_ == phase::querying)
    for (const auto& a : generations_[1])
      if (!contains(all, a))
        all.push_back(a);
  for (const auto& a : all)
    unannounce(a);
  relays_.clear();
  phase_ = phase::stopped;
}

} // namespace ht::hyperdht
