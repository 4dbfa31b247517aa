#pragma once
// CUBIC congestion control (RFC 9438), counted in packets, plus the pacing
// rate derived from it. Chosen over BBR because its behaviour is fully
// specified by an RFC with a closed-form window function that is easy to
// test deterministically, and because on the paths UDX runs on (loopback,
// LAN, consumer internet) it reaches the same throughput; see docs/udx.md.
#include <chrono>
#include <cstdint>

namespace ht::udx {

using time_point = std::chrono::steady_clock::time_point;
using duration = std::chrono::nanoseconds;

class cubic {
public:
  static constexpr double beta = 0.7;  // multiplicative decrease
  static constexpr double c = 0.4;     // cubic scaling constant
  static constexpr uint32_t initial_window = 10;
  static constexpr uint32_t min_window = 2;
  static constexpr uint32_t max_window = 65536;

  uint32_t window() const { return static_cast<uint32_t>(cwnd_); }
  uint32_t ssthresh() const { return ssthresh_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }

  /// `acked` packets were newly delivered. `cwnd_limited` says whether the
  /// sender was using its window: an application-limited sender must not
  /// grow it (RFC 9438 4.1.1 / RFC 7661).
  void on_ack(uint32_t acked, time_point now, duration min_rtt,
              bool cwnd_limited);

  /// A loss was detected (first one of a recovery episode).
  void on_congestion(time_point now);

  /// The retransmission timer fired: back to one packet (RFC 5681 3.1).
  void on_timeout();

  /// Bytes per second the sender should pace at, given the smoothed RTT:
  /// twice the window per RTT in slow start, 1.2x afterwards (as Linux).
  double pacing_rate(duration srtt, uint32_t mss) const;

private:
  double cwnd_ = initial_window;
  uint32_t ssthresh_ = max_window;
  double w_max_ = 0;        // window before the last reduction
  double w_est_ = 0;        // Reno-friendly estimate (RFC 9438 4.3)
  double k_ = 0;            // seconds to reach w_max again
  bool epoch_valid_ = false;
  time_point epoch_start_{};
};

} // namespace ht::udx
