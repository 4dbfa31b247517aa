// The announcer (dht/hyperdht/announcer.hpp) fed scripted query results,
// responses and time, checked against announcer.js's behaviour.
#include <catch2/catch.hpp>

#include "dht/hyperdht/announcer.hpp"
#include "dht/hyperdht/signing.hpp"

using namespace ht;
using namespace ht::hyperdht;
using namespace std::chrono_literals;

namespace {

ipv4_address addr(uint8_t last, uint16_t port) { return ipv4_address{{10, 0, 0, last}, port}; }

key32 filled(uint8_t b) {
  key32 k;
  k.fill(b);
  return k;
}

rpc::reply query_reply(uint8_t n, bool with_token = true) {
  rpc::reply r;
  r.from = addr(n, 1000 + n);
  r.from_id = filled(n);
  r.to = ipv4_address{{1, 2, 3, 4}, 5555};
  if (with_token)
    r.token = filled(static_cast<uint8_t>(100 + n));
  return r;
}

struct harness {
  noise::keypair kp = noise::keypair::from_seed(filled(7));
  announcer a{kp};
  rpc::time_point now{};

  std::vector<announcer_output> drain() {
    std::vector<announcer_output> v;
    while (auto o = a.poll_output())
      v.push_back(std::move(*o));
    return v;
  }
  announcer_query one_query() {
    auto v = drain();
    REQUIRE(v.size() == 1);
    REQUIRE(std::holds_alternative<announcer_query>(v[0]));
    return std::get<announcer_query>(v[0]);
  }
  std::vector<announcer_request> requests() {
    std::vector<announcer_request> r;
    for (auto& o : drain()) {
      REQUIRE(std::holds_alternative<announcer_request>(o));
      r.push_back(std::get<announcer_request>(o));
    }
    return r;
  }
  rpc::reply ok_from(const ipv4_address& from) {
    rpc::reply r;
    r.from = from;
    return r;
  }
  // start + query answered by replies 1..n + every announce accepted.
  std::vector<announcer_request> announce_to(std::vector<rpc::reply> closest) {
    auto q = one_query();
    a.on_query_done(q.id, closest, now);
    auto anns = requests();
    for (auto& r : anns)
      a.on_response(r.id, ok_from(r.opts.to), now);
    return anns;
  }
};

} // namespace

TEST_CASE("announcer: FIND_PEER toward hash(pk), then signed ANNOUNCE to the first 3 closest replies",
          "[unit]") {
  harness h;
  h.a.start(h.now);
  auto q = h.one_query();
  CHECK(q.opts.target == hash32(h.kp.public_key));
  CHECK(q.opts.command == command::find_peer);
  CHECK_FALSE(q.opts.internal);
  CHECK(q.opts.nodes.empty());

  h.a.on_query_done(q.id, {query_reply(1), query_reply(2), query_reply(3), query_reply(4)}, h.now);
  auto anns = h.requests();
  REQUIRE(anns.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    auto r = query_reply(static_cast<uint8_t>(i + 1));
    CHECK(anns[i].opts.to == r.from);
    CHECK(anns[i].opts.command == command::announce);
    CHECK(anns[i].opts.token == r.token);
    CHECK(anns[i].opts.target == h.a.target());
    auto ann = decode_value<announce_message>(*anns[i].opts.value);
    REQUIRE(ann.peer);
    CHECK(ann.peer->public_key == h.kp.public_key);
    CHECK(ann.peer->relay_addresses.empty());
    CHECK_FALSE(ann.refresh);
    // Signed for exactly that node and token.
    CHECK(verify_announce(ns::announce(), h.a.target(), *r.token, *r.from_id, ann));
    CHECK_FALSE(verify_announce(ns::announce(), h.a.target(), *r.token, filled(99), ann));
  }
  CHECK_FALSE(h.a.announced());

  // Two accept, one fails: two relays, {relayAddress: from, peerAddress: to}.
  h.a.on_response(anns[0].id, h.ok_from(anns[0].opts.to), h.now);
  h.a.on_response(anns[1].id, std::nullopt, h.now);
  CHECK_FALSE(h.a.announced());  // still waiting for the third
  auto rej = h.ok_from(anns[2].opts.to);
  rej.error = 2;
  h.a.on_response(anns[2].id, rej, h.now);
  REQUIRE(h.a.relays().size() == 1);
  CHECK(h.a.relays()[0].relay_address == query_reply(1).from);
  CHECK(h.a.relays()[0].peer_address == query_reply(1).to);
  CHECK(h.a.announced());
  CHECK(h.a.stats().announced == 1);
  CHECK(h.a.stats().announce_failed == 2);
}

