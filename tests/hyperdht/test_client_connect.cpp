// The client side of connect (dht/hyperdht/client_connect): scripted
// FIND_PEER and PEER_HANDSHAKE replies, with a real Noise IK responder
// standing in for the server, against connect.js's rules.
#include <catch2/catch.hpp>

#include "dht/hyperdht/address_class.hpp"
#include "dht/hyperdht/client_connect.hpp"
#include "dht/hyperdht/signing.hpp"

using namespace ht::hyperdht;
using namespace std::chrono_literals;
namespace noise = ht::noise;

namespace {

using tp = client_connect::time_point;
const tp t0 = tp{} + 1000h;

ipv4_address ip(const char* h, uint16_t port) { return ipv4_address::parse(h, port); }

const auto client_kp = noise::keypair::from_seed(noise::key32{1});
const auto server_kp = noise::keypair::from_seed(noise::key32{2});
const auto relay_a = ip("40.0.0.1", 40);
const auto relay_b = ip("40.0.0.2", 40);
const auto relay_c = ip("40.0.0.3", 40);
const auto server_at = ip("50.0.0.5", 5000);
const auto client_seen = ip("60.0.0.6", 6000);

bytes encode_record() {
  peer_record r;
  r.public_key = server_kp.public_key;
  ht::enc::writer w;
  r.encode(w);
  return w.take();
}

ht::rpc::reply find_reply(const ipv4_address& from, bool with_record = true) {
  ht::rpc::reply r;
  r.from = from;
  r.to = client_seen;
  if (with_record) r.value = encode_record();
  return r;
}

noise::noise_payload server_payload() {
  noise::noise_payload p;
  p.udx = noise::udx_info{};
  p.udx->id = 777;
  p.secret_stream = noise::secret_stream_info{};
  return p;
}

// The server: answers one handshake request with `payload`, relayed
// (peerAddress set) unless `direct`.
struct fake_server {
  noise::peer_handshake hs{server_kp, std::nullopt};
  noise::noise_payload got;
  ht::rpc::reply answer(const send_handshake& s, const noise::noise_payload& payload,
                        bool direct = false, std::optional<ipv4_address> from = {}) {
    auto m = decode_value<handshake_message>(*s.request.value);
    REQUIRE(m.mode == mode::from_client);
    got = hs.recv(m.noise);
    handshake_message out;
    out.mode = mode::reply;
    out.noise = hs.send(payload);
    if (!direct) out.peer_address = server_at;
    ht::enc::writer w;
    out.encode(w);
    ht::rpc::reply r;
    r.from = from ? *from : s.request.to;
    r.to = client_seen;
    r.value = w.take();
    return r;
  }
};

std::vector<connect_action> drain(client_connect& c) {
  std::vector<connect_action> out;
  while (auto a = c.next_action()) out.push_back(std::move(*a));
  return out;
}

template <class T>
std::vector<T> only(const std::vector<connect_action>& v) {
  std::vector<T> out;
  for (const auto& a : v)
    if (auto* x = std::get_if<T>(&a)) out.push_back(*x);
  return out;
}

client_connect make(client_connect_config cfg = {}) {
  return client_connect(client_kp, server_kp.public_key, 4242, t0, std::move(cfg));
}

// Runs find -> one handshake answered with `payload`, returns the actions after it.
std::vector<connect_action> one_handshake(client_connect& c, const noise::noise_payload& payload,
                                          bool direct = false) {
  c.on_find_peer_reply(find_reply(relay_a));
  auto sends = only<send_handshake>(drain(c));
  REQUIRE(sends.size() == 1);
  fake_server srv;
  c.on_handshake_reply(sends[0].attempt, srv.answer(sends[0], payload, direct), t0 + 1s);
  return drain(c);
}

} // namespace

TEST_CASE("client_connect: the first handshake carries connect.js's payload", "[unit]") {
  auto c = make();
  CHECK(c.target() == hash32(server_kp.public_key));
  c.on_find_peer_reply(find_reply(relay_a));
  auto sends = only<send_handshake>(drain(c));
  REQUIRE(sends.size() == 1);
  const auto& req = sends[0].request;
  CHECK(req.to == relay_a);
  CHECK(req.command == command::peer_handshake);
  CHECK(!req.internal);
  REQUIRE(req.target);
  CHECK(*req.target == c.target());
  fake_server srv;
  auto m = decode_value<handshake_message>(*req.value);
  CHECK(!m.peer_address);
  CHECK(!m.relay_address);
  auto p = srv.hs.recv(m.noise);
  CHECK(p.version == 1);
  CHECK(p.error == noise::error_none);
  CHECK(p.firewall == noise::firewall_unknown);
  CHECK(!p.holepunch);
  CHECK(p.addresses4.empty());
  REQUIRE(p.udx);
  CHECK(p.udx->id == 4242);
  CHECK(p.secret_stream);
  CHECK(!p.relay_through);
  CHECK(*srv.hs.remote_public_key() == client_kp.public_key);
}

