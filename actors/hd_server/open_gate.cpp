#include "actors/hd_server/open_gate.hpp"

#include <deque>
#include <variant>

#include <caf/all.hpp>

namespace ht {

namespace {

struct held_message { bytes data; };
struct held_closed { std::string code, text; };

struct gate_state {
  connection_actor inner;
  acceptor_actor acceptor;
  std::function<void(bool)> on_settled;
  connection_handler_actor handler;
  connection_id id = 0;
  public_key remote{};
  bool opened = false;
  bool closed = false;
  bool paused_by_owner = false;
  bool paused_by_us = false;
  std::deque<std::variant<held_message, held_closed>> held;  // until the owner attaches
  size_t held_bytes = 0;
  static inline const char* name = "hd_open_gate";
};

using gate_ptr = open_gate_actor::stateful_pointer<gate_state>;

// What the gate holds before the owner attaches: above this the connection
// is paused (UDX flow control), so a fast peer cannot grow it.
constexpr size_t hold_limit = 1u << 20;

void deliver(gate_ptr self) {
  auto& st = self->state;
  if (!st.handler)
    return;
  while (!st.held.empty()) {
    auto ev = std::move(st.held.front());
    st.held.pop_front();
    if (auto* m = std::get_if<held_message>(&ev)) {
      st.held_bytes -= m->data.size();
      self->send(st.handler, message_atom::value, st.id, std::move(m->data));
    } else {
      auto& c = std::get<held_closed>(ev);
      self->send(st.handler, closed_atom::value, st.id, c.code, c.text);
      self->quit();
      return;
    }
  }
  if (st.paused_by_us) {
    st.paused_by_us = false;
    if (!st.paused_by_owner)
      self->send(st.inner, resume_atom::value);
  }
}

open_gate_actor::behavior_type gate(gate_ptr self, connection_actor inner, acceptor_actor acceptor,
                                    std::function<void(bool)> on_settled) {
  auto& st = self->state;
  st.inner = std::move(inner);
  st.acceptor = std::move(acceptor);
  st.on_settled = std::move(on_settled);
  self->monitor(st.inner);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.inner.address()) {
      if (!st.closed) {
        st.closed = true;
        if (!st.opened) {
          st.on_settled(false);
          self->quit();
          return;
        }
        st.held.emplace_back(held_closed{"ECONNABORTED", "the connection actor exited"});
        deliver(self);
      }
    } else if (st.handler && dm.source == st.handler.address()) {
      self->send(st.inner, close_atom::value);
    }
  });
  self->send(st.inner, attach_atom::value, connection_handler_actor{self});
  return {
    // --- from the connection ---
    [self](opened_atom, connection_id id, public_key& remote) {
      auto& st = self->state;
      if (st.opened)
        return;
      st.opened = true;
      st.id = id;
      st.remote = remote;
      st.on_settled(true);
      self->send(st.acceptor, accept_atom::value, connection_actor{self}, remote);
    },
    [self](message_atom, connection_id, bytes& data) {
      auto& st = self->state;
      if (st.handler && st.held.empty()) {
        self->send(st.handler, message_atom::value, st.id, std::move(data));
        return;
      }
      st.held_bytes += data.size();
      st.held.emplace_back(held_message{std::move(data)});
      if (st.held_bytes > hold_limit && !st.paused_by_us) {
        st.paused_by_us = true;
        self->send(st.inner, pause_atom::value);
      }
    },
    [self](closed_atom, connection_id, std::string& code, std::string& text) {
      auto& st = self->state;
      if (st.closed)
        return;
      st.closed = true;
      if (!st.opened) {
        st.on_settled(false);
        self->quit();
        return;
      }
      st.held.emplace_back(held_closed{std::move(code), std::move(text)});
      deliver(self);
    },
    // --- from the owner ---
    [self](attach_atom, connection_handler_actor& handler) {
      auto& st = self->state;
      if (st.handler)
        return;
      st.handler = std::move(handler);
      self->monitor(st.handler);
      self->send(st.handler, opened_atom::value, st.id, st.remote);
      deliver(self);
    },
    // Delegated, so that a writer waiting for the reply (backpressure) gets
    // the connection's own answer.
    [self](write_atom, bytes& data) -> caf::result<void> {
      return self->delegate(self->state.inner, write_atom::value, std::move(data));
    },
    [self](close_atom) { self->send(self->state.inner, close_atom::value); },
    [self](pause_atom) {
      auto& st = self->state;
      st.paused_by_owner = true;
      if (!st.paused_by_us)
        self->send(st.inner, pause_atom::value);
    },
    [self](resume_atom) {
      auto& st = self->state;
      st.paused_by_owner = false;
      if (!st.paused_by_us)
        self->send(st.inner, resume_atom::value);
    },
  };
}

} // namespace

open_gate_actor spawn_open_gate(caf::actor_system& sys, connection_actor inner, acceptor_actor acceptor,
                                std::function<void(bool opened)> on_settled) {
  return sys.spawn(gate, std::move(inner), std::move(acceptor), std::move(on_settled));
}

} // namespace ht
