// The socket actor's per-stream backlog cap, over real UDP on 127.0.0.1: a
// stream actor that falls behind loses packets (as on a full kernel buffer;
// UDX retransmits them) instead of making the process hold whatever a peer
// sends, and the other streams on the socket are unaffected.
#include <catch2/catch.hpp>

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
  constexpr int64_t cap = 64 * 1024;
  constexpr size_t size = 1200;
  udx_socket_options o;
  o.host = "127.0.0.1";
  o.stream_backlog_cap = cap;
  auto sock = spawn_udx_socket(sys, o);
  REQUIRE(sock);
  udx_endpoint local;
  caf::scoped_actor self{sys};
  self->request(*sock, caf::infinite, udx_address_atom::value)
    .receive([&](const udx_endpoint& e) { local = e; }, [](caf::error&) {});

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

  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(local.port);
  auto send = [&](uint32_t id, uint32_t seq) {
    auto pkt = data_packet(id, seq, size);
    REQUIRE(::sendto(fd, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof to) == static_cast<ssize_t>(size));
  };

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

  ::close(fd);
  for (auto x : {caf::actor_cast<caf::actor>(*sock), caf::actor_cast<caf::actor>(stuck_sink),
                 caf::actor_cast<caf::actor>(live_sink)})
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
}
