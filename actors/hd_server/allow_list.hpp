#pragma once
// --allow: the client public keys a server accepts. Given inline (hex keys
// separated by commas or whitespace) or as a file with one key a line ('#'
// starts a comment). Empty: every key is allowed.
#include <set>
#include <stdexcept>
#include <string>

#include "messages/bytes.hpp"

namespace ht {

struct allow_list_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parses `spec`: an existing file's path, else an inline list. Throws
/// allow_list_error naming the bad entry (and line) for anything that is not
/// 64 hex digits, and for an empty file (an empty list would allow all).
std::set<public_key> parse_allow_list(const std::string& spec);

} // namespace ht
