// The persistent node's storage beyond the JS scenario: expiry with injected
// time (hyperdht's two-generation caches), the caps that bound memory, the
// bump rule and the dispatch of index.js / dht-rpc.
#include <catch2/catch.hpp>

#include "dht/hyperdht/persistent.hpp"
#include "dht/hyperdht/signing.hpp"
#include "vectors.hpp"

using namespace ht::hyperdht;
using namespace ht::hyperdht_test;
using ht::noise::keypair;
using namespace std::chrono_literals;

namespace {

const key32 own_id = fill32(0x90);
const key32 tok = fill32(0x91);
const auto t0 = ht::hyperdht::clock::time_point{} + 1000h;
constexpr uint64_t unix_ms = 1764000000000;
const duration tick = 800000ms;  // ceil(2/3 * 20 min)

bytes signed_announce(const keypair& kp, const key32& target, std::vector<ipv4_address> relays = {},
                      uint64_t bump = 0, const key32& ns_key = ns::announce()) {
  announce_message a;
  a.peer = peer_record{kp.public_key, std::move(relays)};
  a.bump = bump;
  signable s = announce_signable(ns_key, target, own_id, tok, *a.peer, a.refresh);
  a.signature = sign_detached(s.data(), s.size(), kp);
  return ht::enc::encode(a);
}

std::optional<lookup_reply> lookup_at(persistent& p, const key32& target, time_point now) {
  auto d = p.on_lookup(request(command::lookup, target, std::nullopt, ip("9.9.9.9", 9)), now);
  auto* r = std::get_if<reply_action>(&d);
  REQUIRE(r);
  if (!r->opts.value) return std::nullopt;
  return decode_value<lookup_reply>(*r->opts.value);
}

std::optional<bytes> find_peer_at(persistent& p, const key32& target, time_point now) {
  auto d = p.on_find_peer(request(command::find_peer, target, std::nullopt, ip("9.9.9.9", 9)), now);
  auto* r = std::get_if<reply_action>(&d);
  REQUIRE(r);
  return r->opts.value;
}

decision announce_at(persistent& p, const key32& target, const bytes& value, time_point now,
                     uint64_t cmd = command::announce) {
  auto req = request(cmd, target, value, ip("10.0.0.5", 4000), tok);
  return cmd == command::announce ? p.on_announce(req, own_id, now, unix_ms) : p.on_unannounce(req, own_id, now);
}

} // namespace

TEST_CASE("announce records live two cache generations (record-cache, maxAge 20 min)", "[unit]") {
  router rt(router_config{}, t0);
  persistent store(rt, persistent_config{}, t0);
  keypair a = keypair::from_seed(fill32(1));
  const key32 topic = fill32(0xa1);
  const auto added = t0 + tick / 2;
  REQUIRE(std::holds_alternative<reply_action>(announce_at(store, topic, signed_announce(a, topic), added)));
  CHECK(lookup_at(store, topic, added)->peers.size() == 1);
  // Reading does not keep a record alive: it is gone at the second gc tick.
  CHECK(lookup_at(store, topic, t0 + tick)->peers.size() == 1);
  CHECK(lookup_at(store, topic, t0 + 2 * tick - 1ms)->peers.size() == 1);
  CHECK_FALSE(lookup_at(store, topic, t0 + 2 * tick));
  CHECK(store.record_count() == 0);
}

TEST_CASE("a re-announce renews a record; the earliest life is 2/3 maxAge", "[unit]") {
  router rt(router_config{}, t0);
  persistent store(rt, persistent_config{}, t0);
  keypair a = keypair::from_seed(fill32(1));
  const key32 topic = fill32(0xa1);
  // Added just before the first tick: it lives only one tick (13.3 min).
  announce_at(store, topic, signed_announce(a, topic), t0 + tick - 1ms);
  announce_at(store, topic, signed_announce(a, topic), t0 + tick + 1ms);  // renewed into fresh
  CHECK(lookup_at(store, topic, t0 + 3 * tick - 1ms));
  CHECK_FALSE(lookup_at(store, topic, t0 + 3 * tick));
}

TEST_CASE("a server's forward stays while clients look it up (xache get refreshes)", "[unit]") {
  keypair s = keypair::from_seed(fill32(2));
  const key32 target = hash32(s.public_key);
  router rt1(router_config{}, t0), rt2(router_config{}, t0);
  persistent read(rt1, persistent_config{}, t0), idle(rt2, persistent_config{}, t0);
  for (persistent* p : {&read, &idle}) announce_at(*p, target, signed_announce(s, target), t0);
  CHECK(find_peer_at(read, target, t0 + tick + tick / 2));  // in the oldest generation: moved back
  CHECK(find_peer_at(read, target, t0 + 2 * tick + tick / 2));
  CHECK_FALSE(find_peer_at(idle, target, t0 + 2 * tick + tick / 2));
  CHECK_FALSE(find_peer_at(read, target, t0 + 4 * tick));
}

