#pragma once
// One fuzz step for the dht-rpc datagram decoder, shared by the seeded
// mutation test (test_codec_fuzz.cpp) and the libFuzzer target
// (fuzz_rpc_message.cpp): decode; anything that decodes must re-encode to
// exactly the same bytes (the codec accepts canonical datagrams only) and
// decode again to the same value. Rejections must be typed ht::enc::error.
#include <cstddef>
#include <cstdint>

#include "dht/rpc/message.hpp"

namespace ht::rpc_fuzz {

enum class outcome { rejected, accepted, mismatch };

inline outcome message(const uint8_t* data, size_t size) {
  rpc::message m;
  try {
    m = rpc::decode(data, size);
  } catch (const enc::error&) {
    return outcome::rejected;
  }
  rpc::bytes again = std::visit([](const auto& v) { return rpc::encode(v); }, m);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) return outcome::mismatch;
  if (!(rpc::decode(again.data(), again.size()) == m)) return outcome::mismatch;
  return outcome::accepted;
}

} // namespace ht::rpc_fuzz
