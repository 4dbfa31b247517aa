#include "dht/encoding/net.hpp"

#include <cstdio>
#include <vector>

namespace ht::enc {

ipv4_address ipv4_address::parse(const std::string& s, uint16_t port) {
  ipv4_address a;
  a.port = port;
  size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= s.size() || s[i] != '.') throw error(errc::invalid_value, "bad IPv4 address '" + s + "'");
      ++i;
    }
    unsigned v = 0;
    size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 4) {
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 3 || v > 255) throw error(errc::invalid_value, "bad IPv4 address '" + s + "'");
    a.host[octet] = static_cast<uint8_t>(v);
  }
  if (i != s.size()) throw error(errc::invalid_value, "bad IPv4 address '" + s + "'");
  return a;
}

std::string ipv4_address::host_string() const {
  return std::to_string(host[0]) + "." + std::to_string(host[1]) + "." + std::to_string(host[2]) +
         "." + std::to_string(host[3]);
}

void ipv4_address::encode(writer& w) const {
  w.raw(host.data(), 4);
  w.uint16(port);
}

ipv4_address ipv4_address::decode(reader& r) {
  ipv4_address a;
  a.host = r.fixed<4>();
  a.port = r.uint16();
  return a;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses colon-separated hex groups (no "::" inside) into `out`.
bool parse_groups(const std::string& s, std::vector<uint16_t>& out) {
  if (s.empty()) return true;
  size_t i = 0;
  while (true) {
    unsigned v = 0;
    size_t digits = 0;
    while (i < s.size() && s[i] != ':') {
      int h = hex_value(s[i]);
      if (h < 0 || ++digits > 4) return false;
      v = v * 16 + static_cast<unsigned>(h);
      ++i;
    }
    if (digits == 0) return false;
    out.push_back(static_cast<uint16_t>(v));
    if (i == s.size()) return true;
    ++i;  // ':'
  }
}

} // namespace

ipv6_address ipv6_address::parse(const std::string& s, uint16_t port) {
  ipv6_address a;
  a.port = port;
  std::vector<uint16_t> head, tail;
  size_t dbl = s.find("::");
  bool ok;
  if (dbl == std::string::npos) {
    ok = parse_groups(s, head) && head.size() == 8;
  } else {
    ok = s.find("::", dbl + 1) == std::string::npos && parse_groups(s.substr(0, dbl), head) &&
         parse_groups(s.substr(dbl + 2), tail) && head.size() + tail.size() <= 7;
  }
  if (!ok) throw error(errc::invalid_value, "bad IPv6 address '" + s + "'");
  for (size_t g = 0; g < head.size(); ++g) {
    a.host[2 * g] = static_cast<uint8_t>(head[g] >> 8);
    a.host[2 * g + 1] = static_cast<uint8_t>(head[g]);
  }
  size_t off = 8 - tail.size();
  for (size_t g = 0; g < tail.size(); ++g) {
    a.host[2 * (off + g)] = static_cast<uint8_t>(tail[g] >> 8);
    a.host[2 * (off + g) + 1] = static_cast<uint8_t>(tail[g]);
  }
  return a;
}

std::string ipv6_address::host_string() const {
  std::string out;
  char buf[8];
  for (int g = 0; g < 8; ++g) {
    if (g) out += ':';
    std::snprintf(buf, sizeof buf, "%x", (host[2 * g] << 8) | host[2 * g + 1]);
    out += buf;
  }
  return out;
}

void ipv6_address::encode(writer& w) const {
  w.raw(host.data(), 16);
  w.uint16(port);
}

ipv6_address ipv6_address::decode(reader& r) {
  ipv6_address a;
  a.host = r.fixed<16>();
  a.port = r.uint16();
  return a;
}

} // namespace ht::enc
