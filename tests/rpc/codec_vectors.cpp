#include "codec_vectors.hpp"

#include <fstream>

namespace ht::rpc_test {

const nlohmann::json& vectors() {
  static const nlohmann::json v = [] {
    std::ifstream f(HT_RPC_VECTORS);
    if (!f) throw std::runtime_error("cannot open " HT_RPC_VECTORS);
    return nlohmann::json::parse(f);
  }();
  return v;
}

bytes unhex(const std::string& h) {
  if (h.size() % 2) throw std::runtime_error("odd hex length");
  auto nib = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    throw std::runtime_error("bad hex digit");
  };
  bytes b(h.size() / 2);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(nib(h[2 * i]) << 4 | nib(h[2 * i + 1]));
  return b;
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

enc::ipv4_address address(const nlohmann::json& j) {
  return enc::ipv4_address::parse(j.at("host").get<std::string>(), j.at("port").get<uint16_t>());
}

namespace {
std::optional<rpc::key32> key_or_null(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return unhex_array<32>(j.get<std::string>());
}
std::optional<bytes> bytes_or_null(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return unhex(j.get<std::string>());
}
} // namespace

rpc::request request_fields(const nlohmann::json& v) {
  rpc::request q;
  q.tid = v.at("tid").get<uint16_t>();
  q.to = address(v.at("to"));
  q.id = key_or_null(v.at("id"));
  q.token = key_or_null(v.at("token"));
  q.internal = v.at("internal").get<bool>();
  q.command = v.at("command").get<uint64_t>();
  q.target = key_or_null(v.at("target"));
  q.value = bytes_or_null(v.at("value"));
  return q;
}

rpc::response response_fields(const nlohmann::json& v) {
  rpc::response s;
  s.tid = v.at("tid").get<uint16_t>();
  s.to = address(v.at("to"));
  s.id = key_or_null(v.at("id"));
  s.token = key_or_null(v.at("token"));
  for (const auto& n : v.at("closer_nodes")) s.closer_nodes.push_back(address(n));
  s.error = v.at("error").get<uint64_t>();
  s.value = bytes_or_null(v.at("value"));
  return s;
}

std::vector<bytes> all_datagrams() {
  std::vector<bytes> out;
  for (const auto& v : vectors().at("requests")) out.push_back(unhex(v.at("hex").get<std::string>()));
  for (const auto& v : vectors().at("responses")) out.push_back(unhex(v.at("hex").get<std::string>()));
  return out;
}

} // namespace ht::rpc_test
