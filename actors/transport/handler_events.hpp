#pragma once
// The events a connection owes the handler attached to it
// (messages/connection.hpp), kept in one ordered queue so that the contract
// holds whatever the timing: opened first, messages in order, closed last
// and exactly once, no message while the owner paused. Every
// connection_actor implementation (the in-process end, the secret-stream
// connection) queues its events here and delivers them with deliver().
#include <deque>
#include <string>
#include <utility>
#include <variant>

#include "messages/connection.hpp"

namespace ht {

class handler_events {
public:
  void opened(const public_key& remote) { events_.emplace_back(opened_event{remote}); }
  void message(bytes data) {
    events_.emplace_back(message_event{std::move(data)});
    ++held_messages_;
  }
  void closed(std::string code, std::string text) {
    events_.emplace_back(closed_event{std::move(code), std::move(text)});
  }

  /// Message events queued and not delivered yet.
  size_t held_messages() const { return held_messages_; }

  /// Sends `handler` (from `self`, as connection `id`) the queued events in
  /// order; while `paused` it stops at the first message. Returns true once
  /// closed went out: the queue is then empty and the connection has
  /// nothing left to deliver.
  template <class Self>
  bool deliver(Self* self, const connection_handler_actor& handler, connection_id id,
               bool paused) {
    return deliver(self, handler, id, [paused] { return !paused; },
                   [self, &handler, id](bytes&& data) {
                     self->send(handler, message_atom::value, id, std::move(data));
                   });
  }

  /// The same where the connection decides per message: it stops at the
  /// first message while `may_send()` is false, and hands each message to
  /// `send_message(bytes&&)` (e.g. to count it against a window).
  template <class Self, class MaySend, class SendMessage>
  bool deliver(Self* self, const connection_handler_actor& handler, connection_id id,
               MaySend may_send, SendMessage send_message) {
    while (!events_.empty()) {
      auto& ev = events_.front();
      if (auto* o = std::get_if<opened_event>(&ev)) {
        self->send(handler, opened_atom::value, id, o->remote);
      } else if (auto* m = std::get_if<message_event>(&ev)) {
        if (!may_send())
          return false;
        send_message(std::move(m->data));
        --held_messages_;
      } else {
        auto& c = std::get<closed_event>(ev);
        self->send(handler, closed_atom::value, id, std::move(c.code), std::move(c.text));
        events_.clear();
        held_messages_ = 0;
        return true;
      }
      events_.pop_front();
    }
    return false;
  }

private:
  struct opened_event {
    public_key remote;
  };
  struct message_event {
    bytes data;
  };
  struct closed_event {
    std::string code;
    std::string text;
  };
  std::deque<std::variant<opened_event, message_event, closed_event>> events_;
  size_t held_messages_ = 0;
};

} // namespace ht
