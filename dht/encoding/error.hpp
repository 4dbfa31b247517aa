#pragma once
// Typed decode/encode errors of the compact-encoding layer. Every read is
// bounds-checked and reports one of these codes instead of touching memory it
// does not own.
#include <stdexcept>
#include <string>

namespace ht::enc {

enum class errc {
  out_of_bounds,   // the input ends before the value does
  non_minimal,     // a varint that a canonical encoder would have written shorter
  out_of_range,    // a value outside what the codec (and JS peers) can carry
  invalid_value,   // e.g. a bool byte other than 0/1, a bad address string
  too_big,         // an array longer than compact-encoding's 0x100000 limit
  trailing_bytes,  // decode_all found bytes after the value
};

const char* to_string(errc c);

/// An exception carrying a typed code, for every layer of the wire stack:
/// each layer has its own `errc` enum with a `to_string` next to it (found
/// by argument-dependent lookup) and aliases `coded_error<errc>` as `error`.
template <class Errc>
class coded_error : public std::runtime_error {
public:
  coded_error(Errc code, const std::string& what)
    : std::runtime_error(std::string(to_string(code)) + ": " + what), code_(code) {}
  Errc code() const noexcept { return code_; }

private:
  Errc code_;
};

using error = coded_error<errc>;

} // namespace ht::enc
