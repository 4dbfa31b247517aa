// The socket actor's per-stream backlog cap, over real UDP on 127.0.0.1: a
// stream actor that falls behind loses packets (as on a full kernel buffer;
// UDX retransmits them) instead of making the process hold whatever a peer
// sends, and the other streams on the socket are unaffected.
#include <catch2/catch.hpp>

#include <fcntl.h>

#include "actors/udx/socket_actor.hpp"
#include "dht/udx/header.hpp"
#include "interop_support.hpp"

using namespace ht;
using namespace ht::udx::test;

namespace {

struct sink_counters {
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> datagrams{0};
};

/// Counts what the socket hands over. `catches_up` gives the backlog back
/// at once, as a stream actor keeping up does; otherwise it never does,
/// as a stream actor stuck behind.
udx_packet_sink_actor::behavior_type
counting_sink(udx_packet_sink_actor::pointer, std::shared_ptr<sink_counters> c,
              udx_backlog_ptr backlog, bool catches_up) {
  return {
    [=](udx_recv_atom, const udx_datagrams& ds) {
      for (auto& d : ds) {
        c->bytes += static_cast<int64_t>(d.data.size());
        ++c->datagrams;
        if (catches_up)
          backlog->bytes.fetch_sub(static_cast<int64_t>(d.data.size()));
      }
    },
  };
}

bytes data_packet(uint32_t stream_id, uint32_t seq, size_t size) {
  bytes pkt(size, 0x42);
  udx::header h;
  h.type = udx::flag_data;
  h.stream_id = stream_id;
  h.rwnd = 1 << 20;
  h.seq = seq;
  udx::write_header(h, pkt.data());
  return pkt;
}

udx_endpoint local_address(caf::scoped_actor& self, const udx_socket_actor& s) {
  udx_endpoint local;
  self->request(s, caf::infinite, udx_address_atom::value)
    .receive([&](const udx_endpoint& e) { local = e; }, [](caf::error&) {});
  return local;
}

/// A real socket on 127.0.0.1 with these options, its bound address, and a
/// plain UDP socket to send to it from (both tests below flood it).
struct loopback_socket {
  udx_socket_actor sock;
  udx_endpoint local;
  int fd = -1;
  sockaddr_in to{};

  loopback_socket(caf::actor_system& sys, caf::scoped_actor& self, udx_socket_options o) {
    o.host = "127.0.0.1";
    auto s = spawn_udx_socket(sys, o);
    REQUIRE(s);
    sock = *s;
    local = local_address(self, sock);
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(local.port);
  }
  ~loopback_socket() {
    ::close(fd);
    caf::anon_send_exit(sock, caf::exit_reason::user_shutdown);
  }
  void send(const bytes& d) {
    REQUIRE(::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                     sizeof to) == static_cast<ssize_t>(d.size()));
  }
};

/// A plain UDP socket on 127.0.0.1 (any port) that receives what a socket
/// under test sends, with a receive buffer of `rcvbuf` bytes if non-zero;
/// returns its address.
udx_endpoint loopback_receiver(int& fd, int rcvbuf = 0) {
  fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  if (rcvbuf > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  return udx_endpoint::parse("127.0.0.1", ntohs(a.sin_port));
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

} // namespace

TEST_CASE("udx sockets: a stream actor that falls behind cannot make the socket hold unbounded memory", "[interop]") {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  constexpr int64_t cap = 64 * 1024;
  constexpr size_t size = 1200;
  udx_socket_options o;
  o.stream_backlog_cap = cap;
  loopback_socket ls{sys, self, o};
  auto sock = &ls.sock;

  auto stuck = std::make_shared<sink_counters>();
  auto stuck_backlog = std::make_shared<udx_backlog>();
  auto live = std::make_shared<sink_counters>();
  auto live_backlog = std::make_shared<udx_backlog>();
  auto stuck_sink = sys.spawn(counting_sink, stuck, stuck_backlog, false);
  auto live_sink = sys.spawn(counting_sink, live, live_backlog, true);
  for (auto [id, sink, backlog] : {std::tuple{42u, stuck_sink, stuck_backlog},
                                   std::tuple{43u, live_sink, live_backlog}})
    self->request(*sock, caf::infinite, udx_register_atom::value, id, sink, backlog)
      .receive([](bool ok) { REQUIRE(ok); },
               [&](caf::error& e) { FAIL(sys.render(e)); });
  auto send = [&](uint32_t id, uint32_t seq) { ls.send(data_packet(id, seq, size)); };

  // 40 rounds of 100 packets for the stuck stream (4.8 MB, 73x the cap) and
  // 10 for the live one; each round waits for the live stream's packets so
  // the kernel buffer never overflows (what is dropped is the socket's
  // doing).
  constexpr int rounds = 40;
  uint32_t seq = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int i = 0; i < 100; ++i)
      send(42, seq++);
    for (int i = 0; i < 10; ++i)
      send(43, seq++);
    REQUIRE(eventually([&] { return live->datagrams == (r + 1) * 10; }));
  }
  // The stuck stream got at most the cap, and the cap's worth at least
  // (the rest was dropped); the live stream got every packet.
  CHECK(stuck->bytes <= cap);
  CHECK(stuck->bytes > cap - 100 * static_cast<int64_t>(size));
  CHECK(stuck_backlog->bytes == stuck->bytes);
  CHECK(live->bytes == rounds * 10 * static_cast<int64_t>(size));
  CHECK(live_backlog->bytes == 0);

  // Once the stream actor catches up, its packets flow again.
  int64_t before = stuck->bytes;
  stuck_backlog->bytes = 0;
  for (int i = 0; i < 10; ++i)
    send(42, seq++);
  CHECK(eventually([&] { return stuck->bytes == before + 10 * static_cast<int64_t>(size); }));

  for (auto x : {caf::actor_cast<caf::actor>(stuck_sink), caf::actor_cast<caf::actor>(live_sink)})
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
}

