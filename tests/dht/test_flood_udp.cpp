// A flood over real UDP: one source host blasts requests at a node as fast
// as sendmmsg goes while another peer's requests (with dht-rpc's retries)
// are answered, and what the socket hands the node but the node has not
// processed yet stays bounded (the socket's handler backlog cap). The peer
// is served even when the node is much slower than the flood (the ASan
// build): the socket admits per source host (udx_handler_admit), so the
// flood is held to its share and its excess dropped, not the peer's; and
// the node serves its sources round-robin, so the peer's requests do not
// wait behind the flood's share either.
//
// The flooder sends from 127.0.0.2, the nodes are on 127.0.0.1: a source
// is a host, so a flood from the peer's own host would share its share.
// Both are loopback addresses (nothing leaves the machine).
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "actors/dht/node_actor.hpp"
#include "actors/udx/socket_actor.hpp"

using namespace ht;
using namespace std::chrono_literals;

namespace {

struct udp_node {
  udx_socket_actor socket;
  dht_node_actor node;
  rpc::ipv4_address address;
};

udp_node start(caf::actor_system& sys, std::vector<rpc::ipv4_address> bootstrap,
               uint64_t seed = 0) {
  caf::scoped_actor self{sys};
  for (;;) {
    udx_socket_options so;
    so.host = "127.0.0.1";
    so.buffer_bytes = 1 << 20;
    auto sock = spawn_udx_socket(sys, so);
    REQUIRE(sock);
    udx_endpoint bound;
    self->request(*sock, caf::infinite, udx_address_atom::value)
      .receive([&](const udx_endpoint& e) { bound = e; }, [](caf::error&) {});
    if (bound.port >= 49737 && bound.port <= 49741) {
      self->send_exit(*sock, caf::exit_reason::user_shutdown);
      continue;
    }
    dht_node_options o;
    o.config.bootstrap = std::move(bootstrap);
    o.config.mode = rpc::node_mode::persistent;
    o.config.seed = seed;
    o.config.public_address = rpc::ipv4_address::parse("127.0.0.1", bound.port);
    o.sockets.push_back(*sock);
    auto addr = *o.config.public_address;
    return {*sock, spawn_dht_node(sys, std::move(o)), addr};
  }
}

/// The kernel's side of the UDP socket bound to 127.0.0.1:port
/// (/proc/net/udp): bytes waiting in its receive buffer, and datagrams
/// dropped because that buffer was full (losses before any code of ours
/// sees a datagram).
struct kernel_socket {
  uint64_t rx_queue = 0;
  uint64_t drops = 0;
};

kernel_socket kernel_state(uint16_t port) {
  std::ifstream in("/proc/net/udp");
  std::string line;
  char want[16];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  while (std::getline(in, line)) {
    if (line.find(want) == std::string::npos)
      continue;
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string x; fields >> x;)
      f.push_back(x);
    kernel_socket k;
    if (f.size() > 4 && f[4].find(':') != std::string::npos)
      k.rx_queue = std::stoull(f[4].substr(f[4].find(':') + 1), nullptr, 16);
    k.drops = std::stoull(f.back());
    return k;
  }
  return {};
}

/// A seed for the victim whose handler backlog (seeded with seed + 1 for
/// its socket 0, node_actor.cpp) keeps the flooder's host and the peer's
/// in different admission slots. With a random key two hosts share a slot
/// with probability 1/256, and then they are one source by design
/// (messages/udx.hpp): the peer would be held within the flooder's share,
/// which is not what this test is about.
uint64_t seed_with_slots(bool apart) {
  auto flooder = udx_endpoint::parse("127.0.0.2", 1);
  auto peer = udx_endpoint::parse("127.0.0.1", 1);
  for (uint64_t seed = 1;; ++seed) {
    udx_handler_backlog b{seed + 1};
    if ((b.slot_of(flooder) != b.slot_of(peer)) == apart)
      return seed;
  }
}

} // namespace