TEST_CASE("client_connect: replies without a record are skipped; at most 2 handshakes in flight", "[unit]") {
  auto c = make();
  c.on_find_peer_reply(find_reply(ip("40.0.0.9", 1), false));
  auto bad = find_reply(ip("40.0.0.8", 1));
  bad.value = bytes{0xff};  // not a peer record
  c.on_find_peer_reply(bad);
  CHECK(drain(c).empty());
  c.on_find_peer_reply(find_reply(relay_a));
  c.on_find_peer_reply(find_reply(relay_b));
  c.on_find_peer_reply(find_reply(relay_c));
  c.on_find_peer_reply(find_reply(relay_c));  // the same node again: once
  auto sends = only<send_handshake>(drain(c));
  REQUIRE(sends.size() == 2);
  CHECK(sends[0].request.to == relay_a);
  CHECK(sends[1].request.to == relay_b);
  // Both carry the same noise (one NoiseWrap, as connect.js).
  CHECK(sends[0].request.value == sends[1].request.value);
  // A failed attempt frees its slot for the queued node.
  c.on_handshake_failed(sends[0].attempt, "timeout");
  auto next = only<send_handshake>(drain(c));
  REQUIRE(next.size() == 1);
  CHECK(next[0].request.to == relay_c);
}

TEST_CASE("client_connect: reply checks (mode, sender, noise)", "[unit]") {
  auto c = make();
  c.on_find_peer_reply(find_reply(relay_a));
  c.on_find_peer_reply(find_reply(relay_b));
  c.on_find_peer_reply(find_reply(relay_c));
  auto sends = only<send_handshake>(drain(c));
  REQUIRE(sends.size() == 2);

  // From another address than the node asked: rejected, the slot goes to relay_c.
  fake_server s1;
  c.on_handshake_reply(sends[0].attempt, s1.answer(sends[0], server_payload(), false, ip("9.9.9.9", 9)), t0);
  auto after = drain(c);
  CHECK(only<open_stream>(after).empty());
  auto third = only<send_handshake>(after);
  REQUIRE(third.size() == 1);
  CHECK(third[0].request.to == relay_c);

  // Not mode REPLY: rejected.
  handshake_message wrong;
  wrong.mode = mode::from_server;
  wrong.noise = bytes(48, 1);
  ht::enc::writer w;
  wrong.encode(w);
  ht::rpc::reply r;
  r.from = relay_b;
  r.value = w.take();
  c.on_handshake_reply(sends[1].attempt, r, t0);
  CHECK(only<open_stream>(drain(c)).empty());
  CHECK(c.counters().bad_replies == 2);

  // The last one is valid.
  fake_server s3;
  c.on_handshake_reply(third[0].attempt, s3.answer(third[0], server_payload()), t0);
  auto win = only<open_stream>(drain(c));
  REQUIRE(win.size() == 1);
  CHECK(win[0].relay_address == relay_c);
}

TEST_CASE("client_connect: a forged noise does not sink the connect", "[unit]") {
  auto c = make();
  c.on_find_peer_reply(find_reply(relay_a));
  auto s1 = only<send_handshake>(drain(c));
  REQUIRE(s1.size() == 1);
  // relay_a answers REPLY with noise made for another handshake.
  fake_server other;
  noise::peer_handshake stranger(noise::keypair::from_seed(noise::key32{9}), server_kp.public_key);
  auto stranger_msg = stranger.send(noise::noise_payload{});
  other.hs.recv(stranger_msg);
  handshake_message forged;
  forged.mode = mode::reply;
  forged.noise = other.hs.send(server_payload());
  ht::enc::writer w;
  forged.encode(w);
  ht::rpc::reply r;
  r.from = relay_a;
  r.value = w.take();
  c.on_handshake_reply(s1[0].attempt, r, t0);
  CHECK(only<open_stream>(drain(c)).empty());
  // The next node gets a fresh handshake (new noise) and succeeds.
  c.on_find_peer_reply(find_reply(relay_b));
  auto s2 = only<send_handshake>(drain(c));
  REQUIRE(s2.size() == 1);
  CHECK(s2[0].request.value != s1[0].request.value);
  fake_server srv;
  c.on_handshake_reply(s2[0].attempt, srv.answer(s2[0], server_payload()), t0);
  auto win = only<open_stream>(drain(c));
  REQUIRE(win.size() == 1);
  // The keys agree with the server's.
  auto server_keys = srv.hs.final();
  CHECK(win[0].handshake.keys.initiator);
  CHECK(win[0].handshake.keys.tx == server_keys.keys.rx);
  CHECK(win[0].handshake.keys.rx == server_keys.keys.tx);
  CHECK(win[0].handshake.keys.remote_public_key == server_kp.public_key);
  CHECK(win[0].remote_udx_id == 777);
}

