// The JSON our client sends equals the npm hypertrace-logger client's for the
// same inputs, byte for byte, except the values that must differ: the
// timestamp, the random session id and the caller's file name (each checked
// for its format instead).
#include <catch2/catch.hpp>


#include "client_fixture.hpp"
#include "formats.hpp"
#include "support/node_process.hpp"

using namespace ht;
using namespace ht::test;

namespace interop {
struct Room {
  tracer tr;
  explicit Room(json props = nullptr) : tr(create_tracer(this, {std::move(props), nullptr})) {}
  void join(std::string_view id, json props) { tr.trace(id, std::move(props)); }
  void leave() { tr.trace(); }
};
struct Door {
  tracer tr;
  explicit Door(const Room* parent) : tr(create_tracer(this, {nullptr, &parent->tr})) {}
  void open(std::string_view id, json props) { tr.trace(id, std::move(props)); }
};
} // namespace interop

namespace {

struct normalized {
  std::string text, timestamp, session, filename;
};

// Cuts out the three values that differ by nature and keeps the rest.
normalized normalize(const std::string& line) {
  normalized n;
  n.text = line;
  auto cut = [&](const std::string& key, std::string& out, const std::string& keep = "") {
    auto k = n.text.find("\"" + key + "\":\"");
    REQUIRE(k != std::string::npos);
    auto start = k + key.size() + 4;
    auto end = n.text.find('"', start);
    out = n.text.substr(start, end - start);
    if (out != keep)
      n.text.replace(start, end - start, "<" + key + ">");
  };
  cut("traceTimestamp", n.timestamp);
  cut("traceSessionId", n.session);
  cut("filename", n.filename, "/app/worker.js");
  return n;
}

} // namespace

TEST_CASE("trace JSON equals the JS client's for the same inputs", "[interop]") {
  node_process js("client-capture.js");
  std::vector<std::string> expected;
  for (;;) {
    auto line = js.read_line();
    if (line == "END")
      break;
    expected.push_back(line);
  }
  REQUIRE(js.wait() == 0);
  REQUIRE(expected.size() == 5);

  client_fixture f;
  auto o = f.options();
  o.initial_props = {{"app", "shop"}, {"v", 1}};
  f.start(o); // nobody listens yet: the first traces wait in the buffer
  interop::Room room1({{"name", "lobby"}, {"n", 1.5}});
  json props = json::object();
  props["user"] = 7;
  props["buf"] = json::binary({1, 2, 254, 255});
  props["err"] = error_json("EBOOM", "boom");
  props["plain"] = error_json(std::runtime_error("no code"));
  props["big"] = 1e21;
  props["small"] = 1e-7;
  props["tenth"] = 0.1;
  props["neg"] = -42.25;
  props["s"] = "h\u00e9\u20ac\U0001F600\u0001\n\"\\/";
  props["nested"] = {{"a", {1, nullptr, true, false, "x"}}, {"b", json::object()}};
  room1.join("join", props);
  room1.leave();
  f.run();
  f.listen();
  f.advance(std::chrono::seconds(1)); // reconnect, handshake, replay
  f.cl->add_props({{"v", 2}, {"user", "ann"}});
  interop::Door door(&room1);
  door.open("open", nullptr);
  interop::Room room2;
  room2.join("", {{"x", 1}});
  f.cl->add_trace(worker_trace("manual"));
  f.run();

  REQUIRE(f.server.log.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    auto js_n = normalize(expected[i]);
    auto cpp_n = normalize(f.server.log[i]);
    INFO("trace " << i << "\n  js:  " << expected[i] << "\n  c++: " << f.server.log[i]);
    CHECK(cpp_n.text == js_n.text);
    CHECK(is_iso_ms(js_n.timestamp));
    CHECK(is_iso_ms(cpp_n.timestamp));
    CHECK(all_digits(js_n.session));
    CHECK(all_digits(cpp_n.session));
    CHECK(js_n.filename.rfind("/", 0) == 0);  // absolute paths on both sides
    CHECK(cpp_n.filename.rfind("/", 0) == 0);
  }
  CHECK(normalize(f.server.log[0]).filename == __FILE__);
}
