// The client actors end to end over the in-process transport against a
// server that speaks server.js's protocol, on CAF's deterministic clock.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <random>

#include "client_fixture.hpp"
#include "replay_sample.hpp"

using namespace ht;
using namespace ht::test;
using namespace std::chrono_literals;

namespace shop {
struct Cart {
  tracer tr;
  explicit Cart(tracer_options o = {}) : tr(create_tracer(this, std::move(o))) {}
  void add(int sku) { tr.trace("add", {{"sku", sku}}); }
  void clear() { tr.trace("clear"); }
};
struct Basket {
  tracer tr = create_tracer(this);
  void fill() { tr.trace("fill"); }
};
} // namespace shop

namespace {
std::vector<int64_t> iota_n(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}
} // namespace

TEST_CASE("traces reach the server in order, in the JS shape", "[scenario]") {
  client_fixture f;
  f.listen();
  f.start(f.options());
  CHECK(f.cl->is_running());
  CHECK(f.event_names() == std::vector<std::string>{"open"});
  shop::Cart cart({{{"owner", "ann"}}, nullptr});
  REQUIRE(cart.tr.enabled());
  cart.add(1);
  cart.add(2);
  cart.clear();
  f.run();
  REQUIRE(f.server.log.size() == 3);
  auto l = f.logged();
  CHECK(f.numbers() == iota_n(3));
  CHECK(l[0]["traceSessionId"] == f.cl->session_id());
  CHECK(l[0]["id"] == "add");
  CHECK(l[0]["object"]["className"] == "Cart");
  CHECK(l[0]["object"]["props"] == nlohmann::json{{"owner", "ann"}});
  CHECK(l[0]["caller"]["functionName"] == "add");
  CHECK(l[0]["caller"]["props"] == nlohmann::json{{"sku", 1}});
  CHECK_FALSE(l[2]["caller"].contains("props"));
  CHECK(f.server.notes == std::vector<std::string>{"New session"});
  auto s = f.cl->stats();
  CHECK(s.traces == 3);
  CHECK(s.connected);
  f.cl->stop();
  f.run();
  CHECK(f.event_names().back() == "close");
  CHECK_FALSE(f.cl->is_running());
  CHECK_FALSE(tracing_enabled());
}

TEST_CASE("props: initial, add_props, computed asynchronously", "[scenario]") {
  SECTION("initial and added props merge into every later trace") {
    client_fixture f;
    f.listen();
    auto o = f.options();
    o.initial_props = {{"app", "shop"}, {"v", 1}};
    f.start(o);
    shop::Basket b;
    b.fill();
    f.cl->add_props({{"user", "ann"}, {"v", 2}});
    b.fill();
    f.run();
    auto l = f.logged();
    REQUIRE(l.size() == 2);
    CHECK(l[0]["props"].dump() == R"({"app":"shop","v":1})");
    CHECK(f.server.log[1].find(R"("props":{"app":"shop","v":2,"user":"ann"})")
          != std::string::npos); // JS spread order
  }
  SECTION("async props: the first connection waits for them") {
    client_fixture f;
    f.listen();
    auto o = f.options();
    std::function<void(json)> done;
    o.initial_props_async = [&](std::function<void(json)> cb) { done = cb; };
    f.start(o);
    shop::Basket b;
    b.fill(); // before the props: props null, as in JS
    f.run();
    CHECK(f.server.accepted == 0);
    REQUIRE(done);
    done({{"region", "eu"}});
    b.fill();
    f.run();
    CHECK(f.server.accepted == 1);
    auto l = f.logged();
    REQUIRE(l.size() == 2);
    CHECK(l[0]["props"].is_null());
    CHECK(l[1]["props"] == nlohmann::json{{"region", "eu"}});
  }
  SECTION("async props that never come: connect after the timeout") {
    client_fixture f;
    f.listen();
    auto o = f.options();
    o.initial_props_async = [](std::function<void(json)>) {};
    f.start(o);
    CHECK(f.server.accepted == 0);
    f.advance(10s);
    CHECK(f.server.accepted == 1);
  }
}

