#pragma once
// The two expiring caches hyperdht keeps its state in, sans-IO (time is
// passed in, nothing runs on its own):
//
//  - generation_cache: npm `xache` 1.3.0 (router forwards, mutable and
//    immutable values, bumps, refresh chains). Two generations, `latest`
//    and `oldest`, plus `retained` entries that never expire. Every tick of
//    ceil(2/3 * maxAge) the oldest generation is dropped and latest becomes
//    oldest, unless a size-triggered rotation already happened during that
//    tick. A set() lands in latest; a get() of an oldest entry moves it back
//    to latest. An entry thus lives between 2/3 and 4/3 of maxAge after its
//    last set/get (13.3-26.7 min for maxAge 20 min).
//  - record_cache: npm `record-cache` 1.2.0 (announce records): the same
//    fresh/stale rotation, records grouped by target and keyed by public
//    key; an add() of a key already fresh keeps the old value (as JS does);
//    get() does not refresh.
//
// Both rotate early when the newest generation reaches its entry cap (as the
// JS ones do) or, our addition, its byte cap: with values up to a datagram
// in size, an entry count alone would not bound memory.
//
// Keys are 32-byte targets chosen by remote peers, so the hash tables use a
// keyed SipHash (libsodium crypto_shorthash) with a per-process random key.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dht/noise/crypto.hpp"

namespace ht::hyperdht {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = clock::duration;

/// SipHash-2-4 of a 32-byte key under a process-wide random key.
struct key32_hash {
  size_t operator()(const noise::key32& k) const;
};

struct cache_limits {
  size_t max_entries = 65536;               // rotate when the newest generation holds this many
  duration max_age = std::chrono::minutes(20);
  size_t max_bytes = SIZE_MAX;              // rotate when the newest generation holds this many bytes
};

/// The gc clock both caches share: ticks every ceil(2/3 max_age) from construction.
class gc_clock {
public:
  gc_clock(duration max_age, time_point now);
  /// Number of auto-gc ticks due by `now` (capped at 3: after three ticks
  /// without a set, both generations are empty whatever happened before).
  unsigned due(time_point now);
  duration tick() const { return tick_; }

private:
  duration tick_;
  time_point next_;
};

template <class V>
class generation_cache {
public:
  using key = noise::key32;
  using size_fn = std::function<size_t(const V&)>;

  generation_cache(cache_limits lim, time_point now, size_fn size = [](const V&) { return sizeof(V); })
    : lim_(lim), clock_(lim.max_age, now), size_(std::move(size)) {}

  /// xache set(): ignored for a retained key.
  void set(const key& k, V v, time_point now) {
    expire(now);
    if (retained_.count(k)) return;
    auto it = latest_.find(k);
    if (it != latest_.end()) {
      latest_bytes_ -= size_(it->second);
      it->second = std::move(v);
      latest_bytes_ += size_(it->second);
    } else {
      latest_bytes_ += size_(v);
      latest_.emplace(k, std::move(v));
      oldest_erase(k);
    }
    if (latest_.size() >= lim_.max_entries || latest_bytes_ >= lim_.max_bytes) rotate();
  }

  /// xache retain(): kept until erased, never expires.
  void retain(const key& k, V v) {
    if (!latest_erase(k)) oldest_erase(k);
    retained_.insert_or_assign(k, std::move(v));
  }

  bool erase(const key& k) { return latest_erase(k) || oldest_erase(k) || retained_.erase(k) > 0; }

  /// xache get(): an oldest entry moves back to latest (reading keeps it alive).
  V* get(const key& k, time_point now) {
    expire(now);
    if (auto it = latest_.find(k); it != latest_.end()) return &it->second;
    if (auto it = oldest_.find(k); it != oldest_.end()) {
      V v = std::move(it->second);
      oldest_bytes_ -= size_(v);
      oldest_.erase(it);
      latest_bytes_ += size_(v);
      auto [pos, _] = latest_.emplace(k, std::move(v));
      // (JS does not rotate on a get; neither do we, so the pointer stays valid.)
      return &pos->second;
    }
    if (auto it = retained_.find(k); it != retained_.end()) return &it->second;
    return nullptr;
  }

  bool retained(const key& k) const { return retained_.count(k) > 0; }

  /// Runs the auto-gc ticks due by now.
  void expire(time_point now) {
    for (unsigned n = clock_.due(now); n > 0; --n) {
      if (!gced_) rotate();
      gced_ = false;
    }
  }

