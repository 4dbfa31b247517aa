// Seeded random-mutation fuzzing of every wire decoder, starting from the JS
// vectors. Sized by iteration count, not wall time, so a run means the same
// on every machine and in every build: each decoder gets a fixed number of
// mutated inputs (a few seconds at most under ASan). HT_FUZZ_RUNS multiplies
// the counts for longer runs, HT_FUZZ_SEED replays another sequence. The
// libFuzzer targets with the same bodies build with -DHT_FUZZ=ON and run in
// scripts/test (docs/wire.md).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>

#include "fuzz/bodies.hpp"
#include "vectors.hpp"

using ht::wire_test::unhex;
using ht::wire_test::vectors;
using bytes = std::vector<uint8_t>;

namespace {

// How many times the default number of inputs to run (HT_FUZZ_RUNS).
size_t fuzz_scale() {
  const char* s = std::getenv("HT_FUZZ_RUNS");
  long n = s ? std::atol(s) : 1;
  return n > 0 ? static_cast<size_t>(n) : 1;
}

uint32_t fuzz_seed() {
  const char* s = std::getenv("HT_FUZZ_SEED");
  return s ? static_cast<uint32_t>(std::strtoul(s, nullptr, 10)) : 20261124u;
}

bytes mutate(bytes b, std::mt19937& rng) {
  static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xfc, 0xfd, 0xfe, 0xff};
  int rounds = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < rounds; ++i) {
    size_t at = b.empty() ? 0 : rng() % b.size();
    switch (rng() % 7) {
      case 0: if (!b.empty()) b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      case 1: if (!b.empty()) b[at] = interesting[rng() % sizeof interesting]; break;
      case 2: if (!b.empty()) b[at] = static_cast<uint8_t>(rng()); break;
      case 3: b.insert(b.begin() + static_cast<long>(at), static_cast<uint8_t>(rng())); break;
      case 4: if (!b.empty()) b.erase(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(std::min(b.size(), at + 1 + rng() % 16))); break;
      case 5: b.resize(at); break;
      case 6: if (!b.empty()) { size_t len = std::min<size_t>(b.size() - at, 1 + rng() % 32); bytes chunk(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + len)); b.insert(b.begin() + static_cast<long>(rng() % b.size()), chunk.begin(), chunk.end()); } break;
    }
  }
  return b;
}

// Runs the seeds, then `count` (times HT_FUZZ_RUNS) seeded mutations of them.
template <class Body>
size_t run(const std::vector<bytes>& seeds, size_t count, Body body) {
  std::mt19937 rng(fuzz_seed());
  for (const auto& s : seeds) body(s.data(), s.size());
  size_t runs = count * fuzz_scale();
  for (size_t i = 0; i < runs; ++i) {
    bytes b = mutate(seeds[rng() % seeds.size()], rng);
    body(b.data(), b.size());
  }
  return runs;
}

} // namespace

TEST_CASE("fuzz: compact-encoding reader", "[unit]") {
  std::vector<bytes> seeds;
  for (const auto& v : vectors()["codecs"]) {
    bytes b = unhex(v["hex"]);
    b.insert(b.begin(), static_cast<uint8_t>(seeds.size()));
    seeds.push_back(b);
  }
  CHECK(run(seeds, 200000, ht::wire_fuzz::compact) > 0);
}

TEST_CASE("fuzz: noise payload decoder", "[unit]") {
  std::vector<bytes> seeds;
  for (const auto& [k, v] : vectors()["payloads"].items()) seeds.push_back(unhex(v));
  CHECK(run(seeds, 100000, ht::wire_fuzz::payload) > 0);
}

TEST_CASE("fuzz: PEER_HANDSHAKE recv", "[unit]") {
  // Real first and second messages between the fuzz identities.
  const auto& id = ht::wire_fuzz::ids();
  ht::noise::peer_handshake a(id.client, id.server.public_key), b(id.server, std::nullopt);
  bytes m1 = a.send(ht::noise::noise_payload{});
  b.recv(m1);
  bytes m2 = b.send(ht::noise::noise_payload{});
  CHECK(run({m1, m2}, 2000, ht::wire_fuzz::handshake) > 0);
}

TEST_CASE("fuzz: secret-stream feed", "[unit]") {
  // A valid header and frames for the fuzz body's fixed responder keys, so
  // mutations reach the data-frame path and not only the header check.
  ht::noise::handshake_result r;
  r.initiator = true;
  std::memset(r.tx.data(), 4, 32);
  std::memset(r.rx.data(), 3, 32);
  std::memset(r.hash.data(), 5, 64);
  ht::secret_stream::stream peer(r);
  for (size_t n : {0, 1, 5, 100}) peer.write(bytes(n, 0x61));
  bytes valid = peer.take_transmit();
  bytes js = unhex(vectors()["stream"]["wire"]);
  js.resize(200);
  CHECK(run({valid, js, bytes{3, 0, 0, 1, 2, 3}}, 20000, ht::wire_fuzz::stream) > 0);
}