namespace {

/// A datagram handler that counts and, unless stuck, gives the backlog back.
udx_datagram_handler_actor::behavior_type
counting_handler(udx_datagram_handler_actor::pointer, std::shared_ptr<sink_counters> c,
                 udx_handler_backlog_ptr backlog, bool stuck) {
  return {
    [=](udx_recv_atom, uint8_t, const udx_datagrams& batch) {
      for (auto& d : batch) {
        c->bytes += static_cast<int64_t>(d.data.size());
        ++c->datagrams;
        if (!stuck)
          udx_handler_release(*backlog, d.from, d.data.size());
      }
    },
  };
}

udx_socket_info socket_stats(caf::scoped_actor& self, const udx_socket_actor& s) {
  udx_socket_info info;
  self->request(s, caf::infinite, udx_stats_atom::value)
    .receive([&](const udx_socket_info& i) { info = i; }, [](caf::error&) {});
  return info;
}

} // namespace

TEST_CASE("udx sockets: a flood of non-stream datagrams cannot grow the handler's mailbox", "[interop]") {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  constexpr int64_t cap = 32 * 1024;
  constexpr size_t size = 1000;
  caf::scoped_actor self{sys};
  udx_socket_options o;
  o.handler_backlog_cap = cap;
  loopback_socket ls{sys, self, o};
  auto sock = &ls.sock;
  auto got = std::make_shared<sink_counters>();
  auto backlog = std::make_shared<udx_handler_backlog>();
  auto handler = sys.spawn(counting_handler, got, backlog, true); // never catches up
  self->send(*sock, udx_handler_atom::value, udx_datagram_handler_actor{handler}, backlog,
             uint8_t{0});
  socket_stats(self, *sock); // the handler is set once this is answered

  // 2000 DHT-looking datagrams (2 MB, 61x the cap) in rounds of 100 that
  // the kernel buffer holds easily; UDX-looking ones for an unknown id
  // take the same path.
  constexpr int flood = 2000;
  for (int i = 0; i < flood; ++i) {
    ls.send(i % 2 ? bytes(size, 0x13) : data_packet(777, 0, size));
    if (i % 100 == 99)
      REQUIRE(eventually([&] {
        return got->datagrams + static_cast<int64_t>(socket_stats(self, *sock).handler_dropped)
               == i + 1;
      }));
  }
  // Empty datagrams would cost the backlog nothing: dropped and counted.
  for (int i = 0; i < 100; ++i)
    ls.send(bytes{});
  REQUIRE(eventually([&] {
    return static_cast<int64_t>(socket_stats(self, *sock).handler_dropped) + got->datagrams
           == flood + 100;
  }));
  auto info = socket_stats(self, *sock);
  // All from one host: it may hold its share of the cap, half of it (the
  // other half is kept for a host not heard from yet).
  CHECK(got->bytes <= cap / 2);
  CHECK(got->datagrams == udx_handler_share(cap, 0) / udx_handler_cost(size));
  CHECK(info.handler_dropped == static_cast<uint64_t>(flood + 100 - got->datagrams));
  CHECK(backlog->bytes == got->datagrams * udx_handler_cost(size));
  // 1-byte datagrams: each costs the fixed overhead too, so the number of
  // messages queued for the handler is cap / (1 + overhead), not cap / 1.
  // (As if the stuck handler had caught up once: its backlog is empty.)
  backlog->bytes = 0;
  backlog->active = 0;
  for (auto& s : backlog->by_source)
    s = 0;
  int64_t before = got->datagrams;
  auto dropped_before = socket_stats(self, *sock).handler_dropped;
  constexpr int tiny = 2000;
  for (int i = 0; i < tiny; ++i) {
    ls.send(bytes{'x'});
    if (i % 100 == 99)
      REQUIRE(eventually([&] {
        return got->datagrams - before +
                 static_cast<int64_t>(socket_stats(self, *sock).handler_dropped - dropped_before)
               == i + 1;
      }));
  }
  CHECK(got->datagrams - before == udx_handler_share(cap, 0) / udx_handler_cost(1));
  CHECK(backlog->bytes <= cap);
  caf::anon_send_exit(handler, caf::exit_reason::user_shutdown);
}

