// The node's answers to internal commands, byte for byte (through the
// codec), its handling of ids, tokens and user requests, and its own
// requests through the public API.
#include <catch2/catch.hpp>

#include <random>

#include "dht/rpc/node.hpp"
#include "dht/rpc/routing_table.hpp"

using namespace ht::rpc;
using namespace std::chrono_literals;
using ht::enc::ipv4_address;

namespace {

const time_point t0 = time_point{} + 100s;
const ipv4_address self_addr = ipv4_address::parse("10.0.0.1", 5000);
const ipv4_address peer = ipv4_address::parse("10.0.0.2", 6000);

node_config persistent_cfg() {
  node_config c;
  c.mode = node_mode::persistent;
  c.public_address = self_addr;
  c.seed = 42;
  return c;
}

node_config ephemeral_cfg() {
  node_config c;
  c.seed = 43;
  return c;
}

std::vector<transmit> drain(node& n) {
  std::vector<transmit> out;
  while (auto t = n.poll_transmit()) out.push_back(std::move(*t));
  return out;
}

std::vector<event> events(node& n) {
  std::vector<event> out;
  while (auto e = n.poll_event()) out.push_back(std::move(*e));
  return out;
}

void feed(node& n, const ipv4_address& from, const bytes& b, time_point now = t0) {
  n.receive(0, from, b.data(), b.size(), now);
}

request internal_req(uint16_t tid, internal_command cmd) {
  request r;
  r.tid = tid;
  r.to = self_addr;
  r.internal = true;
  r.command = uint64_t(cmd);
  return r;
}

response decode_response(const transmit& t) {
  auto m = decode(t.data.data(), t.data.size());
  REQUIRE(std::holds_alternative<response>(m));
  return std::get<response>(m);
}

request decode_request(const transmit& t) {
  auto m = decode(t.data.data(), t.data.size());
  REQUIRE(std::holds_alternative<request>(m));
  return std::get<request>(m);
}

// Adds `count` nodes to n's table by having them PING it with their id.
std::vector<ipv4_address> populate(node& n, int count) {
  std::vector<ipv4_address> out;
  for (int i = 0; i < count; i++) {
    auto a = ipv4_address::parse("10.9." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1), 7000);
    request r = internal_req(uint16_t(i), internal_command::ping);
    r.id = node_id(a);
    feed(n, a, encode(r));
    out.push_back(a);
  }
  drain(n);
  return out;
}

} // namespace

TEST_CASE("node: PING gets an empty reply; a persistent node sends its id", "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  CHECK(n.id() == node_id(self_addr));
  CHECK_FALSE(n.ephemeral());
  feed(n, peer, encode(internal_req(77, internal_command::ping)));
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);
  CHECK(tx[0].to == peer);
  response want;
  want.tid = 77;
  want.to = peer;
  want.id = node_id(self_addr);
  CHECK(tx[0].data == encode(want));

  node e(ephemeral_cfg(), t0);
  CHECK(e.ephemeral());
  feed(e, peer, encode(internal_req(78, internal_command::ping)));
  tx = drain(e);
  REQUIRE(tx.size() == 1);
  response want_e;
  want_e.tid = 78;
  want_e.to = peer;  // no id: ephemeral
  CHECK(tx[0].data == encode(want_e));
}

// poll_transmit(transmit&) hands the caller's old buffers back to the node
// for later datagrams: the datagrams must be the ones poll_transmit()
// gives, however the buffers are recycled.
TEST_CASE("node: poll_transmit into a reused transmit gives the same datagrams", "[unit][rpc][node]") {
  node a(persistent_cfg(), t0), b(persistent_cfg(), t0);
  populate(a, 40);
  populate(b, 40);
  std::mt19937_64 rng(9);
  std::vector<transmit> reused(3);
  for (int i = 0; i < 500; i++) {
    request r = internal_req(uint16_t(i), i % 3 ? internal_command::find_node : internal_command::ping);
    if (i % 3) {
      key32 t;
      for (auto& x : t) x = uint8_t(rng());
      r.target = t;
    }
    const bytes d = encode(r);
    // 1-3 requests before polling, so several datagrams wait at once
    const int burst = 1 + i % 3;
    for (int j = 0; j < burst; j++) {
      feed(a, peer, d);
      feed(b, peer, d);
    }
    auto want = drain(a);
    size_t got = 0;
    while (b.poll_transmit(reused[got % reused.size()])) {
      const transmit& t = reused[got % reused.size()];
      REQUIRE(got < want.size());
      CHECK(t.socket == want[got].socket);
      CHECK(t.to == want[got].to);
      REQUIRE(t.data == want[got].data);
      got++;
    }
    REQUIRE(got == want.size());
  }
  transmit none;
  CHECK_FALSE(b.poll_transmit(none));
}

