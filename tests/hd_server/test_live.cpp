// Live checks of our hypertrace-logger-server binary on real sockets
// (127.0.0.1) that issue 10 asks for beyond tests/hd_server/test_interop.cpp:
// (c) the unmodified JS Client with our DHT node as the only DHT node,
// (f) nothing found after our server stops (its UNANNOUNCE), (h) one Noise
// message resent and relayed twice gives one connection, and (s6) hostile
// peers against the server while a good client traces. The JS sides are
// tests/interop/hd-server-peer.js and tests/interop/hd-live-peer.js, which
// drive hyperdht 6.34.0's own code.
#include <iostream>
#include <sstream>

#include "interop_support.hpp"

using namespace hd_interop;

namespace {

const std::string live = "hd-live-peer.js";

json step(node_process& p, const std::string& name, int seconds = 60) {
  auto l = line_starting(p, "{\"step\":", seconds);
  INFO(l);
  auto j = json::parse(l.rfind("{", 0) == 0 ? l : "{}");
  REQUIRE(j.value("step", "") == name);
  return j;
}

// Each trace number 0..n-1 exactly once.
void check_once(const std::vector<std::string>& lines, int n) {
  auto seen = trace_numbers(lines);
  CHECK(seen.size() == static_cast<size_t>(n));
  size_t twice = 0;
  for (const auto& [num, count] : seen)
    twice += count != 1;
  CHECK(twice == 0);
  if (!seen.empty()) {
    CHECK(seen.begin()->first == 0);
    CHECK(seen.rbegin()->first == n - 1);
  }
}

} // namespace

TEST_CASE("(c) the JS client to our server where the only DHT node is ours: each trace once", "[interop]") {
  const int n = 2000 / trace_scale;
  dht_node node(300);
  our_server ours;
  ours.start(node.address);
  const std::string client = client_key_hex(7);
  // The JS Client's own hyperdht node is adaptive and stays ephemeral for its
  // first ~20 minutes (dht-rpc STABLE_TICKS): our node is the only one that
  // stores the announce and relays the handshake.
  node_process c(script, {"client", node.address, ours.key, seed_hex(7), std::to_string(n), "4343"});
  REQUIRE(line_starting(c, "{\"traced") == "{\"traced\":" + std::to_string(n) + "}");
  REQUIRE(wait_traces(ours.log(client), n, 60));
  auto lines = read_lines(ours.log(client));
  check_once(lines, n);
  CHECK(notes_with(lines, "New session") == 1);
  // Our node relayed the handshake (FROM_CLIENT -> FROM_RELAY, FROM_SERVER -> REPLY).
  const size_t from = node.proc->output.size();
  ::kill(node.proc->pid, SIGUSR1);
  REQUIRE(node.proc->wait_for("dropped=", 20));
  std::smatch m;
  std::string tail = node.proc->output.substr(from);
  REQUIRE(node.proc->wait_for("\n", 5));
  tail = node.proc->output.substr(from);
  REQUIRE(std::regex_search(tail, m, std::regex("forwards=(\\d+).* relayed=(\\d+)")));
  INFO(tail);
  CHECK(std::stoi(m[1]) >= 1);
  CHECK(std::stoi(m[2]) >= 2);
  c.close_stdin();
  c.wait();
}

TEST_CASE("(f) after our server stops, JS findPeer and lookup for its key find nothing", "[interop]") {
  // A JS testnet (JS nodes store our announce and must take our UNANNOUNCE),
  // then our own node.
  const bool js_network = GENERATE(true, false);
  INFO((js_network ? "JS testnet" : "our DHT node"));
  std::unique_ptr<testnet> net;
  std::unique_ptr<dht_node> node;
  std::string bootstrap;
  if (js_network) {
    net = std::make_unique<testnet>();
    bootstrap = net->bootstrap;
  } else {
    node = std::make_unique<dht_node>(301);
    bootstrap = node->address;
  }
  our_server ours;
  ours.start(bootstrap);
  node_process fp(live, {"findpeer", bootstrap, ours.key});
  fp.write_line("now");
  auto before = json::parse(fp.read_line(60000));
  INFO(before.dump());
  CHECK(before["found"].get<int>() >= 1);
  CHECK(before["lookupFound"].get<int>() >= 1);  // LOOKUP answers with the forward's record too

  CHECK(ours.proc->stop(SIGTERM) == 0);
  fp.write_line("now");
  auto after = json::parse(fp.read_line(60000));
  INFO(after.dump());
  INFO("our server said:\n" << ours.proc->output);
  CHECK(after["found"] == 0);
  CHECK(after["lookupFound"] == 0);
  fp.close_stdin();
  fp.wait();
}

