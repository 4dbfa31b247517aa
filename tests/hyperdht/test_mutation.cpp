// Seeded random mutation of every hyperdht decoder, starting from the JS
// vectors, sized by iteration count (HT_HYPERDHT_MUTATIONS per decoder,
// default 20000; HT_HYPERDHT_SEED to replay). A decoder either throws a typed
// ht::enc::error or returns a value that re-encodes and decodes to itself;
// the request handlers turn every mutated value into a decision, never an
// exception, and storage stays within its caps.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <random>

#include "dht/hyperdht/persistent.hpp"
#include "dht/hyperdht/secure_payload.hpp"
#include "vectors.hpp"

using namespace ht::hyperdht;
using namespace ht::hyperdht_test;

namespace {

size_t iterations() {
  const char* s = std::getenv("HT_HYPERDHT_MUTATIONS");
  return s ? std::strtoul(s, nullptr, 10) : 20000;
}

uint32_t seed() {
  const char* s = std::getenv("HT_HYPERDHT_SEED");
  return s ? static_cast<uint32_t>(std::strtoul(s, nullptr, 10)) : 20261129u;
}

bytes mutate(bytes b, std::mt19937& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 6) {
      case 0: if (!b.empty()) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      case 1: if (!b.empty()) b[rng() % b.size()] = static_cast<uint8_t>(rng()); break;
      case 2: if (!b.empty()) b.resize(rng() % b.size()); break;
      case 3: b.insert(b.begin() + static_cast<long>(b.empty() ? 0 : rng() % b.size()), static_cast<uint8_t>(rng())); break;
      case 4: if (!b.empty()) b[rng() % b.size()] = std::vector<uint8_t>{0xfc, 0xfd, 0xfe, 0xff, 0}[rng() % 5]; break;
      default: if (!b.empty()) b.erase(b.begin() + static_cast<long>(rng() % b.size())); break;
    }
  }
  return b;
}

std::vector<bytes> seeds_of(const std::string& codec) {
  std::vector<bytes> out;
  for (const auto& v : vectors().at("messages"))
    if (v.at("codec") == codec) out.push_back(unhex(v.at("hex")));
  return out;
}

template <class T>
void fuzz(const std::string& codec) {
  std::mt19937 rng(seed());
  auto seeds = seeds_of(codec);
  REQUIRE_FALSE(seeds.empty());
  size_t ok = 0, refused = 0;
  for (size_t i = 0; i < iterations(); ++i) {
    bytes b = mutate(seeds[i % seeds.size()], rng);
    try {
      T v = decode_value<T>(b);
      ++ok;
      bytes again = ht::enc::encode(v);
      T back = ht::enc::decode<T>(again);  // canonical form: strict, no trailing bytes
      if (!(back == v)) FAIL(codec << " did not round-trip: " << hex(b));
    } catch (const ht::enc::error&) {
      ++refused;
    }
  }
  INFO(codec << ": " << ok << " decoded, " << refused << " refused");
  CHECK(ok + refused == iterations());
  CHECK(refused > 0);
}

} // namespace

TEST_CASE("mutated hyperdht messages decode or fail with a typed error", "[unit]") {
  fuzz<handshake_message>("handshake");
  fuzz<holepunch_message>("holepunch");
  fuzz<peer_record>("peer");
  fuzz<lookup_reply>("lookupRawReply");
  fuzz<announce_message>("announce");
  fuzz<mutable_put_request>("mutablePutRequest");
  fuzz<mutable_get_response>("mutableGetResponse");
  fuzz<holepunch_payload>("holepunchPayload");
}

TEST_CASE("mutated boxes never open", "[unit]") {
  const json& s = vectors().at("secure");
  secure_payload sp(arr<32>(s.at("holepunchSecret")), arr<32>(s.at("localSecret")));
  std::mt19937 rng(seed());
  size_t opened = 0;
  for (size_t i = 0; i < iterations() / 4; ++i) {
    bytes box = unhex(s.at("payloads").at(i % s.at("payloads").size()).at("box"));
    bytes m = mutate(box, rng);
    if (m != box && sp.decrypt(m)) ++opened;
  }
  CHECK(opened == 0);
}

TEST_CASE("mutated requests always get a decision and storage stays bounded", "[unit]") {
  std::mt19937 rng(seed());
  const auto now = ht::hyperdht::clock::time_point{} + std::chrono::hours(1000);
  persistent_config cfg;
  cfg.records.max_entries = 64;
  router_config rcfg;
  rcfg.forwards.max_entries = 64;
  router rt(rcfg, now);
  persistent store(rt, cfg, now);
  const json& sc = vectors().at("scenario");
  const key32 own_id = arr<32>(sc.at("ownId"));
  std::vector<const json*> steps;
  for (const auto& step : sc.at("steps"))
    if (step.at("op") == "request" && !step.at("value").is_null()) steps.push_back(&step);
  REQUIRE_FALSE(steps.empty());
  for (size_t i = 0; i < iterations(); ++i) {
    const json& step = *steps[i % steps.size()];
    std::optional<key32> target, token;
    if (!step.at("target").is_null()) target = arr<32>(step.at("target"));
    if (!step.at("token").is_null()) token = arr<32>(step.at("token"));
    auto req = request(step.at("command"), target, mutate(unhex(step.at("value")), rng), *addr(step.at("from")), token);
    decision d;
    REQUIRE_NOTHROW(d = handle_request(rt, &store, own_id, req, now, 1764000000000));
    if (auto* hs = std::get_if<handshake_for_server>(&d)) REQUIRE_NOTHROW(rt.server_handshake_reply(req, *hs, bytes{1}));
  }
  CHECK(store.record_count() <= 2 * 65);
  CHECK(rt.size() <= 2 * 64);
}
