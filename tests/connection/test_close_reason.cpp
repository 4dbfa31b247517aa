// The codes a connection reports in closed(id, code, text).
#include <catch2/catch.hpp>

#include "actors/connection/close_reason.hpp"

using namespace ht;

TEST_CASE("connection close reasons: UDX errors keep their errno names", "[unit]") {
  CHECK(udx_close_reason("").code.empty());
  CHECK(udx_close_reason("").text.empty());
  CHECK(udx_close_reason("ECONNRESET").code == "ECONNRESET");
  CHECK(udx_close_reason("ETIMEDOUT").code == "ETIMEDOUT");
  CHECK(udx_close_reason("EADDRINUSE").code == "EADDRINUSE");
  CHECK(udx_close_reason("EWHATEVER").code == "EWHATEVER");
  CHECK_FALSE(udx_close_reason("ETIMEDOUT").text.empty());
}

TEST_CASE("connection close reasons: secret-stream errors", "[unit]") {
  using secret_stream::errc;
  auto big = secret_stream_close_reason(secret_stream::error(errc::incoming_too_large, "2000 > 1000"));
  CHECK(big.code == "EMSGSIZE");
  CHECK(big.text.find("2000 > 1000") != std::string::npos);
  for (auto c : {errc::decrypt_failed, errc::bad_stream_id, errc::invalid_header, errc::frame_too_short})
    CHECK(secret_stream_close_reason(secret_stream::error(c, "x")).code == "EPROTO");
}
