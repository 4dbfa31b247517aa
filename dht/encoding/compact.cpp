#include "dht/encoding/compact.hpp"

#include <string>

namespace ht::enc {

const char* to_string(errc c) {
  switch (c) {
    case errc::out_of_bounds: return "out of bounds";
    case errc::non_minimal: return "non-minimal encoding";
    case errc::out_of_range: return "value out of range";
    case errc::invalid_value: return "invalid value";
    case errc::too_big: return "array too big";
    case errc::trailing_bytes: return "trailing bytes";
  }
  return "unknown";
}

// --- writer ------------------------------------------------------------------

void writer::uint16(uint16_t n) {
  buf_.push_back(static_cast<uint8_t>(n));
  buf_.push_back(static_cast<uint8_t>(n >> 8));
}

void writer::uint24(uint32_t n) {
  if (n > 0xffffff) throw error(errc::out_of_range, "uint24 value " + std::to_string(n));
  buf_.push_back(static_cast<uint8_t>(n));
  buf_.push_back(static_cast<uint8_t>(n >> 8));
  buf_.push_back(static_cast<uint8_t>(n >> 16));
}

void writer::uint32(uint32_t n) {
  for (int i = 0; i < 4; ++i) buf_.push_back(static_cast<uint8_t>(n >> (8 * i)));
}

void writer::uint64(uint64_t n) {
  if (n > max_safe_uint) throw error(errc::out_of_range, "uint64 above 2^53-1");
  for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<uint8_t>(n >> (8 * i)));
}

void writer::uint(uint64_t n) {
  if (n <= 0xfc) {
    buf_.push_back(static_cast<uint8_t>(n));
  } else if (n <= 0xffff) {
    buf_.push_back(0xfd);
    uint16(static_cast<uint16_t>(n));
  } else if (n <= 0xffffffff) {
    buf_.push_back(0xfe);
    uint32(static_cast<uint32_t>(n));
  } else {
    if (n > max_safe_uint) throw error(errc::out_of_range, "uint above 2^53-1");
    buf_.push_back(0xff);
    uint64(n);
  }
}

void writer::sint(int64_t n) {
  if (n < min_safe_int || n > max_safe_int) throw error(errc::out_of_range, "int " + std::to_string(n));
  uint(n < 0 ? static_cast<uint64_t>(-n) * 2 - 1 : static_cast<uint64_t>(n) * 2);
}

void writer::buffer(const uint8_t* p, size_t n) {
  uint(n);
  raw(p, n);
}

void writer::optional_buffer(const std::optional<bytes>& b) {
  if (b) buffer(*b);
  else buf_.push_back(0);
}

void writer::utf8(std::string_view s) {
  buffer(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// --- reader ------------------------------------------------------------------

const uint8_t* reader::take(size_t n, const char* what) {
  if (remaining() < n)
    throw error(errc::out_of_bounds, std::string(what) + " needs " + std::to_string(n) +
                                       " bytes, " + std::to_string(remaining()) + " left");
  const uint8_t* p = p_;
  p_ += n;
  return p;
}

uint8_t reader::uint8() { return *take(1, "uint8"); }

uint16_t reader::uint16() {
  const uint8_t* p = take(2, "uint16");
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint32_t reader::uint24() {
  const uint8_t* p = take(3, "uint24");
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16;
}

uint32_t reader::uint32() {
  const uint8_t* p = take(4, "uint32");
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

uint64_t reader::uint64() {
  const uint8_t* p = take(8, "uint64");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | p[i];
  if (n > max_safe_uint) throw error(errc::out_of_range, "uint64 above 2^53-1");
  return n;
}

uint64_t reader::uint() {
  uint8_t a = uint8();
  if (a <= 0xfc) return a;
  // A canonical encoder always picks the shortest form; accepting longer
  // ones would give one value several encodings (and several signatures).
  if (a == 0xfd) {
    uint16_t n = uint16();
    if (n <= 0xfc) throw error(errc::non_minimal, "varint 0xfd prefix for " + std::to_string(n));
    return n;
  }
  if (a == 0xfe) {
    uint32_t n = uint32();
    if (n <= 0xffff) throw error(errc::non_minimal, "varint 0xfe prefix for " + std::to_string(n));
    return n;
  }
  uint64_t n = uint64();
  if (n <= 0xffffffff) throw error(errc::non_minimal, "varint 0xff prefix for " + std::to_string(n));
  return n;
}

int64_t reader::sint() {
  uint64_t z = uint();
  return (z & 1) ? -static_cast<int64_t>((z + 1) / 2) : static_cast<int64_t>(z / 2);
}

bool reader::boolean() {
  uint8_t b = uint8();
  if (b > 1) throw error(errc::invalid_value, "bool byte " + std::to_string(b));
  return b == 1;
}

bytes reader::buffer() {
  uint64_t n = uint();
  if (n > remaining())
    throw error(errc::out_of_bounds, "buffer of " + std::to_string(n) + " bytes, " +
                                       std::to_string(remaining()) + " left");
  const uint8_t* p = take(static_cast<size_t>(n), "buffer");
  return bytes(p, p + n);
}

std::optional<bytes> reader::optional_buffer() {
  bytes b = buffer();
  if (b.empty()) return std::nullopt;
  return b;
}

std::string reader::utf8() {
  uint64_t n = uint();
  if (n > remaining())
    throw error(errc::out_of_bounds, "string of " + std::to_string(n) + " bytes, " +
                                       std::to_string(remaining()) + " left");
  const uint8_t* p = take(static_cast<size_t>(n), "string");
  if (!valid_utf8(p, static_cast<size_t>(n))) throw error(errc::invalid_value, "string is not UTF-8");
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

size_t reader::array_length(size_t min_element_size) {
  uint64_t n = uint();
  if (n > max_array_length) throw error(errc::too_big, "array of " + std::to_string(n));
  if (min_element_size > 0 && n > remaining() / min_element_size)
    throw error(errc::out_of_bounds, "array of " + std::to_string(n) + " elements, " +
                                       std::to_string(remaining()) + " bytes left");
  return static_cast<size_t>(n);
}

void reader::expect_end() const {
  if (!done()) throw error(errc::trailing_bytes, std::to_string(remaining()) + " bytes after the value");
}

bool valid_utf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
    else return false;
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

} // namespace ht::enc