TEST_CASE("dht node over UDP: a flood from one source leaves other peers served and the backlog bounded", "[interop]") {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto victim = start(sys, {}, seed_with_slots(true));
  auto peer = start(sys, {victim.address});
  caf::scoped_actor self{sys};

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> flooded{0};
  constexpr uint64_t max_flood = 20'000'000;
  std::atomic<bool> bind_failed{false};
  std::atomic<uint64_t> pauses{0};
  std::thread flooder([&] {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1); // 127.0.0.2
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      bind_failed = true; // (Catch2 asserts only on the test's thread)
      ::close(fd);
      return;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(victim.address.port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // FIND_NODE with a target: the most work per request a node does.
    std::vector<bytes> datagrams;
    for (int i = 0; i < 64; ++i) {
      rpc::request r;
      r.tid = static_cast<uint16_t>(i);
      r.to = victim.address;
      r.internal = true;
      r.command = static_cast<uint64_t>(rpc::internal_command::find_node);
      r.target = rpc::key32{};
      (*r.target)[0] = static_cast<uint8_t>(i);
      datagrams.push_back(rpc::encode(r));
    }
    mmsghdr msgs[64];
    iovec iov[64];
    // Until the peer is done, at most max_flood datagrams (a count, so a
    // slow build cannot make it run away).
    // Paced to the victim's kernel receive buffer: while it holds more
    // than 128 KiB the flooder waits. An unpaced flooder in this process
    // outruns the victim's I/O thread on a loaded machine (under ASan its
    // recvmmsg loop is the slower side), the kernel buffer stays full and
    // the kernel drops the peer's requests with the flood's, before any
    // code of ours sees them: no process can make that fair (a 16 of 20
    // run was seen so, with 37 % of the flood dropped by the kernel). Paced,
    // the flood still far outruns the node (its share of the backlog stays
    // full under ASan), which is what this test is about.
    int calls = 0;
    while (!stop.load() && flooded.load() < max_flood) {
      if (++calls % 8 == 0)
        while (!stop.load() && kernel_state(victim.address.port).rx_queue > (128u << 10)) {
          ++pauses;
          std::this_thread::sleep_for(100us);
        }
      for (int i = 0; i < 64; ++i) {
        iov[i] = {datagrams[size_t(i)].data(), datagrams[size_t(i)].size()};
        std::memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof to;
      }
      int n = ::sendmmsg(fd, msgs, 64, 0);
      if (n > 0)
        flooded += uint64_t(n);
    }
    ::close(fd);
  });

  // While the flood runs: 20 requests from the other peer at once, each
  // with dht-rpc's retries; the victim's backlog sampled meanwhile.
  while (flooded.load() < 100000 && !bind_failed)
    std::this_thread::sleep_for(1ms);
  if (bind_failed) {
    flooder.join();
    FAIL("cannot bind 127.0.0.2 for the flooder");
  }
  std::atomic<int> answered{0}, failed{0};
  for (int i = 0; i < 20; ++i) {
    rpc::request_options o;
    o.to = victim.address;
    o.internal = true;
    o.command = static_cast<uint64_t>(rpc::internal_command::ping);
    sys.spawn(
      [&, o](caf::event_based_actor* me, dht_node_actor n) {
        me->request(n, caf::infinite, dht_request_atom::value, o)
          .then([&](const rpc::reply& r) { (r.error == 0 ? answered : failed)++; },
                [&](caf::error&) { failed++; });
      },
      peer.node);
  }
  int64_t max_backlog = 0;
  while (answered + failed < 20) {
    self->request(victim.node, caf::infinite, status_atom::value)
      .receive([&](const dht_status& s) { max_backlog = std::max(max_backlog, s.backlog_bytes); },
               [](caf::error&) {});
    std::this_thread::sleep_for(10ms);
  }
  uint64_t flooded_while_peer = flooded.load();
  stop = true;
  flooder.join();
  auto dropped_by_kernel = kernel_state(victim.address.port).drops;
  INFO("kernel drops at the victim's socket (its receive buffer full): " << dropped_by_kernel);
  INFO("flooded " << flooded.load() << " datagrams; max backlog " << max_backlog
                  << " bytes; peer requests answered " << answered.load());
  CHECK(flooded.load() > 100000);
  // The flood still ran when the peer's last request ended.
  CHECK(flooded_while_peer < max_flood);
#ifndef __SANITIZE_ADDRESS__
  CHECK(answered.load() == 20);
#else
  // Under ASan the node is far slower than the flood, so the flooder's share
  // of the backlog (half the cap, ~2,500 FIND_NODEs) is always full. The
  // node serves its sources round-robin (node_actor.cpp, fair service), so
  // the peer's requests are served in the first round after they arrive,
  // not behind that share; before fair service a clean-clone CI run saw 1
  // of 20 answered here. (With the two hosts in one admission slot, which a
  // random key gives 1 run in 256, the peer got 0-4 of 20 in trials:
  // seed_with_slots keeps them apart.) Not all 20: on a loaded machine the
  // kernel's receive buffer, which no process can make fair, may still
  // drop a request and all its retries.
  CHECK(answered.load() >= 18);
#endif
  WARN("peer requests answered during the flood: " << answered.load()
       << " of 20; kernel drops at the victim: " << dropped_by_kernel << " of "
       << flooded.load() << " flooded; flooder paused " << pauses.load()
       << " times; max backlog " << max_backlog);
  // the socket's default cap (udx_socket_options::handler_backlog_cap)
  // plus one recvmmsg batch
  CHECK(max_backlog <= (1 << 20) + 64 * udx_handler_cost(4096));
  for (auto& n : {victim, peer}) {
    self->send(n.node, close_atom::value);
    self->send_exit(n.socket, caf::exit_reason::user_shutdown);
  }
}
