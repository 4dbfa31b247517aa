// The receive path: datagrams in, data/events out, acks and SACKs in,
// RTT estimation and loss detection.
#include "dht/udx/stream.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "dht/udx/stream_limits.hpp"

namespace ht::udx {

using namespace detail;

// --- receive path -----------------------------------------------------

void stream::on_datagram(const uint8_t* data, size_t size, time_point now) {
  parse_error err;
  auto h = parse_header(data, size, &err);
  if (!h || h->stream_id != cfg_.local_id) {
    ++stats_.dropped;
    return;
  }
  if (closed_) {
    if (destroyed_ && lingering()) {
      // We destroyed the stream, yet the peer still sends: our DESTROY
      // (sent once, never acked, as in libudx) may have been lost, and the
      // peer would only learn of the reset by timing out after all its RTO
      // retries. Answer with the same DESTROY again (like a TCP RST for a
      // segment of a closed connection). Its seq is at or past anything the
      // peer can have acked, so the peer accepts it. Rate limited: the peer
      // may have a whole window in flight.
      if ((h->type & (flag_data | flag_end | flag_heartbeat))
          && (!last_destroy_sent_ || now - *last_destroy_sent_ >= destroy_resend_gap)) {
        last_destroy_sent_ = now;
        control_.push_back(build_bare(flag_destroy, destroy_seq_));
      }
      return;
    }
    // Lingering after a clean close: re-ack what the peer retransmits
    // (typically its END, when our last ack got lost).
    if (lingering() && (h->type & (flag_data | flag_end))
        && seq_diff(h->seq, rcv_nxt_) < 0)
      queue_ack();
    return;
  }
  ++stats_.packets_received;
  last_recv_ = now;

  if (h->type & flag_heartbeat) {
    // A keep-alive or zero-window probe: answer with our state only.
    queue_ack();
    return;
  }
  const uint8_t* payload = data + header_size + h->data_offset;
  size_t payload_size = size - header_size - h->data_offset;

  // Packets at or after our ack are causally new: data, end, destroy.
  int32_t ahead = seq_diff(h->seq, rcv_nxt_);
  if (ahead >= 0 && static_cast<uint32_t>(ahead) < max_reorder_distance) {
    if (h->type & flag_destroy) {
      close("ECONNRESET");
      return;
    }
    if (h->type & (flag_data | flag_end))
      handle_data(*h, payload, payload_size, now);
  } else if (h->type & (flag_data | flag_end)) {
    // A duplicate of something we already have: the peer missed our ack.
    if (ahead < 0)
      queue_ack();
    else
      ++stats_.dropped;
  }
  if (closed_)
    return;
  if ((h->type & flag_message) && !(h->type & (flag_data | flag_end))) {
    // Messages have no flow control: while the owner does not poll (paused,
    // no handler yet) a peer could queue them without end.
    size_t cost = payload_size + message_overhead;
    if (queued_message_bytes_ + cost > cfg_.message_queue_bytes) {
      ++stats_.messages_dropped;
    } else {
      queued_message_bytes_ += cost;
      stream_event ev;
      ev.kind = event_kind::message;
      ev.payload.assign(payload, payload + payload_size);
      events_.push_back(std::move(ev));
    }
  }
  handle_ack(*h, data, size, now);
}

void stream::handle_data(const header& h, const uint8_t* payload,
                         size_t size, time_point now) {
  if (remote_ended_) {
    ++stats_.dropped;
    return;
  }
  if (remote_ending_ && seq_diff(h.seq, remote_end_seq_) > 0) {
    ++stats_.dropped; // nothing follows the peer's END
    return;
  }
  if (h.type & flag_end) {
    if (remote_ending_ && remote_end_seq_ != h.seq) {
      ++stats_.dropped; // a second, different END: forged or broken peer
      return;
    }
    remote_ending_ = true;
    remote_end_seq_ = h.seq;
  }
  // Bound what a peer can make us hold: window plus a margin for packets
  // already in flight when the window shrank (the peer rounds its window
  // up to whole packets, and retransmits ignore it).
  size_t cap = size_t{cfg_.rwnd_max} + cfg_.rwnd_max / 4 + 64 * 1024;
  bool in_order = h.seq == rcv_nxt_;
  uint64_t key = rcv_count_ + static_cast<uint32_t>(seq_diff(h.seq, rcv_nxt_));
  if (!in_order && ooo_.count(key)) {
    queue_ack(); // duplicate of a buffered packet
    return;
  }
  if (unread_bytes_ + ooo_bytes_ + size > cap) {
    ++stats_.dropped;
    queue_ack(); // the peer learns our (closed) window
    return;
  }
  uint8_t flags = h.type & (flag_data | flag_end);
  bytes body;
  if (h.type & flag_data)
    body.assign(payload, payload + size);
  if (in_order) {
    ++rcv_nxt_;
    ++rcv_count_;
    deliver(flags, std::move(body));
    // Pull what the hole was holding back.
    for (auto it = ooo_.begin(); it != ooo_.end() && it->first == rcv_count_;
         it = ooo_.erase(it)) {
      ++rcv_nxt_;
      ++rcv_count_;
      ooo_bytes_ -= it->second.payload.size();
      deliver(it->second.flags, std::move(it->second.payload));
    }
    // The run that started at the hole went with it.
    while (!ooo_runs_.empty() && ooo_runs_.begin()->second <= rcv_count_)
      ooo_runs_.erase(ooo_runs_.begin());
  } else {
    ooo_bytes_ += body.size();
    ooo_.emplace(key, pending_read{flags, std::move(body)});
    add_ooo_run(key);
  }
  check_remote_end(now);
  // Ack every second packet, and at once when something is out of order
  // (the sender's loss detection runs on our SACKs).
  ++unacked_data_;
  if (!ooo_.empty() || unacked_data_ >= ack_every) {
    // Flush now so a long receive batch still acks regularly.
    control_.push_back(build_ack());
  } else {
    ack_pending_ = true;
  }
}

void stream::add_ooo_run(uint64_t key) {
  // `key` is new (duplicates were filtered): extend the run ending at it
  // and/or the run starting after it, merging the two, in O(log runs).
  auto next = ooo_runs_.upper_bound(key);
  bool joins_next = next != ooo_runs_.end() && next->first == key + 1;
  if (next != ooo_runs_.begin()) {
    auto prev = std::prev(next);
    if (prev->second == key) {
      prev->second = joins_next ? next->second : key + 1;
      if (joins_next)
        ooo_runs_.erase(next);
      return;
    }
  }
  uint64_t end = key + 1;
  if (joins_next) {
    end = next->second;
    ooo_runs_.erase(next);
  }
  ooo_runs_.emplace(key, end);
}

void stream::deliver(uint8_t flags, bytes&& payload) {
  if ((flags & flag_data) && !payload.empty()) {
    unread_bytes_ += payload.size();
    stream_event ev;
    ev.kind = event_kind::data;
    ev.payload = std::move(payload);
    events_.push_back(std::move(ev));
  }
}

void stream::check_remote_end(time_point now) {
  if (remote_ending_ && !remote_ended_ && seq_diff(rcv_nxt_, remote_end_seq_) > 0) {
    remote_ended_ = true;
    stream_event ev;
    ev.kind = event_kind::end;
    events_.push_back(std::move(ev));
    ack_pending_ = true;
    on_remote_end(now);
    if (local_ended_)
      close("");
  }
}

void stream::handle_ack(const header& h, const uint8_t* data, size_t size,
                        time_point now) {
  // An ack for packets we never sent is forged or from a confused peer.
  if (seq_diff(h.ack, snd_nxt_) > 0) {
    ++stats_.dropped;
    return;
  }
  // Window update guard (RFC 793): only newer segments move the window.
  if (seq_diff(h.ack, snd_una_) >= 0
      && (seq_diff(h.seq, send_wl1_) > 0
          || (h.seq == send_wl1_ && seq_diff(h.ack, send_wl2_) >= 0))) {
    send_rwnd_ = h.rwnd;
    send_wl1_ = h.seq;
    send_wl2_ = h.ack;
    if (send_rwnd_ > 0) {
      zwp_deadline_.reset();
      zwp_backoff_ = 0;
    }
  }
  uint32_t inflight_before = inflight_;
  uint32_t newly = 0;
  std::optional<duration> rtt_sample;
  bool advanced = seq_diff(h.ack, snd_una_) > 0;
  while (seq_diff(h.ack, snd_una_) > 0 && !outgoing_.empty()) {
    sent_packet& p = outgoing_.front();
    mark_delivered(snd_una_, p, now, newly, rtt_sample);
    outgoing_.pop_front();
    ++snd_una_;
    ++una_index_;
  }
  if (advanced)
    snd_una_ = h.ack;
  size_t ignored = 0;
  auto ranges = parse_sacks(h, data, size, &ignored);
  stats_.sack_ranges_ignored += ignored;
  for (const auto& r : ranges) {
    // libudx's validity rule: inside [snd_una_, snd_nxt_) and non-empty.
    if (seq_diff(r.end, snd_nxt_) > 0 || seq_diff(r.start, r.end) >= 0
        || seq_diff(r.start, snd_una_) < 0) {
      ++stats_.dropped;
      continue;
    }
    // Only packets not yet delivered are visited: a range over packets
    // already SACKed costs one lookup.
    uint64_t last = index_of(r.end);
    for (auto it = undelivered_.lower_bound(index_of(r.start));
         it != undelivered_.end() && *it < last;) {
      uint64_t idx = *it++; // mark_delivered erases idx
      uint32_t s = seq_of(idx);
      mark_delivered(s, outgoing_[static_cast<size_t>(idx - una_index_)], now, newly,
                     rtt_sample);
      sacked_any_ = true;
      if (seq_diff(s, highest_delivered_) > 0)
        highest_delivered_ = s;
    }
  }
  if (outgoing_.empty() || seq_diff(highest_delivered_, snd_una_) < 0)
    sacked_any_ = false;
  if (rtt_sample)
    update_rtt(*rtt_sample);

  if (end_packetized_ && !local_ended_ && seq_diff(snd_una_, end_seq_) > 0) {
    local_ended_ = true;
    release_remote_end();
    if (remote_ended_) {
      close("");
      return;
    }
  }
  if (newly > 0) {
    tlp_probes_ = 0;
    if (in_recovery_ && seq_diff(snd_una_, recovery_end_) >= 0)
      in_recovery_ = false;
    if (!in_recovery_)
      cc_.on_ack(newly, now, min_rtt_,
                 cwnd_limited_ || inflight_before * 2 >= cc_.window());
    cwnd_limited_ = false;
    if (mtu_state_ == mtu_state::base) {
      // The first ack confirms the base MTU: start searching upwards.
      mtu_state_ = mtu_state::search;
      probe_size_ = std::min<uint16_t>(mtu_ + mtu_step, cfg_.mtu_max);
      probe_wanted_ = true;
    }
  }
  if (advanced) {
    // New data acked: the path works again, so drop the RTO backoff (as
    // Linux does) instead of waiting for a fresh RTT sample, which a
    // recovery made only of retransmissions never yields (Karn).
    rto_ = base_rto();
    // RFC 6298 (5.2, 5.3): restart the timer on new acks, stop when idle.
    arm_rto(now, true);
    if (inflight_ > 0)
      arm_tlp(now);
    else
      tlp_deadline_.reset();
  }
  if (sacked_any_)
    detect_losses(now);
  else
    reo_deadline_.reset();
}

void stream::mark_delivered(uint32_t seq, sent_packet& p, time_point now,
                            uint32_t& newly,
                            std::optional<duration>& rtt_sample) {
  if (p.delivered)
    return;
  p.delivered = true;
  uint64_t idx = index_of(seq);
  if (!undelivered_.empty() && *undelivered_.begin() == idx)
    undelivered_.erase(undelivered_.begin()); // in-order acks: O(1)
  else
    undelivered_.erase(idx);
  if (p.in_flight) {
    p.in_flight = false;
    --inflight_;
  }
  p.lost = false; // a stale retransmit-queue entry is skipped later
  unacked_bytes_ -= p.payload.size();
  ++newly;
  duration rtt = now - p.sent_at;
  // Karn: retransmitted packets give ambiguous samples.
  if (!p.retransmitted) {
    rtt_sample = rtt;
    if (p.probe_size && mtu_state_ == mtu_state::search) {
      mtu_ = p.probe_size;
      probe_failures_ = 0;
      if (mtu_ >= cfg_.mtu_max) {
        mtu_state_ = mtu_state::done;
      } else {
        probe_size_ = std::min<uint16_t>(mtu_ + mtu_step, cfg_.mtu_max);
        probe_wanted_ = true;
      }
    }
  }
  if (!p.retransmitted || rtt >= min_rtt_) {
    if (p.sent_at >= rack_sent_at_) {
      rack_sent_at_ = p.sent_at;
      rack_rtt_ = rtt;
    }
  }
  p.payload = bytes{}; // free the memory now; the slot stays until acked
}

void stream::update_rtt(duration r) {
  if (!have_rtt_) {
    have_rtt_ = true;
    srtt_ = r;
    rttvar_ = r / 2;
    min_rtt_ = r;
  } else {
    duration delta = r > srtt_ ? r - srtt_ : srtt_ - r;
    rttvar_ = (3 * rttvar_ + delta) / 4;
    srtt_ = (7 * srtt_ + r) / 8;
    min_rtt_ = std::min(min_rtt_, r);
  }
  rto_ = base_rto();
}

duration stream::base_rto() const {
  if (!have_rtt_)
    return rto_;
  duration var = std::max<duration>(milliseconds(1), 4 * rttvar_);
  return std::clamp<duration>(srtt_ + var, cfg_.min_rto, cfg_.max_rto);
}

void stream::detect_losses(time_point now) {
  // RACK: a packet sent before one that got through, and older than the
  // RTT of that one plus a reordering window, is lost.
  duration reo = std::max<duration>(milliseconds(1), min_rtt_ / 4);
  if (have_rtt_)
    reo = std::min(reo, srtt_ + milliseconds(1));
  reo_deadline_.reset();
  bool lost_any = false;
  // Only undelivered packets can be lost: skip the delivered ones (a peer
  // can SACK nearly the whole window).
  for (auto it = undelivered_.begin(); it != undelivered_.end();) {
    uint64_t idx = *it++;
    uint32_t seq = seq_of(idx);
    if (seq_diff(seq, highest_delivered_) >= 0)
      break;
    sent_packet& p = outgoing_[static_cast<size_t>(idx - una_index_)];
    if (!p.in_flight || p.sent_at > rack_sent_at_)
      continue;
    time_point deadline = p.sent_at + rack_rtt_ + reo;
    if (now >= deadline) {
      mark_lost(seq, p);
      lost_any = true;
    } else if (!reo_deadline_ || deadline < *reo_deadline_) {
      reo_deadline_ = deadline;
    }
  }
  if (lost_any && !in_recovery_) {
    in_recovery_ = true;
    recovery_end_ = snd_nxt_;
    ++stats_.loss_episodes;
    cc_.on_congestion(now);
  }
}

void stream::mark_lost(uint32_t seq, sent_packet& p) {
  if (p.in_flight) {
    p.in_flight = false;
    --inflight_;
  }
  if (!p.lost) {
    p.lost = true;
    retransmit_queue_.push_back(seq);
  }
  if (p.probe_size) {
    // A lost probe says nothing certain about the path; retry a few times
    // (RFC 8899 5.1.3), and send the data unpadded.
    p.probe_size = 0;
    p.padding = 0;
    if (mtu_state_ == mtu_state::search && ++probe_failures_ >= mtu_max_probe_failures)
      mtu_state_ = mtu_state::done;
    else if (mtu_state_ == mtu_state::search)
      probe_wanted_ = true;
  }
}

} // namespace ht::udx
