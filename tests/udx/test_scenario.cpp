// Stream actors over virtual sockets on CAF's deterministic test
// coordinator: the same actors as production, a seeded lossy network.
#include <catch2/catch.hpp>

#include "actors/udx/stream_actor.hpp"
#include "doubles/virtual_socket.hpp"
#include "dht/udx/header.hpp"
#include "recorder.hpp"
#include "sim_link.hpp"
#include "support/caf_fixture.hpp"
#include "virtual_pair.hpp"

using namespace ht;
using namespace ht::udx::test;
using namespace std::chrono_literals;

namespace {

struct pair_fixture : virtual_pair {
  pair_fixture() : virtual_pair(42) {}

  void open(uint64_t high_water = 4u << 20) {
    udx_stream_options oa;
    oa.local_id = 1;
    oa.remote_id = 2;
    oa.remote = eb;
    oa.high_water = high_water;
    oa.handler = sys.spawn(recorder, ra);
    udx_stream_options ob = oa;
    ob.local_id = 2;
    ob.remote_id = 1;
    ob.remote = ea;
    ob.handler = sys.spawn(recorder, rb);
    a = spawn_udx_stream(sys, sa, oa);
    b = spawn_udx_stream(sys, sb, ob);
    run();
  }

  ~pair_fixture() {
    caf::anon_send_exit(sa, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sb, caf::exit_reason::user_shutdown);
    if (a)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (b)
      caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
    run();
  }

  bool closed(record_ptr r) { return r->with([](stream_record& s) { return s.closed; }); }
};

} // namespace

TEST_CASE_METHOD(pair_fixture, "udx actors: lossy transfer both ways and clean close", "[scenario]") {
  net->set_link(virtual_link{0.03, 0.02, 0.1, 2ms, 5ms, false});
  open();
  auto data = pattern(1 << 20, 1);
  auto back = pattern(300000, 2);
  caf::anon_send(a, write_atom::value, data);
  caf::anon_send(a, udx_end_atom::value);
  caf::anon_send(b, write_atom::value, back);
  caf::anon_send(b, udx_end_atom::value);
  REQUIRE(run_until([&] { return closed(ra) && closed(rb); }, 120s));
  CHECK(rb->data == data);
  CHECK(ra->data == back);
  CHECK(ra->ended);
  CHECK(rb->ended);
  CHECK(ra->error == "");
  CHECK(rb->error == "");
  CHECK(net->dropped() > 0);
}

TEST_CASE_METHOD(pair_fixture, "udx actors: write replies are withheld above the high-water mark", "[scenario]") {
  open(64 * 1024);
  net->set_link(virtual_link{0, 0, 0, 2ms, 0ms, true}); // link down
  bool replied = false;
  auto big = pattern(512 * 1024, 3);
  // (spawned with an argument: CAF 0.17 dereferences a null tuple for
  // argument-less function actors, which UBSan reports)
  caf::actor tester = sys.spawn(
    [&, big](caf::event_based_actor* me, udx_stream_actor target) {
      me->request(target, caf::infinite, write_atom::value, big).then([&](uint64_t) { replied = true; });
    },
    a);
  run();
  advance(500ms);
  CHECK_FALSE(replied);
  net->set_link(virtual_link{0, 0, 0, 2ms, 0ms, false});
  REQUIRE(run_until([&] { return replied; }, 60s));
  REQUIRE(run_until([&] { return rb->with([](stream_record& s) { return s.data.size(); }) == big.size(); }, 60s));
  CHECK(rb->data == big);
}

TEST_CASE_METHOD(pair_fixture, "udx actors: destroy resets the peer; writes after close fail", "[scenario]") {
  open();
  caf::anon_send(a, write_atom::value, pattern(5000, 4));
  REQUIRE(run_until([&] { return rb->with([](stream_record& s) { return s.data.size(); }) == 5000; }));
  caf::anon_send(b, udx_destroy_atom::value);
  REQUIRE(run_until([&] { return closed(ra) && closed(rb); }));
  CHECK(ra->error == "ECONNRESET");
  CHECK(rb->error == "");
}