TEST_CASE("node: persistent mode needs a public address", "[unit][rpc][node]") {
  node_config c = persistent_cfg();
  c.public_address.reset();
  CHECK_THROWS_AS(node(c, t0), std::invalid_argument);
}

TEST_CASE("node: PING_NAT replies to the port in the value on the requester's host",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  auto r = internal_req(5, internal_command::ping_nat);
  r.value = bytes{0x61, 0x1e};  // 7777
  feed(n, peer, encode(r));
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);
  const auto dest = ipv4_address::parse("10.0.0.2", 7777);
  CHECK(tx[0].to == dest);
  response want;
  want.tid = 5;
  want.to = dest;
  want.id = node_id(self_addr);
  CHECK(tx[0].data == encode(want));
  // No value, a short value or port 0: no answer (index.js:650-652).
  r.value.reset();
  feed(n, peer, encode(r));
  r.value = bytes{1};
  feed(n, peer, encode(r));
  r.value = bytes{0, 0};
  feed(n, peer, encode(r));
  CHECK(drain(n).empty());
}

TEST_CASE("node: FIND_NODE answers with the k closest nodes; no target, no answer",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  auto known = populate(n, 60);
  // Rows near the top hold k = 20 each: some of the 60 did not fit.
  CHECK(n.stats().table_size >= 40);
  CHECK(n.stats().table_size < 60);
  key32 target{};
  target[0] = 0x5a;
  auto r = internal_req(9, internal_command::find_node);
  r.target = target;
  feed(n, peer, encode(r));
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);
  response want;
  want.tid = 9;
  want.to = peer;
  want.id = node_id(self_addr);
  want.closer_nodes = n.closest(target, 20);
  CHECK(want.closer_nodes.size() == 20);
  CHECK(tx[0].data == encode(want));
  r.target.reset();
  feed(n, peer, encode(r));
  CHECK(drain(n).empty());
}

TEST_CASE("node: unknown internal commands get UNKNOWN_COMMAND, with closer nodes when "
          "there is a target", "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  populate(n, 5);
  request r = internal_req(3, internal_command::ping);
  r.command = 9;
  feed(n, peer, encode(r));
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);
  response want;
  want.tid = 3;
  want.to = peer;
  want.id = node_id(self_addr);
  want.error = error_code::unknown_command;
  CHECK(tx[0].data == encode(want));
  key32 target{};
  r.target = target;
  feed(n, peer, encode(r));
  tx = drain(n);
  REQUIRE(tx.size() == 1);
  want.closer_nodes = n.closest(target, 20);
  CHECK(want.closer_nodes.size() == 5);
  CHECK(tx[0].data == encode(want));
}

TEST_CASE("node: DELAYED_PING answers after the delay, at most 10 s, a bounded number at once",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  auto r = internal_req(4, internal_command::delayed_ping);
  r.value = bytes{0x2c, 0x01, 0, 0};  // 300 ms
  feed(n, peer, encode(r));
  CHECK(drain(n).empty());
  REQUIRE(n.poll_timeout());
  CHECK(*n.poll_timeout() <= t0 + 300ms);
  n.handle_timeout(t0 + 299ms);
  for (const auto& t : drain(n)) CHECK_FALSE(decode_response(t).tid == 4);
  n.handle_timeout(t0 + 300ms);
  bool answered = false;
  for (const auto& t : drain(n)) {
    if (!(t.to == peer)) continue;
    auto res = decode_response(t);
    CHECK(res.tid == 4);
    CHECK(res.error == 0);
    CHECK_FALSE(res.token);
    answered = true;
  }
  CHECK(answered);
  // Over 10 s: dropped (index.js:696).
  r.value = bytes{0x11, 0x27, 0, 0};  // 10001 ms
  feed(n, peer, encode(r), t0 + 1s);
  n.handle_timeout(t0 + 12s);
  for (const auto& t : drain(n)) CHECK_FALSE(t.to == peer);
  // A flood keeps at most 256 waiting.
  r.value = bytes{0x10, 0x27, 0, 0};  // 10000 ms
  for (int i = 0; i < 1000; i++) {
    r.tid = uint16_t(i);
    feed(n, peer, encode(r), t0 + 20s);
  }
  n.handle_timeout(t0 + 30s);
  size_t answers = 0;
  for (const auto& t : drain(n))
    if (t.to == peer) answers++;
  CHECK(answers == 256);
}

