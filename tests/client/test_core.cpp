// The sans-IO parts of the client: replay buffer, backoff, encoder, host
// queue and the protocol core, driven by hand with a fake clock.
#include <catch2/catch.hpp>

#include <thread>

#include <nlohmann/json.hpp>

#include "actors/client/backoff.hpp"
#include "actors/client/client_core.hpp"
#include "actors/client/trace_buffer.hpp"
#include "actors/client/trace_encoder.hpp"
#include "actors/client/trace_ingress.hpp"
#include "formats.hpp"

using namespace ht;
using namespace std::chrono_literals;

TEST_CASE("trace buffer: byte cap evicts oldest and counts", "[unit]") {
  const size_t per = 10 + trace_buffer::entry_overhead;
  trace_buffer b(per * 3);
  for (uint64_t i = 0; i < 3; ++i)
    CHECK(b.push(i, std::string(10, 'x'), i == 0));
  CHECK(b.bytes() == per * 3);
  CHECK(b.push(3, std::string(10, 'y'), false)); // evicts 0 (written)
  CHECK(b.push(4, std::string(10, 'z'), false)); // evicts 1 (unwritten)
  CHECK(b.first_number() == 2u);
  CHECK(b.evicted_written() == 1);
  CHECK(b.dropped_unwritten() == 1);
  CHECK(b.unwritten() == 3);
  CHECK_FALSE(b.push(5, std::string(per * 3, 'w'), false)); // bigger than cap
  CHECK(b.dropped_unwritten() == 2);
  b.confirm_through(3);
  CHECK(b.first_number() == 4u);
  CHECK(b.bytes() == per);
}

TEST_CASE("backoff: jittered exponential, first within 1 s, capped", "[unit]") {
  uint32_t pick = 0; // 0: lowest, UINT32_MAX: highest possible
  backoff b({1000ms, 8000ms}, [&](uint32_t n) { return pick == 0 ? 0 : n - 1; });
  std::vector<std::pair<int64_t, int64_t>> expect{
    {500, 1000}, {1000, 2000}, {2000, 4000}, {4000, 8000}, {4000, 8000}};
  for (auto [lo, hi] : expect) {
    pick = 0;
    auto low = b.next().count();
    CHECK(low == lo);
  }
  b.reset();
  for (auto [lo, hi] : expect) {
    pick = 1;
    CHECK(b.next().count() == hi);
  }
  // With a real random source every delay stays in its window.
  backoff r({1000ms, 30000ms}, [](uint32_t n) { return static_cast<uint32_t>(std::rand()) % n; });
  for (uint32_t i = 0; i < 50; ++i) {
    auto c = r.ceiling(i).count();
    auto d = r.next().count();
    CHECK(d >= c / 2);
    CHECK(d <= c);
    CHECK(d <= 30000);
  }
  CHECK(r.ceiling(1000).count() == 30000); // no overflow
}

namespace {
trace_class room_class{"Room", {}};

std::unique_ptr<trace_record> make_record(std::string id, json caller_props, bool has) {
  auto rp = std::make_unique<trace_record>();
  auto& r = *rp;
  r.time = std::chrono::system_clock::time_point(1700000000123ms);
  r.id = std::move(id);
  auto obj = std::make_shared<trace_object>();
  obj->cls = &room_class;
  obj->id = 3;
  obj->props = json{{"name", "lobby"}};
  r.object = obj;
  r.caller = call_site{"join", "/src/room.cpp", 12};
  r.has_caller_props = has;
  r.props = std::move(caller_props);
  return rp;
}
} // namespace

