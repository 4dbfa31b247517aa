#include "dht/hyperdht/constants.hpp"

namespace ht::hyperdht {

namespace {
key32 dht_namespace(uint64_t cmd) { return noise::namespace_id("hyperswarm/dht", static_cast<uint8_t>(cmd)); }
} // namespace

const key32& ns::announce() {
  static const key32 k = dht_namespace(command::announce);
  return k;
}
const key32& ns::unannounce() {
  static const key32 k = dht_namespace(command::unannounce);
  return k;
}
const key32& ns::mutable_put() {
  static const key32 k = dht_namespace(command::mutable_put);
  return k;
}
const key32& ns::peer_handshake() { return noise::namespaces::peer_handshake(); }
const key32& ns::peer_holepunch() { return noise::namespaces::peer_holepunch(); }
const key32& ns::plugin() {
  static const key32 k = dht_namespace(command::plugin);
  return k;
}

} // namespace ht::hyperdht
