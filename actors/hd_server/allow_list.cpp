#include "actors/hd_server/allow_list.hpp"

#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace ht {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

public_key parse_key(const std::string& s, const std::string& where) {
  public_key k{};
  if (s.size() != 64)
    throw allow_list_error("--allow: " + where + "'" + s + "' is not a public key (64 hex digits)");
  for (size_t i = 0; i < 32; ++i) {
    int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      throw allow_list_error("--allow: " + where + "'" + s + "' is not a public key (64 hex digits)");
    k[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return k;
}

} // namespace

std::set<public_key> parse_allow_list(const std::string& spec) {
  std::set<public_key> keys;
  struct stat sb;
  if (::stat(spec.c_str(), &sb) == 0 && S_ISREG(sb.st_mode)) {
    std::ifstream in(spec);
    if (!in)
      throw allow_list_error("--allow: cannot read " + spec);
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (auto hash = line.find('#'); hash != std::string::npos)
        line.erase(hash);
      std::istringstream words(line);
      std::string w;
      while (words >> w)
        keys.insert(parse_key(w, spec + ":" + std::to_string(n) + ": "));
    }
    if (keys.empty())
      throw allow_list_error("--allow: " + spec + " lists no key");
    return keys;
  }
  std::string s = spec;
  for (auto& c : s)
    if (c == ',')
      c = ' ';
  std::istringstream words(s);
  std::string w;
  while (words >> w)
    keys.insert(parse_key(w, ""));
  if (keys.empty())
    throw allow_list_error("--allow: no key given");
  return keys;
}

} // namespace ht
