#pragma once
// compact-encoding (npm `compact-encoding` 3.x) as a writer/reader pair.
//
// writer appends to a byte vector; reader walks a borrowed byte range and
// throws ht::enc::error on anything a canonical JS encoder would not produce:
// truncation, non-minimal varints, values above 2^53-1 (JS numbers cannot
// carry them, so neither side may put them on the wire), bool bytes other
// than 0/1 and arrays longer than compact-encoding's own limit.
//
// Message types implement
//     void encode(ht::enc::writer&) const;
//     static T decode(ht::enc::reader&);
// and use ht::enc::encode(v) / ht::enc::decode<T>(bytes) at the top level.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dht/encoding/error.hpp"

namespace ht::enc {

using bytes = std::vector<uint8_t>;

/// The largest integer JS peers can represent exactly (Number.MAX_SAFE_INTEGER).
constexpr uint64_t max_safe_uint = (uint64_t{1} << 53) - 1;
/// The range of compact-encoding's zig-zag `int` (twice the magnitude must fit a safe uint).
constexpr int64_t max_safe_int = (int64_t{1} << 52) - 1;
constexpr int64_t min_safe_int = -(int64_t{1} << 52);
/// compact-encoding's array decoder refuses longer arrays.
constexpr uint64_t max_array_length = 0x100000;

/// Size in bytes of n as a compact-encoding varint (1, 3, 5 or 9).
constexpr size_t uint_size(uint64_t n) {
  return n <= 0xfc ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

class writer {
public:
  writer() = default;
  explicit writer(size_t reserve) { buf_.reserve(reserve); }
  /// Writes into `reuse`'s storage (its contents dropped): no allocation
  /// when it is already large enough.
  explicit writer(bytes&& reuse) : buf_(std::move(reuse)) { buf_.clear(); }

  void uint8(uint8_t n) { buf_.push_back(n); }
  void uint16(uint16_t n);
  void uint24(uint32_t n);  // throws out_of_range if n >= 2^24
  void uint32(uint32_t n);
  void uint64(uint64_t n);  // throws out_of_range above max_safe_uint
  /// Varint: <=0xfc in one byte, else 0xfd+u16, 0xfe+u32, 0xff+u64 (LE).
  void uint(uint64_t n);    // throws out_of_range above max_safe_uint
  /// compact-encoding's `int`: zig-zag (0, -1, 1, -2, ...) then the uint varint.
  void sint(int64_t n);  // throws out_of_range outside [min_safe_int, max_safe_int]
  void boolean(bool b) { buf_.push_back(b ? 1 : 0); }
  /// Length-prefixed bytes.
  void buffer(const uint8_t* p, size_t n);
  void buffer(const bytes& b) { buffer(b.data(), b.size()); }
  /// compact-encoding's optional buffer: an absent (or empty) buffer is a 0 length.
  void optional_buffer(const std::optional<bytes>& b);
  /// Length-prefixed UTF-8 (the bytes are written as given).
  void utf8(std::string_view s);
  /// Raw bytes of a fixed size (fixed32, fixed64...), no prefix.
  template <size_t N>
  void fixed(const std::array<uint8_t, N>& a) { raw(a.data(), N); }
  void raw(const uint8_t* p, size_t n) { buf_.insert(buf_.end(), p, p + n); }

  const bytes& data() const { return buf_; }
  bytes take() { return std::move(buf_); }
  size_t size() const { return buf_.size(); }

private:
  bytes buf_;
};

class reader {
public:
  reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  explicit reader(const bytes& b) : reader(b.data(), b.size()) {}
  // A reader borrows its bytes: reading a temporary would dangle.
  explicit reader(bytes&&) = delete;

  uint8_t uint8();
  uint16_t uint16();
  uint32_t uint24();
  uint32_t uint32();
  uint64_t uint64();       // rejects values above max_safe_uint
  uint64_t uint();         // minimal varints only, <= max_safe_uint
  int64_t sint();          // compact-encoding's zig-zag `int`
  bool boolean();          // exactly 0 or 1
  bytes buffer();          // length-prefixed
  std::optional<bytes> optional_buffer();  // length 0 -> nullopt
  std::string utf8();      // length-prefixed, must be valid UTF-8
  template <size_t N>
  std::array<uint8_t, N> fixed() {
    std::array<uint8_t, N> a{};
    const uint8_t* p = take(N, "fixed");
    for (size_t i = 0; i < N; ++i) a[i] = p[i];
    return a;
  }
  /// compact-encoding's `raw`: everything that is left.
  bytes rest() {
    bytes b(p_, end_);
    p_ = end_;
    return b;
  }
  /// Borrows n raw bytes (valid while the underlying buffer lives).
  const uint8_t* take(size_t n, const char* what);
  /// Reads an array length and checks it against the limit and the bytes left
  /// (each element needs at least min_element_size bytes), so a hostile
  /// length cannot make us reserve memory before failing.
  size_t array_length(size_t min_element_size = 1);

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }
  /// Throws trailing_bytes unless everything was consumed.
  void expect_end() const;

private:
  const uint8_t* p_;
  const uint8_t* end_;
};

/// The flags word hyperdht and dht-rpc messages start with: a uint whose bit
/// i says optional field i follows. decode() checks the bits against what the
/// message defines; whether unknown bits are an error is the message's call
/// (hyperdht ignores them so that it can add fields, see noise_payload).
class flags {
public:
  flags() = default;
  explicit flags(uint64_t bits) : bits_(bits) {}
  flags& set(unsigned bit, bool on = true) {
    if (on) bits_ |= uint64_t{1} << bit;
    else bits_ &= ~(uint64_t{1} << bit);
    return *this;
  }
  bool has(unsigned bit) const { return (bits_ >> bit) & 1; }
  uint64_t bits() const { return bits_; }
  void encode(writer& w) const { w.uint(bits_); }
  static flags decode(reader& r, uint64_t known, bool reject_unknown) {
    flags f(r.uint());
    if (reject_unknown && (f.bits_ & ~known))
      throw error(errc::invalid_value, "unknown flag bits " + std::to_string(f.bits_ & ~known));
    return f;
  }

private:
  uint64_t bits_ = 0;
};

/// Array helpers: write a length then each element with f(writer&, const T&).
template <class T, class F>
void write_array(writer& w, const std::vector<T>& v, F f) {
  w.uint(v.size());
  for (const auto& x : v) f(w, x);
}

template <class T, class F>
std::vector<T> read_array(reader& r, F f, size_t min_element_size = 1) {
  size_t n = r.array_length(min_element_size);
  std::vector<T> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) v.push_back(f(r));
  return v;
}

template <class T>
bytes encode(const T& value) {
  writer w;
  value.encode(w);
  return w.take();
}

/// Decodes a whole buffer; trailing bytes are an error.
template <class T>
T decode(const uint8_t* p, size_t n) {
  reader r(p, n);
  T v = T::decode(r);
  r.expect_end();
  return v;
}
template <class T>
T decode(const bytes& b) { return decode<T>(b.data(), b.size()); }

/// True if [p, p+n) is well-formed UTF-8 (no overlongs, no surrogates).
bool valid_utf8(const uint8_t* p, size_t n);

} // namespace ht::enc
