// Secret-stream connections over virtual sockets on CAF's deterministic
// test coordinator: the production actors, a seeded virtual network.
#include <catch2/catch.hpp>

#include "actors/connection/secret_stream_connection.hpp"
#include "actors/udx/stream_actor.hpp"
// The virtual socket moves to the test doubles (tests/doubles): take it
// from wherever this tree has it.
#include "doubles/virtual_socket.hpp"
#include "connection_support.hpp"
#include "dht/udx/header.hpp"
#include "support/caf_fixture.hpp"

using namespace ht;
using namespace ht::conn_test;
using namespace std::chrono_literals;

namespace {

struct conn_fixture : ht::test::caf_fixture {
  std::shared_ptr<virtual_network> net = std::make_shared<virtual_network>(7);
  udx_endpoint ea = udx_endpoint::parse("10.0.0.1", 1000);
  udx_endpoint eb = udx_endpoint::parse("10.0.0.2", 2000);
  udx_socket_actor sa = spawn_virtual_udx_socket(sys, net, ea);
  udx_socket_actor sb = spawn_virtual_udx_socket(sys, net, eb);
  noise::keypair ka = test_keypair(1), kb = test_keypair(2);
  std::pair<noise::peer_handshake_result, noise::peer_handshake_result> hs = handshake_pair(ka, kb);
  record_ptr ra = std::make_shared<conn_record>();
  record_ptr rb = std::make_shared<conn_record>();
  secret_stream_connection_actor a, b;   // a: initiator (client), b: responder
  connection_handler_actor ha, hb;
  secret_stream_connection_options opts;

  secret_stream_connection_params params_a() {
    secret_stream_connection_params p;
    p.socket = sa;
    p.local_id = 11;
    p.remote_id = 22;
    p.remote = eb;
    p.handshake = hs.first;
    p.options = opts;
    return p;
  }
  secret_stream_connection_params params_b(bool passive) {
    secret_stream_connection_params p;
    p.socket = sb;
    p.local_id = 22;
    p.remote_id = 11;
    if (!passive)
      p.remote = ea;
    p.handshake = hs.second;
    p.options = opts;
    return p;
  }

  void attach_a() {
    ha = sys.spawn(conn_recorder, ra);
    caf::anon_send(a, attach_atom::value, ha);
  }
  void attach_b() {
    hb = sys.spawn(conn_recorder, rb);
    caf::anon_send(b, attach_atom::value, hb);
  }

  /// The server's order: its passive end exists before the client's.
  void open(bool passive_b = true) {
    b = spawn_secret_stream_connection(sys, params_b(passive_b));
    attach_b();
    run();
    a = spawn_secret_stream_connection(sys, params_a());
    attach_a();
    run();
  }

  udx_stream_info stats(const secret_stream_connection_actor& c) {
    udx_stream_info out;
    caf::scoped_actor self{sys};
    // (a send, not a request: the reply comes back as a plain message,
    // which a blocking receive matches once run() has produced it)
    self->send(c, udx_stats_atom::value);
    run();
    self->receive([&](udx_stream_info& i) { out = i; });
    return out;
  }

  /// Lets `d` of virtual time pass in 1 ms steps (each network hop is a
  /// timer: one big advance would fire only the first).
  void settle(caf::timespan d, caf::timespan step = std::chrono::milliseconds(1)) {
    run_until([] { return false; }, d, step);
  }

