#pragma once
// How the node becomes a socket's datagram handler, and its side of the
// socket's backlog accounting: the socket adds each datagram's size to the
// handler's udx_backlog before handing it over (and drops datagrams while
// the backlog is over its cap); the node subtracts it once processed.
//
// The registration with a backlog (udx_handler_atom, handler, backlog) is
// the socket API of the udx-hard branch; until it is merged the socket
// takes the handler alone and counts nothing. Both compile: the one that
// udx_socket_actor declares is used. Delete the fallback once merged.
#include <caf/detail/type_list.hpp>
#include <caf/send.hpp>

#include "messages/udx.hpp"

namespace ht::dht_detail {

using handler_with_backlog =
  caf::reacts_to<udx_handler_atom, udx_datagram_handler_actor, udx_backlog_ptr>;

constexpr bool socket_counts_backlog =
  caf::detail::tl_index_of<udx_socket_actor::signatures, handler_with_backlog>::value >= 0;

template <class Self>
void set_datagram_handler(Self* self, const udx_socket_actor& sock,
                          const udx_datagram_handler_actor& handler,
                          const udx_backlog_ptr& backlog) {
  if constexpr (socket_counts_backlog)
    self->send(sock, udx_handler_atom::value, handler, backlog);
  else
    self->send(sock, udx_handler_atom::value, handler); // main before udx-hard
}

/// The same from outside an actor (tests, tools).
template <class Socket>
void anon_set_datagram_handler(const Socket& sock, const udx_datagram_handler_actor& handler,
                               const udx_backlog_ptr& backlog) {
  if constexpr (socket_counts_backlog)
    caf::anon_send(sock, udx_handler_atom::value, handler, backlog);
  else
    caf::anon_send(sock, udx_handler_atom::value, handler);
}

inline void datagram_processed(udx_backlog& backlog, size_t size) {
  if constexpr (socket_counts_backlog)
    backlog.bytes.fetch_sub(static_cast<int64_t>(size), std::memory_order_relaxed);
}

} // namespace ht::dht_detail
