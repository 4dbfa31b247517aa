// Our hypertrace-logger-server on a JS testnet with the unmodified npm
// hypertrace-logger 1.1.1 Client (and Server, as the oracle), all on
// 127.0.0.1 (tests/interop/hd-server-peer.js is the JS side).
#include "interop_support.hpp"

using namespace hd_interop;


TEST_CASE("(a) the JS client's traces land once each, as the JS server writes them", "[interop]") {
  const int n = 10000 / trace_scale;
  testnet net;
  our_server ours;
  ours.start(net.bootstrap);
  const std::string client = client_key_hex(7);

  // 500 traces every 10 ms, once connected.
  const std::vector<std::string> pace{"500", "10"};
  std::vector<std::string> a1{"client", net.bootstrap, ours.key, seed_hex(7), std::to_string(n), "4242"};
  a1.insert(a1.end(), pace.begin(), pace.end());
  node_process c1(script, a1);
  std::vector<std::string> events1;
  REQUIRE(line_starting(c1, "{\"traced", 60, &events1) == "{\"traced\":" + std::to_string(n) + "}");
  // First connect works: no failed connection and 10-15 s reconnect wait
  // of the JS Client (hypertrace-logger client.js:57-76).
  CHECK(events1 == std::vector<std::string>{"{\"event\":\"open\"}", "{\"event\":\"ready\"}"});
  REQUIRE(wait_traces(ours.log(client), n, 60));
  auto mine = read_lines(ours.log(client));
  auto seen = trace_numbers(mine);
  REQUIRE(seen.size() == static_cast<size_t>(n));
  for (const auto& [num, count] : seen)
    CHECK(count == 1);
  CHECK(seen.begin()->first == 0);
  CHECK(seen.rbegin()->first == n - 1);
  // (h) one connection, one session: the client's handshake (resent by
  // dht-rpc, relayed by up to 2 nodes) was answered once.
  CHECK(notes_with(mine, "New session") == 1);
  c1.close_stdin();
  c1.wait();
  ours.proc->pump(100);

  // The same traces through the JS server.
  ht::test::temp_dir theirs{"ht-hds-js"};
  node_process jss(script, {"jsserver", net.bootstrap, theirs.path(), seed_hex(8)});
  auto js_key = json::parse(jss.read_line())["listening"].get<std::string>();
  std::vector<std::string> a2{"client", net.bootstrap, js_key, seed_hex(7), std::to_string(n), "4242"};
  a2.insert(a2.end(), pace.begin(), pace.end());
  node_process c2(script, a2);
  std::vector<std::string> events2;
  REQUIRE(line_starting(c2, "{\"traced", 60, &events2) == "{\"traced\":" + std::to_string(n) + "}");
  // The reference half too (jsserver in hd-server-peer.js says why it could
  // fail, and cost ~25 s, when the JS Server ran firewalled).
  CHECK(events2 == std::vector<std::string>{"{\"event\":\"open\"}", "{\"event\":\"ready\"}"});
  REQUIRE(wait_traces(theirs / (client + ".log"), n, 90));
  auto js = read_lines(theirs / (client + ".log"));
  REQUIRE(js.size() == mine.size());
  size_t differ = 0;
  for (size_t i = 0; i < js.size(); ++i) {
    if (masked(mine[i]) != masked(js[i])) {
      if (differ++ < 3) {
        INFO("line " << i);
        CHECK(masked(mine[i]) == masked(js[i]));
      }
    }
  }
  CHECK(differ == 0);
  c2.close_stdin();
  jss.close_stdin();
  c2.wait();
  jss.wait();
}

TEST_CASE("(g) a client key not in --allow is refused before any file or session", "[interop]") {
  testnet net;
  our_server ours;
  const std::string allowed = client_key_hex(7);
  ours.start(net.bootstrap, {"--allow=" + allowed});
  node_process refused(script, {"client", net.bootstrap, ours.key, seed_hex(9), "10", "1"});
  // It never connects (so never traces): the refusal is silent on the wire.
  REQUIRE(ours.proc->wait_for("refused: client key not allowed", 30));
  // The allowed key still gets in, so the refusal was about the key.
  node_process ok(script, {"client", net.bootstrap, ours.key, seed_hex(7), "10", "2"});
  REQUIRE(line_starting(ok, "{\"traced") == "{\"traced\":10}");
  REQUIRE(wait_traces(ours.log(allowed), 10, 30));
  DIR* d = ::opendir((ours.dir / "logs").c_str());
  REQUIRE(d);
  std::vector<std::string> files;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.')
      files.push_back(e->d_name);
  ::closedir(d);
  CHECK(files == std::vector<std::string>{allowed + ".log"});
  CHECK(ours.proc->output.find(client_key_hex(9)) == std::string::npos);  // no session noted it
  refused.close_stdin();
  ok.close_stdin();
}

TEST_CASE("(e) SIGKILL and a restart with the same keys: the JS client reconnects, each trace once",
          "[interop]") {
  // The JS Client keeps at most ~2048 traces while disconnected (by design),
  // so the whole run stays below that: 1,500 traces, 10 every 100 ms.
  const int n = 1500 / trace_scale;
  testnet net;
  our_server ours;
  const std::string port = "--port=" + std::to_string(free_udp_port());
  ours.start(net.bootstrap, {port});
  const std::string client = client_key_hex(7);
  node_process c(script, {"client", net.bootstrap, ours.key, seed_hex(7), std::to_string(n), "777", "10", "100"});
  REQUIRE(wait_traces(ours.log(client), n / 5, 30));
  ours.proc->stop(SIGKILL);
  auto key = ours.key;
  ours.start(net.bootstrap, {port});
  CHECK(ours.key == key);
  REQUIRE(wait_traces(ours.log(client), n, 90));
  auto seen = trace_numbers(read_lines(ours.log(client)));
  CHECK(seen.size() == static_cast<size_t>(n));
  size_t twice = 0;
  for (const auto& [num, count] : seen)
    twice += count != 1;
  CHECK(twice == 0);
  c.close_stdin();
}
