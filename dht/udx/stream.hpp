#pragma once
// One UDX stream, sans-IO: fed datagrams and the current time, polled for
// datagrams to send, events for the application and the next wake-up time.
// Wire-compatible with libudx (udx-native): packet-numbered DATA/END
// packets, cumulative ack + SACK ranges, receive window in bytes, unordered
// MESSAGE packets, DESTROY and HEARTBEAT.
//
// Reliability: RFC 6298 retransmission timer with exponential backoff, a
// RACK-style time-based loss detector driven by SACKs (fast retransmit), a
// tail loss probe, CUBIC congestion control with pacing, flow control by the
// peer's receive window (with zero-window probes), path MTU probing from
// 1200 bytes (RFC 8899 style, padded DATA packets, as libudx does).
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "dht/udx/cubic.hpp"
#include "dht/udx/header.hpp"

namespace ht::udx {

using bytes = std::vector<uint8_t>;

/// Misuse of the stream API (write after end, oversized message, ...).
class stream_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct stream_config {
  uint32_t local_id = 0;          // the id peers put in the header to reach us
  uint32_t remote_id = 0;         // the id we put in the header
  uint32_t initial_seq = 0;       // our first packet number
  uint32_t initial_ack = 0;       // the peer's first packet number
  uint32_t rwnd_max = 4u << 20;   // receive buffer (libudx default 4 MiB)
  uint16_t mtu_base = 1200;
  uint16_t mtu_max = 1500;
  bool ipv6 = false;              // IP+UDP overhead 48 (v6) instead of 28
  bool mtu_probing = true;
  duration min_rto = std::chrono::seconds(1);   // RFC 6298 (2.4)
  duration max_rto = std::chrono::seconds(30);
  uint32_t max_rto_timeouts = 6;  // one packet timing out this often kills
  // The peer ended and acknowledged all our data: our END unacknowledged
  // for this many RTOs counts as a clean close (see stream_close.cpp).
  uint32_t end_unconfirmed_timeouts = 3;
  // Unordered messages not yet polled (the owner is paused or has no
  // handler yet) are held up to this many bytes (payload plus 64 per
  // message); later ones are dropped and counted (stats().messages_dropped).
  // Data is bounded by the receive window; messages have no window.
  size_t message_queue_bytes = 256 * 1024;
  duration keepalive{0};          // heartbeat when idle this long; 0: off
  duration idle_timeout{0};       // ETIMEDOUT when silent this long; 0: off
};

enum class event_kind { data, end, message, closed };

struct stream_event {
  event_kind kind = event_kind::data;
  bytes payload;      // data / message
  std::string error;  // closed: empty on a clean close, else an errno name
};

struct stream_stats {
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  uint64_t retransmits = 0;
  uint64_t rto_fired = 0;
  uint64_t loss_episodes = 0;     // fast-recovery entries
  uint64_t tail_probes = 0;
  uint64_t dropped = 0;           // malformed, forged or out-of-window input
  uint64_t end_unconfirmed = 0;   // clean closes whose END ack never came
  uint64_t messages_dropped = 0;  // unordered messages over message_queue_bytes
  uint64_t sack_ranges_ignored = 0; // ranges past the 50 libudx sends
  uint32_t cwnd = 0;
  uint16_t mtu = 0;
  duration srtt{0};
  duration rto{0};
};

class stream {
public:
  stream(const stream_config& cfg, time_point now);

  // --- application side -----------------------------------------------
  /// Queues bytes for ordered, reliable delivery. Throws stream_error after
  /// end() or once closed.
  void write(const uint8_t* data, size_t size);
  void write(const bytes& b) { write(b.data(), b.size()); }
  void write(bytes&& b);
  /// Half-close: the peer reads an end after all written bytes.
  void end();
  /// Abort: tells the peer (DESTROY) and closes at once without error.
  void destroy();
  /// Closes locally with an error (no packet to the peer), e.g. when the
  /// owner loses its socket.
  void fail(const std::string& error) { close(error); }
  /// One unordered, unreliable datagram (MESSAGE). Throws stream_error if
  /// it does not fit one packet or the stream is closed.
  void send_message(const uint8_t* data, size_t size);

  /// Bytes written and not yet acknowledged by the peer: what the owner
  /// bounds to apply backpressure to its writers.
  size_t buffered_bytes() const { return unsent_bytes_ + unacked_bytes_; }
  /// Largest message send_message() accepts right now.
  size_t max_message_size() const { return max_payload(); }