TEST_CASE("encoder: the JS client's shape, numbering, props merge", "[unit]") {
  trace_encoder enc("123");
  auto a = enc.encode(*make_record("join", json{{"user", 7}}, true));
  REQUIRE(a);
  CHECK(*a == R"({"traceTimestamp":"2023-11-14T22:13:20.123Z","traceSessionId":"123","traceNumber":0,"id":"join","props":null,"object":{"id":3,"className":"Room","props":{"name":"lobby"}},"caller":{"filename":"/src/room.cpp","functionName":"join","props":{"user":7}}})");
  CHECK(enc.add_props(json{{"b", 1}, {"a", 2}}));
  CHECK(enc.add_props(json{{"c", 3}, {"b", 4}}));
  CHECK(enc.add_props(nullptr));
  CHECK_FALSE(enc.add_props(json::array()));
  auto b = enc.encode(*make_record("", nullptr, false));
  REQUIRE(b);
  CHECK(*b == R"({"traceTimestamp":"2023-11-14T22:13:20.123Z","traceSessionId":"123","traceNumber":1,"id":null,"props":{"b":4,"a":2,"c":3},"object":{"id":3,"className":"Room","props":{"name":"lobby"}},"caller":{"filename":"/src/room.cpp","functionName":"join"}})");
  // A trace that cannot be serialized is dropped without using a number.
  CHECK_FALSE(enc.encode(*make_record("bad", json{{"s", "\xff"}}, true)));
  CHECK(enc.errors() == 2);
  auto c = enc.encode(*make_record("ok", nullptr, true));
  REQUIRE(c);
  CHECK(c->find(R"("traceNumber":2,)") != std::string::npos);
  CHECK(c->find(R"("props":null}})") != std::string::npos); // caller props null
}

TEST_CASE("session ids: random digits, not a counter", "[unit]") {
  auto a = make_trace_session_id();
  auto b = make_trace_session_id();
  CHECK(a.size() == 18);
  CHECK(test::all_digits(a));
  CHECK(a[0] != '0');
  CHECK(a != b);
  CHECK(iso8601_ms(std::chrono::system_clock::time_point(0ms)) == "1970-01-01T00:00:00.000Z");
  CHECK(test::is_iso_ms(iso8601_ms(std::chrono::system_clock::now())));
  CHECK(iso8601_ms(std::chrono::system_clock::time_point(-1ms)) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("ingress: order, one wake per idle period, bounded", "[unit]") {
  int wakes = 0;
  trace_ingress q(3 * sizeof(trace_record), [&] { ++wakes; }); // 3 small records
  auto rec = [](std::string id) {
    auto r = std::make_unique<trace_record>();
    r->id = std::move(id);
    return r;
  };
  CHECK(q.push(rec("a")));
  CHECK(q.push(rec("b")));
  CHECK(q.push(rec("c")));
  CHECK_FALSE(q.push(rec("d"))); // full
  CHECK(wakes == 1);
  CHECK(q.dropped() == 1);
  std::vector<std::string> got;
  CHECK(q.drain([&](std::unique_ptr<trace_record> r) { got.push_back(r->id); }, 2) == 2);
  CHECK(q.drain([&](std::unique_ptr<trace_record> r) { got.push_back(r->id); }, 10) == 1);
  CHECK(got == std::vector<std::string>{"a", "b", "c"});
  CHECK(q.push(rec("e")));
  CHECK(wakes == 2); // the consumer went idle: wake again
  q.close();
  CHECK_FALSE(q.push(rec("f")));
}

TEST_CASE("ingress: many producers, nothing lost or reordered per producer",
          "[unit]") {
  std::atomic<int> wakes{0};
  trace_ingress q(size_t{1} << 30, [&] { ++wakes; });
  constexpr int threads = 4, per = 20000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&q, t] {
      for (int i = 0; i < per; ++i) {
        auto r = std::make_unique<trace_record>();
        r->id = std::to_string(t) + ":" + std::to_string(i);
        q.push(std::move(r));
      }
    });
  std::vector<int> next(threads, 0);
  int total = 0;
  bool ordered = true;
  auto consume = [&](std::unique_ptr<trace_record> r) {
    auto colon = r->id.find(':');
    int t = std::stoi(r->id.substr(0, colon));
    int i = std::stoi(r->id.substr(colon + 1));
    ordered = ordered && i == next[t];
    next[t] = i + 1;
    ++total;
  };
  while (total < threads * per)
    q.drain(consume, 1000);
  for (auto& t : ts)
    t.join();
  q.drain(consume, 1000);
  CHECK(ordered);
  CHECK(total == threads * per);
  CHECK(q.dropped() == 0);
}

