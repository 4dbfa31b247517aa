#pragma once
// Access to tests/rpc/vectors.json, the output of tests/interop/rpc-vectors.js
// (dht-rpc 6.27.0's own encoder, decoders, ids, tokens and nat-sampler).
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dht/rpc/message.hpp"
#include "support/vector_file.hpp"

namespace ht::rpc_test {

using bytes = std::vector<uint8_t>;

const nlohmann::json& vectors();
using test::hex;
using test::unhex;
using test::unhex_array;

enc::ipv4_address address(const nlohmann::json& j);  // {"host": "a.b.c.d", "port": n}
/// The fields of a vector (as JS decoded them) as our message types.
rpc::request request_fields(const nlohmann::json& v);
rpc::response response_fields(const nlohmann::json& v);
/// Every request and response datagram of the vectors (mutation seeds).
std::vector<bytes> all_datagrams();

} // namespace ht::rpc_test