TEST_CASE("(h) one handshake resent through a relay, through other relays and directly: one connection",
          "[interop]") {
  const int n = 500;
  testnet net;
  our_server ours;
  ours.start(net.bootstrap);
  const std::string client = client_key_hex(7);
  node_process c(live, {"resend", net.bootstrap, ours.key, ours.address, seed_hex(7), std::to_string(n)});
  auto hs = step(c, "handshakes");
  INFO(hs.dump());
  // connect.js's request, the same again through that relay, once through
  // each other relay holding the server, once straight to the server.
  CHECK(hs["relays"].get<int>() >= 2);
  CHECK(hs["sent"].get<int>() == hs["relays"].get<int>() + 2);
  // Not every copy's reply is waited for: once one handshake reply wins,
  // hyperdht's connect.js destroys its other requests in flight
  // (REQUEST_DESTROYED), and that can take the copies to the same relay with
  // it (seen in 1 of 12 runs, and in CI trials: 3 of 4 and 2 of 4 replied).
  // What (h) is about is checked below: every reply that came is the first
  // one, and one connection results.
  CHECK(hs["replied"].get<int>() >= 1);
  CHECK(hs["distinct"] == 1);  // the first answer every time
  REQUIRE(line_starting(c, "{\"traced") == "{\"traced\":" + std::to_string(n) + "}");
  REQUIRE(wait_traces(ours.log(client), n, 60));
  auto lines = read_lines(ours.log(client));
  check_once(lines, n);
  CHECK(notes_with(lines, "New session") == 1);
  auto st = ours.status();
  CHECK(st["accepted"] == 1);  // one connection for all of them
  CHECK(st["opened"] == 1);
  CHECK(st["resent"] >= static_cast<uint64_t>(hs["sent"].get<int>() - 1));
  CHECK(st["pending_streams"] == 0);
  c.close_stdin();
  c.wait();
}

TEST_CASE("(s6) hostile peers against the server while a good client traces: each refused, bounded, "
          "every good trace once", "[interop]") {
  // The good client traces 10 every 100 ms for ~25 s, through all of it.
  const int n = 2500;
  testnet net;
  our_server ours;
  ours.start(net.bootstrap, {"--max-message-bytes=65536"});
  const std::string client = client_key_hex(7);
  node_process good(live, {"resend", net.bootstrap, ours.key, ours.address, seed_hex(7), std::to_string(n),
                           "10", "100"});
  auto hs = step(good, "handshakes");
  REQUIRE(hs["distinct"] == 1);
  REQUIRE(wait_traces(ours.log(client), 20, 30));
  const long rss_before = rss_kib(ours.proc->pid);

  node_process bad(live, {"hostile", net.bootstrap, ours.key, ours.address, hs["noise"].get<std::string>()});
  // Forged noise and a handshake for another key: no answer, a reason on stderr.
  CHECK(step(bad, "forged")["replied"] == 0);
  CHECK(step(bad, "wrongkey")["replied"] == false);
  // The good client's handshake replayed within 10 s: the first answer again.
  CHECK(step(bad, "replay")["replied"] == true);
  // After the handshake, the server closes on garbage and on a frame over
  // --max-message-bytes.
  CHECK(step(bad, "garbage")["closed"] == true);
  CHECK(step(bad, "oversize")["closed"] == true);
  step(bad, "noread");
  CHECK(step(bad, "unopened")["replied"] == 5);
  // The replay after the resend window: answered afresh, but it opens nothing.
  auto late = step(bad, "replaylate");
  CHECK(late["replied"] == true);
  CHECK(late["differs"] == true);
  // 300 handshakes from one host: at most 32 per 10 s are answered.
  auto flood = step(bad, "flood", 90);
  INFO(flood.dump());
  CHECK(flood["replied"].get<int>() <= 32);
  // The good client was still tracing while the flood ran.
  std::string early;
  try {
    early = good.read_line(10);
  } catch (const std::exception&) {
  }
  CHECK(early.find("traced") == std::string::npos);
  step(bad, "done", 30);
  const long rss_after = rss_kib(ours.proc->pid);

  // The good client traced through all of it: each trace once, one session.
  REQUIRE(line_starting(good, "{\"traced", 90) == "{\"traced\":" + std::to_string(n) + "}");
  REQUIRE(wait_traces(ours.log(client), n, 60));
  auto lines = read_lines(ours.log(client));
  check_once(lines, n);
  CHECK(notes_with(lines, "New session") == 1);

  // Each bad peer refused with its reason: on stderr before any session...
  auto& out = ours.proc->output;
  ours.proc->pump(100);
  size_t bad_lines = 0;  // forged (its copy is a silent resend) and wrong key
  for (auto at = out.find("refused: bad handshake"); at != std::string::npos;
       at = out.find("refused: bad handshake", at + 1))
    ++bad_lines;
  CHECK(bad_lines >= 2);
  CHECK(out.find("refused: too many handshakes from 127.0.0.1") != std::string::npos);
  // ... and as a note in the peer's own .log where a session existed.
  auto garbage = read_lines(ours.log(client_key_hex(0x61)));
  CHECK(notes_with(garbage, "New session") == 1);
  CHECK(notes_with(garbage, "Socket error. code=EPROTO") == 1);
  auto oversize = read_lines(ours.log(client_key_hex(0x62)));
  CHECK(notes_with(oversize, "New session") == 1);
  CHECK(notes_with(oversize, "Socket error. code=EMSGSIZE") == 1);
  CHECK(notes_with(read_lines(ours.log(client_key_hex(0x63))), "New session") == 1);  // the idle peer

  // Bounded: the counters stay under their caps and memory barely moves.
  auto st = ours.status();
  std::ostringstream figures;
  for (auto& [k, v] : st)
    figures << k << "=" << v << " ";
  std::cout << "server after the hostile peers: " << figures.str() << "rss " << rss_before << " -> "
            << rss_after << " KiB\n";
  CHECK(st["bad"] >= 2);    // forged, wrong key
  CHECK(st["flood"] >= 300 - 32);
  CHECK(st["pending_streams"] <= 256);
  CHECK(st["dedupe_entries"] <= 4096);
  CHECK(rss_after - rss_before < 64 * 1024);
  good.close_stdin();
  bad.close_stdin();
  // And it still stops cleanly.
  CHECK(ours.proc->stop(SIGTERM) == 0);
}