TEST_CASE("ignore_class_names drops traces of the class or its children",
          "[scenario]") {
  client_fixture f;
  f.listen();
  auto o = f.options();
  o.ignore_class_names = {"Basket"};
  f.start(o);
  shop::Basket basket;
  shop::Cart child({nullptr, &basket.tr});
  shop::Cart cart;
  basket.fill();
  child.clear();
  cart.clear();
  manual_trace m;
  m.class_name = "Basket";
  f.cl->add_trace(m);
  f.run();
  auto l = f.logged();
  REQUIRE(l.size() == 1);
  CHECK(l[0]["object"]["id"] == cart.tr.object_id());
  CHECK(l[0]["traceNumber"] == 0); // ignored traces use no numbers
}

TEST_CASE("add_trace sends traces that do not come from a tracer", "[scenario]") {
  client_fixture f;
  f.listen();
  f.start(f.options());
  f.cl->add_trace(worker_trace("custom"));
  f.run();
  REQUIRE(f.server.log.size() == 1);
  auto& line = f.server.log[0];
  CHECK(line.substr(line.find(R"("id":"custom")")) ==
        R"("id":"custom","props":null,"object":{"id":42,"className":"Worker","props":{"pid":7}},"caller":{"filename":"/app/worker.js","functionName":"run","props":{"ok":true}}})");
}

TEST_CASE("a trace that cannot be serialized is dropped and counted",
          "[scenario]") {
  client_fixture f;
  f.listen();
  f.start(f.options());
  shop::Basket b;
  b.fill();
  b.tr.trace("bad", {{"s", "\xff\xfe"}});
  b.fill();
  f.run();
  CHECK(f.numbers() == iota_n(2)); // no gap for the server to note
  CHECK(f.cl->stats().encode_errors == 1);
}

// Every disconnect point of the replay scenario in the normal build; under
// ASan the two at each end and a seeded fifth of the rest (replay_sample.hpp).
static std::vector<size_t> replay_points(size_t total) {
  std::vector<size_t> all(total);
  std::iota(all.begin(), all.end(), size_t{1});
  return test::replay_sample(std::move(all), 2, 5);
}

TEST_CASE("replay after a disconnect at every point of a 1,000-trace run: "
          "no loss, no duplicate", "[scenario]") {
  constexpr int64_t total = 1000;
  for (size_t p : replay_points(total)) {
    client_fixture f;
    f.listen();
    // A second disconnect later in the run, so replay of a replay is tested.
    f.server.kill_after = {p, p + 1 + (p * 7919) % total};
    f.start(f.options());
    shop::Basket b;
    for (int64_t i = 0; i < total; ++i) {
      b.fill();
      if (i % 13 == 0)
        f.run(); // the server reads while the host traces
      if (i % 101 == 0)
        f.advance(1s); // reconnects happen mid-run too
    }
    bool done = f.run_until([&] { return f.server.log.size() >= total; }, 60s, 100ms);
    if (!done || f.numbers() != iota_n(total)) {
      INFO("disconnect after trace " << p << ", log size " << f.server.log.size());
      REQUIRE(done);
      REQUIRE(f.numbers() == iota_n(total));
    }
    if (f.server.kills < 1 || f.server.accepted < 2) {
      INFO("disconnect after trace " << p);
      REQUIRE(f.server.kills >= 1);
    }
    for (auto& n : f.server.notes)
      if (n != "New session") {
        INFO("p=" << p);
        FAIL("server noted: " << n);
      }
  }
}

TEST_CASE("buffer overflow: oldest dropped, the count explains the server's gap",
          "[scenario]") {
  client_fixture f;
  f.listen();
  f.server.kill_after = {1};
  auto o = f.options();
  o.queue_bytes = 1u << 20; // this test is about the replay buffer
  o.buffer_bytes = o.queue_bytes + 20 * 400; // about 20 traces
  f.start(o);
  shop::Basket b;
  b.fill(); // #0 reaches the server, which then drops the connection
  f.run();
  REQUIRE(f.server.kills == 1);
  for (int i = 0; i < 200; ++i)
    b.fill(); // #1..#200 while disconnected
  f.run();
  auto s = f.cl->stats();
  CHECK(s.dropped_unwritten > 150);
  CHECK(s.buffered_bytes <= o.buffer_bytes - o.queue_bytes);
  f.advance(1s); // reconnect
  REQUIRE(f.server.accepted == 2);
  auto dropped = s.dropped_unwritten;
  CHECK(f.has_event("dropped:" + std::to_string(dropped)));
  REQUIRE(f.server.notes.size() == 2);
  CHECK(f.server.notes[1] == "Skipped " + std::to_string(dropped));
  auto n = f.numbers();
  CHECK(n.back() == 200);
  CHECK(n.size() == 201 - dropped);
}

