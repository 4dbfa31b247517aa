#include "vectors.hpp"


namespace ht::hyperdht_test {

const json& vectors() {
  static const json v = test::read_vector_file(HT_HYPERDHT_VECTORS);
  return v;
}

std::array<uint8_t, 32> fill32(uint8_t n) {
  std::array<uint8_t, 32> a{};
  a.fill(n);
  return a;
}

enc::ipv4_address ip(const std::string& host, uint16_t port) { return enc::ipv4_address::parse(host, port); }

std::optional<enc::ipv4_address> addr(const json& j) {
  if (j.is_null()) return std::nullopt;
  return ip(j.at("host").get<std::string>(), j.at("port").get<uint16_t>());
}

namespace {
template <size_t N>
std::optional<std::array<uint8_t, N>> opt_arr(const json& j) {
  if (j.is_null()) return std::nullopt;
  return arr<N>(j.get<std::string>());
}
std::vector<enc::ipv4_address> addrs(const json& j) {
  std::vector<enc::ipv4_address> v;
  for (const auto& a : j) v.push_back(*addr(a));
  return v;
}
} // namespace

hyperdht::peer_record peer(const json& j) {
  return {arr<32>(j.at("publicKey")), addrs(j.at("relayAddresses"))};
}

hyperdht::handshake_message handshake(const json& j) {
  return {j.at("mode").get<uint64_t>(), unhex(j.at("noise")), addr(j.at("peerAddress")), addr(j.at("relayAddress"))};
}

hyperdht::holepunch_message holepunch(const json& j) {
  return {j.at("mode").get<uint64_t>(), j.at("id").get<uint64_t>(), unhex(j.at("payload")), addr(j.at("peerAddress"))};
}

hyperdht::lookup_reply lookup(const json& j) {
  hyperdht::lookup_reply r;
  for (const auto& p : j.at("peers")) r.peers.push_back(peer(p));
  r.bump = j.at("bump").get<uint64_t>();
  return r;
}

hyperdht::announce_message announce(const json& j) {
  hyperdht::announce_message a;
  if (!j.at("peer").is_null()) a.peer = peer(j.at("peer"));
  a.refresh = opt_arr<32>(j.at("refresh"));
  a.signature = opt_arr<64>(j.at("signature"));
  a.bump = j.at("bump").get<uint64_t>();
  return a;
}

hyperdht::mutable_put_request mutable_put(const json& j) {
  return {arr<32>(j.at("publicKey")), j.at("seq").get<uint64_t>(), unhex(j.at("value")), arr<64>(j.at("signature"))};
}

hyperdht::mutable_get_response mutable_get(const json& j) {
  return {j.at("seq").get<uint64_t>(), unhex(j.at("value")), arr<64>(j.at("signature"))};
}

hyperdht::holepunch_payload holepunch_payload_json(const json& j) {
  hyperdht::holepunch_payload p;
  p.error = j.at("error").get<uint64_t>();
  p.firewall = j.at("firewall").get<uint64_t>();
  p.round = j.at("round").get<uint64_t>();
  p.connected = j.at("connected").get<bool>();
  p.punching = j.at("punching").get<bool>();
  if (!j.at("addresses").is_null()) p.addresses = addrs(j.at("addresses"));
  p.remote_address = addr(j.at("remoteAddress"));
  p.token = opt_arr<32>(j.at("token"));
  p.remote_token = opt_arr<32>(j.at("remoteToken"));
  return p;
}

rpc::incoming_request request(uint64_t command, std::optional<std::array<uint8_t, 32>> target,
                              std::optional<bytes> value, enc::ipv4_address from,
                              std::optional<std::array<uint8_t, 32>> token, bool token_valid) {
  rpc::incoming_request r;
  r.from = from;
  r.to = ip("10.0.0.1", 49739);
  r.tid = 7;
  r.command = command;
  r.target = target;
  r.value = std::move(value);
  r.token = token;
  r.token_valid = token && token_valid;
  return r;
}

} // namespace ht::hyperdht_test
