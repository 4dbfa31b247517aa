// The iterative query state machine (query.js) fed scripted outcomes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "dht/rpc/query.hpp"
#include "dht/rpc/routing_table.hpp"

using namespace ht::rpc;
using ht::enc::ipv4_address;
using action = query_machine::action;

namespace {

ipv4_address addr(int i) { return ipv4_address::parse("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 4000); }

key32 target_key() {
  key32 t{};
  for (size_t i = 0; i < t.size(); i++) t[i] = uint8_t(i * 7 + 1);
  return t;
}

std::vector<ipv4_address> sorted_by_distance(std::vector<ipv4_address> v, const key32& t) {
  std::sort(v.begin(), v.end(), [&](const ipv4_address& a, const ipv4_address& b) {
    return compare_distance(t, node_id(a), node_id(b)) < 0;
  });
  return v;
}

reply answer(const ipv4_address& from, std::vector<ipv4_address> closer = {}, uint64_t error = 0,
             bool with_id = true) {
  reply r;
  r.from = from;
  if (with_id) r.from_id = node_id(from);
  r.closer_nodes = std::move(closer);
  r.error = error;
  key32 tok{};
  tok[0] = uint8_t(from.host[3]);
  r.token = tok;
  return r;
}

std::vector<action> of_kind(const std::vector<action>& v, action::kind_t k) {
  std::vector<action> out;
  for (const auto& a : v)
    if (a.kind == k) out.push_back(a);
  return out;
}

query_params params(size_t k = 20, size_t concurrency = 10, bool commit = false) {
  query_params p;
  p.target = target_key();
  p.k = k;
  p.concurrency = concurrency;
  p.commit = commit;
  p.command = 2;
  p.self_id[0] = 0xff;  // not any test node
  return p;
}

} // namespace

TEST_CASE("query: seeds from the table, topped up with bootstrap nodes", "[unit][rpc][query]") {
  std::vector<size_t> asked;
  auto table = [&](size_t n) {
    asked.push_back(n);
    return std::vector<ipv4_address>{addr(1), addr(2)};
  };
  query_machine q(params(), table, {addr(100), addr(101)});
  q.start();
  REQUIRE(asked == std::vector<size_t>{20});
  auto visits = of_kind(q.take_actions(), action::visit);
  // LIFO: the last bootstrap node first, the first table node last.
  REQUIRE(visits.size() == 4);
  CHECK(visits[0].to == addr(101));
  CHECK(visits[1].to == addr(100));
  CHECK(visits[2].to == addr(2));
  CHECK(visits[3].to == addr(1));
}

TEST_CASE("query: given seeds are visited first-to-last and k of them skip the table",
          "[unit][rpc][query]") {
  bool table_used = false;
  std::vector<ipv4_address> seeds;
  for (int i = 0; i < 20; i++) seeds.push_back(addr(i));
  query_machine q(params(), [&](size_t) { table_used = true; return std::vector<ipv4_address>{}; },
                  {addr(100)});
  q.seed(seeds);
  q.start();
  CHECK_FALSE(table_used);
  auto visits = of_kind(q.take_actions(), action::visit);
  REQUIRE(visits.size() == 10);  // concurrency
  for (int i = 0; i < 10; i++) CHECK(visits[size_t(i)].to == addr(i));
  // Cached seeds: after the first round only 3 at a time until answers come.
  q.on_error(addr(0), false);
  CHECK(of_kind(q.take_actions(), action::visit).empty());
}

TEST_CASE("query: fewer than k given seeds are topped up from the table, visited first",
          "[unit][rpc][query]") {
  std::vector<size_t> asked;
  auto table = [&](size_t n) {
    asked.push_back(n);
    return std::vector<ipv4_address>{addr(50)};
  };
  query_machine q(params(), table, {addr(100)});
  q.seed({addr(1), addr(2)});
  q.start();
  REQUIRE(asked == std::vector<size_t>{18});
  auto visits = of_kind(q.take_actions(), action::visit);
  REQUIRE(visits.size() == 4);
  CHECK(visits[0].to == addr(100));
  CHECK(visits[1].to == addr(50));
  CHECK(visits[2].to == addr(1));
  CHECK(visits[3].to == addr(2));
}

TEST_CASE("query: walks toward the target and returns the k closest repliers, XOR-sorted",
          "[unit][rpc][query]") {
  const key32 t = target_key();
  std::vector<ipv4_address> all;
  for (int i = 0; i < 200; i++) all.push_back(addr(i));
  auto by_dist = sorted_by_distance(all, t);
  // Every node knows the 20 nodes closest to the target among all but itself.
  auto closer_of = [&](const ipv4_address& self) {
    std::vector<ipv4_address> out;
    for (const auto& a : by_dist)
      if (!(a == self) && out.size() < 20) out.push_back(a);
    return out;
  };
  query_machine q(params(), nullptr, {by_dist[150]});
  q.start();
  size_t visited = 0, max_in_flight = 0;
  for (int guard = 0; guard < 1000; guard++) {
    auto acts = of_kind(q.take_actions(), action::visit);
    max_in_flight = std::max(max_in_flight, q.in_flight());
    if (acts.empty()) break;
    for (const auto& a : acts) {
      visited++;
      q.on_reply(a.to, answer(a.to, closer_of(a.to)));
    }
  }
  REQUIRE(q.finished());
  CHECK_FALSE(q.error());
  CHECK(max_in_flight <= 10);
  REQUIRE(q.closest().size() == 20);
  for (size_t i = 0; i < 20; i++) CHECK(q.closest()[i].from == by_dist[i]);
  CHECK(visited <= 22);
  auto streamed = q.take_replies();
  CHECK(streamed.size() == visited);
}

TEST_CASE("query: errors and id-less replies do not count as closest; scanning stops at the "
          "first node that is not closer", "[unit][rpc][query]") {
  const key32 t = target_key();
  std::vector<ipv4_address> all;
  for (int i = 0; i < 50; i++) all.push_back(addr(i));
  auto d = sorted_by_distance(all, t);
  query_machine q(params(2, 10), nullptr, {d[40]});
  q.start();
  auto v = of_kind(q.take_actions(), action::visit);
  REQUIRE(v.size() == 1);
  // The bootstrap node refers d[1] and d[2].
  q.on_reply(d[40], answer(d[40], {d[1], d[2]}, 0, false));
  CHECK(q.closest().empty());  // no id: not a closest reply
  v = of_kind(q.take_actions(), action::visit);
  REQUIRE(v.size() == 2);
  // d[2] answers with an error: not closest; d[1] answers fine.
  q.on_reply(d[2], answer(d[2], {}, 1));
  CHECK(q.closest().empty());
  // d[1] lists d[30] (not closer than ... k is 2 and only 1 result so far: closer),
  // then d[45]: both taken while fewer than k results exist.
  q.on_reply(d[1], answer(d[1], {d[0], d[30], d[3]}));
  v = of_kind(q.take_actions(), action::visit);
  REQUIRE(v.size() == 3);
  q.on_reply(d[0], answer(d[0]));
  // Now k = 2 results (d[0], d[1]): d[3] and d[30] are not closer and are skipped if
  // still pending; a reply listing [d[20], d[0]] stops at d[20] (not closer).
  q.on_reply(d[3], answer(d[3], {d[20], d[0]}));
  CHECK(of_kind(q.take_actions(), action::visit).empty());
  q.on_reply(d[30], answer(d[30]));
  REQUIRE(q.finished());
  REQUIRE(q.closest().size() == 2);
  CHECK(q.closest()[0].from == d[0]);
  CHECK(q.closest()[1].from == d[1]);
}

TEST_CASE("query: a node that times out is DOWN_HINTed to every node that referred it",
          "[unit][rpc][query]") {
  const key32 t = target_key();
  std::vector<ipv4_address> all;
  for (int i = 0; i < 10; i++) all.push_back(addr(i));
  auto d = sorted_by_distance(all, t);
  query_machine q(params(20, 1), nullptr, {d[9]});
  q.start();
  q.take_actions();
  q.on_reply(d[9], answer(d[9], {d[0], d[5]}));
  auto v = of_kind(q.take_actions(), action::visit);  // concurrency 1: d[5] (LIFO)
  REQUIRE(v.size() == 1);
  CHECK(v[0].to == d[5]);
  q.on_reply(d[5], answer(d[5], {d[0]}));  // a second referrer of d[0]
  v = of_kind(q.take_actions(), action::visit);
  REQUIRE(v.size() == 1);
  CHECK(v[0].to == d[0]);
  // A resend makes it slow: one more visit may go out meanwhile (none pending here).
  q.on_cycle(d[0]);
  q.on_error(d[0], true);
  auto hints = of_kind(q.take_actions(), action::down_hint);
  REQUIRE(hints.size() == 2);
  CHECK(hints[0].to == d[9]);
  CHECK(hints[0].down == d[0]);
  CHECK(hints[1].to == d[5]);
  CHECK(hints[1].down == d[0]);
  REQUIRE(q.finished());
  CHECK(q.closest().size() == 2);
}

TEST_CASE("query: a referrer of a node already known down gets a DOWN_HINT",
          "[unit][rpc][query]") {
  const key32 t = target_key();
  std::vector<ipv4_address> all;
  for (int i = 0; i < 10; i++) all.push_back(addr(i));
  auto d = sorted_by_distance(all, t);
  query_machine q(params(20, 2), nullptr, {d[8], d[9]});
  q.start();
  q.take_actions();
  q.on_reply(d[9], answer(d[9], {d[0]}));
  auto v = of_kind(q.take_actions(), action::visit);
  REQUIRE(v.size() == 1);
  q.on_error(d[0], true);  // times out: DOWN_HINT to d[9]
  CHECK(of_kind(q.take_actions(), action::down_hint).size() == 1);
  q.on_reply(d[8], answer(d[8], {d[0]}));  // d[8] refers the dead node later
  auto hints = of_kind(q.take_actions(), action::down_hint);
  REQUIRE(hints.size() == 1);
  CHECK(hints[0].to == d[8]);
  CHECK(hints[0].down == d[0]);
  // A plain error (not a timeout) sends no hint.
  query_machine q2(params(20, 2), nullptr, {d[9]});
  q2.start();
  q2.take_actions();
  q2.on_reply(d[9], answer(d[9], {d[0]}));
  q2.take_actions();
  q2.on_error(d[0], false);
  CHECK(of_kind(q2.take_actions(), action::down_hint).empty());
}

TEST_CASE("query: slow (resent) visits let another visit start and end the query once k "
          "replies are in", "[unit][rpc][query]") {
  const key32 t = target_key();
  std::vector<ipv4_address> all;
  for (int i = 0; i < 10; i++) all.push_back(addr(i));
  auto d = sorted_by_distance(all, t);
  query_machine q(params(2, 1), nullptr, {d[9]});
  q.start();
  q.take_actions();
  q.on_reply(d[9], answer(d[9], {d[0], d[1], d[2]}));
  auto v = of_kind(q.take_actions(), action::visit);
  REQUIRE(v.size() == 1);
  CHECK(v[0].to == d[2]);
  q.on_cycle(d[2]);  // d[2] is slow: d[1] may go
  v = of_kind(q.take_actions(), action::visit);
  REQUIRE(v.size() == 1);
  CHECK(v[0].to == d[1]);
  q.on_reply(d[1], answer(d[1]));
  v = of_kind(q.take_actions(), action::visit);
  REQUIRE(v.size() == 1);
  CHECK(v[0].to == d[0]);
  q.on_reply(d[0], answer(d[0]));
  // Only the slow d[2] is left and there are k = 2 replies: done.
  CHECK(q.finished());
  // Its late answer changes nothing.
  q.on_reply(d[2], answer(d[2]));
  CHECK(q.closest().size() == 2);
  CHECK(q.closest()[0].from == d[0]);
}

TEST_CASE("query: commit sends the token of each closest reply, then ends", "[unit][rpc][query]") {
  const key32 t = target_key();
  std::vector<ipv4_address> all;
  for (int i = 0; i < 5; i++) all.push_back(addr(i));
  auto d = sorted_by_distance(all, t);
  query_machine q(params(20, 10, true), nullptr, {d[4]});
  q.start();
  q.take_actions();
  q.on_reply(d[4], answer(d[4], {d[0], d[1]}));
  q.take_actions();
  q.on_reply(d[0], answer(d[0]));
  CHECK_FALSE(q.committing());
  auto r1 = answer(d[1]);
  r1.token.reset();  // d[1] sent no token: its commit fails at once
  q.on_reply(d[1], r1);
  REQUIRE(q.committing());
  CHECK_FALSE(q.finished());
  auto commits = of_kind(q.take_actions(), action::commit);
  REQUIRE(commits.size() == 2);
  CHECK(commits[0].to == d[0]);
  CHECK(commits[0].token == *answer(d[0]).token);
  CHECK(commits[1].to == d[4]);
  q.on_commit_done(false, "Request timed out");
  CHECK_FALSE(q.finished());
  q.on_commit_done(true, "");
  REQUIRE(q.finished());
  CHECK_FALSE(q.error());

  // All commits failing fails the query with the last error.
  query_machine q2(params(20, 10, true), nullptr, {d[4]});
  q2.start();
  q2.take_actions();
  q2.on_reply(d[4], answer(d[4]));
  REQUIRE(of_kind(q2.take_actions(), action::commit).size() == 1);
  q2.on_commit_done(false, "Request timed out");
  REQUIRE(q2.finished());
  CHECK(q2.error() == std::string("Request timed out"));

  // Nobody answered: "Too few nodes responded".
  query_machine q3(params(20, 10, true), nullptr, {d[4]});
  q3.start();
  q3.take_actions();
  q3.on_error(d[4], true);
  REQUIRE(q3.finished());
  CHECK(q3.error() == std::string("Too few nodes responded"));
  // Without commit an empty result is no error (query.js pushes null).
  query_machine q4(params(), nullptr, {d[4]});
  q4.start();
  q4.take_actions();
  q4.on_error(d[4], true);
  REQUIRE(q4.finished());
  CHECK_FALSE(q4.error());
}

TEST_CASE("query: a reply cannot add more than k nodes", "[unit][rpc][query]") {
  std::vector<ipv4_address> many;
  for (int i = 0; i < 500; i++) many.push_back(addr(i));
  query_machine q(params(20, 1), nullptr, {addr(999)});
  q.start();
  q.take_actions();
  q.on_reply(addr(999), answer(addr(999), many));
  CHECK(q.pending() + q.in_flight() <= 20);  // not 500
}
