#include "dht/hyperdht/router.hpp"

namespace ht::hyperdht {

namespace {

size_t forward_size(const forward& f) { return sizeof(forward) + f.record.size(); }

template <class T>
std::optional<T> decode_request_value(const rpc::incoming_request& req) {
  if (!req.value) return std::nullopt;
  try {
    return decode_value<T>(*req.value);
  } catch (const enc::error&) {
    return std::nullopt;
  }
}

} // namespace

rpc::reply_options bare_reply(std::optional<bytes> value, std::optional<ipv4_address> to) {
  rpc::reply_options o;
  o.value = std::move(value);
  o.token = false;
  o.closer_nodes = false;
  o.to = to;
  return o;
}

router::router(router_config cfg, time_point now) : forwards_(cfg.forwards, now, forward_size) {}

void router::set_forward(const key32& target, const ipv4_address& relay, bytes record, time_point now) {
  forwards_.set(target, forward{relay, std::move(record), false}, now);
}

void router::listen(const key32& target, bytes record) {
  forwards_.retain(target, forward{std::nullopt, std::move(record), true});
}

void router::remove(const key32& target) { forwards_.erase(target); }

const forward* router::get(const key32& target, time_point now) { return forwards_.get(target, now); }

decision router::on_peer_handshake(const rpc::incoming_request& req, time_point now) {
  auto hs = decode_request_value<handshake_message>(req);
  if (!hs) return dropped();

  const forward* state = req.target ? get(*req.target, now) : nullptr;
  if (state && state->local) {
    ++stats_.to_server;
    return handshake_for_server{*req.target, hs->mode, std::move(hs->noise), hs->peer_address,
                                hs->relay_address};
  }
  const std::optional<ipv4_address> fwd_relay = state ? state->relay : std::nullopt;

  switch (hs->mode) {
    case mode::from_client: {
      if (!fwd_relay && !hs->relay_address) {
        // Help the client route: an empty reply with closer nodes (router.js:133-137).
        rpc::reply_options o;
        o.token = false;
        o.closer_nodes = true;
        return reply_action{o};
      }
      handshake_message out{mode::from_relay, std::move(hs->noise), req.from, std::nullopt};
      return relay(enc::encode(out), hs->relay_address ? *hs->relay_address : *fwd_relay);
    }
    case mode::from_relay: {
      if (!fwd_relay) return dropped();
      handshake_message out{mode::from_second_relay, std::move(hs->noise), hs->peer_address, req.from};
      return relay(enc::encode(out), *fwd_relay);
    }
    case mode::from_server: {
      if (!hs->peer_address) return dropped();
      handshake_message out{mode::reply, std::move(hs->noise), req.from, std::nullopt};
      ++stats_.relayed;
      return reply_action{bare_reply(enc::encode(out), *hs->peer_address)};
    }
    default:
      return dropped();
  }
}

decision router::server_handshake_reply(const rpc::incoming_request& req, const handshake_for_server& hs,
                                        const std::optional<bytes>& reply_noise, std::optional<uint8_t> socket) {
  if (!reply_noise) return dropped();
  switch (hs.mode) {
    case mode::from_client: {
      handshake_message out{mode::reply, *reply_noise, std::nullopt, std::nullopt};
      rpc::reply_options o = bare_reply(enc::encode(out));
      o.socket = socket;
      return reply_action{o};
    }
    case mode::from_relay: {
      handshake_message out{mode::from_server, *reply_noise, hs.peer_address, std::nullopt};
      return relay(enc::encode(out), req.from, socket);
    }
    case mode::from_second_relay: {
      if (!hs.relay_address) return dropped();
      handshake_message out{mode::from_server, *reply_noise, hs.peer_address, std::nullopt};
      return relay(enc::encode(out), *hs.relay_address, socket);
    }
    default:
      // hyperdht runs the handler for every mode but answers only these three.
      return dropped();
  }
}

decision router::on_peer_holepunch(const rpc::incoming_request& req, time_point now) {
  auto hp = decode_request_value<holepunch_message>(req);
  if (!hp) return dropped();

  const forward* state = req.target ? get(*req.target, now) : nullptr;
  const bool is_server = state && state->local;
  const std::optional<ipv4_address> fwd_relay = state ? state->relay : std::nullopt;

  switch (hp->mode) {
    case mode::from_client: {
      if (!hp->peer_address && !fwd_relay) return dropped();
      holepunch_message out{mode::from_relay, hp->id, std::move(hp->payload), req.from};
      return relay(enc::encode(out), hp->peer_address ? *hp->peer_address : *fwd_relay);
    }
    case mode::from_relay: {
      if (!is_server || !hp->peer_address) return dropped();
      ++stats_.to_server;
      return holepunch_for_server{*req.target, hp->id, std::move(hp->payload), *hp->peer_address};
    }
    case mode::from_server: {
      holepunch_message out{mode::reply, hp->id, std::move(hp->payload), req.from};
      ++stats_.relayed;
      // dht-rpc's reply goes to opts.to || req.from (io.js:415).
      return reply_action{bare_reply(enc::encode(out), hp->peer_address)};
    }
    default:
      return dropped();
  }
}

decision router::server_holepunch_reply(const rpc::incoming_request& req, const holepunch_for_server& hp,
                                        const std::optional<bytes>& reply_payload, std::optional<uint8_t> socket) {
  if (!reply_payload) return dropped();
  // The server's answer carries id 0 (router.js:233).
  holepunch_message out{mode::from_server, 0, *reply_payload, hp.peer_address};
  return relay(enc::encode(out), req.from, socket);
}

} // namespace ht::hyperdht
