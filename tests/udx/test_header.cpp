#include <catch2/catch.hpp>

#include "dht/udx/header.hpp"

using namespace ht::udx;

TEST_CASE("udx header: round trip with the libudx byte layout", "[unit]") {
  header h;
  h.type = flag_data | flag_end;
  h.data_offset = 0;
  h.stream_id = 0x01020304;
  h.rwnd = 4u << 20;
  h.seq = 0xfffffffe;
  h.ack = 7;
  uint8_t buf[header_size];
  write_header(h, buf);
  // Fixed bytes as libudx writes them: magic, version, type, offset, LE ids.
  CHECK(buf[0] == 255);
  CHECK(buf[1] == 1);
  CHECK(buf[2] == 3);
  CHECK(buf[4] == 0x04);
  CHECK(buf[7] == 0x01);
  CHECK(buf[10] == 0x40); // 4 MiB = 0x00400000 little endian
  auto p = parse_header(buf, sizeof buf);
  REQUIRE(p);
  CHECK(p->type == h.type);
  CHECK(p->stream_id == h.stream_id);
  CHECK(p->rwnd == h.rwnd);
  CHECK(p->seq == h.seq);
  CHECK(p->ack == h.ack);
  CHECK(looks_like_udx(buf, sizeof buf));
  CHECK(peek_stream_id(buf) == 0x01020304);
}

TEST_CASE("udx header: strict validation of bad input", "[unit]") {
  uint8_t buf[32] = {};
  header h;
  h.type = flag_data;
  write_header(h, buf);
  parse_error e;
  CHECK_FALSE(parse_header(buf, 19, &e));
  CHECK(e == parse_error::too_short);
  CHECK_FALSE(looks_like_udx(buf, 19));
  buf[0] = 254;
  CHECK_FALSE(parse_header(buf, 32, &e));
  CHECK(e == parse_error::not_udx);
  CHECK_FALSE(looks_like_udx(buf, 32));
  buf[0] = 255;
  buf[1] = 2;
  CHECK_FALSE(parse_header(buf, 32, &e));
  CHECK(e == parse_error::not_udx);
  buf[1] = 1;
  buf[2] = 0x40;
  CHECK_FALSE(parse_header(buf, 32, &e));
  CHECK(e == parse_error::unknown_flags);
  buf[2] = flag_data;
  buf[3] = 13; // 12 bytes follow the header
  CHECK_FALSE(parse_header(buf, 32, &e));
  CHECK(e == parse_error::bad_offset);
  buf[3] = 12;
  CHECK(parse_header(buf, 32, &e));
  CHECK(e == parse_error::none);
  CHECK(std::string(to_string(parse_error::bad_offset)).find("offset") != std::string::npos);
}

TEST_CASE("udx header: SACK ranges, partial trailing range ignored", "[unit]") {
  uint8_t buf[header_size + 20] = {};
  header h;
  h.type = flag_sack;
  write_header(h, buf);
  put_u32(buf + 20, 5);
  put_u32(buf + 24, 7);
  put_u32(buf + 28, 9);
  put_u32(buf + 32, 12);
  put_u32(buf + 36, 99); // half a range
  auto p = parse_header(buf, sizeof buf);
  REQUIRE(p);
  auto r = parse_sacks(*p, buf, sizeof buf);
  REQUIRE(r.size() == 2);
  CHECK(r[0].start == 5);
  CHECK(r[0].end == 7);
  CHECK(r[1].start == 9);
  CHECK(r[1].end == 12);
  h.type = 0; // no SACK flag: no ranges
  write_header(h, buf);
  CHECK(parse_sacks(*parse_header(buf, sizeof buf), buf, sizeof buf).empty());
  CHECK(seq_diff(1, 0xffffffff) == 2); // wrap-around
}

#include "messages/udx.hpp"

TEST_CASE("udx endpoint: parse and print IPv4/IPv6, reject garbage", "[unit]") {
  auto a = ht::udx_endpoint::parse("127.0.0.1", 4000);
  CHECK(a.family == 4);
  CHECK(a.to_string() == "127.0.0.1:4000");
  auto b = ht::udx_endpoint::parse("::1", 5);
  CHECK(b.family == 6);
  CHECK(b.to_string() == "[::1]:5");
  CHECK(a != b);
  CHECK(a == ht::udx_endpoint::parse("127.0.0.1", 4000));
  CHECK_THROWS_AS(ht::udx_endpoint::parse("localhost", 1), std::invalid_argument);
  CHECK_THROWS_AS(ht::udx_endpoint::parse("1.2.3.256", 1), std::invalid_argument);
}