TEST_CASE("announcer: replies without a token or node id are not announced to", "[unit]") {
  harness h;
  h.a.start(h.now);
  auto q = h.one_query();
  auto no_id = query_reply(2);
  no_id.from_id.reset();
  h.a.on_query_done(q.id, {query_reply(1, false), no_id, query_reply(3), query_reply(4)}, h.now);
  auto anns = h.requests();
  REQUIRE(anns.size() == 1);  // only the first 3 replies count (pickBest), 2 of them unusable
  CHECK(anns[0].opts.to == query_reply(3).from);
}

TEST_CASE("announcer: pings relays every 3 s and re-announces after 100 rounds", "[unit]") {
  harness h;
  h.a.start(h.now);
  h.announce_to({query_reply(1), query_reply(2), query_reply(3)});
  REQUIRE(h.a.relays().size() == 3);
  for (int round = 0; round < 100; ++round) {
    auto pings = h.requests();
    REQUIRE(pings.size() == 3);
    for (auto& p : pings) {
      CHECK(p.opts.internal);
      CHECK(p.opts.command == static_cast<uint64_t>(rpc::internal_command::ping));
      h.a.on_response(p.id, h.ok_from(p.opts.to), h.now);
    }
    if (round == 99)
      break;
    REQUIRE(h.a.poll_timeout());
    CHECK(*h.a.poll_timeout() == h.now + 3s);
    h.a.on_timeout(h.now + 2999ms);  // too early: nothing
    CHECK(h.drain().empty());
    h.now += 3s;
    h.a.on_timeout(h.now);
  }
  // The 100th round's answers start an update seeded with the last closest nodes.
  auto q = h.one_query();
  REQUIRE(q.opts.nodes.size() == 3);
  CHECK(q.opts.nodes[0] == query_reply(1).from);
  CHECK(h.a.stats().updates == 1);
}

TEST_CASE("announcer: fewer than min(n, 3) ping answers re-announce at once", "[unit]") {
  harness h;
  h.a.start(h.now);
  h.announce_to({query_reply(1), query_reply(2)});
  auto pings = h.requests();
  REQUIRE(pings.size() == 2);
  h.a.on_response(pings[0].id, h.ok_from(pings[0].opts.to), h.now);
  h.a.on_response(pings[1].id, std::nullopt, h.now);
  auto q = h.one_query();  // no 3 s sleep
  CHECK(q.opts.command == command::find_peer);
}

