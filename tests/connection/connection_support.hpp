#pragma once
// Helpers for connection tests: a finished PEER_HANDSHAKE for both sides, a
// handler that records a connection's events, and a deterministic message
// sequence both sides (and the JS peer, tests/interop/conn-peer.js) can
// check byte by byte.
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "dht/noise/peer_handshake.hpp"
#include "messages/connection.hpp"

namespace ht::conn_test {

/// Runs hyperdht's Noise IK between two key pairs (initiator knows the
/// responder's key) and returns {initiator's result, responder's result}.
inline std::pair<noise::peer_handshake_result, noise::peer_handshake_result>
handshake_pair(const noise::keypair& initiator, const noise::keypair& responder) {
  noise::peer_handshake i(initiator, responder.public_key);
  noise::peer_handshake r(responder, std::nullopt);
  noise::noise_payload p;
  p.udx = noise::udx_info{};
  p.secret_stream = noise::secret_stream_info{};
  r.recv(i.send(p));
  i.recv(r.send(p));
  return {i.final(), r.final()};
}

inline noise::keypair test_keypair(uint8_t n) {
  noise::key32 seed{};
  seed.fill(n);
  return noise::keypair::from_seed(seed);
}

/// What a connection handler saw, in order.
struct conn_record {
  std::mutex mtx;
  int opened = 0;
  public_key remote{};
  std::vector<bytes> messages;
  int closed = 0;
  std::string code, text;
  bool event_after_closed = false;
  bool message_before_opened = false;

  template <class F>
  auto with(F f) {
    std::lock_guard<std::mutex> g{mtx};
    return f(*this);
  }
  size_t count() {
    return with([](conn_record& r) { return r.messages.size(); });
  }
  bool is_closed() {
    return with([](conn_record& r) { return r.closed > 0; });
  }
  bool is_opened() {
    return with([](conn_record& r) { return r.opened > 0; });
  }
};
using record_ptr = std::shared_ptr<conn_record>;

inline connection_handler_actor::behavior_type
conn_recorder(connection_handler_actor::pointer, record_ptr r) {
  return {
    [=](opened_atom, connection_id, const public_key& k) {
      r->with([&](conn_record& s) {
        if (s.closed)
          s.event_after_closed = true;
        ++s.opened;
        s.remote = k;
      });
    },
    [=](message_atom, connection_id, const bytes& m) {
      r->with([&](conn_record& s) {
        if (s.closed)
          s.event_after_closed = true;
        if (!s.opened)
          s.message_before_opened = true;
        s.messages.push_back(m);
      });
    },
    [=](closed_atom, connection_id, const std::string& code, const std::string& text) {
      r->with([&](conn_record& s) {
        if (s.closed)
          s.event_after_closed = true;
        ++s.closed;
        s.code = code;
        s.text = text;
      });
    },
  };
}

// The message sequence (mirrored in tests/interop/conn-peer.js): no
// zero-length messages (keep-alive filters them, as secret-stream does),
// sizes from 1 B to 64 KiB + 6, content derived from (direction, index).
inline uint32_t mix(uint32_t x) {
  x = (x ^ (x >> 16)) * 0x45d9f3bu;
  x = (x ^ (x >> 16)) * 0x45d9f3bu;
  return x ^ (x >> 16);
}
inline size_t message_size(uint32_t dir, uint32_t i) {
  if (i % 100 == 50)
    return 65536 + i % 7;
  return 1 + mix(i * 2 + dir) % 2048;
}
inline bytes make_message(uint32_t dir, uint32_t i) {
  bytes m(message_size(dir, i));
  uint32_t base = mix(i * 2 + dir + 0x9e3779b9u);
  for (size_t j = 0; j < m.size(); ++j)
    m[j] = static_cast<uint8_t>(base + static_cast<uint32_t>(j) * 131u);
  return m;
}
/// Empty if `m` is message i of direction dir, else what differs.
inline std::string check_message(uint32_t dir, uint32_t i, const bytes& m) {
  if (m != make_message(dir, i))
    return "message " + std::to_string(i) + " (" + std::to_string(m.size())
           + " bytes) differs from the expected " + std::to_string(message_size(dir, i))
           + " bytes";
  return {};
}

} // namespace ht::conn_test