TEST_CASE("node: DOWN_HINT pings the node if it is in the table, at most 10 checks at once",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  auto known = populate(n, 30);
  auto hint = [&](const ipv4_address& down, uint16_t tid) {
    auto r = internal_req(tid, internal_command::down_hint);
    ht::enc::writer w;
    down.encode(w);
    r.value = w.take();
    feed(n, peer, encode(r));
    return drain(n);
  };
  // Unknown node: only the empty reply.
  auto tx = hint(ipv4_address::parse("10.200.0.1", 1), 1);
  REQUIRE(tx.size() == 1);
  CHECK(tx[0].to == peer);
  // A known node: reply and a PING to it.
  tx = hint(known[0], 2);
  REQUIRE(tx.size() == 2);
  bool pinged = false;
  for (const auto& t : tx) {
    if (!(t.to == known[0])) continue;
    auto req = decode_request(t);
    CHECK(req.internal);
    CHECK(req.command == uint64_t(internal_command::ping));
    pinged = true;
  }
  CHECK(pinged);
  // The same node again in the same tick: no second check.
  CHECK(hint(known[0], 3).size() == 1);
  // Ten checks at once at most.
  size_t pings = 0;
  for (int i = 1; i < 30; i++)
    for (const auto& t : hint(known[size_t(i)], uint16_t(10 + i)))
      if (!(t.to == peer)) pings++;
  CHECK(pings == 9);
  // A short value gets no answer at all.
  auto r = internal_req(99, internal_command::down_hint);
  r.value = bytes{1, 2, 3};
  feed(n, peer, encode(r));
  CHECK(drain(n).empty());
  // Checks that fail remove the node: 4 sends of 1 s each.
  const size_t before = n.stats().table_size;
  for (int s = 1; s <= 5; s++) {
    n.handle_timeout(t0 + std::chrono::seconds(s));
    drain(n);
  }
  CHECK(n.stats().table_size == before - 10);
}

TEST_CASE("node: a sender's id is kept only if it is node_id(from); only then is it added",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  auto r = internal_req(1, internal_command::ping);
  r.id = node_id(ipv4_address::parse("10.0.0.2", 6001));  // not the sender's
  feed(n, peer, encode(r));
  CHECK(n.stats().table_size == 0);
  r.id = node_id(peer);
  feed(n, peer, encode(r));
  CHECK(n.stats().table_size == 1);
  CHECK(n.closest(node_id(peer), 1) == std::vector<ipv4_address>{peer});

  // User requests carry the checked id up.
  request u;
  u.tid = 2;
  u.to = self_addr;
  u.command = 4;
  u.id = node_id(ipv4_address::parse("1.2.3.4", 1));
  feed(n, peer, encode(u));
  auto ev = events(n);
  REQUIRE_FALSE(ev.empty());
  auto* re = std::get_if<request_event>(&ev.back());
  REQUIRE(re);
  CHECK_FALSE(re->req.from_id);
}

