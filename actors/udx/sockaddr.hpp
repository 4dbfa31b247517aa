#pragma once
// Conversions between udx_endpoint and the BSD socket address structs.
#include <netinet/in.h>
#include <sys/socket.h>

#include "messages/udx.hpp"

namespace ht::udx_detail {

socklen_t to_sockaddr(const udx_endpoint& e, sockaddr_storage& out);
bool from_sockaddr(const sockaddr_storage& in, udx_endpoint& out);

} // namespace ht::udx_detail
