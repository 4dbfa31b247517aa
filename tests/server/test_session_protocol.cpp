// session_protocol, the sans-IO server side of the session protocol: what
// the JS server 1.1.1 writes, plus our stricter handling of replays and bad
// input.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "actors/server/iso_time.hpp"
#include "actors/server/session_protocol.hpp"

using namespace ht;
using ordered_json = nlohmann::ordered_json;

namespace {

const std::string hex = "dfdd1faa" + std::string(56, '0');
const std::string now = "2026-11-24T06:42:57.879Z";

std::string trace(const std::string& session, int64_t n,
                  const std::string& props = R"({"username":"bench"})") {
  return R"({"traceTimestamp":"2026-11-24T06:42:57.876Z","traceSessionId":")" + session
         + R"(","traceNumber":)" + std::to_string(n) + R"(,"id":"hit","props":)" + props
         + R"(,"object":{"id":1,"className":"Bench","props":{"kind":"bench"}},"caller":{"filename":"/app/bench.js","functionName":"hit","props":{"i":0}}})";
}

std::vector<std::string> feed(session_protocol& p, const std::string& msg) {
  std::vector<std::string> out;
  p.on_message(msg, now, out);
  return out;
}

std::string note_of(const std::string& line) {
  auto j = ordered_json::parse(line);
  REQUIRE(j.size() == 2);
  CHECK(j.begin().key() == "time");
  return j.at("note").get<std::string>();
}

} // namespace

TEST_CASE("handshake for a new client is null/null", "[unit]") {
  session_protocol p(hex, 1, {});
  CHECK(p.handshake() == R"({"lastSeenTraceSessionId":null,"lastSeenTraceNumber":null})");
}

TEST_CASE("handshake reports the last seen trace", "[unit]") {
  session_protocol p(hex, 1, last_seen_trace::of("3220392801237528", 41));
  CHECK(p.handshake()
        == R"({"lastSeenTraceSessionId":"3220392801237528","lastSeenTraceNumber":41})");
}

TEST_CASE("a trace line is byte-identical to the JS server's", "[unit]") {
  session_protocol p(hex, 1, {});
  auto out = feed(p, trace("3220392801237528", 0));
  REQUIRE(out.size() == 2);
  CHECK(note_of(out[0]) == "New session from " + hex + ". sessionId=3220392801237528");
  // The line the JS server 1.1.1 wrote for this trace (issue #2).
  CHECK(out[1]
        == R"({"time":"2026-11-24T06:42:57.879Z","userId":"bench___dfdd1faa","traceTimestamp":"2026-11-24T06:42:57.876Z","traceSessionId":"3220392801237528","traceNumber":0,"id":"hit","props":{"username":"bench"},"object":{"id":1,"className":"Bench","props":{"kind":"bench"}},"caller":{"filename":"/app/bench.js","functionName":"hit","props":{"i":0}}})");
}

TEST_CASE("traces in order write no notes after the first", "[unit]") {
  session_protocol p(hex, 1, {});
  feed(p, trace("s", 0));
  for (int i = 1; i < 100; ++i) {
    auto out = feed(p, trace("s", i));
    REQUIRE(out.size() == 1);
    CHECK(ordered_json::parse(out[0]).at("traceNumber") == i);
  }
  CHECK(p.last_seen() == last_seen_trace::of("s", 99));
  CHECK(p.traces_written() == 100);
}

TEST_CASE("a gap writes the Skipped note before the trace", "[unit]") {
  session_protocol p(hex, 1, last_seen_trace::of("s", 4));
  auto out = feed(p, trace("s", 10));
  REQUIRE(out.size() == 2);
  CHECK(note_of(out[0]) == "Skipped 5 messages! lastSeenTraceNumber=4 traceNumber=10");
}

TEST_CASE("a new session id writes the New session note", "[unit]") {
  session_protocol p(hex, 1, last_seen_trace::of("old", 4));
  auto out = feed(p, trace("new", 0));
  REQUIRE(out.size() == 2);
  CHECK(note_of(out[0]) == "New session from " + hex + ". sessionId=new");
  CHECK(p.last_seen() == last_seen_trace::of("new", 0));
}

TEST_CASE("replays of the same session are dropped, not written twice", "[unit]") {
  session_protocol p(hex, 1, last_seen_trace::of("s", 4));
  CHECK(feed(p, trace("s", 4)).empty());
  CHECK(feed(p, trace("s", 0)).empty());
  CHECK(p.replays_dropped() == 2);
  CHECK(feed(p, trace("s", 5)).size() == 1);
}

