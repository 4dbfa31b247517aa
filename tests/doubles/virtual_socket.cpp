#include "doubles/virtual_socket.hpp"

#include <unordered_map>

#include <caf/all.hpp>

#include "dht/udx/header.hpp"

namespace ht {

void virtual_network::attach(const udx_endpoint& e, virtual_socket_actor s) {
  std::lock_guard<std::mutex> g{mtx_};
  sockets_[{e.ip, e.port}] = std::move(s);
}

void virtual_network::detach(const udx_endpoint& e) {
  std::lock_guard<std::mutex> g{mtx_};
  sockets_.erase({e.ip, e.port});
}

virtual_socket_actor virtual_network::find(const udx_endpoint& e) {
  std::lock_guard<std::mutex> g{mtx_};
  auto it = sockets_.find({e.ip, e.port});
  return it == sockets_.end() ? virtual_socket_actor{} : it->second;
}

std::vector<caf::timespan> virtual_network::fate() {
  std::lock_guard<std::mutex> g{mtx_};
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<caf::timespan> out;
  if (link_.down || u(rng_) < link_.loss) {
    ++dropped_;
    return out;
  }
  int copies = u(rng_) < link_.duplicate ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    auto d = link_.delay;
    if (u(rng_) < link_.reorder)
      d += std::chrono::duration_cast<caf::timespan>(link_.jitter * u(rng_));
    out.push_back(d);
    ++delivered_;
  }
  return out;
}

namespace {

struct vroute {
  udx_packet_sink_actor sink;
  udx_backlog_ptr backlog;
};

struct vsocket_state {
  std::shared_ptr<virtual_network> net;
  udx_endpoint local;
  virtual_socket_limits limits;
  std::unordered_map<uint32_t, vroute> routes;
  udx_datagram_handler_actor handler;
  udx_handler_backlog_ptr handler_backlog;
  uint8_t handler_tag = 0;
  udx_socket_info info;
  static inline const char* name = "udx_virtual_socket";
};

virtual_socket_actor::behavior_type
vsocket(virtual_socket_actor::stateful_pointer<vsocket_state> self,
        std::shared_ptr<virtual_network> net, udx_endpoint local,
        virtual_socket_limits limits) {
  self->state.net = net;
  self->state.local = local;
  self->state.limits = limits;
  net->attach(local, virtual_socket_actor{self});
  self->attach_functor([net, local] { net->detach(local); });
  return {
    [=](udx_send_atom, const udx_endpoint& to, std::vector<bytes>& datagrams) {
      auto dest = net->find(to);
      for (auto& d : datagrams) {
        auto delays = net->fate();
        if (!dest)
          continue;
        for (auto delay : delays)
          self->delayed_send(dest, delay, udx_recv_atom::value, local, d);
      }
    },
    [=](udx_send_atom, udx_datagrams& datagrams) {
      for (auto& d : datagrams) {
        auto dest = net->find(d.from);
        auto delays = net->fate();
        if (!dest)
          continue;
        for (auto delay : delays)
          self->delayed_send(dest, delay, udx_recv_atom::value, local, d.data);
      }
    },
    [=](udx_recv_atom, const udx_endpoint& from, bytes& data) {
      auto& st = self->state;
      // Over a receiver's backlog cap: dropped and counted, as the real
      // socket does (socket_actor.cpp).
      auto over = [&](const udx_backlog_ptr& b, int64_t cap, int64_t size) {
        if (!b)
          return false;
        if (b->bytes.load(std::memory_order_relaxed) + size > cap)
          return true;
        b->bytes.fetch_add(size, std::memory_order_relaxed);
        return false;
      };
      if (udx::looks_like_udx(data.data(), data.size())) {
        auto it = st.routes.find(udx::peek_stream_id(data.data()));
        if (it != st.routes.end()) {
          if (over(it->second.backlog, st.limits.stream_backlog_cap,
                 static_cast<int64_t>(data.size()))) {
            ++st.info.stream_dropped;
            return;
          }
          udx_datagrams batch;
          batch.push_back(udx_datagram{from, std::move(data)});
          self->send(it->second.sink, udx_recv_atom::value, std::move(batch));
          return;
        }
      }
      if (!st.handler)
        return;
      // The real socket's rule for the handler: per-source share of the
      // cap (udx_handler_admit), one message per receive batch (here each
      // datagram arrives alone: a batch of one).
      if (data.empty() ||
          (st.handler_backlog &&
           !udx_handler_admit(*st.handler_backlog, st.limits.handler_backlog_cap, from,
                              data.size()))) {
        ++st.info.handler_dropped;
        return;
      }
      udx_datagrams batch;
      batch.push_back(udx_datagram{from, std::move(data)});
      self->send(st.handler, udx_recv_atom::value, st.handler_tag, std::move(batch));
    },
    [=](udx_register_atom, uint32_t id, udx_packet_sink_actor sink,
        udx_backlog_ptr backlog) {
      return self->state.routes.emplace(id, vroute{std::move(sink), std::move(backlog)}).second;
    },
    [=](udx_unregister_atom, uint32_t id) { self->state.routes.erase(id); },
    [=](udx_handler_atom, udx_datagram_handler_actor h, udx_handler_backlog_ptr backlog,
        uint8_t tag) {
      self->state.handler = std::move(h);
      self->state.handler_backlog = std::move(backlog);
      self->state.handler_tag = tag;
    },
    [=](udx_stats_atom) { return self->state.info; },
    [=](udx_address_atom) { return self->state.local; },
    // No direct send path: the handler sends messages, which keeps
    // scenarios deterministic (everything goes through the mailboxes).
    [=](udx_sender_atom) { return udx_sender_ptr{}; },
  };
}

} // namespace

udx_socket_actor spawn_virtual_udx_socket(caf::actor_system& sys,
                                          std::shared_ptr<virtual_network> net,
                                          const udx_endpoint& addr,
                                          const virtual_socket_limits& limits) {
  return sys.spawn(vsocket, std::move(net), addr, limits);
}

} // namespace ht
