#include "dht/udx/stream.hpp"

#include <algorithm>
#include <cstring>

namespace ht::udx {

namespace {

using std::chrono::milliseconds;

// libudx never looks further than this many packets past its ack when it
// builds SACK ranges; we accept nothing further ahead either.
constexpr uint32_t max_reorder_distance = 65536;
// libudx puts at most 50 SACK ranges into one ack.
constexpr size_t max_sack_ranges = 50;
// Ack at least every second data packet inside one receive batch.
constexpr uint32_t ack_every = 2;
constexpr uint16_t mtu_step = 32; // as libudx
constexpr int mtu_max_probe_failures = 3;
// Tail loss probes sent without any delivery in between before only the
// RTO is left (a lost probe would otherwise cost a whole RTO).
constexpr uint32_t max_tail_probes = 6;

void take_min(std::optional<time_point>& acc, std::optional<time_point> t) {
  if (t && (!acc || *t < *acc))
    acc = t;
}

} // namespace

stream::stream(const stream_config& cfg, time_point now)
  : cfg_(cfg),
    snd_una_(cfg.initial_seq),
    snd_nxt_(cfg.initial_seq),
    send_rwnd_(cfg.rwnd_max),
    rto_(cfg.min_rto),
    last_send_(now),
    last_recv_(now),
    mtu_(cfg.mtu_base),
    rcv_nxt_(cfg.initial_ack) {
  if (cfg_.mtu_base < overhead() + 64 || cfg_.mtu_max < cfg_.mtu_base)
    throw stream_error("udx: invalid MTU configuration");
  if (!cfg_.mtu_probing || cfg_.mtu_max == cfg_.mtu_base)
    mtu_state_ = mtu_state::done;
  last_adv_rwnd_ = cfg_.rwnd_max;
  highest_delivered_ = cfg_.initial_seq - 1;
}

// --- application side -------------------------------------------------

void stream::write(const uint8_t* data, size_t size) {
  if (closed_)
    throw stream_error("udx: write on a closed stream");
  if (end_requested_)
    throw stream_error("udx: write after end");
  if (size == 0)
    return;
  write_queue_.emplace_back(data, data + size);
  unsent_bytes_ += size;
}

void stream::write(bytes&& b) {
  if (closed_)
    throw stream_error("udx: write on a closed stream");
  if (end_requested_)
    throw stream_error("udx: write after end");
  if (b.empty())
    return;
  unsent_bytes_ += b.size();
  write_queue_.push_back(std::move(b));
}

void stream::end() {
  if (closed_)
    throw stream_error("udx: end on a closed stream");
  end_requested_ = true;
}

void stream::destroy() {
  if (closed_)
    return;
  // DESTROY carries the next packet number and consumes it (libudx), so
  // the peer accepts it as in-window.
  header h;
  h.type = flag_destroy;
  h.stream_id = cfg_.remote_id;
  h.rwnd = advertised_window();
  h.seq = snd_nxt_++;
  h.ack = rcv_nxt_;
  bytes pkt(header_size);
  write_header(h, pkt.data());
  control_.push_back(std::move(pkt));
  destroyed_ = true;
  close("");
}

void stream::send_message(const uint8_t* data, size_t size) {
  if (closed_)
    throw stream_error("udx: message on a closed stream");
  if (size > max_payload())
    throw stream_error("udx: message of " + std::to_string(size)
                       + " bytes exceeds the packet payload of "
                       + std::to_string(max_payload()));
  header h;
  h.type = flag_message;
  h.stream_id = cfg_.remote_id;
  h.rwnd = advertised_window();
  h.seq = snd_nxt_; // messages do not consume packet numbers
  h.ack = rcv_nxt_;
  control_.push_back(encode(flag_message, snd_nxt_, data, size, 0));
}

bool stream::poll_event(stream_event& ev) {
  if (events_.empty())
    return false;
  ev = std::move(events_.front());
  events_.pop_front();
  if (ev.kind == event_kind::data) {
    unread_bytes_ -= ev.payload.size();
    // Window update: tell a peer that saw a small window that it grew
    // again, rather than have it wait for its zero-window probe.
    uint32_t now_adv = advertised_window();
    if (!closed_ && last_adv_rwnd_ < cfg_.rwnd_max / 2
        && now_adv >= last_adv_rwnd_ + cfg_.rwnd_max / 4)
      queue_ack();
  }
  return true;
}

stream_stats stream::stats() const {
  stream_stats s = stats_;
  s.cwnd = cc_.window();
  s.mtu = mtu_;
  s.srtt = srtt_;
  s.rto = rto_;
  return s;
}

// --- helpers ----------------------------------------------------------

uint32_t stream::advertised_window() const {
  return unread_bytes_ >= cfg_.rwnd_max
           ? 0
           : static_cast<uint32_t>(cfg_.rwnd_max - unread_bytes_);
}

stream::sent_packet* stream::outgoing_at(uint32_t seq) {
  int32_t idx = seq_diff(seq, snd_una_);
  if (idx < 0 || static_cast<size_t>(idx) >= outgoing_.size())
    return nullptr;
  return &outgoing_[static_cast<size_t>(idx)];
}

void stream::queue_ack() { ack_pending_ = true; }

bytes stream::build_ack() {
  ack_pending_ = false;
  unacked_data_ = 0;
  std::vector<sack_range> ranges;
  for (auto it = ooo_.begin(); it != ooo_.end() && ranges.size() < max_sack_ranges; ++it) {
    uint32_t seq = rcv_nxt_ + static_cast<uint32_t>(it->first - rcv_count_);
    if (!ranges.empty() && ranges.back().end == seq)
      ranges.back().end = seq + 1;
    else
      ranges.push_back(sack_range{seq, seq + 1});
  }
  header a;
  a.type = ranges.empty() ? 0 : flag_sack;
  a.stream_id = cfg_.remote_id;
  a.rwnd = advertised_window();
  a.seq = snd_nxt_;
  a.ack = rcv_nxt_;
  bytes out(header_size + ranges.size() * 8);
  write_header(a, out.data());
  for (size_t i = 0; i < ranges.size(); ++i) {
    put_u32(out.data() + header_size + 8 * i, ranges[i].start);
    put_u32(out.data() + header_size + 8 * i + 4, ranges[i].end);
  }
  last_adv_rwnd_ = a.rwnd;
  return out;
}

bytes stream::build_heartbeat() {
  header h;
  h.type = flag_heartbeat;
  h.stream_id = cfg_.remote_id;
  h.rwnd = advertised_window();
  h.seq = snd_nxt_;
  h.ack = rcv_nxt_;
  bytes pkt(header_size);
  write_header(h, pkt.data());
  return pkt;
}

bytes stream::encode(uint8_t flags, uint32_t seq, const uint8_t* payload,
                     size_t size, size_t padding) const {
  header h;
  h.type = flags;
  h.data_offset = static_cast<uint8_t>(padding);
  h.stream_id = cfg_.remote_id;
  h.rwnd = advertised_window();
  h.seq = seq;
  h.ack = rcv_nxt_;
  bytes out(header_size + padding + size);
  write_header(h, out.data());
  if (size > 0)
    std::memcpy(out.data() + header_size + padding, payload, size);
  return out;
}

bytes stream::encode_packet(uint32_t seq, const sent_packet& p) const {
  return encode(p.flags, seq, p.payload.data(), p.payload.size(), p.padding);
}

void stream::close(std::string error) {
  if (closed_)
    return;
  closed_ = true;
  error_ = error;
  write_queue_.clear();
  unsent_bytes_ = 0;
  unacked_bytes_ = 0;
  outgoing_.clear();
  retransmit_queue_.clear();
  inflight_ = 0;
  ooo_.clear();
  ooo_bytes_ = 0;
  rto_deadline_.reset();
  tlp_deadline_.reset();
  reo_deadline_.reset();
  zwp_deadline_.reset();
  pace_blocked_until_.reset();
  stream_event ev;
  ev.kind = event_kind::closed;
  ev.error = std::move(error);
  events_.push_back(std::move(ev));
}

// --- receive path -----------------------------------------------------

void stream::on_datagram(const uint8_t* data, size_t size, time_point now) {
  parse_error err;
  auto h = parse_header(data, size, &err);
  if (!h || h->stream_id != cfg_.local_id) {
    ++stats_.dropped;
    return;
  }
  if (closed_) {
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
      handle_data(*h, payload, payload_size);
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
    stream_event ev;
    ev.kind = event_kind::message;
    ev.payload.assign(payload, payload + payload_size);
    events_.push_back(std::move(ev));
  }
  handle_ack(*h, data, size, now);
}

void stream::handle_data(const header& h, const uint8_t* payload,
                         size_t size) {
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
  } else {
    ooo_bytes_ += body.size();
    ooo_.emplace(key, pending_read{flags, std::move(body)});
  }
  check_remote_end();
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

void stream::deliver(uint8_t flags, bytes&& payload) {
  if ((flags & flag_data) && !payload.empty()) {
    unread_bytes_ += payload.size();
    stream_event ev;
    ev.kind = event_kind::data;
    ev.payload = std::move(payload);
    events_.push_back(std::move(ev));
  }
}

void stream::check_remote_end() {
  if (remote_ending_ && !remote_ended_ && seq_diff(rcv_nxt_, remote_end_seq_) > 0) {
    remote_ended_ = true;
    stream_event ev;
    ev.kind = event_kind::end;
    events_.push_back(std::move(ev));
    ack_pending_ = true;
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
  }
  if (advanced)
    snd_una_ = h.ack;
  for (const auto& r : parse_sacks(h, data, size)) {
    // libudx's validity rule: inside [snd_una_, snd_nxt_) and non-empty.
    if (seq_diff(r.end, snd_nxt_) > 0 || seq_diff(r.start, r.end) >= 0
        || seq_diff(r.start, snd_una_) < 0) {
      ++stats_.dropped;
      continue;
    }
    for (uint32_t s = r.start; s != r.end; ++s) {
      sent_packet* p = outgoing_at(s);
      if (p && !p->delivered) {
        mark_delivered(s, *p, now, newly, rtt_sample);
        sacked_any_ = true;
        if (seq_diff(s, highest_delivered_) > 0)
          highest_delivered_ = s;
      }
    }
  }
  if (outgoing_.empty() || seq_diff(highest_delivered_, snd_una_) < 0)
    sacked_any_ = false;
  if (rtt_sample)
    update_rtt(*rtt_sample);

  if (end_packetized_ && !local_ended_ && seq_diff(snd_una_, end_seq_) > 0) {
    local_ended_ = true;
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
    if (have_rtt_)
      rto_ = std::clamp<duration>(srtt_ + std::max<duration>(milliseconds(1), 4 * rttvar_),
                                  cfg_.min_rto, cfg_.max_rto);
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
  (void) seq;
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
  duration var = std::max<duration>(milliseconds(1), 4 * rttvar_);
  rto_ = std::clamp<duration>(srtt_ + var, cfg_.min_rto, cfg_.max_rto);
}

void stream::detect_losses(time_point now) {
  // RACK: a packet sent before one that got through, and older than the
  // RTT of that one plus a reordering window, is lost.
  duration reo = std::max<duration>(milliseconds(1), min_rtt_ / 4);
  if (have_rtt_)
    reo = std::min(reo, srtt_ + milliseconds(1));
  reo_deadline_.reset();
  bool lost_any = false;
  for (size_t i = 0; i < outgoing_.size(); ++i) {
    uint32_t seq = snd_una_ + static_cast<uint32_t>(i);
    if (seq_diff(seq, highest_delivered_) >= 0)
      break;
    sent_packet& p = outgoing_[i];
    if (p.delivered || !p.in_flight || p.sent_at > rack_sent_at_)
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
  if (unsent_bytes_ == 0 && end_requested_) {
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
  if (zwp_deadline_ && now >= *zwp_deadline_) {
    control_.push_back(build_heartbeat());
    last_send_ = now;
    zwp_backoff_ = std::min<uint32_t>(zwp_backoff_ + 1, 6);
    zwp_deadline_ = now + std::min<duration>(rto_ * (1u << zwp_backoff_), cfg_.max_rto);
  }
  if (cfg_.keepalive.count() > 0 && inflight_ == 0 && outgoing_.empty()
      && now >= last_send_ + cfg_.keepalive) {
    control_.push_back(build_heartbeat());
    last_send_ = now;
  }
}

void stream::on_rto(time_point now) {
  rto_deadline_.reset();
  if (outgoing_.empty()) {
    return;
  }
  sent_packet& oldest = outgoing_.front();
  if (++oldest.timeouts > cfg_.max_rto_timeouts) {
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