TEST_CASE_METHOD(pair_fixture, "udx actors: non-stream datagrams and unknown ids go to the handler", "[scenario]") {
  open();
  auto rec = std::make_shared<stream_record>();
  auto backlog = std::make_shared<udx_handler_backlog>();
  caf::anon_send(sb, udx_handler_atom::value,
                 udx_datagram_handler_actor{sys.spawn(datagram_recorder, rec, backlog, false)},
                 backlog, uint8_t{0});
  run();
  bytes rpc{0x13, 1, 2, 3};               // a DHT RPC-looking datagram
  bytes unknown(udx::header_size, 0);      // UDX header for stream id 77
  udx::header h;
  h.stream_id = 77;
  udx::write_header(h, unknown.data());
  caf::anon_send(sa, udx_send_atom::value, eb, std::vector<bytes>{rpc, unknown});
  // a forged packet for stream 2 from an address that is not its peer
  auto ec = udx_endpoint::parse("10.0.0.3", 3000);
  auto sc = spawn_virtual_udx_socket(sys, net, ec);
  h.stream_id = 2;
  h.type = udx::flag_destroy;
  bytes forged(udx::header_size);
  udx::write_header(h, forged.data());
  caf::anon_send(sc, udx_send_atom::value, eb, std::vector<bytes>{forged});
  run();
  advance(10ms);
  INFO("delivered " << net->delivered() << " dropped " << net->dropped());
  REQUIRE(rec->datagrams.size() == 2);
  CHECK(rec->datagrams[0].first == ea);
  CHECK(rec->datagrams[0].second == rpc);
  CHECK(rec->datagrams[1].second == unknown);
  CHECK_FALSE(closed(rb)); // the forged DESTROY had no effect
  caf::anon_send_exit(sc, caf::exit_reason::user_shutdown);
  // the stream still works
  caf::anon_send(a, write_atom::value, pattern(3000, 5));
  REQUIRE(run_until([&] { return rb->with([](stream_record& s) { return s.data.size(); }) == 3000; }));
}

TEST_CASE_METHOD(pair_fixture, "udx actors: pause closes the window, resume delivers everything", "[scenario]") {
  open();
  caf::anon_send(b, pause_atom::value);
  auto data = pattern(6 << 20, 6); // more than the 4 MiB receive window
  caf::anon_send(a, write_atom::value, data);
  caf::anon_send(a, udx_end_atom::value);
  run_until([] { return false; }, 5s);
  CHECK(rb->data.empty());
  caf::anon_send(b, resume_atom::value);
  REQUIRE(run_until([&] { return rb->with([](stream_record& s) { return s.ended; }); }, 120s));
  CHECK(rb->data == data);
}

TEST_CASE_METHOD(pair_fixture, "udx actors: a dead peer ends the stream with ETIMEDOUT", "[scenario]") {
  open();
  net->set_link(virtual_link{0, 0, 0, 2ms, 0ms, true});
  caf::anon_send(a, write_atom::value, pattern(10000, 7));
  REQUIRE(run_until([&] { return closed(ra); }, 600s, 100ms));
  CHECK(ra->error == "ETIMEDOUT");
}

TEST_CASE_METHOD(pair_fixture, "udx actors: losing the socket closes the stream with an error", "[scenario]") {
  open();
  caf::anon_send_exit(sa, caf::exit_reason::user_shutdown);
  REQUIRE(run_until([&] { return closed(ra); }));
  CHECK(ra->error == "ECONNABORTED");
}

TEST_CASE_METHOD(pair_fixture, "udx actors: a taken stream id fails the second stream", "[scenario]") {
  open();
  auto rc = std::make_shared<stream_record>();
  udx_stream_options o;
  o.local_id = 1; // a's id on socket sa
  o.remote_id = 9;
  o.remote = eb;
  o.handler = sys.spawn(recorder, rc);
  auto c = spawn_udx_stream(sys, sa, o);
  REQUIRE(run_until([&] { return closed(rc); }));
  CHECK(rc->error == "EADDRINUSE");
  // the first stream keeps its route and works both ways
  caf::anon_send(a, write_atom::value, pattern(2000, 9));
  caf::anon_send(b, write_atom::value, pattern(3000, 10));
  REQUIRE(run_until([&] { return rb->with([](stream_record& s) { return s.data.size(); }) == 2000; }));
  REQUIRE(run_until([&] { return ra->with([](stream_record& s) { return s.data.size(); }) == 3000; }));
}

