// The server's handshake is not trusted (issue 11 §2): a lastSeenTraceNumber
// that is negative, fractional, 2^53 or more, beyond what this client sent,
// of the wrong type, or missing is a connection-error EPROTO naming the
// problem; the connection is closed and retried, and every buffered trace
// is kept for the next connection (nothing confirmed, nothing dropped).
#include <catch2/catch.hpp>

#include <memory>
#include <numeric>

#include "client_fixture.hpp"

using namespace ht;
using namespace ht::test;
using namespace std::chrono_literals;

namespace {

struct Pump {
  tracer tr = create_tracer(this);
  void beat() { tr.trace("beat"); }
};

struct bad_handshake {
  const char* what;
  std::string number;  // the lastSeenTraceNumber member ("" = left out)
  const char* message; // the error event must contain this
};

std::string handshake_with(const std::string& session, const std::string& number) {
  std::string hs = R"({"lastSeenTraceSessionId":")" + session + '"';
  if (!number.empty())
    hs += R"(,"lastSeenTraceNumber":)" + number;
  return hs + "}";
}

/// The client sends traces 0..2 (from the returned tracer) over its first
/// connection, which the server then closes.
std::unique_ptr<Pump> three_traces_then_disconnected(client_fixture& f) {
  f.listen();
  f.server.kill_after = {3};
  f.start(f.options());
  auto p = std::make_unique<Pump>();  // a tracer made once the client runs
  for (int i = 0; i < 3; ++i)
    p->beat();
  f.run();
  REQUIRE(f.server.kills == 1);
  return p;
}

} // namespace

TEST_CASE("a bad handshake number is an error event and drops nothing",
          "[scenario]") {
  // The client sends traces 0..2, loses the connection, makes 3 and 4
  // (buffered, never sent), and then meets one bad handshake.
  const std::vector<bad_handshake> cases = {
    {"negative", "-1", "lastSeenTraceNumber -1: not an integer in [0, 2^53-1]"},
    {"fractional", "1.5", "lastSeenTraceNumber 1.5: not an integer"},
    {"2^53", "9007199254740992", "lastSeenTraceNumber 9007199254740992: not an integer"},
    {"far beyond 2^53", "1e300", "lastSeenTraceNumber 1e+300: not an integer"},
    {"beyond what was sent (made, not sent)", "3",
     "lastSeenTraceNumber 3 of this session, but this client sent up to 2"},
    {"beyond anything made", "40",
     "lastSeenTraceNumber 40 of this session, but this client sent up to 2"},
    {"wrong type: string", R"("2")", R"(lastSeenTraceNumber "2": not an integer)"},
    {"wrong type: object", R"({"n":2})", "lastSeenTraceNumber {\"n\":2}: not an integer"},
    {"missing", "", "has no lastSeenTraceNumber"},
  };
  for (auto& c : cases) {
    INFO("handshake: " << c.what);
    client_fixture f;
    auto p = three_traces_then_disconnected(f);
    p->beat();
    p->beat();
    f.run();
    REQUIRE(f.cl->stats().buffered_traces == 5);
    f.events.clear();
    f.server.handshake_override = handshake_with(f.cl->session_id(), c.number);
    f.advance(1s); // reconnect: the bad handshake
    REQUIRE(f.server.accepted == 2);
    auto names = f.event_names();
    REQUIRE(names.size() >= 2);
    CHECK(names[0] == "open");
    CHECK(names[1] == "connection-error:EPROTO");
    CHECK_THAT(f.events[1].message, Catch::Contains(c.message));
    CHECK(f.has_event("reconnect")); // closed, as for other connection errors
    CHECK_FALSE(f.cl->is_running());
    auto s = f.cl->stats();
    CHECK(s.buffered_traces == 5); // nothing confirmed, nothing dropped
    CHECK(s.dropped_unwritten == 0);
    // The server behaves again: everything it has not seen arrives.
    f.server.handshake_override.clear();
    REQUIRE(f.run_until([&] { return f.cl->is_running(); }, 60s, 100ms));
    f.run();
    CHECK(f.numbers() == std::vector<int64_t>{0, 1, 2, 3, 4});
    CHECK(f.server.notes == std::vector<std::string>{"New session"});
    for (auto& e : f.events)
      CHECK(e.kind != client_event_kind::dropped);
  }
}

TEST_CASE("a good handshake number still confirms and replays", "[scenario]") {
  // The boundary values that are fine: null, 0 as an integral float, and
  // the last number sent; another session's number is not checked.
  for (auto [number, other_session, expect_replay] :
       std::vector<std::tuple<std::string, bool, std::vector<int64_t>>>{
         {"null", false, {0, 1, 2, 0, 1, 2}},
         {"2", false, {0, 1, 2}},
         {"2.0", false, {0, 1, 2}},
         {"9007199254740991", true, {0, 1, 2, 0, 1, 2}},
       }) {
    INFO("lastSeenTraceNumber " << number << (other_session ? " (other session)" : ""));
    client_fixture f;
    auto p = three_traces_then_disconnected(f);
    f.events.clear();
    f.server.handshake_override =
      handshake_with(other_session ? "1" + f.cl->session_id() : f.cl->session_id(),
                     number);
    f.advance(1s);
    CHECK(f.event_names() == std::vector<std::string>{"open"});
    CHECK(f.cl->is_running());
    CHECK(f.numbers() == expect_replay);
    if (number != "null" && !other_session)
      CHECK(f.cl->stats().buffered_traces == 0); // confirmed through 2
  }
}