TEST_CASE("node: user requests go up with the token checked; reply, error and relay",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  populate(n, 3);
  events(n);
  key32 target{};
  target[1] = 9;
  request u;
  u.tid = 321;
  u.to = self_addr;
  u.command = 4;  // hyperdht ANNOUNCE
  u.target = target;
  u.value = bytes{1, 2, 3};
  u.token = n.token_for(peer);
  feed(n, peer, encode(u));
  auto ev = events(n);
  REQUIRE(ev.size() == 1);
  auto req = std::get<request_event>(ev[0]).req;
  CHECK(req.from == peer);
  CHECK(req.tid == 321);
  CHECK(req.command == 4);
  CHECK_FALSE(req.internal);
  CHECK(req.token_valid);
  CHECK(req.value == bytes{1, 2, 3});
  CHECK(drain(n).empty());  // nothing sent until the layer above answers

  // A token for another host is not valid; it still goes up (the layer
  // above answers INVALID_TOKEN through error()).
  u.token = n.token_for(ipv4_address::parse("10.0.0.3", 6000));
  feed(n, peer, encode(u));
  ev = events(n);
  REQUIRE(ev.size() == 1);
  CHECK_FALSE(std::get<request_event>(ev[0]).req.token_valid);
  CHECK(n.stats().invalid_tokens == 1);

  reply_options with_value;
  with_value.value = bytes{9};
  n.reply(req, with_value);
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);
  response want;
  want.tid = 321;
  want.to = peer;
  want.id = node_id(self_addr);
  want.token = n.token_for(peer);
  want.closer_nodes = n.closest(target, 20);
  want.value = bytes{9};
  CHECK(tx[0].data == encode(want));

  reply_options bare;
  bare.token = false;
  bare.closer_nodes = false;
  bare.to = ipv4_address::parse("10.5.5.5", 55);
  n.reply(req, bare);
  tx = drain(n);
  REQUIRE(tx.size() == 1);
  CHECK(tx[0].to == *bare.to);
  response want2;
  want2.tid = 321;
  want2.to = *bare.to;
  want2.id = node_id(self_addr);
  CHECK(tx[0].data == encode(want2));

  n.error(req, 17);
  tx = drain(n);
  REQUIRE(tx.size() == 1);
  response want3;
  want3.tid = 321;
  want3.to = peer;
  want3.id = node_id(self_addr);
  want3.closer_nodes = n.closest(target, 20);
  want3.error = 17;  // no token, no value (io.js:419-423)
  CHECK(tx[0].data == encode(want3));
  n.error(req, error_code::invalid_token, bare);
  tx = drain(n);
  REQUIRE(tx.size() == 1);
  CHECK_FALSE(decode_response(tx[0]).token);
  reply_options with_token;
  with_token.closer_nodes = false;
  n.error(req, error_code::invalid_token, with_token);
  tx = drain(n);
  REQUIRE(tx.size() == 1);
  CHECK(decode_response(tx[0]).token == n.token_for(peer));

  const auto next = ipv4_address::parse("10.7.7.7", 77);
  n.relay(req, bytes{5}, next);
  tx = drain(n);
  REQUIRE(tx.size() == 1);
  CHECK(tx[0].to == next);
  request relayed;
  relayed.tid = 321;
  relayed.to = next;
  relayed.id = node_id(self_addr);
  relayed.command = 4;
  relayed.target = target;
  relayed.value = bytes{5};
  CHECK(tx[0].data == encode(relayed));
}

TEST_CASE("node: an internal request with a bad token gets INVALID_TOKEN with a fresh token",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  auto r = internal_req(8, internal_command::ping);
  key32 bad{};
  r.token = bad;
  r.id = node_id(peer);
  feed(n, peer, encode(r));
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);
  response want;
  want.tid = 8;
  want.to = peer;
  want.id = node_id(self_addr);
  want.token = n.token_for(peer);
  want.error = error_code::invalid_token;
  CHECK(tx[0].data == encode(want));
  CHECK(n.stats().table_size == 0);  // not added either (io.js:94-101)
}

TEST_CASE("node: tokens rotate every 7.5 s and stay valid for one rotation",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  const key32 tok = n.token_for(peer);
  auto user_with = [&](const key32& t, time_point at) {
    request u;
    u.tid = 1;
    u.to = self_addr;
    u.command = 4;
    u.token = t;
    feed(n, peer, encode(u), at);
    auto ev = events(n);
    for (auto& e : ev)
      if (auto* r = std::get_if<request_event>(&e)) return r->req.token_valid;
    FAIL("no request event");
    return false;
  };
  n.handle_timeout(t0 + 7499ms);
  CHECK(n.token_for(peer) == tok);
  n.handle_timeout(t0 + 7500ms);
  CHECK_FALSE(n.token_for(peer) == tok);
  CHECK(user_with(tok, t0 + 7500ms));
  n.handle_timeout(t0 + 15000ms);
  CHECK_FALSE(user_with(tok, t0 + 15000ms));
}

