// udx_endpoint (messages/udx.hpp) and its sockaddr conversions.
#include "actors/udx/sockaddr.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <stdexcept>

namespace ht {

udx_endpoint udx_endpoint::parse(const std::string& host, uint16_t port) {
  udx_endpoint e;
  e.port = port;
  in_addr a4;
  in6_addr a6;
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    e.family = 4;
    std::memcpy(e.ip.data(), &a4, 4);
  } else if (::inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    e.family = 6;
    std::memcpy(e.ip.data(), &a6, 16);
  } else {
    throw std::invalid_argument("udx: not an IP address: " + host);
  }
  return e;
}

std::string udx_endpoint::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == 6 ? AF_INET6 : AF_INET, ip.data(), buf, sizeof buf);
  return buf;
}

std::string udx_endpoint::to_string() const {
  return family == 6 ? "[" + host() + "]:" + std::to_string(port)
                     : host() + ":" + std::to_string(port);
}

namespace udx_detail {

socklen_t to_sockaddr(const udx_endpoint& e, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (e.family == 6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&out);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(e.port);
    std::memcpy(&s6->sin6_addr, e.ip.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&out);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(e.port);
  std::memcpy(&s4->sin_addr, e.ip.data(), 4);
  return sizeof(sockaddr_in);
}

bool from_sockaddr(const sockaddr_storage& in, udx_endpoint& out) {
  out = udx_endpoint{};
  if (in.ss_family == AF_INET) {
    auto* s4 = reinterpret_cast<const sockaddr_in*>(&in);
    out.family = 4;
    out.port = ntohs(s4->sin_port);
    std::memcpy(out.ip.data(), &s4->sin_addr, 4);
    return true;
  }
  if (in.ss_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(&in);
    // IPv4-mapped peers on a dual-stack socket are reported as IPv4.
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
      out.family = 4;
      std::memcpy(out.ip.data(), s6->sin6_addr.s6_addr + 12, 4);
    } else {
      out.family = 6;
      std::memcpy(out.ip.data(), &s6->sin6_addr, 16);
    }
    out.port = ntohs(s6->sin6_port);
    return true;
  }
  return false;
}

} // namespace udx_detail
} // namespace ht
