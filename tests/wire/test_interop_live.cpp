// Live interop: our secret-stream core, driven over a loopback TCP socket by
// this test, against @hyperswarm/secret-stream in Node (tests/interop/
// wire-live.js). Both directions of the handshake; 10,000 messages each way,
// 0 B to 1 MiB, every byte checked on both sides.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "dht/noise/peer_handshake.hpp"
#include "dht/secret_stream/secret_stream.hpp"
#include "support/node_process.hpp"
#include "vectors.hpp"

using ht::secret_stream::stream;
using bytes = std::vector<uint8_t>;

namespace {

constexpr size_t message_count = 10000;
constexpr uint32_t our_dir = 0;    // what we send
constexpr uint32_t their_dir = 1;  // what the JS peer sends

// Mirrors tests/interop/wire-live-messages.js.
uint32_t mix(uint32_t x) {
  x = (x ^ (x >> 16)) * 0x45d9f3bu;
  x = (x ^ (x >> 16)) * 0x45d9f3bu;
  return x ^ (x >> 16);
}
size_t message_size(uint32_t dir, uint32_t i) {
  if (i % 1000 == 999) return 1024 * 1024;
  if (i % 100 == 50) return 65536 + i % 7;
  if (i % 10 == 3) return 0;
  return mix(i * 2 + dir) % 2048;
}
bytes make_message(uint32_t dir, uint32_t i) {
  bytes m(message_size(dir, i));
  uint32_t base = mix(i * 2 + dir + 0x9e3779b9u);
  for (size_t j = 0; j < m.size(); ++j) m[j] = static_cast<uint8_t>(base + static_cast<uint32_t>(j) * 131u);
  return m;
}

struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

struct session_result {
  size_t received = 0;
  size_t sent = 0;
  std::string error;
};

// Runs the session over a connected socket with non-blocking poll(): both
// sides write 10,000 messages while reading, so neither can stall the other.
session_result run_session(int fd, stream& s) {
  session_result r;
  bytes out;
  size_t out_off = 0;
  std::vector<uint8_t> buf(1 << 18);
  bool eof = false;
  while (true) {
    while (s.is_open() && r.sent < message_count && out.size() - out_off < (1u << 20)) {
      s.write(make_message(our_dir, static_cast<uint32_t>(r.sent)));
      ++r.sent;
    }
    if (s.has_transmit()) {
      if (out_off == out.size()) {
        out.clear();
        out_off = 0;
      }
      s.take_transmit(out);
    }
    bool pending = out_off < out.size();
    if (!pending && r.sent == message_count && r.received == message_count) break;
    if (eof) {
      r.error = "peer closed early";
      break;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (pending ? POLLOUT : 0)), 0};
    int rc = ::poll(&p, 1, 30000);
    if (rc <= 0) {
      r.error = "poll timeout";
      break;
    }
    if (p.revents & POLLOUT) {
      ssize_t n = ::send(fd, out.data() + out_off, out.size() - out_off, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        r.error = std::string("send: ") + std::strerror(errno);
        break;
      }
      if (n > 0) out_off += static_cast<size_t>(n);
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n == 0) {
        eof = true;
        continue;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
        r.error = std::string("recv: ") + std::strerror(errno);
        break;
      }
      try {
        s.feed(buf.data(), static_cast<size_t>(n));
      } catch (const std::exception& e) {
        r.error = e.what();
        break;
      }
      while (auto m = s.poll_message()) {
        if (*m != make_message(their_dir, static_cast<uint32_t>(r.received))) {
          r.error = "message " + std::to_string(r.received) + " differs";
          return r;
        }
        ++r.received;
      }
    }
  }
  return r;
}

void set_nonblocking(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw std::runtime_error("fcntl failed");
}

const std::string js_seed(64, '1');
const std::string cpp_seed(64, '2');

ht::noise::keypair cpp_keypair() {
  return ht::noise::keypair::from_seed(ht::wire_test::unhex_array<32>(cpp_seed));
}
ht::noise::key32 js_public_key() {
  return ht::noise::keypair::from_seed(ht::wire_test::unhex_array<32>(js_seed)).public_key;
}