TEST_CASE("udx sockets: a full kernel send buffer (EAGAIN) neither blocks the actor nor loses queued datagrams", "[interop]") {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  // The kernel never reports EAGAIN for UDP over loopback (the loopback
  // device frees the send buffer at once), so the hook plays a full
  // buffer: EAGAIN while `full`, the real sendmmsg otherwise.
  std::atomic<bool> full{true};
  std::atomic<int> refused{0};
  std::atomic<bool> nonblocking{true};
  udx_socket_options o;
  o.host = "127.0.0.1";
  o.send_queue_bytes = 600 * 1000;
  o.send_hook = [&](int fd, mmsghdr* m, unsigned n) -> int {
    if (!(::fcntl(fd, F_GETFL) & O_NONBLOCK))
      nonblocking = false;
    if (full) {
      ++refused;
      std::this_thread::sleep_for(100us); // the I/O thread retries on POLLOUT
      errno = EAGAIN;
      return -1;
    }
    return ::sendmmsg(fd, m, n, MSG_DONTWAIT);
  };
  auto sock = spawn_udx_socket(sys, o);
  REQUIRE(sock);
  caf::scoped_actor self{sys};

  // The receiver: a plain socket with room for everything.
  int rfd;
  auto dest = loopback_receiver(rfd, 8 << 20);

  // A burst of 800 datagrams of 1000 bytes while the buffer is "full": the
  // first 600 wait in the queue, the rest are dropped and counted.
  constexpr int burst = 800, queued = 600;
  std::vector<bytes> ds;
  for (int i = 0; i < burst; ++i) {
    bytes d(1000, 0);
    d[0] = static_cast<uint8_t>(i);
    d[1] = static_cast<uint8_t>(i >> 8);
    ds.push_back(std::move(d));
  }
  self->send(*sock, udx_send_atom::value, dest, ds);
  // The actor is not stuck in a send loop: it answers at once.
  auto info = socket_stats(self, *sock);
  CHECK(info.send_queued == queued);
  CHECK(info.send_dropped == burst - queued);
  CHECK(info.send_would_block >= 1);
  CHECK(refused > 0);
  // Room again: the I/O thread flushes the queue on POLLOUT, in order.
  full = false;
  std::vector<int> order;
  uint8_t buf[2000];
  while (static_cast<int>(order.size()) < queued) {
    pollfd p{rfd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) == 1);
    auto n = ::recv(rfd, buf, sizeof buf, 0);
    REQUIRE(n == 1000);
    order.push_back(buf[0] | buf[1] << 8);
  }
  for (int i = 0; i < queued; ++i)
    REQUIRE(order[static_cast<size_t>(i)] == i);
  CHECK(eventually([&] { return socket_stats(self, *sock).send_queued == 0; }));
  CHECK(nonblocking);
  ::close(rfd);
  caf::anon_send_exit(*sock, caf::exit_reason::user_shutdown);
}

