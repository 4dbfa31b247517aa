// bench_wire [seconds-per-figure]
// Encrypt+decrypt throughput of the secret-stream core for 64 B, 512 B and
// 64 KiB messages, and handshakes per second (hyperdht PEER_HANDSHAKE IK and
// secret-stream's own XX), next to the same figures for the JS stack
// (tests/interop/wire-bench.js, @hyperswarm/secret-stream on sodium-native)
// measured in the same run, printed as ratios.
//
// Same work on both sides: one stream writes, its peer parses and decrypts,
// in memory, no sockets. The C++ side moves bytes in batches of 64 messages,
// like the JS streams do between event-loop turns.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "dht/noise/peer_handshake.hpp"
#include "dht/secret_stream/secret_stream.hpp"

using namespace ht;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_per_figure = 1.0;

std::pair<noise::peer_handshake_result, noise::peer_handshake_result> ik_pair(const noise::keypair& a,
                                                                              const noise::keypair& b) {
  noise::peer_handshake i(a, b.public_key), r(b, std::nullopt);
  r.recv(i.send(noise::noise_payload{}));
  i.recv(r.send(noise::noise_payload{}));
  return {i.final(), r.final()};
}

struct rate {
  double messages_per_second;
  double bytes_per_second;
};

rate throughput(size_t size) {
  auto [fi, fr] = ik_pair(noise::keypair::random(), noise::keypair::random());
  secret_stream::stream a(fi.keys), b(fr.keys);
  b.feed(a.take_transmit());
  a.feed(b.take_transmit());
  std::vector<uint8_t> msg(size, 0x61), wire;
  size_t received = 0, bytes = 0;
  auto start = clock_type::now();
  auto until = start + std::chrono::duration<double>(seconds_per_figure);
  while (clock_type::now() < until) {
    for (int i = 0; i < 64; ++i) a.write(msg);
    wire.clear();
    a.take_transmit(wire);
    b.feed(wire);
    while (auto m = b.poll_message()) {
      ++received;
      bytes += m->size();
    }
  }
  double s = std::chrono::duration<double>(clock_type::now() - start).count();
  if (bytes != received * size) std::abort();
  return {received / s, bytes / s};
}

double ik_handshakes() {
  noise::keypair a = noise::keypair::random(), b = noise::keypair::random();
  size_t n = 0;
  auto start = clock_type::now();
  auto until = start + std::chrono::duration<double>(seconds_per_figure);
  while (clock_type::now() < until) {
    auto r = ik_pair(a, b);
    if (r.first.keys.tx != r.second.keys.rx) std::abort();
    ++n;
  }
  return n / std::chrono::duration<double>(clock_type::now() - start).count();
}

double xx_handshakes() {
  noise::keypair ka = noise::keypair::random(), kb = noise::keypair::random();
  size_t n = 0;
  auto start = clock_type::now();
  auto until = start + std::chrono::duration<double>(seconds_per_figure);
  while (clock_type::now() < until) {
    secret_stream::stream a(true, ka), b(false, kb);
    while (a.has_transmit() || b.has_transmit()) {
      if (a.has_transmit()) b.feed(a.take_transmit());
      if (b.has_transmit()) a.feed(b.take_transmit());
    }
    if (!a.is_established() || !b.is_established()) std::abort();
    ++n;
  }
  return n / std::chrono::duration<double>(clock_type::now() - start).count();
}

nlohmann::json run_js() {
  std::string cmd = "cd '" HT_WIRE_INTEROP_DIR "' && node wire-bench.js " + std::to_string(seconds_per_figure);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return nullptr;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0 || out.empty()) return nullptr;
  return nlohmann::json::parse(out, nullptr, false);
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1) seconds_per_figure = std::atof(argv[1]);
  if (seconds_per_figure <= 0) seconds_per_figure = 1.0;

  std::printf("wire bench: %.1f s per figure; JS = @hyperswarm/secret-stream %s\n", seconds_per_figure,
              "(sodium-native), same machine, same run");
  nlohmann::json js = run_js();
  if (js.is_discarded() || js.is_null()) {
    std::fprintf(stderr, "JS reference failed (is `npm ci` done in tests/interop?)\n");
    js = nlohmann::json::object();
  }

  std::printf("\n%-28s %14s %14s %14s %8s\n", "figure", "C++", "JS", "unit", "C++/JS");
  for (size_t size : {size_t{64}, size_t{512}, size_t{65536}}) {
    rate r = throughput(size);
    double jm = js.contains("throughput") ? js["throughput"][std::to_string(size)]["messagesPerSecond"].get<double>() : 0;
    double jb = js.contains("throughput") ? js["throughput"][std::to_string(size)]["bytesPerSecond"].get<double>() : 0;
    std::string name = "encrypt+decrypt " + std::to_string(size) + " B";
    std::printf("%-28s %14.0f %14.0f %14s %8.2f\n", name.c_str(), r.messages_per_second, jm, "msg/s",
                jm > 0 ? r.messages_per_second / jm : 0.0);
    std::printf("%-28s %14.1f %14.1f %14s %8.2f\n", "", r.bytes_per_second / 1e6, jb / 1e6, "MB/s",
                jb > 0 ? r.bytes_per_second / jb : 0.0);
  }
  double ik = ik_handshakes();
  double jik = js.value("ikHandshakesPerSecond", 0.0);
  std::printf("%-28s %14.0f %14.0f %14s %8.2f\n", "handshake IK (hyperdht)", ik, jik, "hs/s", jik > 0 ? ik / jik : 0.0);
  double xx = xx_handshakes();
  double jxx = js.value("xxHandshakesPerSecond", 0.0);
  std::printf("%-28s %14.0f %14.0f %14s %8.2f\n", "handshake XX (secret-stream)", xx, jxx, "hs/s",
              jxx > 0 ? xx / jxx : 0.0);
  return 0;
}
