#include "actors/connection/close_reason.hpp"

namespace ht {

close_reason udx_close_reason(const std::string& error) {
  if (error.empty())
    return {};
  if (error == "ECONNRESET")
    return {error, "the peer reset the connection"};
  if (error == "ETIMEDOUT")
    return {error, "the peer did not answer in time"};
  if (error == "ECONNABORTED")
    return {error, "the UDP socket went away"};
  if (error == "EADDRINUSE")
    return {error, "the UDX stream id is taken on this socket"};
  return {error, "udx: " + error};
}

close_reason secret_stream_close_reason(const secret_stream::error& e) {
  if (e.code() == secret_stream::errc::incoming_too_large)
    return {"EMSGSIZE", std::string("secret-stream: ") + e.what()};
  return {"EPROTO", std::string("secret-stream: ") + e.what()};
}

} // namespace ht
