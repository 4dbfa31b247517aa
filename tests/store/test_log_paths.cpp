#include <catch2/catch.hpp>

#include "actors/store/log_paths.hpp"

using namespace ht::store;

TEST_CASE("client keys are exactly 64 lowercase hex digits", "[unit]") {
  CHECK(is_client_key_hex(std::string(64, 'a')));
  CHECK(is_client_key_hex(std::string(32, '0') + std::string(32, 'f')));
  CHECK_FALSE(is_client_key_hex(""));
  CHECK_FALSE(is_client_key_hex(std::string(63, 'a')));
  CHECK_FALSE(is_client_key_hex(std::string(65, 'a')));
  CHECK_FALSE(is_client_key_hex(std::string(64, 'A')));   // uppercase
  CHECK_FALSE(is_client_key_hex(std::string(62, 'a') + "/."));
  CHECK_FALSE(is_client_key_hex(std::string(61, 'a') + "../"));
  CHECK_FALSE(is_client_key_hex(std::string(63, 'a') + std::string(1, '\0')));
  CHECK_FALSE(is_client_key_hex(std::string(63, 'a') + "g"));
}

TEST_CASE("rejections say why", "[unit]") {
  CHECK(describe_bad_client_key("abc").find("got 3 characters") != std::string::npos);
  CHECK(describe_bad_client_key(std::string(10, 'a') + "X" + std::string(53, 'a'))
          .find("offset 10") != std::string::npos);
}

TEST_CASE("log paths name the generation", "[unit]") {
  std::string k(64, 'b');
  CHECK(log_path("/var/log/ht", k) == "/var/log/ht/" + k + ".log");
  CHECK(log_path("/var/log/ht/", k) == "/var/log/ht/" + k + ".log");
  CHECK(log_path("/var/log/ht", k, 3) == "/var/log/ht/" + k + ".log.3");
  CHECK(log_path("", k) == "./" + k + ".log");
}
