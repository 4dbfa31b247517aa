// Our nat_sampler against npm nat-sampler 1.0.1: the same sample sequences,
// compared after every add (vectors.json "nat").
#include <catch2/catch.hpp>

#include "codec_vectors.hpp"
#include "dht/rpc/nat_sampler.hpp"

using namespace ht;
using namespace ht::rpc_test;

TEST_CASE("rpc nat sampler: the state of JS nat-sampler after every sample", "[unit]") {
  const auto& seqs = vectors().at("nat");
  REQUIRE(seqs.size() >= 40);
  size_t steps = 0, host_only = 0, unknown = 0, full = 0;
  for (const auto& seq : seqs) {
    INFO(seq.at("name").get<std::string>());
    rpc::nat_sampler s;
    size_t i = 0;
    for (const auto& step : seq.at("steps")) {
      INFO("step " << i++);
      s.add(address(step));
      ++steps;
      CHECK(s.size() == step.at("size").get<size_t>());
      CHECK(s.port() == step.at("out_port").get<uint16_t>());
      if (step.at("out_host").is_null()) {
        ++unknown;
        CHECK_FALSE(s.host().has_value());
      } else {
        if (step.at("out_port").get<int>() == 0) ++host_only;
        REQUIRE(s.host().has_value());
        CHECK(enc::ipv4_address{*s.host(), 0}.host_string() == step.at("out_host").get<std::string>());
      }
      if (s.size() == rpc::nat_sampler::window) ++full;
    }
  }
  // The sequences exercise every outcome, and the window wraps.
  CHECK(host_only > 10);
  CHECK(unknown > 10);
  CHECK(full > 100);
  CHECK(steps > 1000);
}

TEST_CASE("rpc nat sampler: consistent samples give host:port, varying ports only the host", "[unit]") {
  rpc::nat_sampler s;
  CHECK_FALSE(s.host().has_value());
  auto a = enc::ipv4_address::parse("1.2.3.4", 5000);
  for (int i = 0; i < 20; ++i) s.add(a);
  CHECK(s.size() == 16);
  CHECK(s.host() == a.host);
  CHECK(s.port() == 5000);
  rpc::nat_sampler r;
  for (uint16_t i = 0; i < 20; ++i) r.add(enc::ipv4_address::parse("1.2.3.4", static_cast<uint16_t>(6000 + i)));
  CHECK(r.host() == a.host);
  CHECK(r.port() == 0);
}
