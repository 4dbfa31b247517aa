#include "dht/hyperdht/client_connect.hpp"

#include <algorithm>
#include <exception>

#include "dht/hyperdht/address_class.hpp"
#include "dht/hyperdht/signing.hpp"

namespace ht::hyperdht {

const char* to_code(connect_error e) {
  switch (e) {
    case connect_error::peer_not_found: return "PEER_NOT_FOUND";
    case connect_error::peer_connection_failed: return "PEER_CONNECTION_FAILED";
    case connect_error::server_incompatible: return "SERVER_INCOMPATIBLE";
    case connect_error::server_error: return "SERVER_ERROR";
    case connect_error::holepunch_aborted: return "HOLEPUNCH_ABORTED";
    case connect_error::cannot_holepunch: return "CANNOT_HOLEPUNCH";
    case connect_error::handshake_invalid: return "HANDSHAKE_INVALID";
    case connect_error::query_failed: return "QUERY_FAILED";
  }
  return "UNKNOWN";
}

namespace {

std::string show(const enc::ipv4_address& a) {
  return a.host_string() + ":" + std::to_string(a.port);
}

} // namespace

client_connect::client_connect(const noise::keypair& our_keys, const key32& server_public_key,
                               uint32_t our_udx_id, time_point now, client_connect_config cfg)
  : keys_(our_keys), server_pk_(server_public_key), target_(hash32(server_public_key)),
    udx_id_(our_udx_id), cfg_(std::move(cfg)), deadline_(now + cfg_.handshake_timeout) {
  if (cfg_.max_in_flight == 0) cfg_.max_in_flight = 1;
}

client_connect::~client_connect() = default;

void client_connect::on_find_peer_reply(const rpc::reply& r) {
  if (state_ != state::finding) return;
  ++stats_.find_peer_replies;
  // mapFindPeer: only replies whose value decodes as a peer record count.
  if (!r.value) return;
  try {
    (void)decode_value<peer_record>(*r.value);
  } catch (const std::exception&) {
    return;
  }
  ++stats_.records;
  // One handshake per node (a query reports each node once; guard anyway).
  auto same = [&](const enc::ipv4_address& a) { return a == r.from; };
  if (std::any_of(tried_.begin(), tried_.end(), same) ||
      std::any_of(queued_.begin(), queued_.end(), same))
    return;
  if (queued_.size() >= cfg_.max_queued_nodes) return;
  queued_.push_back(r.from);
  pump();
}

void client_connect::on_find_peer_done(const std::optional<std::string>& error) {
  if (state_ != state::finding || query_done_) return;
  query_done_ = true;
  // A query that failed as a whole before any node was tried ends the
  // connect with its error (connect.js: maybeDestroyEncryptedSocket(c, err)).
  // dht-rpc's "too few nodes responded" on a query that found records is
  // not fatal: the handshakes decide.
  if (error && tried_.empty() && queued_.empty()) {
    fail(connect_error::query_failed, *error);
    return;
  }
  maybe_exhausted();
}

void client_connect::pump() {
  while (state_ == state::finding && in_flight_.size() < cfg_.max_in_flight && !queued_.empty()) {
    auto to = queued_.front();
    queued_.pop_front();
    start_attempt(to);
  }
}

void client_connect::start_attempt(const enc::ipv4_address& to) {
  if (!hs_) {
    // Our first Noise message carries the payload connect.js builds
    // (connectThroughNode): version 1, error NONE, our firewall (UNKNOWN:
    // we do not claim to be reachable), no holepunch, addresses4, udx with
    // our stream id, secretStream {}.
    noise::handshake::options o;
    o.ephemeral = cfg_.fixed_ephemeral;
    hs_ = std::make_unique<noise::peer_handshake>(keys_, server_pk_, o);
    noise::noise_payload p;
    p.error = noise::error_none;
    p.firewall = noise::firewall_unknown;
    p.addresses4 = cfg_.our_addresses4;
    p.udx = noise::udx_info{};
    p.udx->id = udx_id_;
    p.secret_stream = noise::secret_stream_info{};
    request_noise_ = hs_->send(p);
    ++generation_;
  }
  handshake_message m;
  m.mode = mode::from_client;
  m.noise = request_noise_;
  enc::writer w;
  m.encode(w);

  send_handshake s;
  s.attempt = next_attempt_++;
  s.request.to = to;
  s.request.command = command::peer_handshake;
  s.request.target = target_;
  s.request.value = w.take();
  tried_.push_back(to);
  in_flight_.push_back({s.attempt, to, generation_});
  ++stats_.attempts;
  actions_.emplace_back(std::move(s));
}

void client_connect::on_handshake_reply(uint64_t attempt, const rpc::reply& r, time_point now) {
  auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                         [&](const attempt_info& a) { return a.id == attempt; });
  if (it == in_flight_.end()) return;
  attempt_info a = *it;
  in_flight_.erase(it);
  if (state_ != state::finding) return;

