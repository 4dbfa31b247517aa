#pragma once
// tests/hyperdht/vectors.json (the output of tests/interop/hyperdht-vectors.js)
// and the JSON <-> struct helpers the hyperdht tests share.
#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dht/hyperdht/messages.hpp"
#include "dht/rpc/node.hpp"
#include "support/vector_file.hpp"

namespace ht::hyperdht_test {

using bytes = std::vector<uint8_t>;
using json = nlohmann::json;

const json& vectors();
using test::hex;
using test::unhex;
/// Hex of exactly N bytes.
template <size_t N>
std::array<uint8_t, N> arr(const std::string& h) { return test::unhex_array<N>(h); }
/// Seed byte n repeated: the keys the JS script derives (b4a.alloc(32, n)).
std::array<uint8_t, 32> fill32(uint8_t n);

std::optional<enc::ipv4_address> addr(const json& j);  // null -> nullopt
hyperdht::peer_record peer(const json& j);
hyperdht::handshake_message handshake(const json& j);
hyperdht::holepunch_message holepunch(const json& j);
hyperdht::lookup_reply lookup(const json& j);
hyperdht::announce_message announce(const json& j);
hyperdht::mutable_put_request mutable_put(const json& j);
hyperdht::mutable_get_response mutable_get(const json& j);
hyperdht::holepunch_payload holepunch_payload_json(const json& j);

/// A dht-rpc request as ht::rpc::node would hand it to the hyperdht layer.
rpc::incoming_request request(uint64_t command, std::optional<std::array<uint8_t, 32>> target,
                              std::optional<bytes> value, enc::ipv4_address from,
                              std::optional<std::array<uint8_t, 32>> token = std::nullopt,
                              bool token_valid = true);
enc::ipv4_address ip(const std::string& host, uint16_t port);

} // namespace ht::hyperdht_test
