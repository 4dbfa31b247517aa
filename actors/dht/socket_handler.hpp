#pragma once
// How the node becomes a socket's datagram handler, and its side of the
// socket's backlog accounting: the socket adds each datagram's size to the
// handler's udx_backlog before handing it over (and drops datagrams while
// the backlog is over its cap, udx_socket_options::handler_backlog_cap);
// the node subtracts it once processed.
#include <caf/send.hpp>

#include "messages/udx.hpp"

namespace ht::dht_detail {

template <class Self>
void set_datagram_handler(Self* self, const udx_socket_actor& sock,
                          const udx_datagram_handler_actor& handler,
                          const udx_backlog_ptr& backlog) {
  self->send(sock, udx_handler_atom::value, handler, backlog);
}

/// The same from outside an actor (tests, tools); a null backlog: no cap.
inline void anon_set_datagram_handler(const udx_socket_actor& sock,
                                      const udx_datagram_handler_actor& handler,
                                      const udx_backlog_ptr& backlog) {
  caf::anon_send(sock, udx_handler_atom::value, handler, backlog);
}

inline void datagram_processed(udx_backlog& backlog, size_t size) {
  udx_handler_release(backlog, size);
}

} // namespace ht::dht_detail
