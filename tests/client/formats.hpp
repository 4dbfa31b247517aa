#pragma once
// Format checks for values that differ between runs (no std::regex: its
// libstdc++ internals trip -Wmaybe-uninitialized under the sanitizers).
#include <cctype>
#include <string>

namespace ht::test {

inline bool all_digits(const std::string& s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
  return true;
}

/// "2026-11-24T07:02:06.123Z": Date#toISOString for years 0000-9999.
inline bool is_iso_ms(const std::string& s) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != shape.size())
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != shape[i])
      return false;
  }
  return true;
}

} // namespace ht::test
