#include "actors/server/iso_time.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace ht {

namespace {

// Formatting a calendar date is the expensive part (gmtime_r + snprintf)
// and changes once a second, while a busy server stamps thousands of lines
// per second: each thread keeps the last second it formatted and only
// rewrites the three millisecond digits within it.
struct second_cache {
  int64_t second = INT64_MIN;
  std::string text = "0000-00-00T00:00:00.000Z";
};

void format_second(int64_t secs, std::string& out) {
  auto t = static_cast<time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.000Z",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  out = buf;
}

} // namespace

std::string iso8601_ms(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  thread_local second_cache cache;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto millis = static_cast<int>(ms - secs * 1000);
  if (secs != cache.second) {
    format_second(secs, cache.text);
    cache.second = secs;
  }
  // "....:SS.mmmZ": the milliseconds are the three characters before 'Z'.
  auto& s = cache.text;
  auto pos = s.size() - 4;
  s[pos] = static_cast<char>('0' + millis / 100);
  s[pos + 1] = static_cast<char>('0' + millis / 10 % 10);
  s[pos + 2] = static_cast<char>('0' + millis % 10);
  return s;
}

} // namespace ht
