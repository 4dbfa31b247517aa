#pragma once
// A handler actor for UDX stream tests that records every event into a
// shared struct the test inspects.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "messages/udx.hpp"

namespace ht::udx::test {

struct stream_record {
  std::mutex mtx;
  bytes data;
  bool ended = false;
  std::vector<bytes> messages;
  bool closed = false;
  std::string error;
  std::vector<std::pair<udx_endpoint, bytes>> datagrams; // non-stream

  template <class F>
  auto with(F f) {
    std::lock_guard<std::mutex> g{mtx};
    return f(*this);
  }
};
using record_ptr = std::shared_ptr<stream_record>;

inline udx_stream_handler_actor::behavior_type
recorder(udx_stream_handler_actor::pointer, record_ptr r) {
  return {
    [=](udx_data_atom, uint32_t, const bytes& b) {
      r->with([&](stream_record& s) { s.data.insert(s.data.end(), b.begin(), b.end()); });
    },
    [=](udx_end_atom, uint32_t) { r->with([](stream_record& s) { s.ended = true; }); },
    [=](udx_msg_atom, uint32_t, const bytes& m) {
      r->with([&](stream_record& s) { s.messages.push_back(m); });
    },
    [=](closed_atom, uint32_t, const std::string& e) {
      r->with([&](stream_record& s) {
        s.closed = true;
        s.error = e;
      });
    },
  };
}

/// Records non-stream datagrams. With a backlog, gives each datagram's
/// size back after recording it (as the DHT actor does), unless `stuck`.
inline udx_datagram_handler_actor::behavior_type
datagram_recorder(udx_datagram_handler_actor::pointer, record_ptr r,
                  udx_handler_backlog_ptr backlog, bool stuck) {
  return {
    [=](udx_recv_atom, uint8_t, const udx_datagrams& batch) {
      for (auto& d : batch) {
        r->with([&](stream_record& s) { s.datagrams.emplace_back(d.from, d.data); });
        if (backlog && !stuck)
          udx_handler_release(*backlog, d.from, d.data.size());
      }
    },
  };
}

} // namespace ht::udx::test
