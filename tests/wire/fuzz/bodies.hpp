#pragma once
// One fuzz body per decoder, shared by the libFuzzer targets (HT_FUZZ=ON) and
// the seeded mutation test of the unit suite. Each body accepts any bytes:
// typed errors are the expected outcome for bad input; anything else (a
// crash, a sanitizer report, a foreign exception) is a bug.
#include <cstdint>
#include <cstring>
#include <optional>

#include "dht/encoding/compact.hpp"
#include "dht/encoding/net.hpp"
#include "dht/noise/peer_handshake.hpp"
#include "dht/secret_stream/secret_stream.hpp"

namespace ht::wire_fuzz {

/// Reads a value sequence driven by the input itself: the first byte picks
/// codecs, the rest is decoded.
inline void compact(const uint8_t* data, size_t n) {
  if (n == 0) return;
  enc::reader r(data + 1, n - 1);
  uint8_t plan = data[0];
  try {
    for (int i = 0; i < 16 && !r.done(); ++i) {
      switch ((plan + i * 7) % 13) {
        case 0: r.uint(); break;
        case 1: r.uint8(); break;
        case 2: r.uint16(); break;
        case 3: r.uint24(); break;
        case 4: r.uint32(); break;
        case 5: r.uint64(); break;
        case 6: r.boolean(); break;
        case 7: r.buffer(); break;
        case 8: r.utf8(); break;
        case 12: r.sint(); break;
        case 9: enc::read_array<uint64_t>(r, [](enc::reader& r) { return r.uint(); }); break;
        case 10: enc::ipv4_address::decode(r); break;
        case 11: enc::ipv6_address::decode(r); break;
      }
    }
  } catch (const enc::error&) {
  }
}

inline void payload(const uint8_t* data, size_t n) {
  try {
    noise::noise_payload p = noise::decode_noise_payload(data, n);
    // What decodes must re-encode to a fixed point (versions inside are
    // normalised to 1 by the encoder, as in hyperdht).
    if (p.version == 1) {
      enc::bytes once = enc::encode(p);
      enc::bytes twice = enc::encode(noise::decode_noise_payload(once.data(), once.size()));
      if (once != twice) __builtin_trap();
    }
  } catch (const enc::error&) {
  }
}

/// Fixed identities so the fuzzer can reach the later handshake steps.
struct identities {
  noise::keypair client = noise::keypair::from_seed(noise::key32{1});
  noise::keypair server = noise::keypair::from_seed(noise::key32{2});
};
inline const identities& ids() {
  static const identities i;
  return i;
}

/// The responder's first recv and the initiator's recv of the reply.
inline void handshake(const uint8_t* data, size_t n) {
  try {
    noise::peer_handshake b(ids().server, std::nullopt);
    b.recv(data, n);
    b.send(noise::noise_payload{});
  } catch (const noise::error&) {
  }
  try {
    noise::peer_handshake a(ids().client, ids().server.public_key);
    a.send(noise::noise_payload{});
    a.recv(data, n);
  } catch (const noise::error&) {
  }
}

/// Feeds the input to an established responder stream, in two splits.
inline void stream(const uint8_t* data, size_t n) {
  noise::handshake_result r;
  r.initiator = false;
  std::memset(r.tx.data(), 3, 32);
  std::memset(r.rx.data(), 4, 32);
  std::memset(r.hash.data(), 5, 64);
  for (size_t split : {n, n / 2}) {
    secret_stream::stream s(r);
    try {
      s.feed(data, split);
      s.feed(data + split, n - split);
    } catch (const secret_stream::error&) {
    }
    while (s.poll_message()) {
    }
    s.unbox(data, n);
  }
  // And to a stream still in its own handshake.
  secret_stream::stream x(false, ids().server);
  try {
    x.feed(data, n);
  } catch (const secret_stream::error&) {
  }
}

} // namespace ht::wire_fuzz
