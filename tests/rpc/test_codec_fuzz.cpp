// Seeded mutations of every dht-rpc vector through the decoder: nothing
// crashes or reads out of bounds (run it under ASan), every rejection is a
// typed error, and whatever decodes re-encodes to the same bytes and value.
// Sized by iteration count; HT_RPC_FUZZ_RUNS and HT_RPC_FUZZ_SEED override.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "codec_vectors.hpp"
#include "fuzz/rpc_message_body.hpp"

using namespace ht::rpc_test;
using ht::rpc_fuzz::outcome;

namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* s = std::getenv(name);
  return s ? std::strtoull(s, nullptr, 10) : fallback;
}

bytes mutate(bytes b, const std::vector<bytes>& seeds, std::mt19937_64& rng) {
  // Bytes a varint or a type byte turns on, and flag combinations.
  static const uint8_t interesting[] = {0, 1, 0x03, 0x13, 0x1f, 0x20, 0x7f, 0x80, 0xfc, 0xfd, 0xfe, 0xff};
  const int rounds = 1 + static_cast<int>(rng() % 6);
  for (int i = 0; i < rounds; ++i) {
    const size_t at = b.empty() ? 0 : rng() % b.size();
    const auto pos = [&](size_t p) { return b.begin() + static_cast<long>(p); };
    switch (rng() % 9) {
      case 0: if (!b.empty()) b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      case 1: if (!b.empty()) b[at] = interesting[rng() % sizeof interesting]; break;
      case 2: if (!b.empty()) b[at] = static_cast<uint8_t>(rng()); break;
      case 3: b.insert(pos(at), static_cast<uint8_t>(rng())); break;
      case 4: if (!b.empty()) b.erase(pos(at), pos(std::min(b.size(), at + 1 + rng() % 8))); break;
      case 5: b.resize(at); break;
      case 6: if (b.size() > 1) b[1] = static_cast<uint8_t>(rng() % 32); break;  // any known flags
      case 7: {  // graft the tail of another vector
        const bytes& o = seeds[rng() % seeds.size()];
        size_t from = rng() % (o.size() + 1);
        b.resize(at);
        b.insert(b.end(), o.begin() + static_cast<long>(from), o.end());
        break;
      }
      case 8: if (!b.empty()) {  // duplicate a chunk
        size_t len = std::min<size_t>(b.size() - at, 1 + rng() % 40);
        bytes chunk(pos(at), pos(at + len));
        b.insert(pos(rng() % b.size()), chunk.begin(), chunk.end());
        break;
      }
    }
  }
  return b;
}

} // namespace

TEST_CASE("rpc: seeded mutations of the vectors decode safely and round-trip", "[unit]") {
  const auto seeds = all_datagrams();
  REQUIRE(seeds.size() >= 30);
  const uint64_t runs = env_or("HT_RPC_FUZZ_RUNS", 200000);
  std::mt19937_64 rng(env_or("HT_RPC_FUZZ_SEED", 20261129));
  uint64_t accepted = 0, rejected = 0, mismatched = 0;
  for (const auto& s : seeds) REQUIRE(ht::rpc_fuzz::message(s.data(), s.size()) == outcome::accepted);
  for (uint64_t i = 0; i < runs; ++i) {
    bytes b = mutate(seeds[rng() % seeds.size()], seeds, rng);
    switch (ht::rpc_fuzz::message(b.data(), b.size())) {
      case outcome::accepted: ++accepted; break;
      case outcome::rejected: ++rejected; break;
      case outcome::mismatch:
        ++mismatched;
        FAIL_CHECK("round trip differs for " << hex(b));
        break;
    }
    // Anything other than a typed ht::enc::error escapes the body and fails
    // the test case here.
  }
  INFO("accepted " << accepted << ", rejected " << rejected);
  CHECK(mismatched == 0);
  // The mutations reach past the first checks: a good share still decodes.
  CHECK(accepted > runs / 20);
  CHECK(rejected > runs / 4);
}