TEST_CASE("a long idle period clears the caches without looping per tick", "[unit]") {
  router rt(router_config{}, t0);
  persistent store(rt, persistent_config{}, t0);
  keypair a = keypair::from_seed(fill32(1));
  const key32 topic = fill32(0xa1);
  announce_at(store, topic, signed_announce(a, topic), t0);
  CHECK_FALSE(lookup_at(store, topic, t0 + 24h * 365 * 100));
  // And the clock keeps ticking on schedule afterwards.
  const auto later = t0 + 24h * 365 * 100;
  announce_at(store, topic, signed_announce(a, topic), later);
  CHECK(lookup_at(store, topic, later + tick / 2));
}

TEST_CASE("a size-triggered rotation takes the place of the next timed one (xache _gced)", "[unit]") {
  cache_limits lim{2, 1200ms, SIZE_MAX};  // tick 800 ms
  generation_cache<int> c(lim, t0);
  c.set(fill32(1), 1, t0);
  c.set(fill32(2), 2, t0);  // latest reaches 2: rotates now
  CHECK(c.size() == 2);
  c.expire(t0 + 800ms);  // this tick is skipped
  CHECK(c.size() == 2);
  c.expire(t0 + 1600ms);  // this one drops them
  CHECK(c.size() == 0);
}

TEST_CASE("local servers are retained: never expire, never replaced by set", "[unit]") {
  cache_limits lim{100, 1200ms, SIZE_MAX};
  generation_cache<int> c(lim, t0);
  c.retain(fill32(1), 1);
  c.set(fill32(1), 2, t0);
  CHECK(*c.get(fill32(1), t0 + 10h) == 1);
  CHECK(c.erase(fill32(1)));
  CHECK(c.get(fill32(1), t0 + 10h) == nullptr);
}

TEST_CASE("storage is bounded by entry and byte caps", "[unit]") {
  persistent_config cfg;
  cfg.records.max_entries = 8;
  cfg.immutables.max_entries = 1000;
  cfg.immutables.max_bytes = 10000;
  cfg.mutables.max_entries = 4;
  router_config rcfg;
  rcfg.forwards.max_entries = 4;
  router rt(rcfg, t0);
  persistent store(rt, cfg, t0);

  const key32 topic = fill32(0xa1);
  for (uint8_t i = 0; i < 50; ++i) {
    keypair k = keypair::from_seed(fill32(i));
    REQUIRE(std::holds_alternative<reply_action>(announce_at(store, topic, signed_announce(k, topic), t0)));
    CHECK(store.record_count() <= 2 * (8 + 1));
    // announce-self: router forwards
    announce_at(store, hash32(k.public_key), signed_announce(k, hash32(k.public_key)), t0);
    CHECK(rt.size() <= 2 * 4);
  }
  // The newest record is always there; LOOKUP answers at most 20.
  auto r = lookup_at(store, topic, t0);
  REQUIRE(r);
  CHECK(r->peers.size() <= 20);

  for (int i = 0; i < 100; ++i) {
    bytes v(1000, static_cast<uint8_t>(i));
    auto req = request(command::immutable_put, hash32(v), v, ip("1.1.1.1", 1), tok);
    REQUIRE(std::holds_alternative<reply_action>(store.on_immutable_put(req, t0)));
    CHECK(store.immutable_count() <= 2 * 10);  // 10 values of 1000 bytes fill a generation
  }
  for (uint8_t i = 0; i < 20; ++i) {
    keypair k = keypair::from_seed(fill32(i));
    bytes v = {i};
    mutable_put_request put{k.public_key, 1, v, sign_mutable(1, v, k)};
    auto req = request(command::mutable_put, hash32(k.public_key), ht::enc::encode(put), ip("1.1.1.1", 1), tok);
    REQUIRE(std::holds_alternative<reply_action>(store.on_mutable_put(req, t0)));
    CHECK(store.mutable_count() <= 2 * 4);
  }
}

TEST_CASE("record-cache keeps the first value of a fresh key, like hyperdht", "[unit]") {
  router rt(router_config{}, t0);
  persistent store(rt, persistent_config{}, t0);
  keypair a = keypair::from_seed(fill32(1));
  const key32 topic = fill32(0xa1);
  announce_at(store, topic, signed_announce(a, topic, {ip("1.0.0.1", 1)}), t0);
  announce_at(store, topic, signed_announce(a, topic, {ip("1.0.0.2", 2)}), t0 + 1s);
  CHECK(lookup_at(store, topic, t0 + 1s)->peers.at(0).relay_addresses.at(0) == ip("1.0.0.1", 1));
  // Once the first is stale, a re-announce replaces it.
  announce_at(store, topic, signed_announce(a, topic, {ip("1.0.0.3", 3)}), t0 + tick + 1s);
  CHECK(lookup_at(store, topic, t0 + tick + 1s)->peers.at(0).relay_addresses.at(0) == ip("1.0.0.3", 3));
}

