// The stream actor's direct send path (udx_sender): once the socket hands
// it out, a stream sends its packets from its own thread, with no message
// to the socket actor in between, and the switch reorders nothing.
#include <catch2/catch.hpp>

#include <mutex>

#include "actors/udx/stream_actor.hpp"
#include "dht/udx/header.hpp"
#include "recorder.hpp"
#include "support/caf_fixture.hpp"

using namespace ht;
using namespace ht::udx::test;

namespace {

// What the stand-in socket saw: each packet's seq and data flag, and how it
// came ('m': a udx_send message, 'd': the direct path).
struct sent_log {
  std::mutex mtx;
  struct packet {
    char how;
    uint32_t seq;
    bool data;
  };
  std::vector<packet> packets;
  void add(char how, const uint8_t* p, size_t n) {
    auto h = udx::parse_header(p, n);
    REQUIRE(h);
    std::lock_guard<std::mutex> g{mtx};
    packets.push_back({how, h->seq, (h->type & udx::flag_data) != 0});
  }
};
using log_ptr = std::shared_ptr<sent_log>;

class recording_sender final : public udx_sender {
public:
  explicit recording_sender(log_ptr log) : log_(std::move(log)) {}
  void send(const udx_datagram_view* ds, size_t n) override {
    for (size_t i = 0; i < n; ++i)
      log_->add('d', ds[i].data, ds[i].size);
  }

private:
  log_ptr log_;
};

// A socket that records what it is asked to send and, if `direct`, offers
// a direct send path (the real socket does; the virtual one does not).
udx_socket_actor::behavior_type recording_socket(udx_socket_actor::pointer, log_ptr log,
                                                 bool direct) {
  return {
    [=](udx_send_atom, const udx_endpoint&, std::vector<bytes>& ds) {
      for (auto& d : ds)
        log->add('m', d.data(), d.size());
    },
    [=](udx_send_atom, udx_datagrams& ds) {
      for (auto& d : ds)
        log->add('m', d.data.data(), d.data.size());
    },
    [](udx_register_atom, uint32_t, udx_packet_sink_actor&, udx_backlog_ptr&) { return true; },
    [](udx_unregister_atom, uint32_t) {},
    [](udx_handler_atom, udx_datagram_handler_actor&, udx_handler_backlog_ptr&, uint8_t) {},
    [](udx_stats_atom) { return udx_socket_info{}; },
    [](udx_address_atom) { return udx_endpoint::parse("10.0.0.1", 1000); },
    [=](udx_sender_atom) -> udx_sender_ptr {
      if (!direct)
        return nullptr;
      return std::make_shared<recording_sender>(log);
    },
  };
}

struct direct_fixture : ht::test::caf_fixture {
  log_ptr log = std::make_shared<sent_log>();
  udx_stream_actor stream;

  void open(bool direct) {
    auto sock = sys.spawn(recording_socket, log, direct);
    udx_stream_options o;
    o.local_id = 1;
    o.remote_id = 2;
    o.remote = udx_endpoint::parse("10.0.0.2", 2000);
    o.handler = sys.spawn(recorder, std::make_shared<stream_record>());
    stream = spawn_udx_stream(sys, sock, o);
  }
  void write(size_t n) { caf::anon_send(stream, write_atom::value, bytes(n, 0x42)); }
};

} // namespace

TEST_CASE_METHOD(direct_fixture, "udx actors: a stream sends through the socket's direct path once it has it; packets sent by message before stay ahead, in order", "[scenario]") {
  open(true);
  // Written before the socket's answer arrives: this goes by message, so
  // the stream must ask again before switching (the answer to its first
  // request does not cover this send).
  write(100);
  run();
  write(100);
  write(100);
  run();
  write(100);
  run();
  std::vector<uint32_t> seqs;
  std::string how;
  for (auto& p : log->packets) {
    if (!p.data)
      continue;
    seqs.push_back(p.seq);
    how += p.how;
  }
  CHECK(how == "mddd");
  for (size_t i = 1; i < seqs.size(); ++i)
    CHECK(seqs[i] == seqs[i - 1] + 1);
}

TEST_CASE_METHOD(direct_fixture, "udx actors: without a direct path (virtual socket) a stream sends by message", "[scenario]") {
  open(false);
  write(100);
  run();
  write(100);
  run();
  std::string how;
  for (auto& p : log->packets)
    how += p.how;
  CHECK(how.find('d') == std::string::npos);
  CHECK(how.size() >= 2);
}