  // --- network side ---------------------------------------------------
  /// One datagram addressed to this stream (the socket demultiplexed it).
  /// Malformed, forged or out-of-window input is dropped and counted.
  void on_datagram(const uint8_t* data, size_t size, time_point now);
  /// Next datagram to send now, if any. Call until it returns false.
  bool poll_transmit(time_point now, bytes& out);
  /// When on_timeout() must run next (nothing armed: nullopt).
  std::optional<time_point> next_timeout() const;
  void on_timeout(time_point now);

  /// Next event for the application, in order (data before end, closed
  /// last). Polling data frees receive window.
  bool poll_event(stream_event& ev);

  bool closed() const { return closed_; }
  /// Closed cleanly but still answering retransmitted END/DATA with acks so
  /// the peer can finish too (libudx peers otherwise time out). A destroyed
  /// stream lingers too, answering what the peer still sends with DESTROY
  /// again: DESTROY is a single unacknowledged packet, and when it is lost
  /// the peer would otherwise learn of the reset only by timing out.
  bool lingering() const { return closed_ && error_.empty(); }
  bool destroyed() const { return destroyed_; }
  bool ended_local() const { return local_ended_; }
  bool ended_remote() const { return remote_ended_; }
  stream_stats stats() const;
  const stream_config& config() const { return cfg_; }

private:
  struct sent_packet {
    uint8_t flags = 0;          // flag_data and/or flag_end
    bytes payload;
    time_point sent_at{};
    uint16_t probe_size = 0;    // non-zero: padded to this MTU as a probe
    uint8_t padding = 0;        // probe padding (the header's data offset)
    uint8_t timeouts = 0;       // RTOs this packet has seen
    bool retransmitted = false;
    bool delivered = false;     // acked or SACKed
    bool lost = false;          // waiting in the retransmit queue
    bool in_flight = false;
  };
  struct pending_read {
    uint8_t flags = 0;
    bytes payload;
  };

  size_t overhead() const { return cfg_.ipv6 ? 68 : 48; }
  size_t max_payload() const { return mtu_ - overhead(); }
  uint32_t advertised_window() const;
  sent_packet* outgoing_at(uint32_t seq);
  uint64_t index_of(uint32_t seq) const {
    return una_index_ + static_cast<uint64_t>(static_cast<uint32_t>(seq - snd_una_));
  }
  uint32_t seq_of(uint64_t index) const {
    return snd_una_ + static_cast<uint32_t>(index - una_index_);
  }

  // receive path
  void handle_data(const header& h, const uint8_t* payload, size_t size,
                   time_point now);
  void deliver(uint8_t flags, bytes&& payload);
  void add_ooo_run(uint64_t key);
  void check_remote_end(time_point now);
  void handle_ack(const header& h, const uint8_t* data, size_t size,
                  time_point now);
  void mark_delivered(uint32_t seq, sent_packet& p, time_point now,
                      uint32_t& newly, std::optional<duration>& rtt_sample);
  void update_rtt(duration sample);
  /// RFC 6298 (2.3) from the current estimates, without backoff.
  duration base_rto() const;
  void detect_losses(time_point now);
  void mark_lost(uint32_t seq, sent_packet& p);
  void queue_ack();
  bytes build_ack();
  /// A header-only packet (heartbeat, destroy) with our current state.
  bytes build_bare(uint8_t type, uint32_t seq) const;
  uint32_t advertised_ack() const;

  // send path
  bytes encode(uint8_t flags, uint32_t seq, const uint8_t* payload,
               size_t size, size_t padding) const;
  bytes encode_packet(uint32_t seq, const sent_packet& p) const;
  bool pacing_allows(time_point now);
  void on_sent(time_point now, size_t size);
  bool build_new_packet(time_point now, bytes& out, bool ignore_window);
  void arm_rto(time_point now, bool restart);
  void arm_tlp(time_point now);
  uint32_t send_window_packets() const;

  // timers
  void on_rto(time_point now);
  void on_tail_probe(time_point now);

  // closing (stream_close.cpp)
  void on_remote_end(time_point now);
  bool holding_remote_end() const { return end_hold_deadline_.has_value(); }
  /// Our acks cover the peer's END (sent, or pending in the next ack).
  bool remote_end_acked() const { return remote_ended_ && !holding_remote_end(); }
  void release_remote_end();
  duration end_hold_period() const;
  bool end_may_go(bool with_data) const;
  bool end_unconfirmed(const sent_packet& oldest) const;

