#include "dht/rpc/nat_sampler.hpp"

namespace ht::rpc {

unsigned nat_sampler::threshold(size_t n) {
  // The more samples, the more dissent is tolerated (up to 3 of 16).
  size_t slack = n < 4 ? 0 : n < 8 ? 1 : n < 12 ? 2 : 3;
  return static_cast<unsigned>(n - slack);
}

nat_sampler::tally_ref nat_sampler::vote(const std::array<uint8_t, 4>& host, uint16_t port,
                                         tally_ref sample::*which) {
  // Newest first, among the last look_back samples in the window.
  const size_t recent = count_ < look_back ? count_ : look_back;
  for (size_t i = 1; i <= recent; ++i) {
    const tally_ref& t = ring_[(next_ + window - i) % window].*which;
    if (t->host == host && t->port == port) {
      ++t->votes;
      return t;
    }
  }
  auto t = std::make_shared<tally>();
  t->host = host;
  t->port = port;
  t->votes = 1;
  return t;
}

void nat_sampler::add(const ipv4_address& s) {
  // The oldest sample leaves the window first; it is never among the last
  // look_back samples, so this does not change which tallies the new votes join.
  if (count_ == window) {
    sample& old = ring_[next_];
    --old.endpoint->votes;
    --old.host_only->votes;
    old = {};
  }
  tally_ref endpoint = vote(s.host, s.port, &sample::endpoint);
  tally_ref host_only = vote(s.host, 0, &sample::host_only);
  ring_[next_] = {endpoint, host_only};
  next_ = (next_ + 1) % window;
  if (count_ < window) ++count_;

  if (!lead_endpoint_ || lead_endpoint_->votes < endpoint->votes) lead_endpoint_ = endpoint;
  if (!lead_host_ || lead_host_->votes < host_only->votes) lead_host_ = host_only;

  const unsigned need = threshold(count_);
  if (lead_endpoint_->votes >= need) {
    host_ = lead_endpoint_->host;
    port_ = lead_endpoint_->port;
  } else if (lead_host_->votes >= need) {
    host_ = lead_host_->host;
    port_ = 0;
  } else {
    host_.reset();
    port_ = 0;
  }
}

} // namespace ht::rpc
