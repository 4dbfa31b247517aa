#pragma once
// Byte strings that cross actor boundaries. CAF 0.17 needs an inspect()
// overload (or an unsafe-type declaration) for every message element type;
// std::vector<uint8_t> and std::string are inspectable out of the box.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ht {

using bytes = std::vector<uint8_t>;

/// An Ed25519 public key: the identity of every peer.
using public_key = std::array<uint8_t, 32>;

std::string to_hex(const uint8_t* data, size_t size);
inline std::string to_hex(const bytes& b) { return to_hex(b.data(), b.size()); }
inline std::string to_hex(const public_key& k) { return to_hex(k.data(), k.size()); }

/// The value of one hex digit (either case), or -1.
int hex_digit_value(char c);

/// Parses lowercase or uppercase hex; false on odd length or a non-hex digit.
bool from_hex(const std::string& hex, bytes& out);

} // namespace ht
