// keys.dat: the JS server's format, created once with mode 0600, reused,
// and never silently replaced when damaged.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "actors/server/keys.hpp"
#include "support/temp_dir.hpp"
#include "support/node_process.hpp"

using namespace ht;

namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("a key file is created once with mode 0600 and reused", "[unit]") {
  ht::test::temp_dir dir{"ht-keys"};
  auto path = dir.path() + "/keys.dat";
  bool created = false;
  auto first = load_or_create_key_file(path, &created);
  CHECK(created);
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto doc = nlohmann::json::parse(read_file(path));
  CHECK(doc.size() == 2);
  CHECK(doc["publicKey"].get<std::string>().size() == 64);
  CHECK(doc["secretKey"].get<std::string>().size() == 128);
  auto second = load_or_create_key_file(path, &created);
  CHECK_FALSE(created);
  CHECK(second.public_key_bytes == first.public_key_bytes);
  CHECK(second.secret_key == first.secret_key);
}

TEST_CASE("damaged key files are clear errors and stay untouched", "[unit]") {
  ht::test::temp_dir dir{"ht-keys"};
  auto path = dir.path() + "/keys.dat";
  auto good = format_key_file(generate_key_pair());
  auto other = format_key_file(generate_key_pair());
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"", "not JSON"},
    {"{\"publicKey\":", "not JSON"},
    {"[]", "not a JSON object"},
    {R"({"secretKey":"00"})", "missing \"publicKey\""},
    {R"({"publicKey":1,"secretKey":"00"})", "\"publicKey\" is not a string"},
    {R"({"publicKey":"zz","secretKey":"00"})", "\"publicKey\" is not hex"},
    {R"({"publicKey":"00","secretKey":"00"})", "\"publicKey\" has 1 bytes"},
    {good.substr(0, 85) + other.substr(85), "publicKey does not belong to secretKey"},
  };
  for (auto& [text, reason] : cases) {
    INFO(text);
    write_file(path, text);
    try {
      load_or_create_key_file(path);
      FAIL("accepted a damaged key file");
    } catch (const key_file_error& e) {
      std::string what = e.what();
      CHECK(what.find(path) != std::string::npos);
      CHECK(what.find(reason) != std::string::npos);
    }
    CHECK(read_file(path) == text);
  }
}

TEST_CASE("an unreadable key file is an error, not a new key", "[unit]") {
  ht::test::temp_dir dir{"ht-keys"};
  auto path = dir.path() + "/keys.dat";
  REQUIRE(::mkdir(path.c_str(), 0700) == 0); // a directory cannot be read as a file
  CHECK_THROWS_AS(load_or_create_key_file(path), key_file_error);
}

TEST_CASE("key files of the JS server and ours are interchangeable", "[interop]") {
  ht::test::temp_dir dir{"ht-keys"};
  // The JS side: hyperdht's DHT.keyPair() written as start-server.js
  // writes keys.dat, then read back and checked with sodium.
  auto js_path = dir.path() + "/js-keys.dat";
  auto ours_path = dir.path() + "/our-keys.dat";
  auto ours = load_or_create_key_file(ours_path);
  test::node_process node("server-keys.js", {js_path, ours_path});
  CHECK(node.read_line() == "written");
  auto theirs = load_or_create_key_file(js_path); // parses and validates
  node.write_line(to_hex(theirs.public_key_bytes));
  CHECK(node.read_line() == "ours ok " + to_hex(ours.public_key_bytes));
  node.close_stdin();
  CHECK(node.wait() == 0);
}