TEST_CASE("client_connect: the server payload's version, error and udx", "[unit]") {
  SECTION("error") {
    auto c = make();
    auto p = server_payload();
    p.error = noise::error_aborted;
    auto fails = only<connect_failed>(one_handshake(c, p));
    REQUIRE(fails.size() == 1);
    CHECK(std::string(to_code(fails[0].error)) == "SERVER_ERROR");
  }
  SECTION("no udx") {
    auto c = make();
    auto p = server_payload();
    p.udx.reset();
    auto fails = only<connect_failed>(one_handshake(c, p));
    REQUIRE(fails.size() == 1);
    CHECK(fails[0].error == connect_error::server_error);
  }
}

TEST_CASE("client_connect: where the stream goes (connect.js rules)", "[unit]") {
  SECTION("rule 2: not relayed -> the node asked") {
    auto c = make();
    auto win = only<open_stream>(one_handshake(c, server_payload(), true));
    REQUIRE(win.size() == 1);
    CHECK(win[0].rule == 2);
    CHECK(!win[0].relayed);
    CHECK(win[0].to == relay_a);
  }
  SECTION("rule 3: OPEN server -> first non-bogon addresses4") {
    auto c = make();
    auto p = server_payload();
    p.firewall = noise::firewall_open;
    p.addresses4 = {ip("127.0.0.1", 1), ip("192.168.1.2", 2), ip("8.8.8.8", 3), ip("9.9.9.9", 4)};
    auto win = only<open_stream>(one_handshake(c, p));
    REQUIRE(win.size() == 1);
    CHECK(win[0].rule == 3);
    CHECK(win[0].to == ip("8.8.8.8", 3));
    CHECK(win[0].server_address == server_at);
    CHECK(win[0].client_address == client_seen);
  }
  SECTION("rule 3: relayed, no holepunch relays, only bogons -> serverAddress") {
    auto c = make();
    auto p = server_payload();
    p.addresses4 = {ip("127.0.0.1", 1), ip("10.1.2.3", 2)};
    auto win = only<open_stream>(one_handshake(c, p));
    REQUIRE(win.size() == 1);
    CHECK(win[0].rule == 3);
    CHECK(win[0].to == server_at);
  }
  SECTION("rule 1: packets from the server arrived first") {
    auto c = make();
    c.on_server_packet(ip("70.0.0.7", 7));
    auto p = server_payload();
    p.firewall = noise::firewall_open;
    auto win = only<open_stream>(one_handshake(c, p, true));
    REQUIRE(win.size() == 1);
    CHECK(win[0].rule == 1);
    CHECK(win[0].to == ip("70.0.0.7", 7));
  }
}

TEST_CASE("client_connect: LAN ping and the holepunch seam", "[unit]") {
  auto holepunch_payload = [] {
    auto p = server_payload();
    p.holepunch = noise::holepunch_info{};
    p.holepunch->id = 1;
    p.holepunch->relays.push_back({relay_a, server_at});
    return p;
  };
  SECTION("same host: ping the best non-reserved address, connect when it answers") {
    client_connect_config cfg;
    cfg.local_addresses = {ip("192.168.5.9", 1)};
    auto c = make(cfg);
    auto p = holepunch_payload();
    p.addresses4 = {ip("0.1.2.3", 1), ip("10.0.0.2", 2), ip("192.168.5.7", 3)};
    c.on_find_peer_reply(find_reply(relay_a));
    auto sends = only<send_handshake>(drain(c));
    fake_server srv;
    auto reply = srv.answer(sends[0], p);
    reply.to = ip("50.0.0.5", 9999);  // our public host == the server's
    c.on_handshake_reply(sends[0].attempt, reply, t0);
    auto acts = drain(c);
    auto pings = only<lan_ping>(acts);
    REQUIRE(pings.size() == 1);
    CHECK(pings[0].to == ip("192.168.5.7", 3));
    CHECK(only<open_stream>(acts).empty());
    CHECK(c.wake_at() == t0 + 5s);
    SECTION("answered") {
      c.on_lan_ping(true);
      auto win = only<open_stream>(drain(c));
      REQUIRE(win.size() == 1);
      CHECK(win[0].rule == 5);
      CHECK(win[0].to == ip("192.168.5.7", 3));
    }
    SECTION("not answered") {
      c.on_lan_ping(false);
      auto f = only<connect_failed>(drain(c));
      REQUIRE(f.size() == 1);
      CHECK(f[0].error == connect_error::holepunch_aborted);
    }
    SECTION("timed out") {
      c.on_timeout(t0 + 5s);
      auto f = only<connect_failed>(drain(c));
      REQUIRE(f.size() == 1);
      CHECK(f[0].error == connect_error::holepunch_aborted);
    }
  }
  SECTION("another host and holepunch relays: HOLEPUNCH_ABORTED (not implemented)") {
    auto c = make();
    auto f = only<connect_failed>(one_handshake(c, holepunch_payload()));
    REQUIRE(f.size() == 1);
    CHECK(std::string(to_code(f[0].error)) == "HOLEPUNCH_ABORTED");
  }
}

