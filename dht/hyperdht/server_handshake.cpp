#include "dht/hyperdht/server_handshake.hpp"

#include <exception>

namespace ht::hyperdht {

const char* to_string(handshake_verdict v) {
  switch (v) {
    case handshake_verdict::accepted: return "accepted";
    case handshake_verdict::resent: return "resent";
    case handshake_verdict::refused: return "refused by the firewall";
    case handshake_verdict::bad_noise: return "bad handshake";
    case handshake_verdict::error_reply: return "answered with an error";
    case handshake_verdict::flood: return "too many handshakes";
    case handshake_verdict::wrong_mode: return "not a handshake for a server";
  }
  return "?";
}

server_handshake::server_handshake(const noise::keypair& kp, server_handshake_config cfg)
  : kp_(kp), cfg_(cfg) {}

void server_handshake::expire(time_point now) {
  while (!order_.empty() && now - order_.front().first >= cfg_.dedupe_for) {
    auto it = entries_.find(order_.front().second);
    if (it != entries_.end() && it->second.created == order_.front().first) {
      auto src = per_source_.find(it->second.source);
      if (src != per_source_.end() && --src->second == 0)
        per_source_.erase(src);
      entries_.erase(it);
    }
    order_.pop_front();
  }
}

void server_handshake::remember(const bytes& noise, std::optional<bytes> reply,
                                const std::array<uint8_t, 4>& source, time_point now) {
  entries_[noise] = entry{now, std::move(reply), source};
  order_.emplace_back(now, noise);
  ++per_source_[source];
}

handshake_answer server_handshake::on_handshake(const handshake_for_server& hs, const ipv4_address& from,
                                                const server_address_info& addrs, uint32_t fresh_stream_id,
                                                time_point now) {
  handshake_answer ans;
  // The router hands every mode to a local server; only these three carry a
  // client's first message (the others are answers travelling back).
  if (hs.mode != mode::from_client && hs.mode != mode::from_relay && hs.mode != mode::from_second_relay) {
    ans.verdict = handshake_verdict::wrong_mode;
    ans.reason = "handshake mode " + std::to_string(hs.mode) + " is not for a server";
    return ans;
  }
  expire(now);

  if (auto it = entries_.find(hs.noise); it != entries_.end()) {
    ans.verdict = handshake_verdict::resent;
    ans.reply = it->second.reply;
    ans.reason = "resent handshake";
    return ans;
  }

  const bool direct = !hs.peer_address;
  const ipv4_address client = hs.peer_address ? *hs.peer_address : from;

  // Bounds before any crypto: a flood costs us a map lookup per message.
  if (entries_.size() >= cfg_.max_entries) {
    ans.verdict = handshake_verdict::flood;
    ans.reason = "too many handshakes in the last " + std::to_string(cfg_.dedupe_for.count()) + " ms";
    return ans;
  }
  if (auto src = per_source_.find(client.host); src != per_source_.end() && src->second >= cfg_.max_per_source) {
    ans.verdict = handshake_verdict::flood;
    ans.reason = "too many handshakes from " + client.host_string();
    return ans;
  }

  noise::peer_handshake responder(kp_, std::nullopt);
  noise::noise_payload remote;
  try {
    remote = responder.recv(hs.noise);
  } catch (const std::exception& e) {
    // Forged, replayed to another key, or garbage. Remember the bytes so a
    // resend is refused without another DH (and counts toward the source cap).
    remember(hs.noise, std::nullopt, client.host, now);
    ans.verdict = handshake_verdict::bad_noise;
    ans.reason = std::string("bad handshake: ") + e.what();
    return ans;
  }
  const key32 remote_key = *responder.remote_public_key();

  if (firewall_ && firewall_(remote_key, remote, client)) {
    remember(hs.noise, std::nullopt, client.host, now);
    ans.verdict = handshake_verdict::refused;
    ans.reason = "client key not allowed";
    return ans;
  }

  // A udx id beyond 32 bits names no stream: treated as no udx at all.
  const bool udx_ok = remote.udx && remote.udx->id <= 0xffffffffu;
  const uint64_t error = remote.version == 1 ? (udx_ok ? noise::error_none : noise::error_aborted)
                                             : noise::error_version_mismatch;

  noise::noise_payload mine;
  mine.error = error;
  mine.firewall = addrs.public_address ? noise::firewall_open : noise::firewall_unknown;
  // holepunch stays null: we cannot holepunch yet (see header).
  if (addrs.public_address)
    mine.addresses4.push_back(*addrs.public_address);
  for (const auto& a : addrs.local_addresses)
    mine.addresses4.push_back(a);
  mine.udx = noise::udx_info{1, false, error == noise::error_none ? fresh_stream_id : 0u, 0};
  mine.secret_stream = noise::secret_stream_info{};

  bytes reply;
  try {
    reply = responder.send(mine);
  } catch (const std::exception& e) {
    remember(hs.noise, std::nullopt, client.host, now);
    ans.verdict = handshake_verdict::bad_noise;
    ans.reason = std::string("handshake reply failed: ") + e.what();
    return ans;
  }
  remember(hs.noise, reply, client.host, now);
  ans.reply = std::move(reply);

  if (error != noise::error_none) {
    ans.verdict = handshake_verdict::error_reply;
    ans.reason = error == noise::error_aborted ? "client offered no udx stream"
                                               : "client payload version " + std::to_string(remote.version);
    return ans;
  }

  accepted_handshake acc;
  acc.remote_public_key = remote_key;
  acc.result = responder.final();
  acc.remote_payload = remote;
  acc.local_stream_id = fresh_stream_id;
  acc.remote_stream_id = static_cast<uint32_t>(remote.udx->id);
  acc.client_address = client;
  acc.direct = direct;
  ans.accepted = std::move(acc);
  ans.verdict = handshake_verdict::accepted;
  return ans;
}

} // namespace ht::hyperdht
