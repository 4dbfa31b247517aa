#include "dht/udx/stream.hpp"

#include <algorithm>
#include <cstring>

#include "dht/udx/stream_limits.hpp"

namespace ht::udx {

using namespace detail;

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
  destroy_seq_ = snd_nxt_++;
  control_.push_back(build_bare(flag_destroy, destroy_seq_));
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
  // Messages do not consume packet numbers.
  control_.push_back(encode(flag_message, snd_nxt_, data, size, 0));
}

bool stream::poll_event(stream_event& ev) {
  if (events_.empty())
    return false;
  ev = std::move(events_.front());
  events_.pop_front();
  if (ev.kind == event_kind::message)
    queued_message_bytes_ -= ev.payload.size() + message_overhead;
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
  // The peer's END is only ever acknowledged cumulatively: libudx counts
  // a SACKed END as acknowledged, which would defeat the END hold
  // (stream_close.cpp). It is the peer's last packet, so no loss detection
  // depends on it: the run holding it is cut short before it.
  std::optional<uint64_t> end_key;
  if (remote_ending_ && seq_diff(remote_end_seq_, rcv_nxt_) >= 0)
    end_key = rcv_count_ + static_cast<uint32_t>(seq_diff(remote_end_seq_, rcv_nxt_));
  for (auto& [first, last] : ooo_runs_) {
    if (ranges.size() >= max_sack_ranges)
      break;
    uint64_t stop = end_key && *end_key < last ? *end_key : last;
    if (stop > first)
      ranges.push_back(sack_range{rcv_nxt_ + static_cast<uint32_t>(first - rcv_count_),
                                  rcv_nxt_ + static_cast<uint32_t>(stop - rcv_count_)});
    if (stop < last)
      break;
  }
  header a;
  a.type = ranges.empty() ? 0 : flag_sack;
  a.stream_id = cfg_.remote_id;
  a.rwnd = advertised_window();
  a.seq = snd_nxt_;
  a.ack = advertised_ack();
  bytes out(header_size + ranges.size() * 8);
  write_header(a, out.data());
  for (size_t i = 0; i < ranges.size(); ++i) {
    put_u32(out.data() + header_size + 8 * i, ranges[i].start);
    put_u32(out.data() + header_size + 8 * i + 4, ranges[i].end);
  }
  last_adv_rwnd_ = a.rwnd;
  return out;
}

bytes stream::build_bare(uint8_t type, uint32_t seq) const {
  header h;
  h.type = type;
  h.stream_id = cfg_.remote_id;
  h.rwnd = advertised_window();
  h.seq = seq;
  h.ack = advertised_ack();
  bytes pkt(header_size);
  write_header(h, pkt.data());
  return pkt;
}

uint32_t stream::advertised_ack() const {
  // While the peer's END is held back, ack everything before it only.
  return holding_remote_end() ? remote_end_seq_ : rcv_nxt_;
}

bytes stream::encode(uint8_t flags, uint32_t seq, const uint8_t* payload,
                     size_t size, size_t padding) const {
  header h;
  h.type = flags;
  h.data_offset = static_cast<uint8_t>(padding);
  h.stream_id = cfg_.remote_id;
  h.rwnd = advertised_window();
  h.seq = seq;
  h.ack = advertised_ack();
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
  // Lingering re-acks cover everything, the peer's END included.
  end_hold_deadline_.reset();
  write_queue_.clear();
  unsent_bytes_ = 0;
  unacked_bytes_ = 0;
  outgoing_.clear();
  undelivered_.clear();
  retransmit_queue_.clear();
  inflight_ = 0;
  ooo_.clear();
  ooo_runs_.clear();
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

} // namespace ht::udx
