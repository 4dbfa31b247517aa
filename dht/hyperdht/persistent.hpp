#pragma once
// What a persistent hyperdht node stores and answers (hyperdht/lib/persistent.js
// and the dispatch in index.js:402-456), sans-IO: each entry point takes the
// dht-rpc request as ht::rpc::node hands it out, the current time (and, for
// ANNOUNCE's bump, the wall clock) and returns a decision (decision.hpp).
//
//  FIND_PEER      reply the forward's record (or nothing), with token and closer nodes
//  LOOKUP         reply lookupRawReply{<= 20 records + the forward's, bump}, or no value
//  ANNOUNCE       needs target, token, our id and a peer signed for (target, our id,
//                 token): hash(pk) == target -> router forward {relay: from, record},
//                 else a record under target; relayAddresses trimmed to 3; a
//                 refresh hash chain re-adds a record without a signature.
//                 Reply: no value, no token, no closer nodes.
//  UNANNOUNCE     the same check under NS_UNANNOUNCE, then removes both
//  MUTABLE_PUT    target == hash(pk), a valid signature; SEQ_REUSED / SEQ_TOO_LOW errors
//  MUTABLE_GET    the stored value if its seq >= the asked seq
//  IMMUTABLE_PUT  target == hash(value)
//  IMMUTABLE_GET  the stored value
// Every check failure is a drop (no reply), as hyperdht does.
//
// Tokens: ht::rpc::incoming_request carries the token as sent and whether it
// is one of ours. dht-rpc answers an invalid token with INVALID_TOKEN before
// hyperdht sees the request (io.js:94-100); handle_request() does the same,
// so the storage handlers only see "a valid token" or "no token".
#include <optional>

#include "dht/hyperdht/cache.hpp"
#include "dht/hyperdht/decision.hpp"
#include "dht/hyperdht/router.hpp"

namespace ht::hyperdht {

struct persistent_config {
  // hyperdht's defaults (index.js:614-640): maxSize 65536, maxAge 20 min;
  // mutables and immutables maxSize/2 entries and 48 h. The byte caps are
  // ours (per generation: a cache holds at most twice that).
  cache_limits records{65536, std::chrono::minutes(20), SIZE_MAX};
  cache_limits refreshes{65536, std::chrono::minutes(20), 16u << 20};
  cache_limits bumps{65536, std::chrono::minutes(20), SIZE_MAX};
  cache_limits mutables{32768, std::chrono::hours(48), 8u << 20};
  cache_limits immutables{32768, std::chrono::hours(48), 8u << 20};
  size_t max_lookup_records = 20;          // persistent.js:30
  uint64_t max_bump_drift_ms = 60000;      // persistent.js:14
  uint64_t seed = 0;                       // LOOKUP's random pick; 0 = random
};

struct persistent_stats {
  uint64_t dropped = 0;        // invalid requests, no reply
  uint64_t announces = 0, unannounces = 0, refreshes = 0;
  uint64_t mutable_puts = 0, immutable_puts = 0;
};

/// The persistent request handlers. `own_id` is this node's dht-rpc id
/// (persistent nodes only).
class persistent {
public:
  persistent(router& r, persistent_config cfg, time_point now);

  decision on_find_peer(const rpc::incoming_request& req, time_point now);
  decision on_lookup(const rpc::incoming_request& req, time_point now);
  decision on_announce(const rpc::incoming_request& req, const key32& own_id, time_point now, uint64_t unix_ms);
  decision on_unannounce(const rpc::incoming_request& req, const key32& own_id, time_point now);
  decision on_mutable_put(const rpc::incoming_request& req, time_point now);
  decision on_mutable_get(const rpc::incoming_request& req, time_point now);
  decision on_immutable_put(const rpc::incoming_request& req, time_point now);
  decision on_immutable_get(const rpc::incoming_request& req, time_point now);

  /// Forgets a public key under target (also our own unannounce, index.js:213-216).
  void unannounce(const key32& target, const key32& public_key, time_point now);
  /// Runs the caches' due expiry ticks (every entry point does it too).
  void expire(time_point now);

  size_t record_count() const { return records_.size(); }
  size_t mutable_count() const { return mutables_.size(); }
  size_t immutable_count() const { return immutables_.size(); }
  size_t refresh_count() const { return refreshes_.size(); }
  const persistent_stats& stats() const { return stats_; }

private:
  struct refresh_entry {
    key32 target{};
    bytes record;
    bool announce_self = false;
  };

  decision dropped() {
    ++stats_.dropped;
    return drop{};
  }
  decision on_refresh(const rpc::incoming_request& req, const key32& refresh, time_point now);

  router& router_;
  persistent_config cfg_;
  record_cache<bytes> records_;
  generation_cache<uint64_t> bumps_;
  generation_cache<refresh_entry> refreshes_;
  generation_cache<bytes> mutables_;    // encoded mutable_get_response
  generation_cache<bytes> immutables_;
  persistent_stats stats_;
};

/// index.js:402-456 plus dht-rpc's token check: routes one user request.
/// PEER_HANDSHAKE / PEER_HOLEPUNCH go to the router on every node; the rest
/// need `store` and `own_id` (a persistent node), else UNKNOWN_COMMAND as
/// dht-rpc answers unhandled commands (dht-rpc index.js:684-686). PLUGIN
/// requests are dropped (we register no plugins, persistent.js:230-240).
decision handle_request(router& r, persistent* store, const std::optional<key32>& own_id,
                        const rpc::incoming_request& req, time_point now, uint64_t unix_ms);

} // namespace ht::hyperdht
