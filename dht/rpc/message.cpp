// dht-rpc 6.27.0 datagrams: lib/io.js _encodeRequest/Request.decode
// (requests) and _sendReply/decodeReply (responses). docs/dht.md "Wire
// format" lists every field with its source line.
#include "dht/rpc/message.hpp"

#include <string>

#include "dht/noise/crypto.hpp"

namespace ht::rpc {

namespace {

using enc::errc;
using enc::error;
using enc::reader;
using enc::writer;

// Flag bits, in the order their fields follow the `to` address.
namespace request_flag {
constexpr unsigned id = 0, token = 1, internal = 2, target = 3, value = 4;
}
namespace response_flag {
constexpr unsigned id = 0, token = 1, closer_nodes = 2, error = 3, value = 4;
}
// JS computes the flags from exactly these five bits (io.js:501-506,
// 534-539); anything else is not a datagram a dht-rpc 6 node sent.
constexpr uint64_t known_flags = 0x1f;

void write_key(writer& w, const std::optional<key32>& k) {
  if (k) w.fixed(*k);
}

std::optional<key32> read_key_if(reader& r, const enc::flags& f, unsigned bit) {
  if (!f.has(bit)) return std::nullopt;
  return r.fixed<32>();
}

void write_value(writer& w, const std::optional<bytes>& v) {
  if (v) w.buffer(*v);
}

request decode_request(reader& r) {
  request q;
  auto f = enc::flags::decode(r, known_flags, true);
  q.tid = r.uint16();
  q.to = ipv4_address::decode(r);
  q.id = read_key_if(r, f, request_flag::id);
  q.token = read_key_if(r, f, request_flag::token);
  q.internal = f.has(request_flag::internal);
  q.command = r.uint();
  q.target = read_key_if(r, f, request_flag::target);
  // A present value may be empty: JS tests the Buffer's truthiness, and an
  // empty Buffer is truthy (io.js:530, 539).
  if (f.has(request_flag::value)) q.value = r.buffer();
  return q;
}

response decode_response(reader& r) {
  response s;
  auto f = enc::flags::decode(r, known_flags, true);
  s.tid = r.uint16();
  s.to = ipv4_address::decode(r);
  s.id = read_key_if(r, f, response_flag::id);
  s.token = read_key_if(r, f, response_flag::token);
  if (f.has(response_flag::closer_nodes)) {
    s.closer_nodes = enc::read_array<ipv4_address>(
        r, [](reader& rr) { return ipv4_address::decode(rr); }, ipv4_address::encoded_size);
    // JS sets flag 4 only for a non-empty list (io.js:504); an empty one
    // would not survive re-encoding, so it is not canonical.
    if (s.closer_nodes.empty())
      throw error(errc::invalid_value, "closer nodes flag with an empty list");
  }
  if (f.has(response_flag::error)) {
    s.error = r.uint();
    // Likewise flag 8 means error > 0 (io.js:505).
    if (s.error == 0) throw error(errc::invalid_value, "error flag with error code 0");
  }
  if (f.has(response_flag::value)) s.value = r.buffer();
  return s;
}

} // namespace

bool request::operator==(const request& o) const {
  return tid == o.tid && to == o.to && id == o.id && token == o.token &&
         internal == o.internal && command == o.command && target == o.target &&
         value == o.value;
}

bool response::operator==(const response& o) const {
  return tid == o.tid && to == o.to && id == o.id && token == o.token &&
         closer_nodes == o.closer_nodes && error == o.error && value == o.value;
}

namespace {

size_t request_capacity(const request& q) {
  return 1 + 1 + 2 + 6 + 32 * 3 + 9 + (q.value ? 9 + q.value->size() : 0);
}

void write_request(writer& w, const request& q) {
  enc::flags f;
  f.set(request_flag::id, q.id.has_value())
      .set(request_flag::token, q.token.has_value())
      .set(request_flag::internal, q.internal)
      .set(request_flag::target, q.target.has_value())
      .set(request_flag::value, q.value.has_value());
  w.uint8(request_type);
  f.encode(w);
  w.uint16(q.tid);
  q.to.encode(w);
  write_key(w, q.id);
  write_key(w, q.token);
  w.uint(q.command);
  write_key(w, q.target);
  write_value(w, q.value);
}

size_t response_capacity(const response& s) {
  return 1 + 1 + 2 + 6 + 32 * 2 + 9 + s.closer_nodes.size() * ipv4_address::encoded_size + 9 +
         (s.value ? 9 + s.value->size() : 0);
}

void write_response(writer& w, const response& s) {
  enc::flags f;
  f.set(response_flag::id, s.id.has_value())
      .set(response_flag::token, s.token.has_value())
      .set(response_flag::closer_nodes, !s.closer_nodes.empty())
      .set(response_flag::error, s.error != 0)
      .set(response_flag::value, s.value.has_value());
  w.uint8(response_type);
  f.encode(w);
  w.uint16(s.tid);
  s.to.encode(w);
  write_key(w, s.id);
  write_key(w, s.token);
  if (!s.closer_nodes.empty())
    enc::write_array(w, s.closer_nodes, [](writer& ww, const ipv4_address& a) { a.encode(ww); });
  if (s.error != 0) w.uint(s.error);
  write_value(w, s.value);
}

} // namespace

bytes encode(const request& q) {
  writer w(request_capacity(q));
  write_request(w, q);
  return w.take();
}

bytes encode(const response& s) {
  writer w(response_capacity(s));
  write_response(w, s);
  return w.take();
}

void encode(const request& q, bytes& out) {
  out.reserve(request_capacity(q));
  writer w(std::move(out));
  write_request(w, q);
  out = w.take();
}

void encode(const response& s, bytes& out) {
  out.reserve(response_capacity(s));
  writer w(std::move(out));
  write_response(w, s);
  out = w.take();
}

message decode(const uint8_t* data, size_t size) {
  reader r(data, size);
  uint8_t type = r.uint8();
  message m;
  if (type == request_type) m = decode_request(r);
  else if (type == response_type) m = decode_response(r);
  else throw error(errc::invalid_value, "unknown datagram type " + std::to_string(type));
  // JS ignores what follows the last field (io.js:380-411, 608-625); no JS
  // encoder writes anything there.
  r.expect_end();
  return m;
}

key32 node_id(const ipv4_address& addr) {
  writer w(ipv4_address::encoded_size);
  addr.encode(w);
  key32 id{};
  noise::blake2b(id.data(), id.size(), w.data().data(), w.size());
  return id;
}

} // namespace ht::rpc
