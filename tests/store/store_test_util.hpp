#pragma once
// Helpers for the store tests: a per-test temporary folder on the real file
// system (mkdtemp, removed afterwards), file reading and trace lines shaped
// like the ones the server writes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

namespace ht::store::test {

using ht::test::remove_tree;

/// A fresh directory per test, removed afterwards.
class temp_dir : public ht::test::temp_dir {
public:
  temp_dir() : ht::test::temp_dir("ht-store") {}
};

inline bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

/// Splits on '\n'; a last fragment without '\n' is returned in `rest`.
inline std::vector<std::string> split_lines(const std::string& data,
                                            std::string* rest = nullptr) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    auto nl = data.find('\n', pos);
    if (nl == std::string::npos)
      break;
    out.push_back(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (rest)
    *rest = data.substr(pos);
  return out;
}

inline const std::string key_a(64, 'a');
inline const std::string key_b =
  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A trace line as the server formats it; padded to about `size` bytes.
inline std::string trace_line(const std::string& session, int64_t n, size_t size = 0) {
  std::string line = "{\"time\":\"2026-11-24T06:42:57.879Z\",\"userId\":\"bench___dfdd1faa\","
                     "\"traceTimestamp\":\"2026-11-24T06:42:57.876Z\",\"traceSessionId\":\""
                     + session + "\",\"traceNumber\":" + std::to_string(n)
                     + ",\"id\":\"hit\",\"props\":{\"pad\":\"";
  std::string tail = "\"}}";
  if (line.size() + tail.size() < size)
    line.append(size - line.size() - tail.size(), 'x');
  return line + tail;
}

inline std::string note_line(const std::string& text) {
  return "{\"time\":\"2026-11-24T06:42:57.879Z\",\"note\":\"" + text + "\"}";
}

} // namespace ht::store::test