  ~conn_fixture() {
    for (auto h : {caf::actor_cast<caf::actor>(a), caf::actor_cast<caf::actor>(b),
                   caf::actor_cast<caf::actor>(sa), caf::actor_cast<caf::actor>(sb)})
      if (h)
        caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    run();
  }
};

/// Writes messages 0..count-1 of direction `dir`, each as a request whose
/// reply is awaited before the next (a writer that honours backpressure).
struct writer_state {
  uint32_t next = 0;
  static inline const char* name = "test_writer";
};
caf::behavior writer(caf::stateful_actor<writer_state>* self, connection_actor c,
                     uint32_t dir, uint32_t count, std::shared_ptr<uint32_t> replied) {
  auto step = std::make_shared<std::function<void()>>();
  *step = [=] {
    if (self->state.next == count)
      return;
    auto i = self->state.next++;
    self->request(c, caf::infinite, write_atom::value, make_message(dir, i)).then([=] {
      ++*replied;
      (*step)();
    });
  };
  (*step)();
  return {[](int) {}};
}

udx_datagram_handler_actor::behavior_type
early_catcher(udx_datagram_handler_actor::pointer, std::shared_ptr<udx_datagrams> early) {
  return {[early](udx_recv_atom, uint8_t, const udx_datagrams& batch) {
    early->insert(early->end(), batch.begin(), batch.end());
  }};
}

bool all_in_order(record_ptr r, uint32_t dir, uint32_t count, std::string& why) {
  return r->with([&](conn_record& s) {
    if (s.messages.size() != count) {
      why = std::to_string(s.messages.size()) + " of " + std::to_string(count) + " messages";
      return false;
    }
    for (uint32_t i = 0; i < count; ++i) {
      why = check_message(dir, i, s.messages[i]);
      if (!why.empty())
        return false;
    }
    return true;
  });
}

} // namespace

TEST_CASE_METHOD(conn_fixture, "connection: messages both ways in order over a lossy path, clean close", "[scenario]") {
  net->set_link(virtual_link{0.02, 0.01, 0.1, 5ms, 5ms, false});
  open();
  constexpr uint32_t n = 300;
  for (uint32_t i = 0; i < n; ++i) {
    caf::anon_send(a, write_atom::value, make_message(0, i));
    caf::anon_send(b, write_atom::value, make_message(1, i));
  }
  REQUIRE(run_until([&] { return ra->count() == n && rb->count() == n; }, 120s));
  std::string why;
  CHECK(all_in_order(rb, 0, n, why));
  INFO(why);
  CHECK(all_in_order(ra, 1, n, why));
  INFO(why);
  CHECK(ra->opened == 1);
  CHECK(rb->opened == 1);
  CHECK(ra->remote == kb.public_key);
  CHECK(rb->remote == ka.public_key);
  CHECK_FALSE(ra->message_before_opened);
  CHECK_FALSE(rb->message_before_opened);

  // a closes: b sees the end, ends too; both report a clean close.
  caf::anon_send(a, close_atom::value);
  REQUIRE(run_until([&] { return ra->is_closed() && rb->is_closed(); }, 60s));
  CHECK(ra->code == "");
  CHECK(rb->code == "");
  CHECK(ra->closed == 1);
  CHECK(rb->closed == 1);
  CHECK_FALSE(ra->event_after_closed);
  CHECK_FALSE(rb->event_after_closed);
  CHECK(net->dropped() > 0);
}

TEST_CASE_METHOD(conn_fixture, "connection: a passive end takes the first packet's address and keeps that packet", "[scenario]") {
  net->set_link(virtual_link{0, 0, 0, 5ms, 0ms, false});
  open(true);
  caf::anon_send(a, write_atom::value, make_message(0, 0));
  // One path delay later the header and the message are in: no
  // retransmission (an RTO is at least 1 s) was needed.
  settle(20ms);
  CHECK(rb->is_opened());
  CHECK(rb->count() == 1);
  CHECK(ra->is_opened());
  CHECK(stats(a).retransmits == 0);
  caf::anon_send(b, write_atom::value, make_message(1, 0));
  settle(20ms);
  CHECK(ra->count() == 1);
}