// --- the protocol core ------------------------------------------------------

namespace {

struct core_driver {
  using tp = client_core::time_point;
  tp now{};
  bool reconnect = true;
  client_core core;
  std::vector<client_core::action> acts;
  explicit core_driver(client_core_config cfg = {})
    : core(cfg, "S1", [](uint32_t n) { return n - 1; }, [this] { return reconnect; }) {}
  void pump() {
    client_core::action a;
    while (core.poll(a))
      acts.push_back(std::move(a));
  }
  std::vector<std::string> writes() {
    std::vector<std::string> w;
    for (auto& a : acts)
      if (a.kind == client_core::action::write)
        w.emplace_back(a.data.begin(), a.data.end());
    return w;
  }
  std::vector<std::string> events() {
    std::vector<std::string> e;
    for (auto& a : acts)
      if (a.kind == client_core::action::emit)
        e.push_back(std::string{to_string(a.event.kind)}
                    + (a.event.code.empty() ? "" : ":" + a.event.code)
                    + (a.event.count ? ":" + std::to_string(a.event.count) : ""));
    return e;
  }
  size_t count(client_core::action::kind_t k) {
    size_t n = 0;
    for (auto& a : acts)
      n += a.kind == k;
    return n;
  }
  void handshake(connection_id id, const std::string& hs) {
    core.on_message(id, bytes(hs.begin(), hs.end()), now);
  }
  void trace(uint64_t n) { core.on_trace(n, "t" + std::to_string(n)); }
  void advance(std::chrono::milliseconds d) {
    now += d;
    core.on_timeout(now);
  }
};

} // namespace

TEST_CASE("core: new session replays everything buffered", "[unit]") {
  core_driver d;
  d.trace(0);
  d.trace(1);
  d.core.start(d.now);
  d.pump();
  CHECK(d.count(client_core::action::connect) == 1);
  d.trace(2);
  d.core.on_opened(7, d.now);
  d.handshake(7, R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})");
  d.trace(3);
  d.pump();
  CHECK(d.writes() == std::vector<std::string>{"t0", "t1", "t2", "t3"});
  CHECK(d.events() == std::vector<std::string>{"open"});
  CHECK(d.core.connected());
}

TEST_CASE("core: same session replays only what the server has not seen",
          "[unit]") {
  core_driver d;
  d.core.start(d.now);
  d.core.on_opened(1, d.now);
  d.handshake(1, R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})");
  for (uint64_t i = 0; i < 5; ++i)
    d.trace(i);
  d.core.on_closed(1, "ECONNRESET", "reset", d.now);
  d.pump();
  CHECK(d.events() == std::vector<std::string>{"open", "connection-error:ECONNRESET", "reconnect"});
  d.acts.clear();
  d.trace(5);
  d.advance(999ms); // backoff: at most 1 s for the first retry
  d.pump();
  CHECK(d.count(client_core::action::connect) == 0);
  d.advance(1ms);
  d.pump();
  CHECK(d.count(client_core::action::connect) == 1);
  d.core.on_opened(2, d.now);
  d.handshake(2, R"({"lastSeenTraceSessionId":"S1","lastSeenTraceNumber":2})");
  d.pump();
  CHECK(d.writes() == std::vector<std::string>{"t3", "t4", "t5"});
  CHECK(d.core.buffer().first_number() == 3u); // 0..2 confirmed
}

TEST_CASE("core: a gap the buffer cannot fill is reported as dropped", "[unit]") {
  client_core_config cfg;
  cfg.buffer_bytes = 2 * (2 + trace_buffer::entry_overhead);
  core_driver d(cfg);
  d.core.start(d.now);
  d.core.on_opened(1, d.now);
  d.handshake(1, R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})");
  d.trace(0);
  d.core.on_closed(1, "", "", d.now);
  for (uint64_t i = 1; i < 6; ++i)
    d.trace(i); // only t4 and t5 fit
  d.advance(1s);
  d.core.on_opened(2, d.now);
  d.handshake(2, R"({"lastSeenTraceSessionId":"S1","lastSeenTraceNumber":0})");
  d.pump();
  auto ev = d.events();
  CHECK(std::find(ev.begin(), ev.end(), "dropped:3") != ev.end()); // t1..t3
  auto w = d.writes();
  CHECK(std::vector<std::string>(w.end() - 2, w.end()) == std::vector<std::string>{"t4", "t5"});
}

