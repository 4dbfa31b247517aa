#include "dht/udx/header.hpp"

namespace ht::udx {

const char* to_string(parse_error e) {
  switch (e) {
    case parse_error::none: return "none";
    case parse_error::too_short: return "datagram shorter than the 20-byte UDX header";
    case parse_error::not_udx: return "wrong UDX magic byte or version";
    case parse_error::unknown_flags: return "undefined UDX type flags";
    case parse_error::bad_offset: return "UDX data offset past the end of the datagram";
  }
  return "unknown";
}

bool looks_like_udx(const uint8_t* data, size_t size) {
  return size >= header_size && data[0] == magic_byte && data[1] == wire_version;
}

uint32_t peek_stream_id(const uint8_t* data) { return get_u32(data + 4); }

std::optional<header> parse_header(const uint8_t* data, size_t size,
                                   parse_error* err) {
  auto fail = [&](parse_error e) -> std::optional<header> {
    if (err)
      *err = e;
    return std::nullopt;
  };
  if (size < header_size)
    return fail(parse_error::too_short);
  if (data[0] != magic_byte || data[1] != wire_version)
    return fail(parse_error::not_udx);
  header h;
  h.type = data[2];
  if ((h.type & ~known_flags) != 0)
    return fail(parse_error::unknown_flags);
  h.data_offset = data[3];
  if (h.data_offset > size - header_size)
    return fail(parse_error::bad_offset);
  h.stream_id = get_u32(data + 4);
  h.rwnd = get_u32(data + 8);
  h.seq = get_u32(data + 12);
  h.ack = get_u32(data + 16);
  if (err)
    *err = parse_error::none;
  return h;
}

void write_header(const header& h, uint8_t* out) {
  out[0] = magic_byte;
  out[1] = wire_version;
  out[2] = h.type;
  out[3] = h.data_offset;
  put_u32(out + 4, h.stream_id);
  put_u32(out + 8, h.rwnd);
  put_u32(out + 12, h.seq);
  put_u32(out + 16, h.ack);
}

std::vector<sack_range> parse_sacks(const header& h, const uint8_t* data,
                                    size_t size, size_t* ignored) {
  std::vector<sack_range> out;
  if (ignored)
    *ignored = 0;
  if (!(h.type & flag_sack) || size < header_size)
    return out;
  size_t payload = size - header_size;
  // libudx: a non-zero offset bounds the SACK area, otherwise it is the
  // whole payload.
  size_t area = (h.data_offset > 0 && h.data_offset < payload) ? h.data_offset
                                                               : payload;
  const uint8_t* p = data + header_size;
  size_t complete = area / 8;
  size_t take = complete < max_sack_ranges ? complete : max_sack_ranges;
  out.reserve(take);
  for (size_t i = 0; i < take; ++i)
    out.push_back(sack_range{get_u32(p + 8 * i), get_u32(p + 8 * i + 4)});
  if (ignored)
    *ignored = complete - take;
  return out;
}

} // namespace ht::udx