TEST_CASE_METHOD(conn_fixture, "connection: a passive end ignores other addresses once connected", "[scenario]") {
  open(true);
  REQUIRE(run_until([&] { return rb->is_opened(); }, 5s));
  // A forged DESTROY for b's stream id from a third address does nothing.
  auto ec = udx_endpoint::parse("10.0.0.3", 3000);
  auto sc = spawn_virtual_udx_socket(sys, net, ec);
  bytes destroy(udx::header_size, 0);
  udx::header h;
  h.type = udx::flag_destroy;
  h.stream_id = 22;
  udx::write_header(h, destroy.data());
  caf::anon_send(sc, udx_send_atom::value, eb, std::vector<bytes>{destroy});
  settle(200ms);
  caf::anon_send(a, write_atom::value, make_message(0, 0));
  REQUIRE(run_until([&] { return rb->count() == 1; }, 5s));
  CHECK_FALSE(rb->is_closed());
  CHECK(stats(b).dropped >= 1);
  caf::anon_send_exit(sc, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(conn_fixture, "connection: packets that came before the passive stream existed are not lost", "[scenario]") {
  net->set_link(virtual_link{0, 0, 0, 5ms, 0ms, false});
  // The client starts first; its packets reach b's socket before any stream
  // has id 22 and go to the datagram handler, as in hyperdht when the
  // client's first packet overtakes the server's registration.
  auto early = std::make_shared<udx_datagrams>();
  udx_datagram_handler_actor catcher = sys.spawn(early_catcher, early);
  caf::anon_send(sb, udx_handler_atom::value, catcher, udx_handler_backlog_ptr{}, uint8_t{0});
  a = spawn_secret_stream_connection(sys, params_a());
  attach_a();
  caf::anon_send(a, write_atom::value, make_message(0, 0));
  settle(20ms);
  REQUIRE(!early->empty());
  auto p = params_b(true);
  p.early = *early;
  b = spawn_secret_stream_connection(sys, p);
  attach_b();
  settle(20ms);
  // b has the header and the message at once, long before any RTO.
  CHECK(rb->is_opened());
  CHECK(rb->count() == 1);
  CHECK(ra->is_opened());
  CHECK(stats(a).retransmits == 0);
}

TEST_CASE_METHOD(conn_fixture, "connection: a passive end with no packet times out with ETIMEDOUT", "[scenario]") {
  opts.passive_timeout = 10s;
  b = spawn_secret_stream_connection(sys, params_b(true));
  attach_b();
  run();
  advance(9s);
  CHECK_FALSE(rb->is_closed());
  advance(2s);
  REQUIRE(rb->is_closed());
  CHECK(rb->code == "ETIMEDOUT");
  CHECK(rb->opened == 0);
}

TEST_CASE_METHOD(conn_fixture, "connection: ready once the socket routes the id; a taken id gives EADDRINUSE", "[scenario]") {
  b = spawn_secret_stream_connection(sys, params_b(true));
  auto twin = spawn_secret_stream_connection(sys, params_b(true));
  caf::scoped_actor self{sys};
  self->send(b, udx_register_atom::value);
  self->send(twin, udx_register_atom::value);
  run();
  std::vector<bool> answers;
  for (int i = 0; i < 2; ++i)
    self->receive([&](bool ok) { answers.push_back(ok); });
  CHECK(((answers[0] && !answers[1]) || (!answers[0] && answers[1])));
  auto rt = std::make_shared<conn_record>();
  caf::anon_send(twin, attach_atom::value, connection_handler_actor{sys.spawn(conn_recorder, rt)});
  caf::anon_send(b, attach_atom::value, connection_handler_actor{sys.spawn(conn_recorder, rb)});
  run();
  // The second one to register lost: it closes with EADDRINUSE.
  auto loser = answers[0] ? rt : rb;
  CHECK(loser->is_closed());
  CHECK(loser->code == "EADDRINUSE");
  caf::anon_send_exit(twin, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(conn_fixture, "connection: events are held until attach", "[scenario]") {
  b = spawn_secret_stream_connection(sys, params_b(true));
  a = spawn_secret_stream_connection(sys, params_a());
  attach_a();
  for (uint32_t i = 0; i < 5; ++i)
    caf::anon_send(a, write_atom::value, make_message(0, i));
  settle(1s);
  attach_b();
  run();
  std::string why;
  CHECK(all_in_order(rb, 0, 5, why));
  INFO(why);
  CHECK(rb->opened == 1);
  CHECK_FALSE(rb->message_before_opened);
}

TEST_CASE_METHOD(conn_fixture, "connection: pause stops delivery and flow-controls the sender; resume delivers all", "[scenario]") {
  opts.udx_tuning.rwnd_max = 64 * 1024;
  opts.udx_high_water = 64 * 1024;
  opts.high_water = 64 * 1024;
  open();
  caf::anon_send(b, pause_atom::value);
  run();
  constexpr uint32_t n = 400;  // ~470 KiB, well over every window together
  auto replied = std::make_shared<uint32_t>(0);
  auto w = sys.spawn(writer, connection_actor{a}, 0u, n, replied);
  settle(5s);
  uint32_t stalled_at = *replied;
  CHECK(rb->count() == 0);             // nothing delivered while paused
  CHECK(stalled_at < n);               // the writer is held back...
  settle(20s);
  CHECK(*replied == stalled_at);       // ...and stays held: the peer stopped sending
  CHECK(rb->count() == 0);
  auto sb_info = stats(b);
  CHECK(sb_info.dropped == 0);
  caf::anon_send(b, resume_atom::value);
  REQUIRE(run_until([&] { return rb->count() == n; }, 60s));
  std::string why;
  CHECK(all_in_order(rb, 0, n, why));
  INFO(why);
  CHECK(*replied == n);
  CHECK_FALSE(ra->is_closed());
  CHECK_FALSE(rb->is_closed());
  caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
}

// A handler that is busy: it leaves every message in its mailbox (skips
// it) until told to go on (an int), counting what piled up meanwhile.
struct busy_counts {
  bool busy = true;
  uint32_t piled = 0;
  uint64_t piled_bytes = 0;
};
caf::behavior busy_behavior(caf::event_based_actor* self, record_ptr r,
                            std::shared_ptr<busy_counts> counts) {
  return {
    [=](opened_atom, connection_id, const public_key& k) {
      r->with([&](conn_record& s) {
        ++s.opened;
        s.remote = k;
      });
    },
    [=](message_atom, connection_id, const bytes& m) -> caf::result<void> {
      if (counts->busy) {
        ++counts->piled;
        counts->piled_bytes += m.size();
        return caf::skip;
      }
      r->with([&](conn_record& s) { s.messages.push_back(m); });
      return caf::unit;
    },
    [=](closed_atom, connection_id, const std::string& code, const std::string&) {
      r->with([&](conn_record& s) {
        ++s.closed;
        s.code = code;
      });
    },
    [=](int) {
      counts->busy = false;
      self->become(busy_behavior(self, r, counts)); // the skipped ones come back
    },
  };
}

TEST_CASE_METHOD(conn_fixture, "connection: a busy handler gets at most handler_window of messages in its mailbox; the rest waits with the peer flow-controlled", "[scenario]") {
  opts.udx_tuning.rwnd_max = 64 * 1024;
  opts.udx_high_water = 64 * 1024;
  opts.high_water = 64 * 1024;
  opts.handler_window = 64 * 1024;
  b = spawn_secret_stream_connection(sys, params_b(true));
  auto counts = std::make_shared<busy_counts>();
  auto busy = sys.spawn(busy_behavior, rb, counts);
  caf::anon_send(b, attach_atom::value, caf::actor_cast<connection_handler_actor>(busy));
  run();
  a = spawn_secret_stream_connection(sys, params_a());
  attach_a();
  run();
  constexpr uint32_t n = 400;  // ~470 KiB, well over every window together
  auto replied = std::make_shared<uint32_t>(0);
  auto w = sys.spawn(writer, connection_actor{a}, 0u, n, replied);
  settle(5s);
  uint32_t stalled_at = *replied;
  // In the mailbox: the window, plus the one message that crossed it.
  CHECK(counts->piled > 0);
  CHECK(counts->piled_bytes <= opts.handler_window + 65536 + 16);
  CHECK(stalled_at < n);               // the writer is held back...
  settle(20s);
  CHECK(*replied == stalled_at);       // ...and stays held: the peer stopped sending
  CHECK(counts->piled_bytes <= opts.handler_window + 65536 + 16);
  CHECK(stats(b).dropped == 0);
  caf::anon_send(busy, 1);             // the handler catches up
  REQUIRE(run_until([&] { return rb->count() == n; }, 60s));
  std::string why;
  CHECK(all_in_order(rb, 0, n, why));  // every message once, in order
  INFO(why);
  CHECK(*replied == n);
  CHECK_FALSE(ra->is_closed());
  CHECK_FALSE(rb->is_closed());
  caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(busy, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(conn_fixture, "connection: a message above the incoming limit closes with EMSGSIZE", "[scenario]") {
  opts.max_message_bytes = 1000;  // b's limit (the server's --max-message-bytes)
  b = spawn_secret_stream_connection(sys, params_b(true));
  attach_b();
  opts.max_message_bytes = 1u << 20;
  a = spawn_secret_stream_connection(sys, params_a());
  attach_a();
  caf::anon_send(a, write_atom::value, bytes(1000, 1));
  caf::anon_send(a, write_atom::value, bytes(1001, 2));
  caf::anon_send(a, write_atom::value, bytes(10, 3));
  REQUIRE(run_until([&] { return ra->is_closed() && rb->is_closed(); }, 10s));
  CHECK(rb->count() == 1);            // the one within the limit arrived
  CHECK(rb->code == "EMSGSIZE");
  CHECK(ra->code == "ECONNRESET");    // b aborted the stream
  CHECK_FALSE(rb->event_after_closed);
}

TEST_CASE_METHOD(conn_fixture, "connection: the peer's destroy gives ECONNRESET", "[scenario]") {
  open();
  REQUIRE(run_until([&] { return ra->is_opened() && rb->is_opened(); }, 5s));
  // a's owner exits: a aborts its stream, b is reset.
  caf::anon_send_exit(ha, caf::exit_reason::kill);
  REQUIRE(run_until([&] { return rb->is_closed(); }, 5s));
  CHECK(rb->code == "ECONNRESET");
  CHECK(rb->closed == 1);
}

TEST_CASE_METHOD(conn_fixture, "connection: silence gives ETIMEDOUT", "[scenario]") {
  opts.idle_timeout = 15s;
  open();
  REQUIRE(run_until([&] { return ra->is_opened() && rb->is_opened(); }, 5s));
  net->set_link(virtual_link{0, 0, 0, 5ms, 0ms, true}); // the path dies
  settle(14s, 100ms);
  CHECK_FALSE(ra->is_closed());
  REQUIRE(run_until([&] { return ra->is_closed() && rb->is_closed(); }, 5s, 100ms));
  CHECK(ra->code == "ETIMEDOUT");
  CHECK(rb->code == "ETIMEDOUT");
}

TEST_CASE_METHOD(conn_fixture, "connection: keep-alives keep an idle connection open", "[scenario]") {
  opts.idle_timeout = 12s;
  SECTION("with keep-alives (hyperdht's 5 s) an idle connection lives on") {
    opts.keepalive = 5s;
    open();
    settle(120s, 100ms);
    CHECK_FALSE(ra->is_closed());
    CHECK_FALSE(rb->is_closed());
    CHECK(rb->count() == 0);  // keep-alives are not messages
    caf::anon_send(a, write_atom::value, make_message(0, 0));
    REQUIRE(run_until([&] { return rb->count() == 1; }, 1s));
  }
  SECTION("without them the idle timeout closes it") {
    opts.keepalive = caf::timespan{0};
    open();
    REQUIRE(run_until([&] { return ra->is_closed() && rb->is_closed(); }, 30s, 100ms));
    CHECK(ra->code == "ETIMEDOUT");
    CHECK(rb->code == "ETIMEDOUT");
  }
}

TEST_CASE_METHOD(conn_fixture, "connection: a peer with other keys fails with EPROTO", "[scenario]") {
  auto other = handshake_pair(ka, test_keypair(3));
  b = spawn_secret_stream_connection(sys, params_b(true));
  attach_b();
  auto pa = params_a();
  pa.handshake = other.first;  // a's secret-stream keys do not match b's
  a = spawn_secret_stream_connection(sys, pa);
  attach_a();
  REQUIRE(run_until([&] { return ra->is_closed() && rb->is_closed(); }, 10s));
  CHECK(rb->code == "EPROTO");
  CHECK(ra->code == "EPROTO");
  CHECK(ra->opened == 0);
  CHECK(rb->opened == 0);
}

TEST_CASE_METHOD(conn_fixture, "connection: close after writes delivers them all, then both close cleanly", "[scenario]") {
  net->set_link(virtual_link{0.05, 0, 0.1, 5ms, 5ms, false});
  open();
  for (uint32_t i = 0; i < 50; ++i)
    caf::anon_send(a, write_atom::value, make_message(0, i));
  caf::anon_send(a, close_atom::value);
  caf::anon_send(a, write_atom::value, make_message(0, 50)); // after close: dropped
  REQUIRE(run_until([&] { return ra->is_closed() && rb->is_closed(); }, 60s));
  std::string why;
  CHECK(all_in_order(rb, 0, 50, why));
  INFO(why);
  CHECK(ra->code == "");
  CHECK(rb->code == "");
}

TEST_CASE_METHOD(conn_fixture, "connection: an open that never completes times out", "[scenario]") {
  opts.open_timeout = 5s;
  net->set_link(virtual_link{0, 0, 0, 5ms, 0ms, true});
  a = spawn_secret_stream_connection(sys, params_a());
  attach_a();
  settle(4s, 100ms);
  CHECK_FALSE(ra->is_closed());
  REQUIRE(run_until([&] { return ra->is_closed(); }, 2s, 100ms));
  CHECK(ra->code == "ETIMEDOUT");
}

namespace {

struct raw_events {
  bool closed = false;
  std::string error;
};

udx_stream_handler_actor::behavior_type
raw_handler(udx_stream_handler_actor::pointer, std::shared_ptr<raw_events> ev) {
  return {
    [](udx_data_atom, uint32_t, const bytes&) {},
    [](udx_end_atom, uint32_t) {},  // a peer that never ends in reply
    [](udx_msg_atom, uint32_t, const bytes&) {},
    [ev](closed_atom, uint32_t, const std::string& e) {
      ev->closed = true;
      ev->error = e;
    },
  };
}

} // namespace

TEST_CASE_METHOD(conn_fixture, "connection: a peer that never ends is aborted close_timeout after our close", "[scenario]") {
  opts.close_timeout = 10s;
  // b is a bare UDX stream that reads but never ends its side.
  auto ev = std::make_shared<raw_events>();
  udx_stream_options ob;
  ob.local_id = 22;
  ob.remote_id = 11;
  ob.remote = ea;
  ob.handler = sys.spawn(raw_handler, ev);
  auto raw = spawn_udx_stream(sys, sb, ob);
  a = spawn_secret_stream_connection(sys, params_a());
  attach_a();
  caf::anon_send(a, write_atom::value, make_message(0, 0));
  settle(100ms);
  caf::anon_send(a, close_atom::value);
  settle(9s, 100ms);
  CHECK_FALSE(ra->is_closed());
  settle(2s, 100ms);
  REQUIRE(ra->is_closed());
  CHECK(ra->code == "");   // we asked to close: still a clean end for us
  REQUIRE(run_until([&] { return ev->closed; }, 2s));
  CHECK(ev->error == "ECONNRESET");
  caf::anon_send_exit(raw, caf::exit_reason::user_shutdown);
}

namespace {

struct plain_writer_state {
  int unexpected = 0;
  static inline const char* name = "plain_writer";
};

// Writes with send (as the server session and the client do): nothing may
// come back, whether the write is taken at once or held for backpressure.
caf::behavior plain_writer(caf::stateful_actor<plain_writer_state>* self, connection_actor c,
                           uint32_t count, std::shared_ptr<int> unexpected) {
  self->set_default_handler([=](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
    ++*unexpected;
    return caf::message{};
  });
  for (uint32_t i = 0; i < count; ++i)
    self->send(c, write_atom::value, make_message(0, i));
  return {[](int) {}};
}

} // namespace

TEST_CASE_METHOD(conn_fixture, "connection: writers that send (not request) get nothing back", "[scenario]") {
  opts.udx_tuning.rwnd_max = 64 * 1024;
  opts.udx_high_water = 64 * 1024;
  opts.high_water = 64 * 1024;
  open();
  auto unexpected = std::make_shared<int>(0);
  auto w = sys.spawn(plain_writer, connection_actor{a}, 300u, unexpected);
  REQUIRE(run_until([&] { return rb->count() == 300; }, 60s));
  CHECK(*unexpected == 0);
  caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
}
