// hypertrace-logger-send against the npm hypertrace-logger 1.1.1 Server
// (tests/interop/hd-client-peer.js, a JS network on 127.0.0.1): it must
// close both of its connections (the tracing one and the one that asks for
// the acknowledgement) before it exits, not leave the server to find out by
// a timeout.
//
// The JS Server never ends its side of a connection (it only reads), so a
// close ends with our abort after --close-timeout: the server notes
// "Socket error. code=ECONNRESET", as it does for the JS Client, whose
// stop() destroys its stream (client.js:129-133). What must not happen is
// ETIMEDOUT, which the server notes ~20 s after a client vanished without a
// word; here both notes must be there when the binary has exited.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/node_process.hpp"
#include "support/temp_dir.hpp"

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> notes_in(const std::string& file) {
  std::ifstream in(file);
  std::vector<std::string> notes;
  std::string line;
  while (std::getline(in, line)) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("note")) notes.push_back(j["note"].get<std::string>());
  }
  return notes;
}

size_t socket_errors(const std::vector<std::string>& notes) {
  size_t n = 0;
  for (auto& s : notes)
    if (s.rfind("Socket error.", 0) == 0) ++n;
  return n;
}

} // namespace

TEST_CASE("hypertrace-logger-send closes its connections before it exits", "[interop]") {
  ht::test::temp_dir dir{"ht-send-cli"};
  ht::test::node_process node("hd-client-peer.js", {dir.path()});
  auto hello = json::parse(node.read_line(60000));
  auto server = hello["publicKey"].get<std::string>();
  auto bootstrap = hello["bootstrap"][0].get<std::string>();
  // A fixed key pair, so we know which file the JS server writes.
  const std::string seed(64, '3');
  auto out = dir.path() + "/send.out";
  std::string cmd = "printf '{\"id\":\"a\"}\\n{\"id\":\"b\"}\\n' | " HT_SEND_BINARY
                    " --server=" + server + " --bootstrap=" + bootstrap + " --seed=" + seed +
                    " --host=127.0.0.1 --close-timeout=1000 > " + out + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream o(out);
  std::string output((std::istreambuf_iterator<char>(o)), std::istreambuf_iterator<char>());
  INFO(output);
  REQUIRE(WIFEXITED(rc));
  REQUIRE(WEXITSTATUS(rc) == 0);
  CHECK(output.find("server acknowledged 2") != std::string::npos);

  // The JS server's file for our key (the only .log it wrote).
  std::string log;
  for (auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().extension() == ".log") log = e.path().string();
  REQUIRE_FALSE(log.empty());
  // Both closes reach the server right away (give its log writes a moment).
  std::vector<std::string> notes;
  auto end = std::chrono::steady_clock::now() + 3s;
  do {
    std::this_thread::sleep_for(100ms);
    notes = notes_in(log);
  } while (socket_errors(notes) < 2 && std::chrono::steady_clock::now() < end);
  for (auto& n : notes) {
    INFO(n);
    CHECK(n.find("ETIMEDOUT") == std::string::npos);
  }
  // One per connection: the tracing one and at least one acknowledgement check.
  CHECK(socket_errors(notes) >= 2);
  node.write_line("quit");
  node.wait(20000);
}
