#pragma once
// The libudx wire header: every UDX datagram starts with these 20 bytes.
//
//   0      magic 255        (tells UDX apart from DHT RPC on a shared socket)
//   1      version 1
//   2      type flags       (DATA END SACK MESSAGE DESTROY HEARTBEAT)
//   3      data offset      (bytes between header and payload: SACK ranges
//                            when only SACK is set, zero padding on MTU probes)
//   4..7   stream id of the receiver (little endian, as all fields)
//   8..11  receive window in bytes the sender still accepts
//   12..15 seq: packet number (one per DATA/END packet, not per byte)
//   16..19 ack: next packet number the sender expects (cumulative)
// SACK ranges are pairs of little-endian [start, end) packet numbers.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ht::udx {

constexpr uint8_t magic_byte = 255;
constexpr uint8_t wire_version = 1;
constexpr size_t header_size = 20;

enum type_flag : uint8_t {
  flag_data = 0x01,
  flag_end = 0x02,
  flag_sack = 0x04,
  flag_message = 0x08,
  flag_destroy = 0x10,
  flag_heartbeat = 0x20,
};
constexpr uint8_t known_flags = 0x3f;

struct header {
  uint8_t type = 0;
  uint8_t data_offset = 0;
  uint32_t stream_id = 0;
  uint32_t rwnd = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
};

enum class parse_error {
  none,
  too_short,      // fewer than 20 bytes
  not_udx,        // wrong magic or version
  unknown_flags,  // type bits libudx v1 does not define
  bad_offset,     // data offset points past the end of the datagram
};

const char* to_string(parse_error e);

/// What the socket uses to demultiplex: 20+ bytes, magic 255, version 1.
/// Everything else on the socket is a DHT RPC (or garbage) datagram.
bool looks_like_udx(const uint8_t* data, size_t size);

/// Reads the stream id of a datagram for which looks_like_udx() holds.
uint32_t peek_stream_id(const uint8_t* data);

/// Strict parse: fails with a reason on anything malformed.
std::optional<header> parse_header(const uint8_t* data, size_t size,
                                   parse_error* err = nullptr);

/// Writes exactly header_size bytes to out.
void write_header(const header& h, uint8_t* out);

struct sack_range {
  uint32_t start = 0; // first packet number received
  uint32_t end = 0;   // one past the last
};

/// libudx puts at most this many SACK ranges into one ack.
constexpr size_t max_sack_ranges = 50;

/// The SACK ranges of a parsed datagram (empty without the SACK flag), at
/// most max_sack_ranges: no libudx peer sends more, and each costs the
/// receiver work. `ignored` (if given) gets the number of complete ranges
/// beyond those. A trailing partial range is ignored, as libudx does.
std::vector<sack_range> parse_sacks(const header& h, const uint8_t* data,
                                    size_t size, size_t* ignored = nullptr);

/// Little-endian helpers shared by the codec and the stream.
inline void put_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
inline uint32_t get_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16
         | uint32_t{p[3]} << 24;
}

/// Packet numbers wrap at 2^32: compare through the signed difference.
inline int32_t seq_diff(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b);
}

} // namespace ht::udx
