// libFuzzer entry point for the handshake decoder (see bodies.hpp, docs/wire.md).
#include "bodies.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ht::wire_fuzz::handshake(data, size);
  return 0;
}
