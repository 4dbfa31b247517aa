// One end of an in-process connection. It keeps the events for its handler
// in one ordered queue so that the contract of messages/connection.hpp holds
// whatever the timing: opened first, messages in order, closed last and
// exactly once, nothing delivered while paused.
#include <optional>

#include <caf/all.hpp>

#include "actors/transport/handler_events.hpp"
#include "actors/transport/inprocess.hpp"

namespace ht {

namespace {

struct end_state {
  connection_id id = next_connection_id();
  connection_handler_actor handler;      // invalid until attach
  std::optional<connection_actor> peer;  // set by link
  handler_events events;                 // not yet delivered to the handler
  std::vector<bytes> unsent;             // writes made before link
  bool paused = false;
  bool closed = false;                   // closed event queued
  static inline const char* name = "inprocess_end";
};

using end_pointer = inprocess_end_actor::stateful_pointer<end_state>;

// Delivers queued events in order; a paused end stops at the first message.
// After the closed event the end has nothing left to do and exits.
void deliver_events(end_pointer self) {
  auto& st = self->state;
  if (st.handler && st.events.deliver(self, st.handler, st.id, st.paused))
    self->quit();
}

void queue_closed(end_pointer self, std::string code, std::string text) {
  auto& st = self->state;
  if (st.closed)
    return;
  st.closed = true;
  st.unsent.clear();
  st.events.closed(std::move(code), std::move(text));
  deliver_events(self);
}

inprocess_end_actor::behavior_type end_impl(end_pointer self) {
  // A peer that exits without saying goodbye (crash, kill) is a reset.
  self->set_down_handler([self](caf::down_msg& dm) {
    if (self->state.peer && dm.source == self->state.peer->address())
      queue_closed(self, "ECONNRESET",
                   "peer end exited: " + to_string(dm.reason));
    else if (self->state.handler && dm.source == self->state.handler.address()) {
      // Our owner is gone: nobody will read or close us. Tell the peer.
      if (self->state.peer)
        self->send(caf::actor_cast<inprocess_end_actor>(*self->state.peer),
                   peer_gone_atom::value, std::string{"ECONNRESET"},
                   std::string{"remote owner exited"});
      self->quit();
    }
  });
  return {
    [self](attach_atom, connection_handler_actor& handler) {
      if (self->state.handler)
        return; // one owner for life
      self->state.handler = std::move(handler);
      self->monitor(self->state.handler);
      deliver_events(self);
    },
    [self](write_atom, bytes& data) {
      auto& st = self->state;
      if (st.closed)
        return;
      if (!st.peer) {
        st.unsent.emplace_back(std::move(data));
        return;
      }
      self->send(caf::actor_cast<inprocess_end_actor>(*st.peer),
                 deliver_atom::value, std::move(data));
    },
    [self](close_atom) {
      auto& st = self->state;
      if (st.closed)
        return;
      if (st.peer)
        self->send(caf::actor_cast<inprocess_end_actor>(*st.peer),
                   peer_gone_atom::value, std::string{}, std::string{});
      queue_closed(self, "", "");
    },
    [self](pause_atom) { self->state.paused = true; },
    [self](resume_atom) {
      self->state.paused = false;
      deliver_events(self);
    },
    [self](link_atom, connection_actor& peer, public_key& remote) {
      auto& st = self->state;
      if (st.closed || st.peer)
        return;
      st.peer = peer;
      self->monitor(peer);
      st.events.opened(remote);
      auto to = caf::actor_cast<inprocess_end_actor>(peer);
      for (auto& data : st.unsent)
        self->send(to, deliver_atom::value, std::move(data));
      st.unsent.clear();
      deliver_events(self);
    },
    [self](deliver_atom, bytes& data) {
      auto& st = self->state;
      if (st.closed)
        return;
      st.events.message(std::move(data));
      deliver_events(self);
    },
    [self](peer_gone_atom, std::string& code, std::string& text) {
      queue_closed(self, std::move(code), std::move(text));
    },
  };
}

} // namespace

inprocess_end_actor spawn_inprocess_end(caf::actor_system& sys) {
  return sys.spawn(end_impl);
}

} // namespace ht
