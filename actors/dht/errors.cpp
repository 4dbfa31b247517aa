// dht_error (messages/dht.hpp) as a CAF error category.
#include <caf/all.hpp>

#include "messages/dht.hpp"

namespace ht {

const char* to_string(dht_error e) {
  switch (e) {
    case dht_error::timeout: return "timeout";
    case dht_error::closing: return "closing";
    case dht_error::too_many: return "too many pending requests";
    case dht_error::cancelled: return "cancelled";
    case dht_error::bad_socket: return "no such socket";
  }
  return "unknown";
}

caf::error make_error(dht_error e) {
  return caf::error(static_cast<uint8_t>(e), dht_error_category);
}

std::optional<dht_error> dht_error_of(const caf::error& err) {
  if (!err || err.category() != dht_error_category)
    return std::nullopt;
  if (err.code() < static_cast<uint8_t>(dht_error::timeout)
      || err.code() > static_cast<uint8_t>(dht_error::bad_socket))
    return std::nullopt;
  return static_cast<dht_error>(err.code());
}

std::string describe(const caf::error& err) {
  if (auto e = dht_error_of(err))
    return std::string("dht: ") + to_string(*e);
  return caf::to_string(err);
}

const char* to_string(dht_event::kind k) {
  switch (k) {
    case dht_event::kind::bootstrapped: return "bootstrapped";
    case dht_event::kind::persistent: return "persistent";
    case dht_event::kind::nat: return "nat";
    case dht_event::kind::ephemeral: return "ephemeral";
  }
  return "unknown";
}

} // namespace ht