TEST_CASE("client_connect: PEER_NOT_FOUND, PEER_CONNECTION_FAILED, timeouts", "[unit]") {
  SECTION("no record") {
    auto c = make();
    c.on_find_peer_reply(find_reply(relay_a, false));
    c.on_find_peer_done();
    auto acts = drain(c);
    auto f = only<connect_failed>(acts);
    REQUIRE(f.size() == 1);
    CHECK(std::string(to_code(f[0].error)) == "PEER_NOT_FOUND");
    CHECK(only<cancel_query>(acts).size() == 1);
    CHECK(c.done());
  }
  SECTION("records, every handshake failed") {
    auto c = make();
    c.on_find_peer_reply(find_reply(relay_a));
    c.on_find_peer_reply(find_reply(relay_b));
    auto sends = only<send_handshake>(drain(c));
    c.on_find_peer_done();
    CHECK(only<connect_failed>(drain(c)).empty());  // still two in flight
    c.on_handshake_failed(sends[0].attempt, "timeout");
    c.on_handshake_failed(sends[1].attempt, "timeout");
    auto f = only<connect_failed>(drain(c));
    REQUIRE(f.size() == 1);
    CHECK(std::string(to_code(f[0].error)) == "PEER_CONNECTION_FAILED");
  }
  SECTION("the query failed before finding anything") {
    auto c = make();
    c.on_find_peer_done(std::string("closing"));
    auto f = only<connect_failed>(drain(c));
    REQUIRE(f.size() == 1);
    CHECK(f[0].error == connect_error::query_failed);
  }
  SECTION("nothing within handshake_timeout") {
    auto c = make();
    REQUIRE(c.wake_at() == t0 + 20s);
    c.on_timeout(t0 + 19s);
    CHECK(drain(c).empty());
    c.on_timeout(t0 + 20s);
    auto f = only<connect_failed>(drain(c));
    REQUIRE(f.size() == 1);
    CHECK(f[0].error == connect_error::peer_not_found);
    CHECK(!c.wake_at());
  }
  SECTION("late replies after the end are ignored") {
    auto c = make();
    c.on_find_peer_reply(find_reply(relay_a));
    auto sends = only<send_handshake>(drain(c));
    c.on_timeout(t0 + 20s);
    drain(c);
    fake_server srv;
    c.on_handshake_reply(sends[0].attempt, srv.answer(sends[0], server_payload()), t0 + 21s);
    CHECK(drain(c).empty());
  }
}

TEST_CASE("address classes as npm bogon and Holepuncher.matchAddress", "[unit]") {
  CHECK(is_bogon_ipv4(ip("127.0.0.1", 0)));
  CHECK(!is_reserved_ipv4(ip("127.0.0.1", 0)));
  CHECK(is_private_ipv4(ip("100.64.0.1", 0)));
  CHECK(!is_private_ipv4(ip("100.128.0.1", 0)));
  CHECK(is_private_ipv4(ip("172.31.0.1", 0)));
  CHECK(!is_private_ipv4(ip("172.32.0.1", 0)));
  CHECK(is_reserved_ipv4(ip("0.0.0.0", 0)));
  CHECK(is_reserved_ipv4(ip("198.19.1.1", 0)));
  CHECK(is_reserved_ipv4(ip("224.0.0.1", 0)));
  CHECK(is_reserved_ipv4(ip("255.255.255.255", 0)));
  CHECK(!is_bogon_ipv4(ip("8.8.8.8", 0)));
  std::vector<ipv4_address> ours{ip("192.168.122.238", 0)};
  std::vector<ipv4_address> theirs{ip("10.0.0.1", 1), ip("192.168.0.23", 2), ip("192.168.122.1", 3)};
  CHECK(*match_address(ours, theirs) == ip("192.168.122.1", 3));
  theirs.pop_back();
  CHECK(*match_address(ours, theirs) == ip("192.168.0.23", 2));
  CHECK(match_address(ours, {ip("10.0.0.1", 1)}) == nullptr);
}