TEST_CASE("udx sockets: datagrams to several destinations leave in one sendmmsg", "[interop]") {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  std::atomic<int> calls{0};
  std::atomic<unsigned> largest{0};
  udx_socket_options o;
  o.host = "127.0.0.1";
  o.send_hook = [&](int fd, mmsghdr* m, unsigned n) -> int {
    ++calls;
    largest = std::max(largest.load(), n);
    return ::sendmmsg(fd, m, n, MSG_DONTWAIT);
  };
  auto sock = spawn_udx_socket(sys, o);
  REQUIRE(sock);
  caf::scoped_actor self{sys};
  // Three receivers; 30 datagrams interleaved over them, as a node's
  // replies to one receive batch from several peers.
  int fds[3];
  udx_endpoint dests[3];
  for (int i = 0; i < 3; ++i)
    dests[i] = loopback_receiver(fds[i]);
  udx_datagrams out;
  for (int k = 0; k < 30; ++k)
    out.push_back(udx_datagram{dests[k % 3], bytes(100, static_cast<uint8_t>(k))});
  self->send(*sock, udx_send_atom::value, std::move(out));
  socket_stats(self, *sock); // the send was handled once this is answered
  CHECK(calls == 1);
  CHECK(largest == 30);
  // Each receiver got its ten, in order.
  for (int i = 0; i < 3; ++i) {
    for (int k = i; k < 30; k += 3) {
      uint8_t buf[200];
      pollfd p{fds[i], POLLIN, 0};
      REQUIRE(::poll(&p, 1, 5000) == 1);
      auto n = ::recv(fds[i], buf, sizeof buf, 0);
      CHECK(n == 100);
      CHECK(buf[0] == k);
    }
    ::close(fds[i]);
  }
  caf::anon_send_exit(*sock, caf::exit_reason::user_shutdown);
}

TEST_CASE("udx sockets: the direct send path (udx_sender) sends from the caller's buffers in one sendmmsg, queues what the kernel refuses, in order", "[interop]") {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  std::atomic<bool> full{false};
  std::atomic<int> calls{0};
  std::atomic<unsigned> largest{0};
  udx_socket_options o;
  o.host = "127.0.0.1";
  o.send_hook = [&](int fd, mmsghdr* m, unsigned n) -> int {
    ++calls;
    largest = std::max(largest.load(), n);
    if (full) {
      errno = EAGAIN;
      return -1;
    }
    return ::sendmmsg(fd, m, n, MSG_DONTWAIT);
  };
  auto sock = spawn_udx_socket(sys, o);
  REQUIRE(sock);
  caf::scoped_actor self{sys};
  udx_sender_ptr sender;
  self->request(*sock, caf::infinite, udx_sender_atom::value)
    .receive([&](udx_sender_ptr& p) { sender = std::move(p); }, [](caf::error&) {});
  REQUIRE(sender);
  int rfd;
  auto dest = loopback_receiver(rfd);
  auto receive_in_order = [&](int from, int n) {
    for (int k = from; k < from + n; ++k) {
      uint8_t buf[200];
      pollfd p{rfd, POLLIN, 0};
      REQUIRE(::poll(&p, 1, 5000) == 1);
      CHECK(::recv(rfd, buf, sizeof buf, 0) == 100);
      CHECK(buf[0] == static_cast<uint8_t>(k));
    }
  };
  // The caller's buffers, sent from this (non-actor) thread.
  std::vector<bytes> data;
  for (int k = 0; k < 60; ++k)
    data.push_back(bytes(100, static_cast<uint8_t>(k)));
  std::vector<udx_datagram_view> views;
  for (auto& d : data)
    views.push_back(udx_datagram_view{dest, d.data(), d.size()});
  sender->send(views.data(), 30);
  CHECK(calls == 1);
  CHECK(largest == 30);
  CHECK(socket_stats(self, *sock).send_queued == 0);
  receive_in_order(0, 30);
  // A full kernel buffer: the rest is copied into the socket's queue (the
  // caller may reuse its buffers at once) and flushed by the I/O thread
  // when there is room, in order.
  full = true;
  sender->send(views.data() + 30, 30);
  for (auto& d : data)
    std::fill(d.begin(), d.end(), 0xee);
  CHECK(socket_stats(self, *sock).send_queued == 30);
  full = false;
  receive_in_order(30, 30);
  CHECK(eventually([&] { return socket_stats(self, *sock).send_queued == 0; }));
  // Once the socket actor is gone (its cleanup, which may come just after
  // the exit is reported), the sender sends nothing and does not crash.
  self->send_exit(*sock, caf::exit_reason::user_shutdown);
  self->wait_for(*sock);
  CHECK(eventually([&] {
    calls = 0;
    sender->send(views.data(), 1);
    return calls == 0;
  }));
  ::close(rfd);
}