TEST_CASE("node: request() outcomes: response, wrong sender, timeout, too many, cancel, close",
          "[unit][rpc][node]") {
  node_config cfg = persistent_cfg();
  cfg.max_pending_requests = 2;
  node n(cfg, t0);
  events(n);
  request_options o;
  o.to = peer;
  o.internal = true;
  o.command = uint64_t(internal_command::ping);
  const uint64_t h1 = n.request(o, t0);
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);
  auto sent = decode_request(tx[0]);
  CHECK(sent.id == node_id(self_addr));
  CHECK(sent.to == peer);
  response res;
  res.tid = sent.tid;
  res.to = self_addr;
  res.id = node_id(peer);
  // From elsewhere: unmatched, ignored.
  feed(n, ipv4_address::parse("10.0.0.3", 6000), encode(res), t0 + 10ms);
  CHECK(n.stats().unmatched_responses == 1);
  CHECK(events(n).empty());
  feed(n, peer, encode(res), t0 + 20ms);
  auto ev = events(n);
  REQUIRE(ev.size() == 1);
  auto& r1 = std::get<response_event>(ev[0]);
  CHECK(r1.handle == h1);
  REQUIRE(r1.res);
  CHECK(r1.res->from_id == node_id(peer));
  CHECK(r1.res->rtt == 20ms);
  CHECK(n.stats().table_size == 1);  // a response with a valid id adds the node

  // Timeout after retries + 1 sends, 1 s each.
  o.retries = 1;
  const uint64_t h2 = n.request(o, t0 + 1s);
  drain(n);
  const uint64_t h3 = n.request(o, t0 + 1s);
  // Beyond max_pending_requests: too_many at once.
  const uint64_t h4 = n.request(o, t0 + 1s);
  ev = events(n);
  REQUIRE(ev.size() == 1);
  CHECK(std::get<response_event>(ev[0]).handle == h4);
  CHECK(std::get<response_event>(ev[0]).error == request_error::too_many);
  n.cancel(h3);
  ev = events(n);
  REQUIRE(ev.size() == 1);
  CHECK(std::get<response_event>(ev[0]).error == request_error::cancelled);
  n.handle_timeout(t0 + 2s);
  CHECK(drain(n).size() >= 1);  // the resend
  n.handle_timeout(t0 + 3s);
  ev = events(n);
  bool timed_out = false;
  for (auto& e : ev)
    if (auto* r = std::get_if<response_event>(&e); r && r->handle == h2)
      timed_out = r->error == request_error::timeout;
  CHECK(timed_out);
  // close(): pending requests fail with closing; nothing more is sent.
  const uint64_t h5 = n.request(o, t0 + 4s);
  drain(n);
  n.close();
  ev = events(n);
  REQUIRE(ev.size() == 1);
  CHECK(std::get<response_event>(ev[0]).handle == h5);
  CHECK(std::get<response_event>(ev[0]).error == request_error::closing);
  feed(n, peer, encode(internal_req(1, internal_command::ping)), t0 + 5s);
  CHECK(drain(n).empty());
  CHECK_FALSE(n.poll_timeout());
}

