#pragma once
// Our own outgoing requests (dht-rpc 6.27.0 lib/io.js): transaction ids,
// the in-flight table, per-send timeouts and resends, and the congestion
// window. Sans-IO: the node submits requests, polls what to put on the
// wire (it encodes them) and feeds back responses and the time.
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dht/rpc/message.hpp"

namespace ht::rpc {

/// io.js CongestionWindow (io.js:556-591): four buckets rotated every
/// 750 ms; full when the current bucket holds max_window sends or all four
/// hold 2 * max_window. A response frees one send of the current bucket.
class congestion_window {
public:
  explicit congestion_window(uint32_t max_window = 80) : max_(max_window) {}
  bool full() const { return total_ >= 2 * max_ || window_[i_] >= max_; }
  void send() { total_++; window_[i_]++; }
  void recv() {
    if (window_[i_] == 0) return;
    window_[i_]--;
    total_--;
  }
  /// Every 750 ms: the oldest bucket is forgotten and becomes the current one.
  void drain() {
    i_ = (i_ + 1) & 3;
    total_ -= window_[i_];
    window_[i_] = 0;
  }
  uint32_t total() const { return total_; }
  uint32_t current() const { return window_[i_]; }

private:
  uint32_t max_;
  uint32_t total_ = 0;
  uint32_t window_[4] = {0, 0, 0, 0};
  unsigned i_ = 0;
};

/// What one request carries besides its tid.
struct request_spec {
  uint8_t socket = 0;
  ipv4_address to;
  bool internal = false;
  uint64_t command = 0;
  std::optional<key32> target;
  std::optional<bytes> value;
  std::optional<key32> token;
};

/// A datagram to put on the wire now (the node encodes it).
struct request_send {
  uint64_t id = 0;
  uint16_t tid = 0;
  unsigned attempt = 1;  // 1 for the first send
  request_spec spec;
};

struct request_outcome {
  enum kind_t {
    response,  // matched a response (see request_table::match)
    cycle,     // one send timed out and the request goes out again
    timeout,   // the last send timed out: failed
    closed,    // close()
  };
  uint64_t id = 0;
  kind_t kind = response;
};

class request_table {
public:
  struct config {
    std::chrono::steady_clock::duration timeout = std::chrono::seconds(1);
    size_t max_pending = 4096;   // in flight or queued; at most 65536 (one tid each)
    uint32_t max_window = 80;
  };
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  request_table(config cfg, uint16_t first_tid);

  /// Starts a request with a caller-chosen unique id. It goes out at most
  /// retries + 1 times. False (nothing started) when max_pending requests
  /// are already pending or the table is closed.
  bool submit(uint64_t id, request_spec spec, unsigned retries, time_point now,
              std::optional<duration> timeout = {});
  /// Forgets a request (no outcome). False if it is not pending.
  bool cancel(uint64_t id);

  struct match_result {
    uint64_t id;
    duration rtt;
    request_spec spec;
  };
  /// A response with tid arrived from `from`: the request it answers, if one
  /// is in flight with that tid AND was sent to `from`. Anything else is
  /// counted as unmatched.
  std::optional<match_result> match(uint16_t tid, const ipv4_address& from, time_point now);

  /// Resends or fails requests whose send timed out.
  void handle_timeout(time_point now);
  /// The 750 ms congestion drain; sends queued requests while there is room.
  void drain(time_point now);
  /// Fails everything pending (outcome `closed`); later submits fail.
  void close();

  std::optional<time_point> next_timeout() const;
  std::vector<request_send> take_sends();
  std::vector<request_outcome> take_outcomes();

  size_t pending() const { return reqs_.size(); }
  /// Sent and waiting for an answer (not queued for congestion room).
  size_t in_flight() const { return deadlines_.size(); }
  uint64_t unmatched() const { return unmatched_; }
  uint64_t sends() const { return sends_; }
  uint64_t resends() const { return resends_; }
  uint64_t timeouts() const { return timeouts_; }
  const congestion_window& congestion() const { return cwnd_; }
  bool contains(uint64_t id) const { return reqs_.count(id) != 0; }

private:
  struct state {
    uint16_t tid = 0;
    request_spec spec;
    unsigned retries = 0;
    unsigned sent = 0;
    std::optional<duration> timeout;
    std::optional<time_point> deadline;  // set while a send waits for its answer
    bool queued = false;
    time_point first_sent{};
  };
  uint16_t next_tid();
  void send_or_queue(uint64_t id, state& s, time_point now);
  void send_now(uint64_t id, state& s, time_point now);
  void forget(std::unordered_map<uint64_t, state>::iterator it);

  config cfg_;
  uint16_t tid_;
  bool closed_ = false;
  std::unordered_map<uint64_t, state> reqs_;
  std::unordered_map<uint16_t, uint64_t> by_tid_;
  std::set<std::pair<time_point, uint64_t>> deadlines_;
  std::deque<uint64_t> queue_;  // waiting for congestion room (may hold stale ids)
  congestion_window cwnd_;
  std::vector<request_send> sends_out_;
  std::vector<request_outcome> outcomes_;
  uint64_t unmatched_ = 0, sends_ = 0, resends_ = 0, timeouts_ = 0;
};

} // namespace ht::rpc
