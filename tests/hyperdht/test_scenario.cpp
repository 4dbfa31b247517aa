// Replays the scenario tests/interop/hyperdht-vectors.js ran through
// hyperdht's own lib/persistent.js and lib/router.js: every request must get
// the same answer (reply value and options, error, relay, or silence).
#include <catch2/catch.hpp>

#include <algorithm>

#include "dht/hyperdht/persistent.hpp"
#include "vectors.hpp"

using namespace ht::hyperdht;
using namespace ht::hyperdht_test;

namespace {

json addr_json(const std::optional<ht::enc::ipv4_address>& a) {
  if (!a) return nullptr;
  return json{{"host", a->host_string()}, {"port", a->port}};
}

json hex_or_null(const std::optional<bytes>& b) { return b ? json(hex(*b)) : json(nullptr); }

// The JS script sorts LOOKUP records by key (record-cache's pick is random).
std::optional<bytes> normalise_lookup(const std::optional<bytes>& v) {
  if (!v) return v;
  auto r = decode_value<lookup_reply>(*v);
  std::sort(r.peers.begin(), r.peers.end(),
            [](const peer_record& a, const peer_record& b) { return a.public_key < b.public_key; });
  return ht::enc::encode(r);
}

json to_json(const decision& d, uint64_t cmd) {
  if (std::holds_alternative<drop>(d)) return json{{"kind", "drop"}};
  if (auto* r = std::get_if<reply_action>(&d)) {
    auto value = cmd == command::lookup ? normalise_lookup(r->opts.value) : r->opts.value;
    return json{{"kind", "reply"}, {"value", hex_or_null(value)}, {"token", r->opts.token},
                {"closerNodes", r->opts.closer_nodes}, {"to", addr_json(r->opts.to)}};
  }
  if (auto* e = std::get_if<error_action>(&d))
    return json{{"kind", "error"}, {"code", e->code}, {"token", e->opts.token}, {"closerNodes", e->opts.closer_nodes}};
  if (auto* r = std::get_if<relay_action>(&d))
    return json{{"kind", "relay"}, {"value", hex(r->value)}, {"to", addr_json(r->to)}};
  return json{{"kind", "unresolved"}};
}

// Runs the request steps of one JS scenario; `at` (ms after t0) is the time
// of each step when the scenario has one.
size_t replay(const json& steps, router& rt, persistent& store, const key32& own_id, time_point t0) {
  const uint64_t unix_ms = 1764000000000;  // any present-day time: bump 1000 is old, 2^50 too far ahead
  bytes server_noise, server_payload;
  size_t requests = 0;
  for (const auto& step : steps) {
    if (step.at("op") == "listen") {
      rt.listen(arr<32>(step.at("target")), unhex(step.at("record")));
      server_noise = unhex(step.at("noise"));
      server_payload = unhex(step.at("payload"));
      continue;
    }
    ++requests;
    INFO("step: " << step.at("note").get<std::string>());
    const uint64_t cmd = step.at("command");
    const time_point now = t0 + std::chrono::milliseconds(step.value("at", uint64_t{0}));
    std::optional<key32> target, token;
    if (!step.at("target").is_null()) target = arr<32>(step.at("target"));
    if (!step.at("token").is_null()) token = arr<32>(step.at("token"));
    std::optional<bytes> value;
    if (!step.at("value").is_null()) value = unhex(step.at("value"));
    auto req = request(cmd, target, value, *addr(step.at("from")), token);

    decision d = handle_request(rt, &store, own_id, req, now, unix_ms);
    if (auto* hs = std::get_if<handshake_for_server>(&d)) d = rt.server_handshake_reply(req, *hs, server_noise);
    else if (auto* hp = std::get_if<holepunch_for_server>(&d)) d = rt.server_holepunch_reply(req, *hp, server_payload);
    CHECK(to_json(d, cmd) == step.at("expect"));
  }
  return requests;
}

} // namespace

TEST_CASE("persistent and router answer as hyperdht's own code does", "[unit]") {
  const json& sc = vectors().at("scenario");
  const auto t0 = ht::hyperdht::clock::now();
  router rt(router_config{}, t0);
  persistent store(rt, persistent_config{}, t0);
  CHECK(replay(sc.at("steps"), rt, store, arr<32>(sc.at("ownId")), t0) > 80);
}

TEST_CASE("records, forwards and values expire and rotate as hyperdht's caches do", "[unit]") {
  // hyperdht's caches with their gc timers fired at the same times in JS.
  for (const auto& sc : vectors().at("timed")) {
    INFO("scenario " << sc.at("name").get<std::string>());
    const size_t max_size = sc.at("maxSize");
    const duration max_age = std::chrono::milliseconds(sc.at("maxAge").get<uint64_t>());
    const duration two_days = std::chrono::hours(48);
    router_config rc;
    rc.forwards = {max_size, max_age, SIZE_MAX};
    persistent_config pc;
    pc.records = pc.refreshes = pc.bumps = {max_size, max_age, SIZE_MAX};
    pc.mutables = pc.immutables = {max_size / 2, two_days, SIZE_MAX};
    const auto t0 = ht::hyperdht::clock::time_point{} + std::chrono::hours(1000);
    router rt(rc, t0);
    persistent store(rt, pc, t0);
    CHECK(replay(sc.at("steps"), rt, store, arr<32>(sc.at("ownId")), t0) > 10);
  }
}