TEST_CASE("node: malformed datagrams are counted and dropped", "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  feed(n, peer, bytes{0x03});
  feed(n, peer, bytes{0x13, 0xff, 0, 0});
  feed(n, peer, bytes{0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(n.stats().malformed == 3);
  CHECK(drain(n).empty());
}

TEST_CASE("node: responses without an id give NAT samples from max(1, #bootstrap) responders",
          "[unit][rpc][node]") {
  node_config cfg = ephemeral_cfg();
  cfg.bootstrap = {peer};
  node n(cfg, t0);
  CHECK(n.firewall() == firewall_class::unknown);
  n.bootstrap(t0);
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);  // FIND_NODE to the bootstrap node
  auto q = decode_request(tx[0]);
  CHECK(q.command == uint64_t(internal_command::find_node));
  CHECK(q.target == n.id());
  CHECK_FALSE(q.id);  // ephemeral
  response res;
  res.tid = q.tid;
  res.to = ipv4_address::parse("1.2.3.4", 999);
  feed(n, peer, encode(res), t0 + 5ms);
  CHECK(n.public_address() == ipv4_address::parse("1.2.3.4", 999));
  CHECK(n.firewall() == firewall_class::consistent);
  bool nat = false, boot = false;
  for (auto& e : events(n)) {
    if (std::holds_alternative<nat_event>(e)) nat = true;
    if (std::holds_alternative<bootstrapped_event>(e)) boot = true;
  }
  CHECK(nat);
  CHECK(boot);
  CHECK(n.bootstrapped());
  CHECK(n.ephemeral());  // ephemeral mode never turns persistent
  // A second id-less responder is not sampled (one bootstrap node).
  request_options o;
  o.to = ipv4_address::parse("10.0.0.9", 1);
  o.internal = true;
  n.request(o, t0 + 1s);
  auto p = decode_request(drain(n).at(0));
  res.tid = p.tid;
  res.to = ipv4_address::parse("5.6.7.8", 1);
  feed(n, o.to, encode(res), t0 + 1s);
  CHECK(n.public_address() == ipv4_address::parse("1.2.3.4", 999));
}

namespace {

// Runs n's timers up to `until`, answering nothing; returns what it sent.
std::vector<transmit> run_silent(node& n, time_point from, time_point until) {
  std::vector<transmit> out;
  for (time_point t = from; t <= until; t += 50ms) {
    if (auto w = n.poll_timeout(); w && *w <= t) n.handle_timeout(t);
    for (auto& x : drain(n)) out.push_back(std::move(x));
  }
  return out;
}

// Bootstraps a persistent node without bootstrap nodes (done at once).
void bootstrap_alone(node& n) {
  n.bootstrap(t0);
  drain(n);
  REQUIRE(n.bootstrapped());
  events(n);
}

} // namespace

TEST_CASE("node: a query visit is sent 6 times; its timeout DOWN_HINTs the referrer and "
          "drops the node", "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  bootstrap_alone(n);
  const ipv4_address referrer = ipv4_address::parse("10.0.1.1", 1000);
  const ipv4_address silent = ipv4_address::parse("10.0.1.2", 1000);
  query_options q;
  q.target = node_id(silent);
  q.internal = true;
  q.command = uint64_t(internal_command::find_node);
  q.nodes = {referrer};
  const uint64_t h = n.query(q, t0);
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);
  CHECK(tx[0].to == referrer);
  auto visit = decode_request(tx[0]);
  CHECK(visit.target == node_id(silent));
  response res;
  res.tid = visit.tid;
  res.to = self_addr;
  res.id = node_id(referrer);
  res.closer_nodes = {silent};
  feed(n, referrer, encode(res), t0 + 10ms);
  size_t to_silent = 0;
  bool hinted = false;
  uint64_t done_at_ms = 0;
  for (time_point t = t0 + 10ms; t <= t0 + 10s; t += 10ms) {
    if (auto w = n.poll_timeout(); w && *w <= t) n.handle_timeout(t);
    for (const auto& x : drain(n)) {
      if (x.to == silent) to_silent++;
      if (x.to == referrer) {
        auto r = decode_request(x);
        CHECK(r.command == uint64_t(internal_command::down_hint));
        ht::enc::writer w;
        silent.encode(w);
        CHECK(r.value == w.take());
        hinted = true;
      }
    }
    for (auto& e : events(n))
      if (auto* d = std::get_if<query_done_event>(&e); d && d->handle == h) {
        done_at_ms = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count());
        REQUIRE(d->closest.size() == 1);
        CHECK(d->closest[0].from == referrer);
        CHECK_FALSE(d->error);
      }
  }
  CHECK(to_silent == 6);
  CHECK(hinted);
  CHECK(done_at_ms >= 6000);
  CHECK(done_at_ms <= 6100);
  CHECK(n.stats().table_size == 1);  // the referrer (it answered with its id)
}

TEST_CASE("node: a committing query re-sends the command with each closest reply's token",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  bootstrap_alone(n);
  const ipv4_address storer = ipv4_address::parse("10.0.2.1", 1000);
  key32 target{};
  target[0] = 1;
  query_options q;
  q.target = target;
  q.command = 4;  // a user command (hyperdht ANNOUNCE)
  q.value = bytes{7, 7};
  q.commit = true;
  q.nodes = {storer};
  const uint64_t h = n.query(q, t0);
  auto first = decode_request(drain(n).at(0));
  CHECK_FALSE(first.internal);
  CHECK_FALSE(first.token);
  key32 tok{};
  tok[5] = 5;
  response res;
  res.tid = first.tid;
  res.to = self_addr;
  res.id = node_id(storer);
  res.token = tok;
  feed(n, storer, encode(res), t0 + 10ms);
  auto ev = events(n);
  REQUIRE(ev.size() == 1);  // the streamed reply; not done before the commit
  CHECK(std::get<query_reply_event>(ev[0]).handle == h);
  auto tx = drain(n);
  REQUIRE(tx.size() == 1);
  auto commit = decode_request(tx[0]);
  CHECK(tx[0].to == storer);
  CHECK(commit.token == tok);
  CHECK(commit.command == 4);
  CHECK_FALSE(commit.internal);
  CHECK(commit.target == target);
  CHECK(commit.value == bytes{7, 7});
  res.tid = commit.tid;
  res.token.reset();
  feed(n, storer, encode(res), t0 + 20ms);
  ev = events(n);
  REQUIRE(ev.size() == 1);
  auto& done = std::get<query_done_event>(ev[0]);
  CHECK(done.handle == h);
  CHECK_FALSE(done.error);
  CHECK(done.closest.size() == 1);
}

