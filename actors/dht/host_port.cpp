#include "actors/dht/host_port.hpp"

#include <cstdlib>

namespace ht::dht {

rpc::ipv4_address parse_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  auto bad = [&](const char* why) {
    return std::invalid_argument("'" + text + "': " + why + " (expected IPv4:port)");
  };
  if (colon == std::string::npos)
    throw bad("no port");
  auto port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5
      || port_text.find_first_not_of("0123456789") != std::string::npos)
    throw bad("bad port");
  auto port = std::strtoul(port_text.c_str(), nullptr, 10);
  if (port == 0 || port > 65535)
    throw bad("port out of range");
  try {
    return rpc::ipv4_address::parse(text.substr(0, colon), static_cast<uint16_t>(port));
  } catch (const std::exception&) {
    throw bad("not an IPv4 address");
  }
}

std::string to_string(const rpc::ipv4_address& a) {
  return a.host_string() + ":" + std::to_string(a.port);
}

} // namespace ht::dht