TEST_CASE_METHOD(pair_fixture, "udx actors: a peer that never reads stalls our writers, not our memory", "[scenario]") {
  open(256 * 1024);
  caf::anon_send(b, pause_atom::value); // b never reads
  uint64_t accepted = 0;
  bool blocked = false;
  // Write 64 KiB at a time, awaiting each reply, until a reply is withheld.
  auto chunk = pattern(64 * 1024, 11);
  caf::actor w = sys.spawn(
    [&, chunk](caf::event_based_actor* me, udx_stream_actor target) {
      auto step = std::make_shared<std::function<void()>>();
      std::weak_ptr<std::function<void()>> weak = step;
      *step = [=, &accepted] {
        me->request(target, caf::infinite, write_atom::value, chunk).then([=, &accepted](uint64_t) {
          accepted += chunk.size();
          if (accepted >= 64ull << 20)
            return; // a broken high-water mark ends here (and fails below)
          if (auto f = weak.lock())
            (*f)();
        });
      };
      (*step)();
      return caf::behavior{[step](tick_atom) {}};
    },
    a);
  run_until([] { return false; }, 30s);
  blocked = accepted < 64ull << 20;
  // b's window (4 MiB) plus a's high-water mark (256 KiB) plus what is in
  // flight bounds what the writer got rid of.
  CHECK(blocked);
  CHECK(accepted <= (4u << 20) + (256u << 10) + (1u << 20));
  CHECK(accepted >= (4u << 20));
  caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(pair_fixture, "udx actors: a paused stream holds a bounded number of unordered messages", "[scenario]") {
  open();
  caf::anon_send(b, pause_atom::value);
  run();
  // 600 KB of messages while b is paused: more than its 256 KiB queue.
  constexpr int flood = 600;
  for (int i = 0; i < flood; ++i)
    caf::anon_send(a, udx_msg_atom::value, bytes(1000, static_cast<uint8_t>(i)));
  run_until([] { return false; }, 100ms);
  udx_stream_info info;
  caf::scoped_actor self{sys};
  auto stats = [&] {
    self->send(b, udx_stats_atom::value);
    run();
    self->receive([&](const udx_stream_info& i) { info = i; });
  };
  stats();
  CHECK(info.messages_dropped > 0);
  CHECK(rb->messages.empty());
  caf::anon_send(b, resume_atom::value);
  run_until([] { return false; }, 100ms);
  stats();
  auto got = rb->with([](stream_record& s) { return s.messages.size(); });
  CHECK(got == udx::stream_config{}.message_queue_bytes / 1064);
  CHECK(got + info.messages_dropped == flood);
  // Resumed, messages flow again without loss.
  for (int i = 0; i < 10; ++i)
    caf::anon_send(a, udx_msg_atom::value, bytes(1000, 7));
  run_until([] { return false; }, 100ms);
  CHECK(rb->with([](stream_record& s) { return s.messages.size(); }) == got + 10);
}

TEST_CASE_METHOD(pair_fixture, "udx actors: the virtual socket caps the datagram handler's backlog like the real one", "[scenario]") {
  constexpr int64_t cap = 20000;
  auto ec = udx_endpoint::parse("10.0.0.3", 3000);
  virtual_socket_limits limits;
  limits.handler_backlog_cap = cap;
  auto sc = spawn_virtual_udx_socket(sys, net, ec, limits);
  auto stuck = std::make_shared<stream_record>();
  auto backlog = std::make_shared<udx_handler_backlog>();
  caf::anon_send(sc, udx_handler_atom::value,
                 udx_datagram_handler_actor{sys.spawn(datagram_recorder, stuck, backlog, true)},
                 backlog, uint8_t{0});
  run();
  // A flood of 200 DHT-looking datagrams of 1000 bytes from one host at a
  // handler that never catches up: it gets that host's share of the cap
  // (half of it while no other host holds any), the rest is dropped and
  // counted.
  std::vector<bytes> flood(200, bytes(1000, 0x13));
  caf::anon_send(sa, udx_send_atom::value, ec, flood);
  run_until([] { return false; }, 50ms);
  caf::scoped_actor self{sys};
  udx_socket_info info;
  self->send(sc, udx_stats_atom::value);
  run();
  self->receive([&](const udx_socket_info& i) { info = i; });
  auto got = stuck->with([](stream_record& s) { return s.datagrams.size(); });
  CHECK(static_cast<int64_t>(got) == udx_handler_share(cap, 0) / udx_handler_cost(1000));
  CHECK(info.handler_dropped == 200 - got);
  CHECK(backlog->bytes == static_cast<int64_t>(got) * udx_handler_cost(1000));
  // Another host is still served while the first one's flood holds its
  // share: its datagrams fit in the half kept free.
  caf::anon_send(sb, udx_send_atom::value, ec, std::vector<bytes>(5, bytes(1000, 2)));
  run_until([] { return false; }, 50ms);
  CHECK(stuck->with([](stream_record& s) { return s.datagrams.size(); }) == got + 5);
  // Caught up: datagrams flow again.
  backlog->bytes = 0;
  backlog->active = 0;
  for (auto& s : backlog->by_source)
    s = 0;
  caf::anon_send(sa, udx_send_atom::value, ec, std::vector<bytes>(5, bytes(1000, 1)));
  run_until([] { return false; }, 50ms);
  CHECK(stuck->with([](stream_record& s) { return s.datagrams.size(); }) == got + 10);
  caf::anon_send_exit(sc, caf::exit_reason::user_shutdown);
}
