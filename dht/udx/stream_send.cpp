// The send path (packetizing, pacing, retransmission) and the timers
// (RTO, tail loss probe, zero-window probe, keepalive, idle).
#include "dht/udx/stream.hpp"

#include <algorithm>
#include <cstring>

#include "dht/udx/stream_limits.hpp"

namespace ht::udx {

using namespace detail;

// --- send path --------------------------------------------------------

uint32_t stream::send_window_packets() const {
  uint32_t cwnd = cc_.window();
  if (send_rwnd_ == 0)
    return 0;
  uint32_t rwnd_pkts = std::max<uint32_t>(1, send_rwnd_ / max_payload());
  return std::min(cwnd, rwnd_pkts);
}

bool stream::pacing_allows(time_point now) {
  double rate = cc_.pacing_rate(srtt_, static_cast<uint32_t>(max_payload()));
  if (rate <= 0)
    return true;
  // Allow a small burst (2 ms or 10 packets) so timer granularity does not
  // cap throughput, as Linux's pacing quantum does.
  auto burst = std::max<duration>(
    milliseconds(2),
    std::chrono::duration_cast<duration>(
      std::chrono::duration<double>(10.0 * max_payload() / rate)));
  if (pace_next_ < now - burst)
    pace_next_ = now - burst;
  if (pace_next_ <= now)
    return true;
  pace_blocked_until_ = pace_next_;
  return false;
}

void stream::on_sent(time_point now, size_t size) {
  ++stats_.packets_sent;
  last_send_ = now;
  double rate = cc_.pacing_rate(srtt_, static_cast<uint32_t>(max_payload()));
  if (rate > 0)
    pace_next_ += std::chrono::duration_cast<duration>(
      std::chrono::duration<double>(size / rate));
}

void stream::arm_rto(time_point now, bool restart) {
  if (inflight_ == 0 && retransmit_queue_.empty() && outgoing_.empty()) {
    rto_deadline_.reset();
    return;
  }
  if (restart || !rto_deadline_)
    rto_deadline_ = now + rto_;
}

void stream::arm_tlp(time_point now) {
  // Unlike RFC 8985 we keep probing during recovery: with a 1 s minimum
  // RTO, a lost retransmission with nothing sent after it would otherwise
  // stall the stream for a whole (backed-off) RTO.
  if (!have_rtt_ || tlp_probes_ >= max_tail_probes) {
    tlp_deadline_.reset();
    return;
  }
  // RFC 8985 7.2: PTO = 2 SRTT (+ delayed-ack allowance for one packet).
  duration pto = 2 * srtt_;
  if (inflight_ == 1)
    pto += milliseconds(2);
  pto = std::max<duration>(pto, milliseconds(10));
  pto *= 1 << tlp_probes_; // successive probes back off
  time_point t = now + pto;
  if (rto_deadline_ && t >= *rto_deadline_) {
    tlp_deadline_.reset();
    return;
  }
  tlp_deadline_ = t;
}

bool stream::build_new_packet(time_point now, bytes& out, bool ignore_window) {
  bool has_work = unsent_bytes_ > 0 || (end_requested_ && !end_packetized_);
  if (!has_work)
    return false;
  if (unsent_bytes_ == 0 && !end_may_go(false))
    return false; // the END waits until all data is acknowledged
  if (!ignore_window && inflight_ >= send_window_packets()) {
    if (inflight_ >= cc_.window())
      cwnd_limited_ = true;
    if (send_rwnd_ == 0 && inflight_ == 0 && !zwp_deadline_)
      zwp_deadline_ = now; // probe the closed window at once
    return false;
  }
  // Never let the unacked range outgrow what the peer scans for SACKs.
  if (outgoing_.size() >= max_reorder_distance - 1)
    return false;
  sent_packet p;
  size_t room = max_payload();
  p.payload.reserve(std::min(room, unsent_bytes_));
  while (room > 0 && !write_queue_.empty()) {
    bytes& front = write_queue_.front();
    size_t take = std::min(room, front.size() - write_offset_);
    p.payload.insert(p.payload.end(), front.begin() + static_cast<std::ptrdiff_t>(write_offset_),
                     front.begin() + static_cast<std::ptrdiff_t>(write_offset_ + take));
    write_offset_ += take;
    room -= take;
    if (write_offset_ == front.size()) {
      write_queue_.pop_front();
      write_offset_ = 0;
    }
  }
  unsent_bytes_ -= p.payload.size();
  unacked_bytes_ += p.payload.size();
  if (!p.payload.empty())
    p.flags |= flag_data;
  uint32_t seq = snd_nxt_++;
  if (unsent_bytes_ == 0 && end_requested_ && end_may_go(!p.payload.empty())) {
    p.flags |= flag_end;
    end_packetized_ = true;
    end_seq_ = seq;
  }
  if (probe_wanted_ && mtu_state_ == mtu_state::search && !ignore_window
      && p.payload.size() == max_payload() && probe_size_ > mtu_
      && probe_size_ - mtu_ <= 255) {
    p.probe_size = probe_size_;
    p.padding = static_cast<uint8_t>(probe_size_ - mtu_);
    probe_wanted_ = false;
  }
  p.sent_at = now;
  p.in_flight = true;
  ++inflight_;
  out = encode_packet(seq, p);
  undelivered_.emplace_hint(undelivered_.end(), una_index_ + outgoing_.size()); // O(1): newest
  outgoing_.push_back(std::move(p));
  on_sent(now, out.size());
  arm_rto(now, false);
  return true;
}

bool stream::poll_transmit(time_point now, bytes& out) {
  if (!control_.empty()) {
    out = std::move(control_.front());
    control_.pop_front();
    ++stats_.packets_sent;
    return true;
  }
  if (ack_pending_) {
    out = build_ack();
    ++stats_.packets_sent;
    return true;
  }
  if (closed_)
    return false;
  pace_blocked_until_.reset();
  // Retransmissions first: they ignore the receive window (the peer may
  // have shrunk it while they were in flight) but respect cwnd.
  while (!retransmit_queue_.empty()) {
    uint32_t seq = retransmit_queue_.front();
    sent_packet* p = outgoing_at(seq);
    if (!p || p->delivered || !p->lost) {
      retransmit_queue_.pop_front();
      continue;
    }
    if (inflight_ >= cc_.window()) {
      cwnd_limited_ = true;
      return false;
    }
    if (!pacing_allows(now))
      return false;
    retransmit_queue_.pop_front();
    p->lost = false;
    p->in_flight = true;
    p->retransmitted = true;
    p->sent_at = now;
    ++inflight_;
    ++stats_.retransmits;
    out = encode_packet(seq, *p);
    on_sent(now, out.size());
    arm_rto(now, false);
    if (!tlp_deadline_)
      arm_tlp(now);
    return true;
  }
  bool has_work = unsent_bytes_ > 0 || (end_requested_ && !end_packetized_);
  if (has_work && inflight_ < send_window_packets() && !pacing_allows(now))
    return false;
  if (build_new_packet(now, out, false)) {
    arm_tlp(now);
    return true;
  }
  return false;
}

// --- timers -----------------------------------------------------------

std::optional<time_point> stream::next_timeout() const {
  std::optional<time_point> t;
  if (closed_)
    return t;
  take_min(t, rto_deadline_);
  take_min(t, tlp_deadline_);
  take_min(t, reo_deadline_);
  take_min(t, zwp_deadline_);
  take_min(t, pace_blocked_until_);
  take_min(t, end_hold_deadline_);
  if (cfg_.keepalive.count() > 0 && inflight_ == 0 && outgoing_.empty())
    take_min(t, last_send_ + cfg_.keepalive);
  if (cfg_.idle_timeout.count() > 0)
    take_min(t, last_recv_ + cfg_.idle_timeout);
  return t;
}

void stream::on_timeout(time_point now) {
  if (closed_)
    return;
  if (cfg_.idle_timeout.count() > 0 && now >= last_recv_ + cfg_.idle_timeout) {
    close("ETIMEDOUT");
    return;
  }
  if (pace_blocked_until_ && now >= *pace_blocked_until_)
    pace_blocked_until_.reset(); // the owner polls transmit after this
  if (rto_deadline_ && now >= *rto_deadline_) {
    on_rto(now);
    if (closed_)
      return;
  }
  if (reo_deadline_ && now >= *reo_deadline_)
    detect_losses(now);
  if (tlp_deadline_ && now >= *tlp_deadline_)
    on_tail_probe(now);
  if (end_hold_deadline_ && now >= *end_hold_deadline_)
    release_remote_end();
  if (zwp_deadline_ && now >= *zwp_deadline_) {
    control_.push_back(build_bare(flag_heartbeat, snd_nxt_));
    last_send_ = now;
    zwp_backoff_ = std::min<uint32_t>(zwp_backoff_ + 1, 6);
    zwp_deadline_ = now + std::min<duration>(rto_ * (1u << zwp_backoff_), cfg_.max_rto);
  }
  if (cfg_.keepalive.count() > 0 && inflight_ == 0 && outgoing_.empty()
      && now >= last_send_ + cfg_.keepalive) {
    control_.push_back(build_bare(flag_heartbeat, snd_nxt_));
    last_send_ = now;
  }
}

void stream::on_rto(time_point now) {
  rto_deadline_.reset();
  if (outgoing_.empty()) {
    return;
  }
  sent_packet& oldest = outgoing_.front();
  ++oldest.timeouts;
  if (end_unconfirmed(oldest)) {
    ++stats_.end_unconfirmed;
    close("");
    return;
  }
  if (oldest.timeouts > cfg_.max_rto_timeouts) {
    close("ETIMEDOUT");
    return;
  }
  ++stats_.rto_fired;
  // Everything still in flight is presumed lost; resend from the oldest
  // with a window of one packet (RFC 5681 3.1, RFC 6298 5.4-5.6).
  for (size_t i = 0; i < outgoing_.size(); ++i) {
    sent_packet& p = outgoing_[i];
    if (!p.delivered && (p.in_flight || p.lost)) {
      if (!p.lost)
        mark_lost(snd_una_ + static_cast<uint32_t>(i), p);
    }
  }
  // The oldest goes first even if an earlier loss queued others before it.
  std::sort(retransmit_queue_.begin(), retransmit_queue_.end(),
            [this](uint32_t a, uint32_t b) {
              return seq_diff(a, snd_una_) < seq_diff(b, snd_una_);
            });
  retransmit_queue_.erase(std::unique(retransmit_queue_.begin(), retransmit_queue_.end()),
                          retransmit_queue_.end());
  cc_.on_timeout();
  in_recovery_ = true;
  recovery_end_ = snd_nxt_;
  tlp_deadline_.reset();
  rto_ = std::min<duration>(rto_ * 2, cfg_.max_rto); // backoff (5.5)
  rto_deadline_ = now + rto_;
}

void stream::on_tail_probe(time_point now) {
  tlp_deadline_.reset();
  if (tlp_probes_ >= max_tail_probes || inflight_ == 0)
    return;
  ++tlp_probes_;
  ++stats_.tail_probes;
  // RFC 8985 7.3: send new data if the window allows, else resend the
  // newest packet, to draw an ack (and SACKs) that reveal a tail loss.
  bytes pkt;
  if (unsent_bytes_ > 0 && send_rwnd_ > 0 && build_new_packet(now, pkt, true)) {
    control_.push_back(std::move(pkt));
    --stats_.packets_sent; // counted again when polled out
    arm_tlp(now);
    return;
  }
  for (size_t i = outgoing_.size(); i-- > 0;) {
    sent_packet& p = outgoing_[i];
    if (!p.delivered && p.in_flight) {
      if (p.probe_size) {
        // Resent unpadded: the probe result would be ambiguous anyway.
        p.probe_size = 0;
        p.padding = 0;
        probe_wanted_ = mtu_state_ == mtu_state::search;
      }
      p.retransmitted = true;
      p.sent_at = now;
      ++stats_.retransmits;
      control_.push_back(encode_packet(snd_una_ + static_cast<uint32_t>(i), p));
      break;
    }
  }
  arm_tlp(now);
}

} // namespace ht::udx