TEST_CASE("userId falls back from username to alias to User-n", "[unit]") {
  auto user_of = [](const std::string& props) {
    session_protocol p(hex, 7, last_seen_trace::of("s", -1));
    auto out = feed(p, trace("s", 0, props));
    return ordered_json::parse(out.back()).at("userId").get<std::string>();
  };
  CHECK(user_of(R"({"username":"ann","alias":"a"})") == "ann___dfdd1faa");
  CHECK(user_of(R"({"alias":"a b"})") == "a_b___dfdd1faa");
  CHECK(user_of(R"({"username":"","alias":"al"})") == "al___dfdd1faa");
  CHECK(user_of(R"({})") == "User-7___dfdd1faa");
  CHECK(user_of(R"(null)") == "User-7___dfdd1faa");
}

TEST_CASE("userId follows the name from trace to trace within one session (the last one's userId is reused only for the same name)", "[unit]") {
  session_protocol p(hex, 7, last_seen_trace::of("s", -1));
  auto user_at = [&](int64_t n, const std::string& props) {
    auto out = feed(p, trace("s", n, props));
    return ordered_json::parse(out.back()).at("userId").get<std::string>();
  };
  CHECK(user_at(0, R"({"username":"ann"})") == "ann___dfdd1faa");
  CHECK(user_at(1, R"({"username":"ann"})") == "ann___dfdd1faa");
  CHECK(user_at(2, R"({"username":"bob \"q\""})") == R"(bob_"q"___dfdd1faa)");
  CHECK(user_at(3, R"({})") == "User-7___dfdd1faa");
  CHECK(user_at(4, R"({"alias":"ann"})") == "ann___dfdd1faa");
  CHECK(user_at(5, R"({"username":"an"})") == "an___dfdd1faa");
}

TEST_CASE("odd usernames are sanitized with a note, once", "[unit]") {
  session_protocol p(hex, 1, last_seen_trace::of("s", -1));
  auto out = feed(p, trace("s", 0, R"({"username":"Jürgen M\u0000ller"})"));
  REQUIRE(out.size() == 2);
  CHECK(note_of(out[0]).rfind("Sanitized props.username", 0) == 0);
  CHECK(ordered_json::parse(out[1]).at("userId") == "Jrgen_Mller___dfdd1faa");
  CHECK(feed(p, trace("s", 1, R"({"username":"Jürgen"})")).size() == 1);

  session_protocol q(hex, 3, last_seen_trace::of("s", -1));
  out = feed(q, trace("s", 0, R"({"username":42})"));
  REQUIRE(out.size() == 2);
  CHECK(note_of(out[0]) == "Ignored props.username: not a string");
  CHECK(ordered_json::parse(out[1]).at("userId") == "User-3___dfdd1faa");

  CHECK(make_user_id(std::string(100, 'x'), hex, 64) == std::string(64, 'x') + "___dfdd1faa");
}

TEST_CASE("every kind of malformed message gets a note and the session goes on", "[unit]") {
  session_protocol p(hex, 1, {});
  const std::vector<std::pair<std::string, std::string>> bad = {
    {"not json", "not JSON"},
    {"{\"traceSessionId\":\"s\",", "not JSON"},
    {"[1,2,3]", "not a JSON object"},
    {"\"text\"", "not a JSON object"},
    {R"({"traceNumber":1})", "traceSessionId is missing"},
    {R"({"traceSessionId":5,"traceNumber":1})", "traceSessionId is not a string"},
    {R"({"traceSessionId":"s"})", "traceNumber is missing"},
    {R"({"traceSessionId":"s","traceNumber":"1"})", "traceNumber is not a non-negative integer"},
    {R"({"traceSessionId":"s","traceNumber":1.5})", "traceNumber is not a non-negative integer"},
    {R"({"traceSessionId":"s","traceNumber":-1})", "traceNumber is not a non-negative integer"},
    {R"({"traceSessionId":"s","traceNumber":18446744073709551615})", "traceNumber is not a non-negative integer"},
    {"{\"traceSessionId\":\"\xff\xfe\",\"traceNumber\":1}", "not JSON"},
    {"{\"traceSessionId\":\"s\",\"traceNumber\":1,\"x\":\"\xc3\x28\"}", "not JSON"},
    {std::string(200, '[') + std::string(200, ']'), "nested deeper than"},
    {R"({"traceSessionId":")" + std::string(300, 's') + R"(","traceNumber":1})", "traceSessionId is longer"},
    {"", "not JSON"},
    {std::string("{\"traceSessionId\":\"s\",\"traceNumber\":1}\0garbage", 46), "not JSON (a NUL byte"},
    {std::string("{\"traceSessionId\":\"s\0\",\"traceNumber\":1}", 39), "not JSON (a NUL byte"},
  };
  for (auto& [msg, reason] : bad) {
    INFO(msg.substr(0, 60));
    auto out = feed(p, msg);
    REQUIRE(out.size() == 1);
    auto note = note_of(out[0]);
    CHECK(note.rfind("Malformed message: " + reason, 0) == 0);
    CHECK(note.size() < 300); // reasons are bounded, whatever the input
  }
  CHECK_FALSE(p.should_close());
  CHECK(p.bad_messages() == bad.size());
  CHECK(feed(p, trace("s", 0)).size() == 2); // note + trace: still working
}

