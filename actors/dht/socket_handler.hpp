#pragma once
// How the node becomes a socket's datagram handler, and its side of the
// socket's backlog accounting: the socket admits each datagram into the
// handler's udx_handler_backlog before handing it over (dropping it when it
// would take the total over udx_socket_options::handler_backlog_cap, or its
// source host over its share of it: udx_handler_admit); the node releases
// it once processed.
#include <caf/send.hpp>

#include "messages/udx.hpp"

namespace ht::dht_detail {

template <class Self>
void set_datagram_handler(Self* self, const udx_socket_actor& sock,
                          const udx_datagram_handler_actor& handler,
                          const udx_handler_backlog_ptr& backlog, uint8_t tag) {
  self->send(sock, udx_handler_atom::value, handler, backlog, tag);
}

/// The same from outside an actor (tests, tools); a null backlog: no cap.
inline void anon_set_datagram_handler(const udx_socket_actor& sock,
                                      const udx_datagram_handler_actor& handler,
                                      const udx_handler_backlog_ptr& backlog,
                                      uint8_t tag = 0) {
  caf::anon_send(sock, udx_handler_atom::value, handler, backlog, tag);
}

inline void datagram_processed(udx_handler_backlog& backlog, const udx_endpoint& from,
                               size_t size) {
  udx_handler_release(backlog, from, size);
}

} // namespace ht::dht_detail
