#pragma once
// Protocol limits and helpers shared by the stream's translation units
// (stream.cpp: API and state, stream_receive.cpp, stream_send.cpp).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "dht/udx/cubic.hpp"

namespace ht::udx::detail {

using std::chrono::milliseconds;

// libudx never looks further than this many packets past its ack when it
// builds SACK ranges; we accept nothing further ahead either.
constexpr uint32_t max_reorder_distance = 65536;
// What a queued unordered message costs beyond its payload (event, vector),
// so that a flood of empty messages is bounded too.
constexpr size_t message_overhead = 64;
// Ack at least every second data packet inside one receive batch.
constexpr uint32_t ack_every = 2;
constexpr uint16_t mtu_step = 32; // as libudx
constexpr int mtu_max_probe_failures = 3;
// Tail loss probes sent without any delivery in between before only the
// RTO is left (a lost probe would otherwise cost a whole RTO).
constexpr uint32_t max_tail_probes = 6;

// A destroyed stream answers the peer's packets with DESTROY at most this
// often (the peer's in-flight window arrives within a few ms; its
// retransmissions come later, spaced by its TLP/RTO timers).
constexpr duration destroy_resend_gap = std::chrono::milliseconds(10);

// The short END hold (stream_close.cpp) is two smoothed round trips plus
// the RTT variance, and at least this much more for timer granularity.
constexpr duration end_hold_margin = std::chrono::milliseconds(10);

inline void take_min(std::optional<time_point>& acc, std::optional<time_point> t) {
  if (t && (!acc || *t < *acc))
    acc = t;
}

} // namespace ht::udx::detail
