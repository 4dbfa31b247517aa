#pragma once
// Our public address as others see it, by vote, with the behaviour of npm
// nat-sampler 1.0.1 (what dht-rpc 6.27.0 uses; docs/dht.md "NAT sampler").
//
// Every sample (the `to` of a reply: how a remote saw us) casts two votes:
// one for host:port and one for the host alone. Only the last 16 samples
// count. A vote is added to an earlier tally only if one of the 4 previous
// samples voted for the same thing; otherwise it starts a tally of its own,
// so only votes that keep coming back pile up. The leading host:port tally
// and the leading host tally are kept (a leader changes only when another
// tally passes it). With n samples (at most 16), the threshold is n, n-1,
// n-2 or n-3 for n < 4, < 8, < 12 and above: if the host:port leader reaches
// it, that is our address; else if the host leader does, we know the host
// but the port is not consistent (port() == 0); else nothing is known.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "dht/rpc/message.hpp"

namespace ht::rpc {

class nat_sampler {
public:
  void add(const ipv4_address& sample);
  /// The agreed host, if any.
  std::optional<std::array<uint8_t, 4>> host() const { return host_; }
  /// The agreed port; 0 when only the host is consistent (or nothing is).
  uint16_t port() const { return port_; }
  /// Samples that count (at most window).
  size_t size() const { return count_; }

  static constexpr size_t window = 16;
  static constexpr size_t look_back = 4;

private:
  struct tally {
    std::array<uint8_t, 4> host{};
    uint16_t port = 0;          // 0 for host-only tallies
    unsigned votes = 0;         // samples of the window that point to it
  };
  using tally_ref = std::shared_ptr<tally>;
  struct sample {
    tally_ref endpoint;   // host:port
    tally_ref host_only;  // host
  };

  tally_ref vote(const std::array<uint8_t, 4>& host, uint16_t port, tally_ref sample::*which);
  static unsigned threshold(size_t n);

  std::array<sample, window> ring_{};
  size_t next_ = 0;    // where the next sample goes (the oldest, once full)
  size_t count_ = 0;
  // Leaders may outlive their last vote in the window (then with 0 votes),
  // until another tally passes them: the shared pointers keep them.
  tally_ref lead_endpoint_, lead_host_;
  std::optional<std::array<uint8_t, 4>> host_;
  uint16_t port_ = 0;
};

} // namespace ht::rpc
