#include "dht/hyperdht/messages.hpp"

namespace ht::hyperdht {

namespace {

void write_ipv4_array(enc::writer& w, const std::vector<ipv4_address>& v) {
  enc::write_array(w, v, [](enc::writer& w, const ipv4_address& a) { a.encode(w); });
}

std::vector<ipv4_address> read_ipv4_array(enc::reader& r) {
  return enc::read_array<ipv4_address>(
    r, [](enc::reader& r) { return ipv4_address::decode(r); }, ipv4_address::encoded_size);
}

// hyperdht's decoders read the flags word with c.uint and test only the bits
// they know: the other bits are ignored (see messages.hpp).
uint64_t read_flags(enc::reader& r) { return r.uint(); }

} // namespace

// --- handshake --------------------------------------------------------------

void handshake_message::encode(enc::writer& w) const {
  w.uint((peer_address ? 1 : 0) | (relay_address ? 2 : 0));
  w.uint(mode);
  w.buffer(noise);
  if (peer_address) peer_address->encode(w);
  if (relay_address) relay_address->encode(w);
}

handshake_message handshake_message::decode(enc::reader& r) {
  handshake_message m;
  uint64_t flags = read_flags(r);
  m.mode = r.uint();
  m.noise = r.buffer();
  if (flags & 1) m.peer_address = ipv4_address::decode(r);
  if (flags & 2) m.relay_address = ipv4_address::decode(r);
  return m;
}

bool handshake_message::operator==(const handshake_message& o) const {
  return mode == o.mode && noise == o.noise && peer_address == o.peer_address &&
         relay_address == o.relay_address;
}

// --- holepunch --------------------------------------------------------------

void holepunch_message::encode(enc::writer& w) const {
  w.uint(peer_address ? 1 : 0);
  w.uint(mode);
  w.uint(id);
  w.buffer(payload);
  if (peer_address) peer_address->encode(w);
}

holepunch_message holepunch_message::decode(enc::reader& r) {
  holepunch_message m;
  uint64_t flags = read_flags(r);
  m.mode = r.uint();
  m.id = r.uint();
  m.payload = r.buffer();
  if (flags & 1) m.peer_address = ipv4_address::decode(r);
  return m;
}

bool holepunch_message::operator==(const holepunch_message& o) const {
  return mode == o.mode && id == o.id && payload == o.payload && peer_address == o.peer_address;
}

// --- peer record, lookup reply ------------------------------------------------

void peer_record::encode(enc::writer& w) const {
  w.fixed(public_key);
  write_ipv4_array(w, relay_addresses);
}

peer_record peer_record::decode(enc::reader& r) {
  peer_record p;
  p.public_key = r.fixed<32>();
  p.relay_addresses = read_ipv4_array(r);
  return p;
}

bool peer_record::operator==(const peer_record& o) const {
  return public_key == o.public_key && relay_addresses == o.relay_addresses;
}

void lookup_reply::encode(enc::writer& w) const {
  enc::write_array(w, peers, [](enc::writer& w, const peer_record& p) { p.encode(w); });
  w.uint(bump);
}

lookup_reply lookup_reply::decode(enc::reader& r) {
  lookup_reply m;
  // A peer record is at least 33 bytes (key + empty array).
  m.peers = enc::read_array<peer_record>(r, [](enc::reader& r) { return peer_record::decode(r); }, 33);
  // Nodes older than the bump field end here (messages.js:330).
  if (!r.done()) m.bump = r.uint();
  return m;
}

bool lookup_reply::operator==(const lookup_reply& o) const { return peers == o.peers && bump == o.bump; }

bytes encode_lookup_reply(const std::vector<const bytes*>& records, uint64_t bump) {
  enc::writer w;
  w.uint(records.size());
  for (const bytes* rec : records) w.raw(rec->data(), rec->size());
  w.uint(bump);
  return w.take();
}

// --- announce -----------------------------------------------------------------

void announce_message::encode(enc::writer& w) const {
  w.uint((peer ? 1 : 0) | (refresh ? 2 : 0) | (signature ? 4 : 0) | (bump ? 8 : 0));
  if (peer) peer->encode(w);
  if (refresh) w.fixed(*refresh);
  if (signature) w.fixed(*signature);
  if (bump) w.uint(bump);
}

announce_message announce_message::decode(enc::reader& r) {
  announce_message m;
  uint64_t flags = read_flags(r);
  if (flags & 1) m.peer = peer_record::decode(r);
  if (flags & 2) m.refresh = r.fixed<32>();
  if (flags & 4) m.signature = r.fixed<64>();
  if (flags & 8) m.bump = r.uint();
  return m;
}

bool announce_message::operator==(const announce_message& o) const {
  return peer == o.peer && refresh == o.refresh && signature == o.signature && bump == o.bump;
}

// --- mutable --------------------------------------------------------------------

void mutable_signable::encode(enc::writer& w) const {
  w.uint(seq);
  w.buffer(value);
}

void mutable_put_request::encode(enc::writer& w) const {
  w.fixed(public_key);
  w.uint(seq);
  w.buffer(value);
  w.fixed(signature);
}

mutable_put_request mutable_put_request::decode(enc::reader& r) {
  mutable_put_request m;
  m.public_key = r.fixed<32>();
  m.seq = r.uint();
  m.value = r.buffer();
  m.signature = r.fixed<64>();
  return m;
}

bool mutable_put_request::operator==(const mutable_put_request& o) const {
  return public_key == o.public_key && seq == o.seq && value == o.value && signature == o.signature;
}

void mutable_get_response::encode(enc::writer& w) const {
  w.uint(seq);
  w.buffer(value);
  w.fixed(signature);
}

mutable_get_response mutable_get_response::decode(enc::reader& r) {
  mutable_get_response m;
  m.seq = r.uint();
  m.value = r.buffer();
  m.signature = r.fixed<64>();
  return m;
}

bool mutable_get_response::operator==(const mutable_get_response& o) const {
  return seq == o.seq && value == o.value && signature == o.signature;
}

bytes encode_uint_value(uint64_t n) {
  enc::writer w;
  w.uint(n);
  return w.take();
}

uint64_t decode_uint_value(const bytes& b) {
  enc::reader r(b);
  return r.uint();
}

// --- holepunch payload -------------------------------------------------------------

void holepunch_payload::encode(enc::writer& w) const {
  w.uint((connected ? 1 : 0) | (punching ? 2 : 0) | (addresses ? 4 : 0) | (remote_address ? 8 : 0) |
         (token ? 16 : 0) | (remote_token ? 32 : 0));
  w.uint(error);
  w.uint(firewall);
  w.uint(round);
  if (addresses) write_ipv4_array(w, *addresses);
  if (remote_address) remote_address->encode(w);
  if (token) w.fixed(*token);
  if (remote_token) w.fixed(*remote_token);
}

holepunch_payload holepunch_payload::decode(enc::reader& r) {
  holepunch_payload m;
  uint64_t flags = read_flags(r);
  m.error = r.uint();
  m.firewall = r.uint();
  m.round = r.uint();
  m.connected = flags & 1;
  m.punching = flags & 2;
  if (flags & 4) m.addresses = read_ipv4_array(r);
  if (flags & 8) m.remote_address = ipv4_address::decode(r);
  if (flags & 16) m.token = r.fixed<32>();
  if (flags & 32) m.remote_token = r.fixed<32>();
  return m;
}

bool holepunch_payload::operator==(const holepunch_payload& o) const {
  return error == o.error && firewall == o.firewall && round == o.round && connected == o.connected &&
         punching == o.punching && addresses == o.addresses && remote_address == o.remote_address &&
         token == o.token && remote_token == o.remote_token;
}

} // namespace ht::hyperdht