TEST_CASE("announcer: relays that dropped out are unannounced with a fresh token", "[unit]") {
  harness h;
  h.a.start(h.now);
  h.announce_to({query_reply(1), query_reply(2), query_reply(3)});
  h.a.refresh();
  auto pings = h.requests();
  for (auto& p : pings)
    h.a.on_response(p.id, h.ok_from(p.opts.to), h.now);
  // The refresh runs an update; node 2 is gone from the closest set.
  auto q = h.one_query();
  h.a.on_query_done(q.id, {query_reply(1), query_reply(3), query_reply(4)}, h.now);
  auto anns = h.requests();
  REQUIRE(anns.size() == 3);
  for (auto& r : anns)
    h.a.on_response(r.id, h.ok_from(r.opts.to), h.now);
  auto out = h.requests();
  // A FIND_PEER to node 2 (for a token), then the pings of the new relays.
  REQUIRE(out.size() == 4);
  CHECK(out[0].opts.to == query_reply(2).from);
  CHECK(out[0].opts.command == command::find_peer);
  CHECK_FALSE(out[0].opts.token);
  // Node 2 still has our record: the UNANNOUNCE is signed for its new token.
  rpc::reply fp = h.ok_from(query_reply(2).from);
  fp.from_id = filled(2);
  fp.token = filled(222);
  fp.value = h.a.record();
  h.a.on_response(out[0].id, fp, h.now);
  auto un = h.requests();
  REQUIRE(un.size() == 1);
  CHECK(un[0].opts.command == command::unannounce);
  CHECK(un[0].opts.token == filled(222));
  auto msg = decode_value<announce_message>(*un[0].opts.value);
  CHECK(verify_announce(ns::unannounce(), h.a.target(), filled(222), filled(2), msg));
  CHECK_FALSE(verify_announce(ns::announce(), h.a.target(), filled(222), filled(2), msg));
}

TEST_CASE("announcer: a node that no longer has our record is not unannounced", "[unit]") {
  harness h;
  h.a.start(h.now);
  h.announce_to({query_reply(1)});
  h.a.stop(h.now);
  auto out = h.requests();
  REQUIRE(out.size() == 1);  // the pending pings are forgotten; one FIND_PEER
  CHECK(out[0].opts.command == command::find_peer);
  CHECK_FALSE(h.a.stopped());
  h.a.on_response(out[0].id, h.ok_from(out[0].opts.to), h.now);  // no value
  CHECK(h.requests().empty());
  CHECK(h.a.stopped());
}

TEST_CASE("announcer: stop() unannounces every current relay", "[unit]") {
  harness h;
  h.a.start(h.now);
  h.announce_to({query_reply(1), query_reply(2), query_reply(3)});
  h.requests();  // pings
  h.a.stop(h.now);
  CHECK_FALSE(h.a.announced());
  auto finds = h.requests();
  REQUIRE(finds.size() == 3);
  for (auto& f : finds) {
    rpc::reply r = h.ok_from(f.opts.to);
    r.from_id = filled(f.opts.to.host[3]);
    r.token = filled(50);
    r.value = h.a.record();
    h.a.on_response(f.id, r, h.now);
  }
  auto uns = h.requests();
  REQUIRE(uns.size() == 3);
  CHECK_FALSE(h.a.stopped());
  for (auto& u : uns) {
    CHECK(u.opts.command == command::unannounce);
    h.a.on_response(u.id, std::nullopt, h.now);  // failures end it too
  }
  CHECK(h.a.stopped());
  CHECK(h.a.stats().unannounced == 3);
  h.a.on_timeout(h.now + 1h);
  CHECK(h.drain().empty());
}

TEST_CASE("announcer: no reply at all is retried with a growing backoff", "[unit]") {
  harness h;
  h.a.start(h.now);
  auto q = h.one_query();
  h.a.on_query_done(q.id, {}, h.now);
  CHECK(h.a.last_update_empty());
  CHECK_FALSE(h.a.announced());
  REQUIRE(h.a.poll_timeout());
  CHECK(*h.a.poll_timeout() == h.now + 1s);
  h.now += 1s;
  h.a.on_timeout(h.now);
  q = h.one_query();
  h.a.on_query_done(q.id, {}, h.now);
  CHECK(*h.a.poll_timeout() == h.now + 2s);
  h.now += 2s;
  h.a.on_timeout(h.now);
  q = h.one_query();
  h.a.on_query_done(q.id, {query_reply(1)}, h.now);
  CHECK_FALSE(h.a.last_update_empty());
  auto anns = h.requests();
  h.a.on_response(anns[0].id, h.ok_from(anns[0].opts.to), h.now);
  CHECK(h.a.announced());
  CHECK(h.a.stats().empty_updates == 2);
}
