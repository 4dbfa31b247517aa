#pragma once
// A listening server's answer to PEER_HANDSHAKE (hyperdht/lib/server.js
// _onpeerhandshake / _addHandshake, 216-514), sans-IO: the Noise IK
// responder, the firewall hook, the payload we answer with, and the
// deduplication of resent handshakes.
//
//  - Dedupe: a client resends the same Noise message (dht-rpc retries, and
//    up to 2 relays in parallel). Entries are keyed by the noise bytes and
//    kept 10 s (HANDSHAKE_CLEAR_WAIT); a resend gets the first answer again
//    and never a second connection.
//  - Firewall: called with the client's public key (known once the first
//    Noise message is read) before anything about the client is kept; a
//    refusal is silent on the wire (server.js: hs.firewalled -> null), and
//    only the noise bytes are remembered so resends cost no more DH.
//  - Payload (server.js:376-390): error NONE if the client sent version 1
//    with udx, ABORTED without udx, VERSION_MISMATCH for another version;
//    firewall OPEN with our public address, else UNKNOWN; holepunch null
//    (we do not holepunch yet: a JS client then connects straight to the
//    server address, connect.js rule "relayed and no holepunch relays");
//    addresses4 [public address] + shared local addresses; udx {id: the raw
//    stream id we offer}; secretStream {}.
//  - Bounds (ours): at most max_entries live entries and at most
//    max_per_source per client host (peerAddress, or the sender when the
//    handshake came direct); beyond, handshakes are refused without reply.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dht/hyperdht/decision.hpp"
#include "dht/noise/peer_handshake.hpp"
#include "dht/rpc/node.hpp"

namespace ht::hyperdht {

struct server_handshake_config {
  std::chrono::milliseconds dedupe_for{10000};  // HANDSHAKE_CLEAR_WAIT
  size_t max_entries = 4096;
  size_t max_per_source = 32;
};

/// What the server advertises in its payload.
struct server_address_info {
  std::optional<ipv4_address> public_address;  // dht.remoteAddress(): firewall OPEN
  std::vector<ipv4_address> local_addresses;   // shared LAN addresses (after the public one)
};

/// A handshake we answered with error NONE: the caller opens the raw stream
/// `local_stream_id` (passively: the first packet from the client fixes its
/// address) and starts secret-stream from `result`.
struct accepted_handshake {
  key32 remote_public_key{};
  noise::peer_handshake_result result;
  noise::noise_payload remote_payload;
  uint32_t local_stream_id = 0;
  uint32_t remote_stream_id = 0;   // the client's udx.id
  ipv4_address client_address;     // peerAddress, or the sender when direct
  bool direct = false;             // came straight from the client (no relay)
};

enum class handshake_verdict : uint8_t {
  accepted,       // new: reply + accepted
  resent,         // same noise as a live entry: the same reply again (or none)
  refused,        // firewall hook said no: no reply
  bad_noise,      // Noise message does not decrypt/decode (forged, wrong server key)
  error_reply,    // answered with VERSION_MISMATCH / ABORTED, no stream
  flood,          // per-source or global cap reached: no reply
  wrong_mode,     // not FROM_CLIENT / FROM_RELAY / FROM_SECOND_RELAY
};
const char* to_string(handshake_verdict v);

struct handshake_answer {
  handshake_verdict verdict = handshake_verdict::bad_noise;
  std::optional<bytes> reply;                 // the reply noise, if any
  std::optional<accepted_handshake> accepted; // only for verdict accepted
  std::string reason;                         // for the log
};

class server_handshake {
public:
  using time_point = rpc::time_point;
  /// true: refuse (hyperdht's firewall(remotePublicKey, remotePayload, clientAddress)).
  using firewall_fn =
    std::function<bool(const key32& remote_public_key, const noise::noise_payload&, const ipv4_address& client)>;

  server_handshake(const noise::keypair& kp, server_handshake_config cfg = {});

  void set_firewall(firewall_fn fn) { firewall_ = std::move(fn); }

  /// Answers one handshake handed over by the router. `from` is the sender
  /// of the request; `fresh_stream_id` is the raw stream id to offer if this
  /// handshake is accepted (the caller picks one unused on its socket).
  handshake_answer on_handshake(const handshake_for_server& hs, const ipv4_address& from,
                                const server_address_info& addrs, uint32_t fresh_stream_id,
                                time_point now);

  /// Drops entries older than dedupe_for.
  void expire(time_point now);
  size_t size() const { return entries_.size(); }

private:
  struct entry {
    time_point created;
    std::optional<bytes> reply;
    std::array<uint8_t, 4> source{};
  };
  void remember(const bytes& noise, std::optional<bytes> reply, const std::array<uint8_t, 4>& source,
                time_point now);

  noise::keypair kp_;
  server_handshake_config cfg_;
  firewall_fn firewall_;
  std::map<bytes, entry> entries_;
  std::deque<std::pair<time_point, bytes>> order_;  // insertion order = expiry order
  std::map<std::array<uint8_t, 4>, size_t> per_source_;
};

} // namespace ht::hyperdht
