#pragma once
// File names of the store. The only client-controlled part of a path is the
// client key, and it reaches a path only after is_client_key_hex() accepted
// it: exactly 64 lowercase hex digits, so no '/', '..' or NUL can get in.
#include <cstdint>
#include <string>

namespace ht::store {

/// True iff `hex` is exactly 64 characters of [0-9a-f].
bool is_client_key_hex(const std::string& hex);

/// The reason is_client_key_hex() rejected `hex`, for error messages.
std::string describe_bad_client_key(const std::string& hex);

/// `<folder>/<hex>.log` for generation 0, `<folder>/<hex>.log.<n>` after n
/// rotations. Precondition: is_client_key_hex(hex).
std::string log_path(const std::string& folder, const std::string& hex,
                     uint32_t generation = 0);

} // namespace ht::store
