// libFuzzer entry point for the dht-rpc datagram decoder (built with
// -DHT_FUZZ=ON and clang; see tests/rpc/codec.cmake, docs/dht.md).
// Seed corpus: the "hex" datagrams of tests/rpc/vectors.json.
#include <cstdlib>

#include "rpc_message_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (ht::rpc_fuzz::message(data, size) == ht::rpc_fuzz::outcome::mismatch) std::abort();
  return 0;
}
