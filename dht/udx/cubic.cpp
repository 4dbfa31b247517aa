#include "dht/udx/cubic.hpp"

#include <algorithm>
#include <cmath>

namespace ht::udx {

void cubic::on_ack(uint32_t acked, time_point now, duration min_rtt,
                   bool cwnd_limited) {
  if (acked == 0 || !cwnd_limited)
    return;
  if (cwnd_ < ssthresh_) {
    cwnd_ = std::min<double>(cwnd_ + acked, max_window);
    return;
  }
  if (!epoch_valid_) {
    epoch_valid_ = true;
    epoch_start_ = now;
    if (w_max_ < cwnd_) {
      // Grown past the old maximum (or first epoch): start at the plateau.
      w_max_ = cwnd_;
      k_ = 0;
    } else {
      k_ = std::cbrt((w_max_ - cwnd_) / c);
    }
    w_est_ = cwnd_;
  }
  double rtt_s = std::chrono::duration<double>(min_rtt).count();
  double t = std::chrono::duration<double>(now - epoch_start_).count() + rtt_s;
  double target = c * std::pow(t - k_, 3) + w_max_;
  // Reno-friendly region: grow like AIMD with the same average rate.
  w_est_ += acked * (3.0 * (1 - beta) / (1 + beta)) / cwnd_;
  if (target < w_est_)
    target = w_est_;
  // Never more than 1.5x per RTT (RFC 9438 4.2).
  target = std::min(target, cwnd_ * 1.5);
  if (target > cwnd_)
    cwnd_ += (target - cwnd_) * acked / cwnd_;
  cwnd_ = std::min<double>(cwnd_, max_window);
}

void cubic::on_congestion(time_point now) {
  // Fast convergence (RFC 9438 4.7): release bandwidth to newer flows.
  if (cwnd_ < w_max_)
    w_max_ = cwnd_ * (1 + beta) / 2;
  else
    w_max_ = cwnd_;
  cwnd_ = std::max<double>(cwnd_ * beta, min_window);
  ssthresh_ = static_cast<uint32_t>(cwnd_);
  epoch_valid_ = false;
  (void) now;
}

void cubic::on_timeout() {
  w_max_ = cwnd_;
  ssthresh_ = std::max<uint32_t>(static_cast<uint32_t>(cwnd_ * beta), min_window);
  cwnd_ = 1;
  epoch_valid_ = false;
}

double cubic::pacing_rate(duration srtt, uint32_t mss) const {
  double rtt_s = std::chrono::duration<double>(srtt).count();
  if (rtt_s <= 0)
    return 0; // no sample yet: the window alone limits the first flight
  double gain = in_slow_start() ? 2.0 : 1.2;
  return gain * cwnd_ * mss / rtt_s;
}

} // namespace ht::udx
