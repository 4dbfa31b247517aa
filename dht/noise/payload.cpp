#include "dht/noise/payload.hpp"

namespace ht::noise {

namespace {

void write_ipv4_array(enc::writer& w, const std::vector<enc::ipv4_address>& v) {
  enc::write_array(w, v, [](enc::writer& w, const enc::ipv4_address& a) { a.encode(w); });
}

std::vector<enc::ipv4_address> read_ipv4_array(enc::reader& r) {
  return enc::read_array<enc::ipv4_address>(
    r, [](enc::reader& r) { return enc::ipv4_address::decode(r); }, enc::ipv4_address::encoded_size);
}

} // namespace

void noise_payload::encode(enc::writer& w) const {
  uint64_t flags = 0;
  if (holepunch) flags |= 1;
  if (!addresses4.empty()) flags |= 2;
  if (!addresses6.empty()) flags |= 4;
  if (udx) flags |= 8;
  if (secret_stream) flags |= 16;
  if (relay_through) flags |= 32;
  if (relay_addresses) flags |= 64;

  w.uint(1);  // hyperdht writes version 1 whatever the struct says
  w.uint(flags);
  w.uint(error);
  w.uint(firewall);
  if (holepunch) {
    w.uint(holepunch->id);
    enc::write_array(w, holepunch->relays, [](enc::writer& w, const relay_info& ri) {
      ri.relay_address.encode(w);
      ri.peer_address.encode(w);
    });
  }
  if (!addresses4.empty()) write_ipv4_array(w, addresses4);
  if (!addresses6.empty())
    enc::write_array(w, addresses6, [](enc::writer& w, const enc::ipv6_address& a) { a.encode(w); });
  if (udx) {
    w.uint(1);
    w.uint(udx->reusable_socket ? 1 : 0);
    w.uint(udx->id);
    w.uint(udx->seq);
  }
  if (secret_stream) w.uint(1);
  if (relay_through) {
    w.uint(1);
    w.uint(0);
    w.fixed(relay_through->public_key);
    w.fixed(relay_through->token);
  }
  if (relay_addresses) write_ipv4_array(w, *relay_addresses);
}

noise_payload noise_payload::decode(enc::reader& r) {
  noise_payload m;
  m.version = r.uint();
  if (m.version != 1) return m;  // left to the caller (hyperdht answers VERSION_MISMATCH)
  uint64_t flags = r.uint();
  m.error = r.uint();
  m.firewall = r.uint();
  if (flags & 1) {
    holepunch_info h;
    h.id = r.uint();
    h.relays = enc::read_array<relay_info>(
      r,
      [](enc::reader& r) {
        relay_info ri;
        ri.relay_address = enc::ipv4_address::decode(r);
        ri.peer_address = enc::ipv4_address::decode(r);
        return ri;
      },
      2 * enc::ipv4_address::encoded_size);
    m.holepunch = std::move(h);
  }
  if (flags & 2) m.addresses4 = read_ipv4_array(r);
  if (flags & 4)
    m.addresses6 = enc::read_array<enc::ipv6_address>(
      r, [](enc::reader& r) { return enc::ipv6_address::decode(r); }, enc::ipv6_address::encoded_size);
  if (flags & 8) {
    udx_info u;
    u.version = r.uint();
    u.reusable_socket = (r.uint() & 1) != 0;
    u.id = r.uint();
    u.seq = r.uint();
    m.udx = u;
  }
  if (flags & 16) m.secret_stream = secret_stream_info{r.uint()};
  if (flags & 32) {
    relay_through_info rt;
    rt.version = r.uint();
    r.uint();  // flags, reserved
    rt.public_key = r.fixed<32>();
    rt.token = r.fixed<32>();
    m.relay_through = rt;
  }
  if (flags & 64) m.relay_addresses = read_ipv4_array(r);
  return m;
}

bool noise_payload::operator==(const noise_payload& o) const {
  return version == o.version && error == o.error && firewall == o.firewall &&
         holepunch == o.holepunch && addresses4 == o.addresses4 && addresses6 == o.addresses6 &&
         udx == o.udx && secret_stream == o.secret_stream && relay_through == o.relay_through &&
         relay_addresses == o.relay_addresses;
}

noise_payload decode_noise_payload(const uint8_t* p, size_t n) {
  enc::reader r(p, n);
  return noise_payload::decode(r);
}

} // namespace ht::noise
