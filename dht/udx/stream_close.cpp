// Closing a stream cleanly when the peer is libudx.
//
// libudx closes a stream, and from then on ignores every packet for it, the
// moment both ENDs are acknowledged: either when our ack of its END arrives
// (its ack of our END went out earlier) or right after it sends the ack of
// our END (our ack of its END came earlier). Its last ack is sent once.
// When that ack is lost, whatever it covered stays unacknowledged on our
// side, our retransmissions go unanswered, and without more care the
// stream ends in ETIMEDOUT after the full RTO backoff (~91 s) although the
// peer received everything. Seen through a 3% loss relay in about one run
// in ten with 8 streams: the final ack covered a retransmitted hole, later
// SACKed data and our END.
//
// Two rules keep the peer's last ack from mattering:
//
// 1. Hold the peer's END. When the peer's END completes after our
//    application ended its side too, and our END is not acknowledged yet,
//    we acknowledge everything before the peer's END only. libudx then
//    cannot close: it keeps retransmitting its END (tail probe, then RTO),
//    and each retransmission carries its ack, so its acknowledgement of our
//    END reaches us even when an ack gets lost. Once our END is acked we
//    release the peer's END; the closing ack is then ours, and a lost one
//    is answered by the lingering stream when the peer retransmits its END.
//
//    The hold is bounded. libudx gives up on an unacknowledged packet after
//    its 7th RTO, about 13 RTOs from the first send (its timer restarts at
//    twice the RTO without further backoff), so we hold for 4 RTOs at most
//    (without our backoff, which libudx does not have). Two peers running
//    this code would each hold the other's END; the tie-break: the side
//    with the lower stream id holds for those 4 RTOs, the other only for
//    about two round trips, which is all a simultaneous close between two
//    of our peers costs. Against libudx the short hold still covers the
//    usual case (our END and its ack cross within a round trip).
//
// 2. When the peer's END was acknowledged (it ended first, or the hold ran
//    out), our END goes out alone, after all our data is acknowledged. The
//    peer's closing ack then covers only our END, so a lost closing ack
//    leaves exactly one fact unknown, and end_unconfirmed() settles it: the
//    peer acknowledged every byte, has ended, and answers none of our END
//    retransmissions, which a libudx stream that is still open always does.
//    Rule 2 costs one round trip on a close that rule 1 does not cover, and
//    a few RTOs when that closing ack is lost.
#include <algorithm>

#include "dht/udx/stream.hpp"
#include "dht/udx/stream_limits.hpp"

namespace ht::udx {

using namespace detail;

void stream::on_remote_end(time_point now) {
  if (end_requested_ && !local_ended_)
    end_hold_deadline_ = now + end_hold_period();
}

void stream::release_remote_end() {
  if (!holding_remote_end())
    return;
  end_hold_deadline_.reset();
  queue_ack();
}

duration stream::end_hold_period() const {
  duration longest = std::min<duration>(4 * base_rto(), cfg_.max_rto);
  if (cfg_.local_id < cfg_.remote_id || !have_rtt_)
    return longest;
  duration round_trips = 2 * srtt_ + std::max<duration>(4 * rttvar_, end_hold_margin);
  return std::min(round_trips, longest);
}

bool stream::end_may_go(bool with_data) const {
  if (!remote_end_acked())
    return true;
  return !with_data && outgoing_.empty();
}

bool stream::end_unconfirmed(const sent_packet& oldest) const {
  return remote_end_acked() && end_packetized_ && !local_ended_ && snd_una_ == end_seq_
         && oldest.timeouts >= cfg_.end_unconfirmed_timeouts;
}

} // namespace ht::udx