  // router.js peerHandshake: the reply must be a REPLY with noise, from
  // the very node we asked. Anything else ends this attempt only.
  std::optional<handshake_message> hs;
  if (r.value && r.error == 0) {
    try {
      hs = decode_value<handshake_message>(*r.value);
    } catch (const std::exception&) {
    }
  }
  if (!hs || hs->mode != mode::reply || !(r.from == a.to)) {
    ++stats_.bad_replies;
    pump();
    maybe_exhausted();
    return;
  }
  if (a.generation != generation_) {
    // Answers a handshake a bad reply already killed.
    ++stats_.stale_replies;
    pump();
    maybe_exhausted();
    return;
  }
  won(*hs, r, a, now);
}

void client_connect::on_handshake_failed(uint64_t attempt, const std::string&) {
  auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                         [&](const attempt_info& a) { return a.id == attempt; });
  if (it == in_flight_.end()) return;
  in_flight_.erase(it);
  ++stats_.failed_requests;
  pump();
  maybe_exhausted();
}

void client_connect::won(const handshake_message& hs, const rpc::reply& r, const attempt_info& a,
                         time_point now) {
  noise::noise_payload payload;
  try {
    payload = hs_->recv(hs.noise);
  } catch (const std::exception&) {
    // Not the server's answer to our message (a forged or mangled noise).
    // hyperdht's NoiseWrap is dead after this and every later reply fails
    // too; we start a fresh handshake for the nodes still to try instead,
    // so one bad relay cannot sink the connect.
    ++stats_.bad_replies;
    hs_.reset();
    request_noise_.clear();
    pump();
    maybe_exhausted();
    return;
  }
  if (payload.version != 1) {
    fail(connect_error::server_incompatible,
         "server payload version " + std::to_string(payload.version));
    return;
  }
  if (payload.error != noise::error_none) {
    fail(connect_error::server_error, "server answered error " + std::to_string(payload.error));
    return;
  }
  if (!payload.udx) {
    fail(connect_error::server_error, "Server did not send UDX data");
    return;
  }
  if (payload.udx->id > UINT32_MAX) {
    fail(connect_error::server_error, "server's UDX id does not fit 32 bits");
    return;
  }

  open_stream o;
  o.handshake = hs_->final();
  o.remote_udx_id = static_cast<uint32_t>(payload.udx->id);
  o.relayed = hs.peer_address.has_value();
  o.relay_address = a.to;
  o.server_address = hs.peer_address ? *hs.peer_address : a.to;
  o.client_address = r.to;
  o.payload = std::move(payload);
  winner_ = std::move(o);
  hs_.reset();
  in_flight_.clear();  // later replies are ignored
  queued_.clear();
  actions_.emplace_back(cancel_query{});
  choose_route(now);
}

