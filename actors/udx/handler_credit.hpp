#pragma once
// Credit between an actor and the handler it feeds (the UDX stream actor ->
// its handler, the secret-stream connection -> the session): at most
// `window` bytes delivered to the handler and not known to be processed.
// Without it a handler slower than the network gathers whatever the peer
// sends in its mailbox, out of reach of pause. Every quarter window one
// event goes as a request: its (automatic, empty) reply says the handler
// processed it, and so everything sent before it (messages between two
// actors stay in order), which gives those bytes back.
#include <cstdint>
#include <utility>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

namespace ht {

class handler_credit {
public:
  /// 0: no bound (every event a plain message).
  void set_window(uint64_t window) { window_ = window; }

  /// True when `extra` more bytes would reach the window: hold them.
  bool full(uint64_t extra = 0) const { return window_ > 0 && unconfirmed_ + extra >= window_; }

  /// Sends `handler` the event `xs...` (from `self`), counting `bytes`
  /// against the window; `on_credit()` runs once bytes come back (the
  /// sender then delivers what it held).
  template <class Self, class Handler, class OnCredit, class... Ts>
  void send(Self* self, const Handler& handler, uint64_t bytes, OnCredit on_credit, Ts&&... xs) {
    unconfirmed_ += bytes;
    since_probe_ += bytes;
    if (window_ == 0 || since_probe_ < window_ / 4) {
      self->send(handler, std::forward<Ts>(xs)...);
      return;
    }
    auto confirms = since_probe_;
    since_probe_ = 0;
    // The reply, or the handler's error (it is gone): either way these
    // bytes no longer sit in its mailbox.
    auto done = [this, confirms, on_credit]() mutable {
      unconfirmed_ -= confirms;
      on_credit();
    };
    self->request(handler, caf::infinite, std::forward<Ts>(xs)...)
      .then([done]() mutable { done(); }, [done](caf::error&) mutable { done(); });
  }

private:
  uint64_t window_ = 0;
  uint64_t unconfirmed_ = 0; // sent to the handler, not known processed
  uint64_t since_probe_ = 0; // of those, sent since the last request
};

} // namespace ht