TEST_CASE("bump: kept if above the current one and not over 60 s ahead of the wall clock", "[unit]") {
  router rt(router_config{}, t0);
  persistent store(rt, persistent_config{}, t0);
  const key32 topic = fill32(0xa1);
  keypair a = keypair::from_seed(fill32(1)), b = keypair::from_seed(fill32(2)), c = keypair::from_seed(fill32(3));
  announce_at(store, topic, signed_announce(a, topic, {}, unix_ms + 60000), t0);
  CHECK(lookup_at(store, topic, t0)->bump == unix_ms + 60000);
  announce_at(store, topic, signed_announce(b, topic, {}, unix_ms + 60001 + 5), t0);  // too far ahead
  CHECK(lookup_at(store, topic, t0)->bump == unix_ms + 60000);
  announce_at(store, topic, signed_announce(c, topic, {}, 5), t0);  // lower: ignored
  CHECK(lookup_at(store, topic, t0)->bump == unix_ms + 60000);
  CHECK(lookup_at(store, topic, t0)->peers.size() == 3);
}

TEST_CASE("our own unannounce unlinks a record and a forward", "[unit]") {
  router rt(router_config{}, t0);
  persistent store(rt, persistent_config{}, t0);
  keypair s = keypair::from_seed(fill32(2));
  const key32 target = hash32(s.public_key);
  announce_at(store, target, signed_announce(s, target), t0);
  REQUIRE(find_peer_at(store, target, t0));
  store.unannounce(target, s.public_key, t0);
  CHECK_FALSE(find_peer_at(store, target, t0));
}

TEST_CASE("dispatch: commands, persistence and tokens as hyperdht and dht-rpc route them", "[unit]") {
  router rt(router_config{}, t0);
  persistent store(rt, persistent_config{}, t0);
  const key32 target = fill32(0xa1);
  auto from = ip("1.2.3.4", 5);

  SECTION("an unknown user command: UNKNOWN_COMMAND, no token") {
    auto d = handle_request(rt, &store, own_id, request(11, target, std::nullopt, from), t0, unix_ms);
    auto* e = std::get_if<error_action>(&d);
    REQUIRE(e);
    CHECK(e->code == ht::rpc::error_code::unknown_command);
    CHECK_FALSE(e->opts.token);
    CHECK(e->opts.closer_nodes);
  }
  SECTION("storage commands need a persistent node with an id") {
    for (uint64_t cmd = command::find_peer; cmd <= command::plugin; ++cmd) {
      auto d1 = handle_request(rt, nullptr, own_id, request(cmd, target, std::nullopt, from), t0, unix_ms);
      auto d2 = handle_request(rt, &store, std::nullopt, request(cmd, target, std::nullopt, from), t0, unix_ms);
      for (auto* d : {&d1, &d2}) {
        auto* e = std::get_if<error_action>(d);
        REQUIRE(e);
        CHECK(e->code == ht::rpc::error_code::unknown_command);
      }
    }
  }
  SECTION("handshakes are routed on every node") {
    bytes hs = ht::enc::encode(handshake_message{mode::from_client, {1}, std::nullopt, std::nullopt});
    auto d = handle_request(rt, nullptr, std::nullopt, request(command::peer_handshake, target, hs, from), t0, unix_ms);
    auto* r = std::get_if<reply_action>(&d);
    REQUIRE(r);  // no forward: closer nodes to help the client route
    CHECK(r->opts.closer_nodes);
    CHECK_FALSE(r->opts.token);
  }
  SECTION("a token that is not ours: INVALID_TOKEN with a fresh token, storage untouched") {
    keypair a = keypair::from_seed(fill32(1));
    auto req = request(command::announce, target, signed_announce(a, target), from, tok, false);
    auto d = handle_request(rt, &store, own_id, req, t0, unix_ms);
    auto* e = std::get_if<error_action>(&d);
    REQUIRE(e);
    CHECK(e->code == ht::rpc::error_code::invalid_token);
    CHECK(e->opts.token);
    CHECK(store.record_count() == 0);
    // The handler itself also refuses it, should a caller skip the dispatch.
    CHECK(std::holds_alternative<drop>(store.on_announce(req, own_id, t0, unix_ms)));
  }
  SECTION("internal commands and plugins are not ours") {
    auto req = request(command::find_peer, target, std::nullopt, from);
    req.internal = true;
    CHECK(std::holds_alternative<drop>(handle_request(rt, &store, own_id, req, t0, unix_ms)));
    CHECK(std::holds_alternative<drop>(
      handle_request(rt, &store, own_id, request(command::plugin, target, bytes{1}, from), t0, unix_ms)));
  }
}
