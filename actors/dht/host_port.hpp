#pragma once
// "host:port" as the bootstrap option and dht-rpc's bootstrap list write it
// (explicit IPv4 dotted quad; dht-rpc also takes names and "ip@name:port",
// which a node started from the command line does not need).
#include <stdexcept>
#include <string>

#include "dht/rpc/message.hpp"

namespace ht::dht {

/// Throws std::invalid_argument with a message naming `text`.
rpc::ipv4_address parse_host_port(const std::string& text);

std::string to_string(const rpc::ipv4_address& a);

} // namespace ht::dht
