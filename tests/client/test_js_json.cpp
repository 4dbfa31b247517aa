// JSON text as JSON.stringify(value, replacer) of the JS client writes it.
// Expected strings are what node prints for the same values.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "actors/client/js_json.hpp"

using ht::json;

namespace {
std::string js(const json& v) {
  std::string out;
  ht::append_js_json(out, v);
  return out;
}
std::string num(double d) {
  std::string out;
  ht::append_js_number(out, d);
  return out;
}
} // namespace

TEST_CASE("numbers are formatted as Number#toString", "[unit]") {
  CHECK(num(1.0) == "1");
  CHECK(num(-2.5) == "-2.5");
  CHECK(num(0.1) == "0.1");
  CHECK(num(1.0 / 3) == "0.3333333333333333");
  CHECK(num(-0.0) == "0");
  CHECK(num(1e21) == "1e+21");
  CHECK(num(1e20) == "100000000000000000000");
  CHECK(num(123456789012345680000.0) == "123456789012345680000");
  CHECK(num(1e-6) == "0.000001");
  CHECK(num(1e-7) == "1e-7");
  CHECK(num(1.5e-7) == "1.5e-7");
  CHECK(num(1.7976931348623157e308) == "1.7976931348623157e+308");
  CHECK(num(5e-324) == "5e-324");
  CHECK(num(std::nan("")) == "null");
  CHECK(num(std::numeric_limits<double>::infinity()) == "null");
  CHECK(js(json(42)) == "42");
  CHECK(js(json(-7)) == "-7");
  CHECK(js(json(uint64_t{18446744073709551615ull})) == "18446744073709551615");
}

TEST_CASE("strings are escaped as JSON.stringify does", "[unit]") {
  CHECK(js(json("a\"b\\c")) == R"("a\"b\\c")");
  CHECK(js(json("\b\f\n\r\t")) == R"("\b\f\n\r\t")");
  CHECK(js(json(std::string("\x01\x1f", 2))) == R"("\u0001\u001f")");
  CHECK(js(json(std::string("\0", 1))) == R"("\u0000")");
  CHECK(js(json("/\x7f")) == "\"/\x7f\"");
  CHECK(js(json("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")) == "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  CHECK(js(json("\xe2\x80\xa8")) == "\"\xe2\x80\xa8\""); // U+2028 is not escaped
}

TEST_CASE("strings that are not UTF-8 cannot be stringified", "[unit]") {
  CHECK_THROWS_AS(js(json("\xff")), ht::js_json_error);
  CHECK_THROWS_AS(js(json("\xc3")), ht::js_json_error);            // truncated
  CHECK_THROWS_AS(js(json("\xc0\xaf")), ht::js_json_error);        // overlong
  CHECK_THROWS_AS(js(json("\xed\xa0\x80")), ht::js_json_error);    // surrogate
  CHECK_THROWS_AS(js(json("\xf4\x90\x80\x80")), ht::js_json_error);// > U+10FFFF
  CHECK_THROWS_AS(js(json{{"k\xff", 1}}), ht::js_json_error);      // in a key
}

TEST_CASE("objects keep insertion order; arrays, null, booleans", "[unit]") {
  json o = json::object();
  o["zeta"] = 1;
  o["alpha"] = json::array({true, false, nullptr, 1.5});
  o["mid"] = json::object();
  CHECK(js(o) == R"({"zeta":1,"alpha":[true,false,null,1.5],"mid":{}})");
}

TEST_CASE("the replacer: buffers become hex, errors {code, message}", "[unit]") {
  json v = json::object();
  v["bin"] = json::binary({0x00, 0xab, 0xff});
  v["node"] = json{{"type", "Buffer"}, {"data", {1, 2, 255, 256, -1}}};
  v["err"] = ht::error_json("ENOENT", "no such file");
  v["plain"] = ht::error_json(std::runtime_error("boom"));
  CHECK(js(v) == R"({"bin":"00abff","node":"0102ff00ff","err":{"code":"ENOENT","message":"no such file"},"plain":{"message":"boom"}})");
  CHECK_THROWS_AS(js(json{{"type", "Buffer"}}), ht::js_json_error);
}

TEST_CASE("nesting deeper than the limit is an error, not a crash", "[unit]") {
  json deep = json::array();
  json* cur = &deep;
  for (int i = 0; i < 100000; ++i) {
    cur->push_back(json::array());
    cur = &(*cur)[0];
  }
  CHECK_THROWS_AS(js(deep), ht::js_json_error);
  // nlohmann's own destructor recursion is iterative since 3.10: safe.
}