TEST_CASE("core: can_reconnect false ends the client with close", "[unit]") {
  core_driver d;
  d.core.start(d.now);
  d.core.on_opened(1, d.now);
  d.reconnect = false;
  d.core.on_closed(1, "ECONNRESET", "x", d.now);
  d.pump();
  CHECK(d.events() == std::vector<std::string>{"open", "connection-error:ECONNRESET", "close"});
  CHECK(d.count(client_core::action::finished) == 1);
  CHECK(d.core.current_state() == client_core::state::finished);
  CHECK_FALSE(d.core.next_timeout());
}

TEST_CASE("core: bad or missing handshake closes and retries", "[unit]") {
  core_driver d;
  d.core.start(d.now);
  d.core.on_opened(1, d.now);
  d.handshake(1, "not json");
  d.pump();
  CHECK(d.events() == std::vector<std::string>{"open", "connection-error:EPROTO"});
  CHECK(d.count(client_core::action::close) == 1);
  d.core.on_closed(1, "", "", d.now);
  d.advance(1s);
  d.core.on_opened(2, d.now);
  d.advance(10s); // handshake_timeout
  d.pump();
  auto ev = d.events();
  CHECK(ev.back() == "connection-error:ETIMEDOUT");
  CHECK(d.count(client_core::action::close) == 2);
  d.advance(5s); // the close never completes: abort
  d.pump();
  CHECK(d.count(client_core::action::abort) == 1);
  CHECK(d.core.current_state() == client_core::state::waiting);
}

TEST_CASE("core: events of connections it left are ignored", "[unit]") {
  core_driver d;
  d.core.start(d.now);
  d.core.on_opened(1, d.now);
  d.core.on_closed(1, "", "", d.now);
  d.advance(1s);
  d.core.on_opened(1, d.now); // late duplicate of the old one
  d.core.on_closed(1, "X", "", d.now);
  d.pump();
  CHECK(d.core.current_state() == client_core::state::connecting);
  d.core.on_opened(2, d.now);
  d.core.on_message(1, bytes{'{', '}'}, d.now);
  CHECK(d.core.current_state() == client_core::state::handshaking);
}

TEST_CASE("core: stop flushes, then closes; gives up at the deadline", "[unit]") {
  SECTION("connected: close right away") {
    core_driver d;
    d.core.start(d.now);
    d.core.on_opened(1, d.now);
    d.handshake(1, R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})");
    d.trace(0);
    d.core.stop(d.now);
    d.pump();
    CHECK(d.count(client_core::action::close) == 1);
    d.core.on_closed(1, "", "", d.now);
    d.pump();
    CHECK(d.events().back() == "close");
    CHECK(d.count(client_core::action::finished) == 1);
  }
  SECTION("disconnected with unsent traces: reconnect to flush") {
    core_driver d;
    d.core.start(d.now);
    d.core.on_closed(0, "PEER_NOT_FOUND", "", d.now);
    d.trace(0);
    d.core.stop(d.now);
    d.core.on_opened(2, d.now);
    d.handshake(2, R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})");
    d.pump();
    CHECK(d.writes() == std::vector<std::string>{"t0"});
    CHECK(d.count(client_core::action::close) == 1);
  }
  SECTION("server never comes: dropped, close at the deadline") {
    core_driver d;
    d.core.start(d.now);
    d.trace(0);
    d.trace(1);
    d.core.stop(d.now);
    d.advance(5s);
    d.pump();
    auto ev = d.events();
    CHECK(ev == std::vector<std::string>{"dropped:2", "close"});
    CHECK(d.count(client_core::action::abort) == 1);
    CHECK(d.count(client_core::action::finished) == 1);
  }
}
