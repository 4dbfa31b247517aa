// The stream actor's handler window (udx_stream_options::handler_window):
// a handler slower than the network gets at most the window of data in its
// mailbox; the rest stays in the stream's core, whose receive window closes,
// so the peer stops sending. Nothing is lost or reordered.
#include <catch2/catch.hpp>

#include "actors/udx/stream_actor.hpp"
#include "doubles/virtual_socket.hpp"
#include "recorder.hpp"
#include "sim_link.hpp"
#include "support/caf_fixture.hpp"
#include "virtual_pair.hpp"

using namespace ht;
using namespace ht::udx::test;
using namespace std::chrono_literals;

namespace {

// A busy handler: it leaves data events in its mailbox (skips them) until
// told to go on (an int), counting what piled up meanwhile.
struct busy_counts {
  bool busy = true;
  uint64_t piled_bytes = 0;
};

caf::behavior busy_stream_handler(caf::event_based_actor* self, record_ptr r,
                                  std::shared_ptr<busy_counts> c) {
  return {
    [=](udx_data_atom, uint32_t, const bytes& b) -> caf::result<void> {
      if (c->busy) {
        c->piled_bytes += b.size();
        return caf::skip;
      }
      r->with([&](stream_record& s) { s.data.insert(s.data.end(), b.begin(), b.end()); });
      return caf::unit;
    },
    [=](udx_end_atom, uint32_t) { r->with([](stream_record& s) { s.ended = true; }); },
    [=](closed_atom, uint32_t, const std::string& e) {
      r->with([&](stream_record& s) {
        s.closed = true;
        s.error = e;
      });
    },
    [=](int) {
      c->busy = false;
      self->become(busy_stream_handler(self, r, c)); // the skipped ones come back
    },
  };
}

// Two stream actors over a virtual network: a (sender, recorded) and b
// (receiver, with the handler and handler window the test gives it).
struct window_fixture : virtual_pair {
  window_fixture() : virtual_pair(5) {}
  caf::actor b_handler;

  void open(uint32_t rwnd, uint64_t b_window, caf::actor handler) {
    udx_stream_options oa;
    oa.local_id = 1;
    oa.remote_id = 2;
    oa.remote = eb;
    oa.tuning.rwnd_max = rwnd;
    oa.handler = sys.spawn(recorder, ra);
    udx_stream_options ob = oa;
    ob.local_id = 2;
    ob.remote_id = 1;
    ob.remote = ea;
    ob.handler_window = b_window;
    b_handler = handler;
    ob.handler = caf::actor_cast<udx_stream_handler_actor>(handler);
    a = spawn_udx_stream(sys, sa, oa);
    b = spawn_udx_stream(sys, sb, ob);
    run();
  }

  udx_stream_info info(const udx_stream_actor& s) {
    udx_stream_info out;
    caf::scoped_actor self{sys};
    self->send(s, udx_stats_atom::value);
    run();
    self->receive([&](udx_stream_info& i) { out = i; });
    return out;
  }

  size_t received() { return rb->with([](stream_record& s) { return s.data.size(); }); }

  ~window_fixture() {
    for (auto h : {caf::actor_cast<caf::actor>(a), caf::actor_cast<caf::actor>(b),
                   caf::actor_cast<caf::actor>(sa), caf::actor_cast<caf::actor>(sb), b_handler})
      if (h)
        caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    run();
  }
};

} // namespace

TEST_CASE_METHOD(window_fixture, "udx actors: a busy handler gets at most handler_window of data; the peer is flow-controlled, nothing lost", "[scenario]") {
  constexpr uint64_t window = 64 * 1024;
  auto counts = std::make_shared<busy_counts>();
  auto busy = sys.spawn(busy_stream_handler, rb, counts);
  open(128 * 1024, window, busy);
  auto data = pattern(2 << 20, 3); // far more than the window and rwnd together
  caf::anon_send(a, write_atom::value, data);
  caf::anon_send(a, udx_end_atom::value);
  run_until([] { return false; }, 5s, 1ms);
  // In the mailbox: the window plus at most one data event (64 KiB).
  CHECK(counts->piled_bytes > 0);
  CHECK(counts->piled_bytes <= window + 64 * 1024);
  auto sent = info(a).packets_sent;
  run_until([] { return false; }, 5s, 1ms);
  CHECK(counts->piled_bytes <= window + 64 * 1024);
  CHECK(info(a).buffered > 1u << 20);          // the sender is held back...
  CHECK(info(a).packets_sent - sent < 100);    // ...and only probes the window
  CHECK(info(b).dropped == 0);
  caf::anon_send(busy, 1);                     // the handler catches up
  REQUIRE(run_until([&] { return rb->with([](stream_record& s) { return s.ended; }); }, 120s));
  CHECK(rb->data == data);                     // all of it, once, in order
}

TEST_CASE_METHOD(window_fixture, "udx actors: after resume the window update goes out at once, the peer does not wait for its probe", "[scenario]") {
  constexpr uint32_t rwnd = 64 * 1024;
  open(rwnd, 1u << 20, caf::actor_cast<caf::actor>(sys.spawn(recorder, rb)));
  caf::anon_send(b, pause_atom::value);
  run();
  caf::anon_send(a, write_atom::value, pattern(1 << 20, 4));
  run_until([] { return false; }, 3s, 1ms); // b's window closes, a stalls
  CHECK(received() == 0);
  caf::anon_send(b, resume_atom::value);
  // Well within one round of a's zero-window probe (its RTO, 1 s at least):
  // b's window update must reach a at once, and a send several windows.
  run_until([] { return false; }, 50ms, 1ms);
  CHECK(received() > 4 * rwnd);
}
