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

struct vsocket_state {
  std::shared_ptr<virtual_network> net;
  udx_endpoint local;
  std::unordered_map<uint32_t, udx_packet_sink_actor> routes;
  udx_datagram_handler_actor handler;
  static inline const char* name = "udx_virtual_socket";
};

virtual_socket_actor::behavior_type
vsocket(virtual_socket_actor::stateful_pointer<vsocket_state> self,
        std::shared_ptr<virtual_network> net, udx_endpoint local) {
  self->state.net = net;
  self->state.local = local;
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
    [=](udx_recv_atom, const udx_endpoint& from, bytes& data) {
      auto& st = self->state;
      if (udx::looks_like_udx(data.data(), data.size())) {
        auto it = st.routes.find(udx::peek_stream_id(data.data()));
        if (it != st.routes.end()) {
          udx_datagrams batch;
          batch.push_back(udx_datagram{from, std::move(data)});
          self->send(it->second, udx_recv_atom::value, std::move(batch));
          return;
        }
      }
      if (st.handler)
        self->send(st.handler, udx_recv_atom::value, from, std::move(data));
    },
    [=](udx_register_atom, uint32_t id, udx_packet_sink_actor sink, udx_backlog_ptr) {
      return self->state.routes.emplace(id, std::move(sink)).second;
    },
    [=](udx_unregister_atom, uint32_t id) { self->state.routes.erase(id); },
    [=](udx_handler_atom, udx_datagram_handler_actor h) {
      self->state.handler = std::move(h);
    },
    [=](udx_address_atom) { return self->state.local; },
  };
}

} // namespace

udx_socket_actor spawn_virtual_udx_socket(caf::actor_system& sys,
                                          std::shared_ptr<virtual_network> net,
                                          const udx_endpoint& addr) {
  return sys.spawn(vsocket, std::move(net), addr);
}

} // namespace ht
