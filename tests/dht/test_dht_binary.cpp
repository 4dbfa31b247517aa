// hypertrace-logger-dht as an operator runs it: options, the listening
// line, answering over real UDP, SIGTERM/SIGINT exit 0, clear errors.
#include <catch2/catch.hpp>

#include <csignal>
#include <regex>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dht/rpc/message.hpp"
#include "messages/bytes.hpp"
#include "support/binary_process.hpp"

namespace {

/// hypertrace-logger-dht with `args`, its stdout and stderr collected.
struct dht_process : ht::test::binary_process {
  explicit dht_process(std::vector<std::string> args)
    : binary_process(HT_DHT_BINARY, std::move(args)) {}
};

/// One dht-rpc PING over real UDP; the decoded response, if any.
std::optional<ht::rpc::response> ping(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ht::rpc::request r;
  r.tid = 77;
  r.to = ht::rpc::ipv4_address::parse("127.0.0.1", port);
  r.internal = true;
  r.command = static_cast<uint64_t>(ht::rpc::internal_command::ping);
  auto data = ht::rpc::encode(r);
  std::optional<ht::rpc::response> res;
  for (int attempt = 0; attempt < 5 && !res; ++attempt) {
    ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 1000) <= 0)
      continue;
    uint8_t buf[2048];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      continue;
    auto m = ht::rpc::decode(buf, static_cast<size_t>(n));
    if (auto* resp = std::get_if<ht::rpc::response>(&m))
      res = *resp;
  }
  ::close(fd);
  return res;
}

} // namespace

TEST_CASE("hypertrace-logger-dht listens, answers PING with its id, and exits 0 on SIGTERM and SIGINT", "[scenario]") {
  for (int sig : {SIGTERM, SIGINT}) {
    dht_process p({"--host=127.0.0.1", "--port=0"});
    REQUIRE(p.wait_for("\n"));
    std::smatch m;
    REQUIRE(std::regex_search(p.output, m,
      std::regex("dht node listening on 127\\.0\\.0\\.1:([0-9]+) id ([0-9a-f]{64})\n")));
    auto port = static_cast<uint16_t>(std::stoi(m[1]));
    CHECK(port != 0);
    auto id = ht::rpc::node_id(ht::rpc::ipv4_address::parse("127.0.0.1", port));
    CHECK(m[2] == ht::to_hex(id.data(), id.size()));
    auto res = ping(port);
    REQUIRE(res);
    CHECK(res->tid == 77);
    REQUIRE(res->id); // persistent: it sends its id
    CHECK(*res->id == id);
    ::kill(p.pid, sig);
    CHECK(p.wait_exit() == 0);
  }
}

TEST_CASE("hypertrace-logger-dht joins another node given by --bootstrap", "[scenario]") {
  dht_process a({"--host=127.0.0.1", "--port=0"});
  REQUIRE(a.wait_for("\n"));
  std::smatch m;
  REQUIRE(std::regex_search(a.output, m, std::regex("127\\.0\\.0\\.1:([0-9]+) id")));
  dht_process b({"--host=127.0.0.1", "--port=0", "--bootstrap=127.0.0.1:" + m[1].str()});
  REQUIRE(b.wait_for("dht node listening on"));
  ::kill(a.pid, SIGTERM);
  ::kill(b.pid, SIGTERM);
  CHECK(a.wait_exit() == 0);
  CHECK(b.wait_exit() == 0);
}

TEST_CASE("hypertrace-logger-dht: --help, and clear errors for missing or bad options", "[scenario]") {
  {
    dht_process p({"--help"});
    CHECK(p.wait_exit() == 0);
    for (auto opt : {"--host", "--port", "--bootstrap", "--config-file"})
      CHECK(p.output.find(opt) != std::string::npos);
  }
  struct bad_case { std::vector<std::string> args; const char* says; };
  for (auto& c : std::vector<bad_case>{
         {{}, "--host is required"},
         {{"--host=0.0.0.0"}, "not 0.0.0.0"},
         {{"--host=example.org"}, "not an IPv4 address"},
         {{"--host=127.0.0.1", "--port=0", "--bootstrap=127.0.0.1"}, "--bootstrap '127.0.0.1': no port"},
         {{"--no-such-option=1"}, "no-such-option"}}) {
    dht_process p(c.args);
    CHECK(p.wait_exit() == 2);
    CHECK(p.output.find(c.says) != std::string::npos);
  }
}

TEST_CASE("hypertrace-logger-dht: a port already taken is a clear error, exit 1", "[scenario]") {
  dht_process a({"--host=127.0.0.1", "--port=0"});
  REQUIRE(a.wait_for("\n"));
  std::smatch m;
  REQUIRE(std::regex_search(a.output, m, std::regex("127\\.0\\.0\\.1:([0-9]+) id")));
  dht_process b({"--host=127.0.0.1", "--port=" + m[1].str()});
  CHECK(b.wait_exit() == 1);
  CHECK(b.output.find("udx bind 127.0.0.1:" + m[1].str()) != std::string::npos);
  ::kill(a.pid, SIGTERM);
  CHECK(a.wait_exit() == 0);
}
