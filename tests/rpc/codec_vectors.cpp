#include "codec_vectors.hpp"


namespace ht::rpc_test {

const nlohmann::json& vectors() {
  static const nlohmann::json v = test::read_vector_file(HT_RPC_VECTORS);
  return v;
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