TEST_CASE("node: a full row pings its oldest node and swaps it out only if it does not answer",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  bootstrap_alone(n);
  // Addresses whose ids fall into row 0 of our table.
  std::vector<ipv4_address> row0;
  for (int i = 1; row0.size() < 22; i++) {
    auto a = ipv4_address::parse("10.3." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1), 9);
    if (shared_prefix_bits(n.id(), node_id(a)) == 0) row0.push_back(a);
  }
  auto ping_from = [&](const ipv4_address& a, time_point at) {
    request r = internal_req(1, internal_command::ping);
    r.id = node_id(a);
    feed(n, a, encode(r), at);
  };
  for (size_t i = 0; i < 20; i++) ping_from(row0[i], t0);
  drain(n);
  CHECK(n.stats().table_size == 20);
  // Nodes heard from during the current tick are never candidates.
  ping_from(row0[20], t0);
  auto only_reply = drain(n);
  REQUIRE(only_reply.size() == 1);
  CHECK(only_reply[0].to == row0[20]);
  run_silent(n, t0, t0 + 5s);  // one tick later
  // The 21st: the row's oldest (row0[0]) is pinged; it answers: kept.
  ping_from(row0[20], t0 + 5s);
  auto tx = drain(n);
  const transmit* ping = nullptr;
  for (const auto& t : tx)
    if (t.to == row0[0]) ping = &t;
  REQUIRE(ping);
  response res;
  res.tid = decode_request(*ping).tid;
  res.to = self_addr;
  res.id = node_id(row0[0]);
  feed(n, row0[0], encode(res), t0 + 5100ms);
  auto in_table = [&](const ipv4_address& a) {
    auto c = n.closest(node_id(a), 1);
    return !c.empty() && c[0] == a;
  };
  CHECK(in_table(row0[0]));
  CHECK_FALSE(in_table(row0[20]));
  // The 22nd: now row0[1] is the oldest; it stays silent: swapped out.
  ping_from(row0[21], t0 + 5200ms);
  tx = drain(n);
  bool pinged = false;
  for (const auto& t : tx) pinged |= t.to == row0[1];
  CHECK(pinged);
  run_silent(n, t0 + 5200ms, t0 + 9500ms);
  CHECK_FALSE(in_table(row0[1]));
  CHECK(in_table(row0[21]));
  CHECK(n.stats().table_size == 20);
}

TEST_CASE("node: every 8 ticks the oldest nodes are pinged and those that fail are dropped",
          "[unit][rpc][node]") {
  node n(persistent_cfg(), t0);
  bootstrap_alone(n);
  auto known = populate(n, 10);
  REQUIRE(n.stats().table_size == 10);
  // 8 ticks of 5 s, then time for the checks to fail (4 sends of 1 s). The
  // oldest was heard from less than 12 ticks ago, so only 2 are checked
  // (index.js:726-728).
  auto count_pings = [](const std::vector<transmit>& tx) {
    size_t pings = 0;
    for (const auto& t : tx) {
      auto m = decode(t.data.data(), t.data.size());
      if (auto* r = std::get_if<request>(&m); r && r->internal && r->command == 0) pings++;
    }
    return pings;
  };
  CHECK(count_pings(run_silent(n, t0, t0 + 46s)) == 2 * 4);
  CHECK(n.stats().table_size == 8);
  // A few rounds later every silent node is gone.
  run_silent(n, t0 + 46s, t0 + 250s);
  CHECK(n.stats().table_size == 0);
}
