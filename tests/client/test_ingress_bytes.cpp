// The host-to-client queue is bounded in bytes, as part of the client's
// budget, and its drops are not silent (issue 11 §2): every trace dropped
// there uses up a trace number, so the server notes the gap with exactly
// that count, and the client reports it as a `dropped` event.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "actors/client/client.hpp"
#include "actors/client/client_core.hpp"
#include "actors/client/trace_ingress.hpp"
#include "server_fixture.hpp"

using namespace ht;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<trace_record> record(std::string id, json props = nullptr,
                                     trace_record::kind k = trace_record::kind::trace) {
  auto r = std::make_unique<trace_record>();
  r->what = k;
  r->id = std::move(id);
  r->props = std::move(props);
  return r;
}

} // namespace

TEST_CASE("ingress: bounded in bytes, not records; trace drops are counted "
          "as skipped", "[unit]") {
  int wakes = 0;
  trace_ingress q(64 << 10, [&] { ++wakes; });
  // One record whose props alone exceed the bound: a count bound takes it.
  CHECK_FALSE(q.push(record("big", {{"blob", std::string(100 << 10, 'x')}})));
  CHECK(q.dropped() == 1);
  CHECK(q.queued_bytes() == 0);
  CHECK(wakes == 1); // a drop wakes the consumer, so the gap gets numbered
  // Records of about 4 KiB each: some fit, then the bound says no.
  int pushed = 0;
  while (q.push(record("r", {{"blob", std::string(4000, 'y')}})))
    ++pushed;
  CHECK(pushed >= 12);
  CHECK(pushed <= 16);
  CHECK(q.queued_bytes() <= 64 << 10);
  CHECK(q.queued_bytes() > pushed * 4000);
  // A props record dropped at the bound is not a trace: no number for it.
  CHECK_FALSE(q.push(record("", {{"p", std::string(4000, 'z')}},
                            trace_record::kind::add_props)));
  CHECK(q.take_skipped() == 2); // "big" and the last 4 KiB trace
  CHECK(q.take_skipped() == 0);
  size_t n = q.drain([](std::unique_ptr<trace_record>) {}, 1000);
  CHECK(n == static_cast<size_t>(pushed));
  CHECK(q.queued_bytes() == 0);
  CHECK(q.push(record("again")));
  q.close();
  CHECK_FALSE(q.push(record("closed")));
  CHECK(q.take_skipped() == 0); // after close: the client is gone
}

TEST_CASE("approx_heap_bytes grows with what a value holds", "[unit]") {
  CHECK(approx_heap_bytes(nullptr) == 0);
  CHECK(approx_heap_bytes(42) == 0);
  CHECK(approx_heap_bytes("short") > 0);
  CHECK(approx_heap_bytes(std::string(1000, 'a')) > 1000);
  json arr = json::array();
  for (int i = 0; i < 100; ++i)
    arr.push_back(std::string(100, 'b'));
  CHECK(approx_heap_bytes(arr) > 100 * 100);
  CHECK(approx_heap_bytes({{std::string(100, 'k'), 1}}) > 100);
  json deep = 1;
  for (int i = 0; i < 10000; ++i)
    deep = json::array({std::move(deep)});
  CHECK(approx_heap_bytes(deep) > 0); // bounded walk, no stack overflow
}

TEST_CASE("core: numbers skipped at the queue are reported once, not again "
          "by the next handshake", "[unit]") {
  using tp = client_core::time_point;
  tp now{};
  client_core core({}, "S1", [](uint32_t n) { return n - 1; }, [] { return true; });
  std::vector<std::string> events;
  auto pump = [&] {
    client_core::action a;
    while (core.poll(a))
      if (a.kind == client_core::action::emit)
        events.push_back(std::string{to_string(a.event.kind)}
                         + (a.event.count ? ":" + std::to_string(a.event.count) : ""));
  };
  core.start(now);
  core.on_opened(1, now);
  std::string hs = R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})";
  core.on_message(1, bytes(hs.begin(), hs.end()), now);
  core.on_trace(0, "t0");
  core.on_closed(1, "ECONNRESET", "x", now);
  core.on_skipped(1, 3); // 1..3 dropped at the queue while disconnected
  core.on_trace(4, "t4");
  pump();
  CHECK(events.back() == "dropped:3");
  events.clear();
  now += 1s;
  core.on_timeout(now);
  core.on_opened(2, now);
  hs = R"({"lastSeenTraceSessionId":"S1","lastSeenTraceNumber":0})";
  core.on_message(2, bytes(hs.begin(), hs.end()), now);
  pump();
  CHECK(events == std::vector<std::string>{"open"}); // no second dropped:3
}

namespace {

struct Meter {
  tracer tr = create_tracer(this);
  void tick(int i) { tr.trace("tick", {{"i", i}, {"pad", std::string(200, 'p')}}); }
};

/// Our server and a client whose queue holds `queue_bytes`, its events recorded.
struct ingress_fixture : test::server_fixture {
  explicit ingress_fixture(size_t queue_bytes) : server_fixture("ht-client-ingress", 0xCC) {
    client_options o;
    o.queue_bytes = queue_bytes;
    o.buffer_bytes = queue_bytes + (1u << 20);
    start_client(o, {/*keep_ends=*/false, /*record_events=*/true});
  }
};

} // namespace

TEST_CASE("with our server: traces dropped at a full queue leave a gap the "
          "server notes with exactly their count", "[scenario]") {
  ingress_fixture f(16 << 10); // room for a few dozen traces
  REQUIRE(f.cl->is_running());
  Meter m;
  // The client's actors do not run while the host traces: the queue fills.
  constexpr int burst = 500;
  for (int i = 0; i < burst; ++i)
    m.tick(i);
  auto dropped = f.cl->stats().dropped_queue;
  REQUIRE(dropped > 0);
  REQUIRE(dropped < burst);
  f.run();
  // Every dropped trace used a number; the client said how many.
  CHECK(f.cl->stats().traces == static_cast<uint64_t>(burst));
  uint64_t reported = 0;
  for (auto& e : f.events)
    if (e.kind == client_event_kind::dropped)
      reported += e.count;
  CHECK(reported == dropped);
  // The next trace shows the gap to the server.
  m.tick(burst);
  std::vector<int64_t> numbers;
  std::vector<std::string> notes;
  f.run_until([&] {
    std::tie(numbers, notes) = f.read_log();
    return !numbers.empty() && numbers.back() == burst;
  }, 60s, 50ms);
  auto kept = static_cast<int64_t>(burst - dropped);
  std::vector<int64_t> expect(static_cast<size_t>(kept));
  for (int64_t i = 0; i < kept; ++i)
    expect[static_cast<size_t>(i)] = i;
  expect.push_back(burst);
  CHECK(numbers == expect);
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].rfind("New session", 0) == 0);
  CHECK(notes[1] == "Skipped " + std::to_string(dropped)
                      + " messages! lastSeenTraceNumber=" + std::to_string(kept - 1)
                      + " traceNumber=" + std::to_string(burst));
}

TEST_CASE("the queue's share comes out of buffer_bytes", "[unit]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  client_options o;
  o.create_socket = [] { return connection_actor{}; };
  o.install_trace_function = false;
  o.buffer_bytes = 1000;
  o.queue_bytes = 1000;
  CHECK_THROWS_AS(client::start(sys, o), std::invalid_argument);
}
