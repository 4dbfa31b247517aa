#pragma once
// The server's Ed25519 key pair, kept in keys.dat in the JS server's format:
//   {"publicKey":"<64 hex>","secretKey":"<128 hex>"}
// created on first start (mode 0600), reused after. A file that exists but
// cannot be read or parsed is an error: never silently replaced, since a new
// key would be a new server address.
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "messages/bytes.hpp"

namespace ht {

struct key_pair {
  public_key public_key_bytes{};
  std::array<uint8_t, 64> secret_key{}; // libsodium layout: seed || public key
};

class key_file_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A fresh key pair from libsodium.
key_pair generate_key_pair();

/// Parses the JSON text of a key file; throws key_file_error saying what is
/// wrong (not JSON, missing field, wrong length, not hex, keys that do not
/// belong together).
key_pair parse_key_file(const std::string& text);

/// The JSON text of a key file, as the JS server writes it.
std::string format_key_file(const key_pair& kp);

/// Loads `path`, or creates it with a new key pair (mode 0600) if it does
/// not exist. `created` reports which. Throws key_file_error with the path
/// and reason on any failure.
key_pair load_or_create_key_file(const std::string& path, bool* created = nullptr);

} // namespace ht