void client_connect::choose_route(time_point now) {
  const auto& w = *winner_;
  // Rule 1: the server's packets already reached us.
  if (early_packet_from_) return finish_stream(*early_packet_from_, 1);
  // Rule 2: the node we asked is the server itself.
  if (!w.relayed) return finish_stream(w.relay_address, 2);

  const auto& p = w.payload;
  bool holepunchable = p.holepunch && !p.holepunch->relays.empty();
  // Rule 3: an OPEN server, or one that offers no way to holepunch.
  if (p.firewall == noise::firewall_open || !holepunchable) {
    for (const auto& addr : p.addresses4)
      if (!is_bogon_ipv4(addr)) return finish_stream(addr, 3);
    return finish_stream(w.server_address, 3);
  }
  // Rule 5: the server is behind the same NAT (or on this host).
  if (w.client_address.host == w.server_address.host) {
    std::vector<enc::ipv4_address> candidates;
    for (const auto& addr : p.addresses4)
      if (!is_reserved_ipv4(addr)) candidates.push_back(addr);
    if (!candidates.empty()) {
      const auto* best = match_address(cfg_.local_addresses, candidates);
      lan_target_ = best ? *best : candidates.front();
      lan_holepunchable_ = holepunchable;
      state_ = state::lan;
      deadline_ = now + cfg_.lan_timeout;
      actions_.emplace_back(lan_ping{lan_target_});
      return;
    }
  }
  // Rule 6: holepunching. Not implemented yet: this is where a holepuncher
  // (PEER_HOLEPUNCH rounds through payload.holepunch.relays) would start.
  fail(connect_error::holepunch_aborted,
       "the server needs holepunching (server " + show(w.server_address) +
         "), which this client does not do yet");
}

void client_connect::on_lan_ping(bool answered) {
  if (state_ != state::lan) return;
  if (answered) return finish_stream(lan_target_, 5);
  fail(connect_error::holepunch_aborted,
       "LAN ping to " + show(lan_target_) + " failed" +
         (lan_holepunchable_ ? " and holepunching is not supported yet" : ""));
}

void client_connect::on_server_packet(const enc::ipv4_address& from) {
  if (state_ == state::done) return;
  if (!early_packet_from_) early_packet_from_ = from;
  // Rule 1 also wins over a LAN ping still under way.
  if (state_ == state::lan) finish_stream(from, 1);
}

void client_connect::on_timeout(time_point now) {
  if (state_ == state::done || now < deadline_) return;
  if (state_ == state::lan) {
    fail(connect_error::holepunch_aborted, "LAN ping to " + show(lan_target_) + " timed out");
    return;
  }
  if (stats_.attempts > 0)
    fail(connect_error::peer_connection_failed, "no valid handshake reply in time");
  else
    fail(connect_error::peer_not_found, "no node knew the server in time");
}

void client_connect::maybe_exhausted() {
  if (state_ != state::finding) return;
  if (!query_done_ || !in_flight_.empty() || !queued_.empty()) return;
  if (stats_.attempts > 0)
    fail(connect_error::peer_connection_failed,
         std::to_string(stats_.attempts) + " node(s) knew the server; no valid handshake reply");
  else
    fail(connect_error::peer_not_found, "no node knows the server");
}

void client_connect::finish_stream(const enc::ipv4_address& to, int rule) {
  open_stream o = std::move(*winner_);
  winner_.reset();
  o.to = to;
  o.rule = rule;
  state_ = state::done;
  actions_.emplace_back(std::move(o));
}

void client_connect::fail(connect_error e, std::string text) {
  // The query still runs unless a winner already stopped it.
  if (state_ == state::finding) actions_.emplace_back(cancel_query{});
  state_ = state::done;
  hs_.reset();
  queued_.clear();
  in_flight_.clear();
  winner_.reset();
  actions_.emplace_back(connect_failed{e, std::move(text)});
}

std::optional<connect_action> client_connect::next_action() {
  if (actions_.empty()) return std::nullopt;
  auto a = std::move(actions_.front());
  actions_.pop_front();
  return a;
}

std::optional<client_connect::time_point> client_connect::wake_at() const {
  if (state_ == state::done) return std::nullopt;
  return deadline_;
}

} // namespace ht::hyperdht
