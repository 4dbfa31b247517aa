#include "dht/hyperdht/persistent.hpp"

#include <random>

#include "dht/hyperdht/signing.hpp"

namespace ht::hyperdht {

namespace {

constexpr size_t max_relay_addresses = 3;  // persistent.js:120-124

size_t bytes_size(const bytes& b) { return sizeof(bytes) + b.size(); }

// A request's token counts only if it is one of ours (see persistent.hpp).
bool has_valid_token(const rpc::incoming_request& req) { return req.token && req.token_valid; }

template <class T>
std::optional<T> decode_opt(const std::optional<bytes>& value) {
  // persistent.js:309-315: no value or a value that does not decode is null.
  if (!value) return std::nullopt;
  try {
    return decode_value<T>(*value);
  } catch (const enc::error&) {
    return std::nullopt;
  }
}

rpc::reply_options default_reply(std::optional<bytes> value) {
  // dht-rpc's req.reply(value): a token and closer nodes (io.js:413-417).
  rpc::reply_options o;
  o.value = std::move(value);
  return o;
}

error_action error_reply(uint64_t code) {
  // dht-rpc's req.error(code): no token, closer nodes (io.js:419-423).
  rpc::reply_options o;
  o.token = false;
  o.closer_nodes = true;
  return error_action{code, o};
}

uint64_t pick_seed(uint64_t seed) { return seed ? seed : std::random_device{}(); }

} // namespace

persistent::persistent(router& r, persistent_config cfg, time_point now)
  : router_(r),
    cfg_(cfg),
    records_(cfg.records, now, pick_seed(cfg.seed)),
    bumps_(cfg.bumps, now),
    refreshes_(cfg.refreshes, now,
               [](const refresh_entry& e) { return sizeof(refresh_entry) + e.record.size(); }),
    mutables_(cfg.mutables, now, bytes_size),
    immutables_(cfg.immutables, now, bytes_size) {}

void persistent::expire(time_point now) {
  records_.expire(now);
  bumps_.expire(now);
  refreshes_.expire(now);
  mutables_.expire(now);
  immutables_.expire(now);
  router_.expire(now);
}

// --- FIND_PEER / LOOKUP (persistent.js:26-43) ---------------------------------

decision persistent::on_find_peer(const rpc::incoming_request& req, time_point now) {
  if (!req.target) return dropped();
  const forward* fwd = router_.get(*req.target, now);
  return reply_action{default_reply(fwd ? std::optional<bytes>(fwd->record) : std::nullopt)};
}

decision persistent::on_lookup(const rpc::incoming_request& req, time_point now) {
  if (!req.target) return dropped();
  std::vector<const bytes*> recs = records_.get(*req.target, cfg_.max_lookup_records, now);
  const uint64_t* bump = bumps_.get(*req.target, now);
  const forward* fwd = router_.get(*req.target, now);
  if (fwd && recs.size() < cfg_.max_lookup_records) recs.push_back(&fwd->record);
  if (recs.empty()) return reply_action{default_reply(std::nullopt)};
  return reply_action{default_reply(encode_lookup_reply(recs, bump ? *bump : 0))};
}

// --- ANNOUNCE / UNANNOUNCE (persistent.js:45-151) --------------------------------

void persistent::unannounce(const key32& target, const key32& public_key, time_point now) {
  if (hash32(public_key) == target) router_.remove(target);
  records_.remove(target, public_key, now);
}

decision persistent::on_unannounce(const rpc::incoming_request& req, const key32& own_id, time_point now) {
  if (!req.target || !has_valid_token(req)) return dropped();
  auto unann = decode_opt<announce_message>(req.value);
  if (!unann || !unann->peer || !unann->signature) return dropped();
  if (!verify_announce(ns::unannounce(), *req.target, *req.token, own_id, *unann)) return dropped();
  unannounce(*req.target, unann->peer->public_key, now);
  ++stats_.unannounces;
  return reply_action{bare_reply(std::nullopt)};
}

decision persistent::on_refresh(const rpc::incoming_request& req, const key32& refresh, time_point now) {
  // The announcer committed to hash(refresh) in an earlier signed announce;
  // revealing the preimage re-adds that record (refresh-chain.js).
  const key32 committed = hash32(refresh);
  refresh_entry* found = refreshes_.get(committed, now);
  if (!found) return dropped();
  refresh_entry r = *found;
  key32 public_key{};
  std::copy(r.record.begin(), r.record.begin() + 32, public_key.begin());

  if (r.announce_self) {
    router_.set_forward(r.target, req.from, r.record, now);
    records_.remove(r.target, public_key, now);
  } else {
    records_.add(r.target, public_key, r.record, now);
  }
  refreshes_.erase(committed);
  refreshes_.set(refresh, std::move(r), now);
  ++stats_.refreshes;
  return reply_action{bare_reply(std::nullopt)};
}

decision persistent::on_announce(const rpc::incoming_request& req, const key32& own_id, time_point now,
                                 uint64_t unix_ms) {
  if (!req.target || !has_valid_token(req)) return dropped();
  auto ann = decode_opt<announce_message>(req.value);
  if (!ann) return dropped();

  if (!ann->peer) {
    if (!ann->refresh) return dropped();
    return on_refresh(req, *ann->refresh, now);
  }

  // The signature covers the peer as sent, before trimming.
  if (!verify_announce(ns::announce(), *req.target, *req.token, own_id, *ann)) return dropped();

  peer_record& peer = *ann->peer;
  if (peer.relay_addresses.size() > max_relay_addresses) peer.relay_addresses.resize(max_relay_addresses);

  const key32& target = *req.target;
  const bool announce_self = hash32(peer.public_key) == target;
  bytes record = enc::encode(peer);

  if (announce_self) {
    router_.set_forward(target, req.from, record, now);
    records_.remove(target, peer.public_key, now);
  } else {
    const uint64_t* current = bumps_.get(target, now);
    const uint64_t current_bump = current ? *current : 0;
    if (ann->bump > current_bump && ann->bump <= unix_ms + cfg_.max_bump_drift_ms) bumps_.set(target, ann->bump, now);
    records_.add(target, peer.public_key, record, now);
  }

  if (ann->refresh) refreshes_.set(*ann->refresh, refresh_entry{target, std::move(record), announce_self}, now);

  ++stats_.announces;
  return reply_action{bare_reply(std::nullopt)};
}

// --- MUTABLE (persistent.js:153-206) ------------------------------------------------

decision persistent::on_mutable_get(const rpc::incoming_request& req, time_point now) {
  if (!req.target || !req.value) return dropped();
  uint64_t seq = 0;
  try {
    seq = decode_uint_value(*req.value);
  } catch (const enc::error&) {
    return dropped();
  }
  const bytes* stored = mutables_.get(*req.target, now);
  if (!stored) return reply_action{default_reply(std::nullopt)};
  const uint64_t local_seq = decode_uint_value(*stored);  // we wrote it
  return reply_action{default_reply(local_seq < seq ? std::nullopt : std::optional<bytes>(*stored))};
}

decision persistent::on_mutable_put(const rpc::incoming_request& req, time_point now) {
  if (!req.target || !has_valid_token(req) || !req.value) return dropped();
  auto put = decode_opt<mutable_put_request>(req.value);
  if (!put) return dropped();
  if (hash32(put->public_key) != *req.target) return dropped();
  if (!verify_mutable(put->signature, put->seq, put->value, put->public_key)) return dropped();

  if (const bytes* local = mutables_.get(*req.target, now)) {
    auto existing = decode_value<mutable_get_response>(*local);  // we wrote it
    if (existing.seq == put->seq && existing.value != put->value) return error_reply(error_code::seq_reused);
    if (put->seq < existing.seq) return error_reply(error_code::seq_too_low);
  }
  mutables_.set(*req.target, enc::encode(mutable_get_response{put->seq, put->value, put->signature}), now);
  ++stats_.mutable_puts;
  return reply_action{default_reply(std::nullopt)};
}

// --- IMMUTABLE (persistent.js:208-228) ------------------------------------------------

decision persistent::on_immutable_get(const rpc::incoming_request& req, time_point now) {
  if (!req.target) return dropped();
  const bytes* stored = immutables_.get(*req.target, now);
  return reply_action{default_reply(stored ? std::optional<bytes>(*stored) : std::nullopt)};
}

decision persistent::on_immutable_put(const rpc::incoming_request& req, time_point now) {
  if (!req.target || !has_valid_token(req) || !req.value) return dropped();
  if (hash32(*req.value) != *req.target) return dropped();
  immutables_.set(*req.target, *req.value, now);
  ++stats_.immutable_puts;
  return reply_action{default_reply(std::nullopt)};
}

// --- dispatch (hyperdht index.js:402-456, dht-rpc io.js:94-100, index.js:684-686) ----

decision handle_request(router& r, persistent* store, const std::optional<key32>& own_id,
                        const rpc::incoming_request& req, time_point now, uint64_t unix_ms) {
  if (req.internal) return drop{};  // dht-rpc's own commands: not ours
  if (req.token && !req.token_valid) {
    rpc::reply_options o;
    o.token = true;  // a fresh token, so the asker can retry (io.js:99)
    return error_action{rpc::error_code::invalid_token, o};
  }
  switch (req.command) {
    case command::peer_handshake: return r.on_peer_handshake(req, now);
    case command::peer_holepunch: return r.on_peer_holepunch(req, now);
    default: break;
  }
  if (!store || !own_id || req.command > command::plugin) {
    rpc::reply_options o;
    o.token = false;
    o.closer_nodes = true;  // dht-rpc sends them when the request had a target
    return error_action{rpc::error_code::unknown_command, o};
  }
  switch (req.command) {
    case command::find_peer: return store->on_find_peer(req, now);
    case command::lookup: return store->on_lookup(req, now);
    case command::announce: return store->on_announce(req, *own_id, now, unix_ms);
    case command::unannounce: return store->on_unannounce(req, *own_id, now);
    case command::mutable_put: return store->on_mutable_put(req, now);
    case command::mutable_get: return store->on_mutable_get(req, now);
    case command::immutable_put: return store->on_immutable_put(req, now);
    case command::immutable_get: return store->on_immutable_get(req, now);
    default: return drop{};  // PLUGIN: no plugin registered
  }
}

} // namespace ht::hyperdht