// Waits for the JS peer's report and checks it saw everything.
void check_js_report(ht::test::node_process& node) {
  auto report = nlohmann::json::parse(node.read_line(60000));
  INFO("JS report: " << report.dump());
  CHECK(report["ok"].get<bool>());
  CHECK(report["received"].get<size_t>() == message_count);
}

// What our side of the PEER_HANDSHAKE carries; wire-live.js checks these values.
ht::noise::noise_payload our_payload() {
  ht::noise::noise_payload p;
  p.firewall = ht::noise::firewall_consistent;
  p.udx = ht::noise::udx_info{1, true, 99, 0};
  p.secret_stream = ht::noise::secret_stream_info{};
  return p;
}

void check_js_payload(const ht::noise::noise_payload& p) {
  CHECK(p.version == 1);
  CHECK(p.firewall == ht::noise::firewall_open);
  REQUIRE(p.udx.has_value());
  CHECK(p.udx->id == 77);
  CHECK(p.secret_stream.has_value());
  REQUIRE(p.addresses4.size() == 1);
  CHECK(p.addresses4[0].host_string() == "127.0.0.1");
  CHECK(p.addresses4[0].port == 7);
}

bytes line_hex(const std::string& line, const std::string& tag) {
  REQUIRE(line.rfind(tag + " ", 0) == 0);
  return ht::wire_test::unhex(line.substr(tag.size() + 1));
}

// A TCP connection to the JS peer's "listening <port>" line, non-blocking.
void connect_to_js(ht::test::node_process& node, fd_guard& sock) {
  std::string line = node.read_line(30000);
  REQUIRE(line.rfind("listening ", 0) == 0);
  sockaddr_in addr = loopback(static_cast<uint16_t>(std::stoi(line.substr(10))));
  sock.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(sock.fd >= 0);
  REQUIRE(::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  set_nonblocking(sock.fd);
}

// A loopback listener for the JS peer to connect to.
struct listener {
  fd_guard fd{::socket(AF_INET, SOCK_STREAM, 0)};
  uint16_t port = 0;

  listener() {
    REQUIRE(fd.fd >= 0);
    sockaddr_in addr = loopback(0);
    REQUIRE(::bind(fd.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd.fd, 1) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }

  /// Waits up to 30 s for the connection; blocking unless asked otherwise.
  void accept(fd_guard& sock, bool nonblocking) {
    pollfd p{fd.fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 30000) == 1);
    sock.fd = ::accept(fd.fd, nullptr, nullptr);
    REQUIRE(sock.fd >= 0);
    if (nonblocking)
      set_nonblocking(sock.fd);
  }
};

// Both sides send message_count messages; both must receive all of them,
// then the JS peer exits cleanly once we half-close.
void exchange_and_check(ht::test::node_process& node, int fd, stream& s) {
  session_result r = run_session(fd, s);
  INFO(r.error);
  CHECK(r.error.empty());
  CHECK(r.received == message_count);
  check_js_report(node);
  ::shutdown(fd, SHUT_WR);
  CHECK(node.wait(30000) == 0);
}

} // namespace

TEST_CASE("live: hyperdht PEER_HANDSHAKE with a JS server, then secret-stream from it over TCP", "[interop]") {
  ht::test::node_process node("wire-live.js", {"ik-server", std::to_string(message_count), js_seed,
                                               ht::wire_test::hex(cpp_keypair().public_key)});
  ht::noise::peer_handshake hs(cpp_keypair(), js_public_key());
  node.write_line("m1 " + ht::wire_test::hex(hs.send(our_payload())));
  check_js_payload(hs.recv(line_hex(node.read_line(30000), "m2")));
  REQUIRE(hs.complete());
  ht::noise::peer_handshake_result result = hs.final();

  fd_guard sock{-1};
  connect_to_js(node, sock);
  stream s(result.keys);
  exchange_and_check(node, sock.fd, s);
}