TEST_CASE("a message over the size limit is rejected without parsing", "[unit]") {
  session_limits limits;
  limits.max_message_bytes = 1000;
  session_protocol p(hex, 1, {}, limits);
  auto big = trace("s", 0, R"({"pad":")" + std::string(2000, 'x') + "\"}");
  auto out = feed(p, big);
  REQUIRE(out.size() == 1);
  CHECK(note_of(out[0]).find("exceeds the limit of 1000 bytes") != std::string::npos);
  CHECK(feed(p, trace("s", 0)).size() == 2);
}

TEST_CASE("too many malformed messages in a row close the connection", "[unit]") {
  session_limits limits;
  limits.max_bad_messages_in_row = 5;
  session_protocol p(hex, 1, {}, limits);
  for (int i = 0; i < 4; ++i)
    feed(p, "junk");
  CHECK_FALSE(p.should_close());
  feed(p, trace("s", 0)); // a good message resets the count
  for (int i = 0; i < 4; ++i)
    feed(p, "junk");
  CHECK_FALSE(p.should_close());
  auto out = feed(p, "junk");
  CHECK(p.should_close());
  REQUIRE(out.size() == 2);
  CHECK(note_of(out[1]).find("closing the connection") != std::string::npos);
}

TEST_CASE("messages that cannot be spliced are rebuilt as single-line JSON", "[unit]") {
  session_protocol p(hex, 1, last_seen_trace::of("s", -1));
  // Pretty-printed (raw newlines), and a client that sends its own "time"
  // and "userId": the server's values win and stay first.
  auto msg = "{\n  \"time\": \"client-time\",\n  \"traceSessionId\": \"s\",\n"
             "  \"traceNumber\": 0,\n  \"userId\": \"spoof\",\n  \"props\": {\"username\": \"u\"}\n}\n";
  auto out = feed(p, msg);
  REQUIRE(out.size() == 1);
  CHECK(out[0].find('\n') == std::string::npos);
  auto j = ordered_json::parse(out[0]);
  std::vector<std::string> keys;
  for (auto& kv : j.items())
    keys.push_back(kv.key());
  CHECK(keys == std::vector<std::string>{"time", "userId", "traceSessionId", "traceNumber", "props"});
  CHECK(j["time"] == now);
  CHECK(j["userId"] == "u___dfdd1faa");
}

TEST_CASE("spliced lines keep the client's field order and stay valid JSON", "[unit]") {
  session_protocol p(hex, 1, last_seen_trace::of("s", -1));
  auto out = feed(p, R"(  { "z":1, "traceNumber" : 0, "a":[1,{"b":null}], "traceSessionId":"s" }  )");
  REQUIRE(out.size() == 1);
  auto j = ordered_json::parse(out[0]);
  std::vector<std::string> keys;
  for (auto& kv : j.items())
    keys.push_back(kv.key());
  CHECK(keys == std::vector<std::string>{"time", "userId", "z", "traceNumber", "a", "traceSessionId"});
}

TEST_CASE("socket errors are written as the JS server writes them", "[unit]") {
  session_protocol p(hex, 1, {});
  auto line = p.socket_error_line("ETIMEDOUT", "connection timed out", now);
  CHECK(line == R"({"time":"2026-11-24T06:42:57.879Z","note":"Socket error. code=ETIMEDOUT message=connection timed out"})");
}

TEST_CASE("timestamps are ISO 8601 UTC with milliseconds", "[unit]") {
  using namespace std::chrono;
  system_clock::time_point t{milliseconds(1795502577879)};
  CHECK(iso8601_ms(t) == "2026-11-24T06:42:57.879Z");
  CHECK(iso8601_ms(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  // Within one second only the milliseconds change; across seconds, years
  // and before the epoch the whole date is right.
  CHECK(iso8601_ms(t + milliseconds(1)) == "2026-11-24T06:42:57.880Z");
  CHECK(iso8601_ms(t + milliseconds(121)) == "2026-11-24T06:42:58.000Z");
  CHECK(iso8601_ms(system_clock::time_point{milliseconds(1798761599999)})
        == "2026-12-31T23:59:59.999Z");
  CHECK(iso8601_ms(system_clock::time_point{milliseconds(1798761600000)})
        == "2027-01-01T00:00:00.000Z");
  CHECK(iso8601_ms(system_clock::time_point{milliseconds(-1)})
        == "1969-12-31T23:59:59.999Z");
  CHECK(iso8601_ms(t) == "2026-11-24T06:42:57.879Z");
}