TEST_CASE("reconnect backoff: first retry within 1 s, exponential, capped",
          "[scenario]") {
  client_fixture f; // nobody listens: every attempt fails at once
  auto o = f.options();
  o.backoff = {1000ms, 8000ms};
  f.start(o);
  f.run_until([&] { return f.connect_times.size() >= 8; }, 120s, 10ms);
  REQUIRE(f.connect_times.size() >= 8);
  std::vector<int64_t> ceilings{1000, 2000, 4000, 8000, 8000, 8000, 8000};
  for (size_t i = 1; i < 8; ++i) {
    auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(
                 f.connect_times[i] - f.connect_times[i - 1]).count();
    INFO("retry " << i << " after " << gap << " ms");
    CHECK(gap >= ceilings[i - 1] / 2);
    CHECK(gap <= ceilings[i - 1] + 10); // +10: the test's clock step
  }
  CHECK(f.has_event("connection-error:PEER_NOT_FOUND"));
  CHECK(f.has_event("reconnect"));
  REQUIRE(f.cl->last_connection_error());
  CHECK(f.cl->last_connection_error()->code == "PEER_NOT_FOUND");
  CHECK_FALSE(f.cl->is_running());
}

TEST_CASE("can_reconnect false ends the client with close", "[scenario]") {
  client_fixture f;
  f.listen();
  f.server.kill_after = {1};
  f.reconnect = false;
  f.start(f.options());
  shop::Basket b;
  b.fill();
  f.run();
  CHECK(f.event_names() ==
        std::vector<std::string>{"open", "connection-error:ECONNRESET", "close"});
  CHECK_FALSE(tracing_enabled()); // the client removed itself
  f.advance(60s);
  CHECK(f.server.accepted == 1);
}

TEST_CASE("a crash of the client's worker is reported and recovered, no trace lost",
          "[scenario]") {
  client_fixture f;
  f.listen();
  f.start(f.options());
  shop::Basket b;
  for (int i = 0; i < 10; ++i)
    b.fill();
  f.run();
  client_worker_actor worker;
  auto asker = f.sys.spawn([&worker](caf::event_based_actor* self, client_actor root) {
    self->request(root, caf::infinite, worker_atom::value)
      .then([&worker](client_worker_actor w) { worker = w; });
  }, f.cl->actor());
  f.run();
  REQUIRE(worker);
  caf::anon_send_exit(worker, caf::exit_reason::kill);
  f.run();
  CHECK(f.has_event("connection-error:ECLIENTCRASH"));
  for (int i = 0; i < 10; ++i)
    b.fill(); // buffered while the new worker backs off
  f.advance(1s);
  CHECK(f.server.accepted == 2);
  CHECK(f.numbers() == iota_n(20));
  CHECK(f.cl->stats().restarts == 1);
  CHECK(f.cl->is_running());
}

TEST_CASE("stop flushes what is buffered within the deadline, then closes",
          "[scenario]") {
  SECTION("the server comes back in time") {
    client_fixture f; // no server yet
    f.start(f.options());
    shop::Basket b;
    for (int i = 0; i < 5; ++i)
      b.fill();
    f.cl->stop();
    b.fill(); // after stop: not traced
    f.run();
    f.listen();
    f.advance(1s);
    f.advance(1s);
    CHECK(f.numbers() == iota_n(5));
    CHECK(f.event_names().back() == "close");
  }
  SECTION("the server does not come: dropped, then close at the deadline") {
    client_fixture f;
    f.start(f.options());
    shop::Basket b;
    for (int i = 0; i < 5; ++i)
      b.fill();
    f.cl->stop();
    f.run_until([&] { return f.has_event("close"); }, 10s, 100ms);
    CHECK(f.has_event("dropped:5"));
    CHECK(f.has_event("close"));
  }
}