TEST_CASE("live: hyperdht PEER_HANDSHAKE from a JS client, then secret-stream from it over TCP", "[interop]") {
  ht::test::node_process node("wire-live.js", {"ik-client", std::to_string(message_count), js_seed,
                                               ht::wire_test::hex(cpp_keypair().public_key)});
  ht::noise::peer_handshake hs(cpp_keypair(), std::nullopt);
  check_js_payload(hs.recv(line_hex(node.read_line(30000), "m1")));
  REQUIRE(hs.remote_public_key().has_value());
  CHECK(*hs.remote_public_key() == js_public_key());
  node.write_line("m2 " + ht::wire_test::hex(hs.send(our_payload())));
  REQUIRE(hs.complete());
  ht::noise::peer_handshake_result result = hs.final();

  listener l;
  node.write_line("port " + std::to_string(l.port));
  fd_guard sock{-1};
  l.accept(sock, true);
  stream s(result.keys);
  exchange_and_check(node, sock.fd, s);
}

TEST_CASE("live: C++ initiator against a JS secret-stream responder over TCP", "[interop]") {
  ht::test::node_process node("wire-live.js", {"server", std::to_string(message_count), js_seed,
                                               ht::wire_test::hex(cpp_keypair().public_key)});
  fd_guard sock{-1};
  connect_to_js(node, sock);
  stream s(true, cpp_keypair(), js_public_key());
  exchange_and_check(node, sock.fd, s);
  CHECK(*s.remote_public_key() == js_public_key());
}

TEST_CASE("live: JS secret-stream initiator against a C++ responder over TCP", "[interop]") {
  listener l;
  ht::test::node_process node("wire-live.js", {"client", std::to_string(message_count), js_seed,
                                               ht::wire_test::hex(cpp_keypair().public_key),
                                               std::to_string(l.port)});
  fd_guard sock{-1};
  l.accept(sock, true);
  stream s(false, cpp_keypair(), js_public_key());
  exchange_and_check(node, sock.fd, s);
}

TEST_CASE("live: forged and bit-flipped frames between JS and C++ close the stream", "[interop]") {
  listener l;
  ht::test::node_process node("wire-live.js", {"corrupt-client", "0", js_seed,
                                               ht::wire_test::hex(cpp_keypair().public_key),
                                               std::to_string(l.port)});
  fd_guard sock{-1};
  l.accept(sock, false);

  stream s(false, cpp_keypair(), js_public_key());
  size_t received = 0;
  bool sent_bad = false;
  std::optional<ht::secret_stream::errc> failure;
  std::vector<uint8_t> buf(1 << 16);
  while (!failure) {
    pollfd q{sock.fd, POLLIN, 0};
    REQUIRE(::poll(&q, 1, 30000) == 1);
    ssize_t n = ::recv(sock.fd, buf.data(), buf.size(), 0);
    REQUIRE(n > 0);
    try {
      s.feed(buf.data(), static_cast<size_t>(n));
    } catch (const ht::secret_stream::error& e) {
      failure = e.code();
    }
    while (auto m = s.poll_message()) {
      CHECK(*m == make_message(their_dir, static_cast<uint32_t>(received)));
      ++received;
    }
    if (s.has_transmit()) {  // handshake replies and our header
      bytes out = s.take_transmit();
      REQUIRE(::send(sock.fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size()));
    }
    if (s.is_open() && !sent_bad) {
      // Three good messages, then one with a flipped bit in its MAC.
      for (uint32_t i = 0; i < 3; ++i) s.write(make_message(our_dir, i));
      s.write(make_message(our_dir, 3));
      bytes out = s.take_transmit();
      out.back() ^= 1;
      REQUIRE(::send(sock.fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size()));
      sent_bad = true;
    }
  }
  CHECK(*failure == ht::secret_stream::errc::decrypt_failed);
  CHECK(received == 5);  // the good ones, once; nothing after the forged frame
  CHECK(s.is_closed());

  auto report = nlohmann::json::parse(node.read_line(30000));
  INFO("JS report: " << report.dump());
  // JS refused our flipped frame with an error (sodium's "pull failed"), not
  // a plain close. It may not have emitted the 3 good ones first: a streamx
  // destroy drops reads still buffered, so only an upper bound holds.
  CHECK(report["received"].get<size_t>() <= 3);
  CHECK(report["error"].get<std::string>() == "pull failed");
  ::close(sock.fd);
  sock.fd = -1;
  CHECK(node.wait(30000) == 0);
}