  size_t size() const { return latest_.size() + oldest_.size() + retained_.size(); }
  size_t bytes() const { return latest_bytes_ + oldest_bytes_; }

private:
  using map = std::unordered_map<key, V, key32_hash>;

  bool latest_erase(const key& k) {
    auto it = latest_.find(k);
    if (it == latest_.end()) return false;
    latest_bytes_ -= size_(it->second);
    latest_.erase(it);
    return true;
  }

  bool oldest_erase(const key& k) {
    auto it = oldest_.find(k);
    if (it == oldest_.end()) return false;
    oldest_bytes_ -= size_(it->second);
    oldest_.erase(it);
    return true;
  }

  void rotate() {
    gced_ = true;
    oldest_ = std::move(latest_);
    oldest_bytes_ = latest_bytes_;
    latest_ = map{};
    latest_bytes_ = 0;
  }

  cache_limits lim_;
  gc_clock clock_;
  size_fn size_;
  map latest_, oldest_, retained_;
  size_t latest_bytes_ = 0;
  size_t oldest_bytes_ = 0;
  bool gced_ = false;
};

/// record-cache: records (`V`) per target, each keyed by a public key.
template <class V>
class record_cache {
public:
  using key = noise::key32;

  record_cache(cache_limits lim, time_point now, uint64_t seed)
    : lim_(lim), clock_(lim.max_age, now), rng_(seed) {}

  /// Adds under `name` unless `k` is already fresh there (then the old value stays).
  void add(const key& name, const key& k, V v, time_point now) {
    expire(now);
    stale_.remove(name, k);
    if (fresh_.add(name, k, std::move(v)) && fresh_.size > lim_.max_entries) rotate();
  }

  void remove(const key& name, const key& k, time_point now) {
    expire(now);
    fresh_.remove(name, k);
    stale_.remove(name, k);
  }

  /// Up to n records of `name`, picked at random from both generations
  /// (record-cache picks uniformly too, so that a crowded target shows
  /// different peers to different askers).
  std::vector<const V*> get(const key& name, size_t n, time_point now) {
    expire(now);
    std::vector<const V*> all;
    fresh_.collect(name, all);
    stale_.collect(name, all);
    if (n == 0 || n > all.size()) n = all.size();
    for (size_t i = 0; i < n; ++i) {
      std::uniform_int_distribution<size_t> pick(i, all.size() - 1);
      std::swap(all[i], all[pick(rng_)]);
    }
    all.resize(n);
    return all;
  }

  void expire(time_point now) {
    for (unsigned n = clock_.due(now); n > 0; --n) {
      if (!gced_) rotate();
      gced_ = false;
    }
  }

  size_t size() const { return fresh_.size + stale_.size; }

private:
  struct record_set {
    std::vector<std::pair<key, V>> list;
    std::unordered_map<key, size_t, key32_hash> index;
  };
  struct store {
    std::unordered_map<key, record_set, key32_hash> records;
    size_t size = 0;

    bool add(const key& name, const key& k, V v) {
      record_set& s = records[name];
      if (s.index.count(k)) return false;
      s.index.emplace(k, s.list.size());
      s.list.emplace_back(k, std::move(v));
      ++size;
      return true;
    }
    bool remove(const key& name, const key& k) {
      auto it = records.find(name);
      if (it == records.end()) return false;
      record_set& s = it->second;
      auto at = s.index.find(k);
      if (at == s.index.end()) return false;
      size_t i = at->second;
      s.index.erase(at);
      if (i + 1 != s.list.size()) {
        s.list[i] = std::move(s.list.back());
        s.index[s.list[i].first] = i;
      }
      s.list.pop_back();
      --size;
      if (s.list.empty()) records.erase(it);
      return true;
    }
    void collect(const key& name, std::vector<const V*>& out) const {
      auto it = records.find(name);
      if (it == records.end()) return;
      for (const auto& [_, v] : it->second.list) out.push_back(&v);
    }
  };

  void rotate() {
    gced_ = true;
    stale_ = std::move(fresh_);
    fresh_ = store{};
  }

  cache_limits lim_;
  gc_clock clock_;
  std::mt19937_64 rng_;
  store fresh_, stale_;
  bool gced_ = false;
};

} // namespace ht::hyperdht