  void close(std::string error);

  stream_config cfg_;
  bool closed_ = false;
  bool destroyed_ = false;
  uint32_t destroy_seq_ = 0;                   // the seq our DESTROY carried
  std::optional<time_point> last_destroy_sent_; // re-sends are rate limited
  std::string error_;
  stream_stats stats_;

  // --- send state ---
  std::deque<bytes> write_queue_;
  size_t write_offset_ = 0;       // consumed bytes of write_queue_.front()
  size_t unsent_bytes_ = 0;
  size_t unacked_bytes_ = 0;
  bool end_requested_ = false;
  bool end_packetized_ = false;
  uint32_t end_seq_ = 0;
  bool local_ended_ = false;
  uint32_t snd_una_;              // oldest unacknowledged packet number
  uint32_t snd_nxt_;              // next packet number
  std::deque<sent_packet> outgoing_;  // [snd_una_, snd_nxt_)
  // Packets of outgoing_ neither acked nor SACKed, by their 64-bit index
  // (una_index_ is outgoing_.front()'s): SACK ranges and loss detection
  // visit only these, so a forged ack full of ranges over the whole window
  // costs O(ranges log window), not O(ranges window).
  std::set<uint64_t> undelivered_;
  uint64_t una_index_ = 0;
  std::deque<uint32_t> retransmit_queue_;
  uint32_t inflight_ = 0;         // packets in the network
  uint32_t send_rwnd_;            // peer's window in bytes
  uint32_t send_wl1_ = 0, send_wl2_ = 0; // RFC 793 window update guards
  bool sacked_any_ = false;       // something beyond snd_una_ delivered
  uint32_t highest_delivered_ = 0;
  std::deque<bytes> control_;     // acks, heartbeats, messages, destroy

  // RTT / RTO (RFC 6298)
  bool have_rtt_ = false;
  duration srtt_{0}, rttvar_{0}, min_rtt_{0};
  duration rto_;
  std::optional<time_point> rto_deadline_;
  // RACK (RFC 8985) state: the most recently sent delivered packet.
  time_point rack_sent_at_{};
  duration rack_rtt_{0};
  std::optional<time_point> reo_deadline_;
  // Tail loss probe
  std::optional<time_point> tlp_deadline_;
  uint32_t tlp_probes_ = 0;     // since the last delivery
  // zero window probe / keepalive / idle
  std::optional<time_point> zwp_deadline_;
  uint32_t zwp_backoff_ = 0;
  time_point last_send_;
  time_point last_recv_;

  // congestion control + pacing
  cubic cc_;
  bool in_recovery_ = false;
  uint32_t recovery_end_ = 0;
  time_point pace_next_{};
  std::optional<time_point> pace_blocked_until_;
  bool cwnd_limited_ = false;

  // path MTU
  uint16_t mtu_;
  enum class mtu_state { base, search, done } mtu_state_ = mtu_state::base;
  uint16_t probe_size_ = 0;
  bool probe_wanted_ = false;
  int probe_failures_ = 0;

  // --- receive state ---
  uint32_t rcv_nxt_ = 0;          // our ack
  // Keyed by distance from rcv_nxt_ at insert time plus a 64-bit running
  // count of delivered packets, so the order survives seq wrap-around.
  std::map<uint64_t, pending_read> ooo_;
  // The same packets as [start, end) runs of keys: acks list their first
  // 50 as SACK ranges without walking every buffered packet (a peer that
  // fills the window after a hole would otherwise cost a walk over the
  // whole window per ack, i.e. per packet it sends).
  std::map<uint64_t, uint64_t> ooo_runs_;
  uint64_t rcv_count_ = 0;        // packets delivered in order so far
  size_t ooo_bytes_ = 0;
  size_t unread_bytes_ = 0;
  uint32_t last_adv_rwnd_ = 0;
  bool remote_ending_ = false;
  uint32_t remote_end_seq_ = 0;
  bool remote_ended_ = false;
  // Set while the peer's END, received in full, is not acknowledged yet:
  // until when (see stream_close.cpp for why).
  std::optional<time_point> end_hold_deadline_;
  bool ack_pending_ = false;
  uint32_t unacked_data_ = 0;
  std::deque<stream_event> events_;
  size_t queued_message_bytes_ = 0; // messages in events_, as message_queue_bytes counts
};

} // namespace ht::udx
