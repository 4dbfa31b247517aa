#pragma once
// How a secret-stream-over-UDX connection reports its end: the stable code
// and the human text of closed(id, code, text) (docs/connection.md).
#include <string>

#include "dht/secret_stream/error.hpp"

namespace ht {

struct close_reason {
  std::string code;  // empty: a clean close
  std::string text;
};

/// The UDX stream closed; `error` is its errno name (empty: clean).
close_reason udx_close_reason(const std::string& error);

/// The secret-stream core rejected the peer's bytes: EMSGSIZE for a message
/// above the incoming limit, EPROTO for anything else (bad header, failed
/// authentication, a frame that cannot be one).
close_reason secret_stream_close_reason(const secret_stream::error& e);

} // namespace ht
