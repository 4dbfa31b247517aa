#pragma once
// Scenario support for the dht node actor: a simulated network of node
// actors over virtual sockets on CAF's test_coordinator, driven event by
// event (the clock jumps to the next timer), so hundreds of nodes and
// minutes of protocol time run in a few seconds, deterministically.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/dht/address.hpp"
#include "actors/dht/node_actor.hpp"
#include "actors/udx/virtual_socket.hpp"
#include "support/caf_fixture.hpp"

namespace ht::dht::test {

/// The outcome of one request to an actor, filled when it arrives.
template <class T>
struct answer {
  std::optional<T> value;
  std::optional<caf::error> error;
  bool done() const { return value || error; }
};
template <class T>
using answer_ptr = std::shared_ptr<answer<T>>;

/// Sends one request from a fresh actor; the answer lands in the result.
template <class T, class Dest, class... Ts>
answer_ptr<T> ask(caf::actor_system& sys, Dest dest, Ts... xs) {
  auto out = std::make_shared<answer<T>>();
  // (spawned with an argument: CAF 0.17 dereferences a null tuple for
  // argument-less function actors, which UBSan reports)
  sys.spawn(
    [=](caf::event_based_actor* me, Dest d) {
      me->request(d, caf::infinite, xs...)
        .then([=](T& v) { out->value = std::move(v); },
              [=](caf::error& e) { out->error = std::move(e); });
    },
    dest);
  return out;
}

/// Records what a query streams to its sink.
struct query_record {
  std::vector<rpc::reply> replies;
  std::optional<rpc::query_done_event> done;
};
using query_record_ptr = std::shared_ptr<query_record>;

inline dht_query_sink_actor::behavior_type query_sink(dht_query_sink_actor::pointer,
                                                      query_record_ptr rec) {
  return {
    [=](dht_qreply_atom, uint64_t, rpc::reply& r) { rec->replies.push_back(std::move(r)); },
    [=](dht_qdone_atom, rpc::query_done_event& d) { rec->done = std::move(d); },
  };
}

/// Records requests a command handler receives; answers them as told.
struct handler_record {
  std::vector<rpc::incoming_request> requests;
};
using handler_record_ptr = std::shared_ptr<handler_record>;

/// Replies to every request with its own value, reversed.
inline dht_command_handler_actor::behavior_type echo_handler(
  dht_command_handler_actor::pointer self, dht_node_actor node, handler_record_ptr rec) {
  return {
    [=](dht_incoming_atom, rpc::incoming_request& req) {
      rec->requests.push_back(req);
      rpc::reply_options o;
      bytes v = req.value.value_or(bytes{});
      std::reverse(v.begin(), v.end());
      o.value = v;
      self->send(node, dht_reply_atom::value, req, o);
    },
  };
}

inline int xor_compare(const rpc::key32& target, const rpc::key32& a, const rpc::key32& b) {
  for (size_t i = 0; i < 32; ++i) {
    uint8_t x = a[i] ^ target[i], y = b[i] ^ target[i];
    if (x != y)
      return x < y ? -1 : 1;
  }
  return 0;
}

struct sim_node {
  udx_endpoint endpoint;
  rpc::ipv4_address address;
  rpc::key32 id{};
  udx_socket_actor socket;
  dht_node_actor node;
  bool alive = true;
};

struct sim_network : ht::test::caf_fixture {
  std::shared_ptr<virtual_network> net = std::make_shared<virtual_network>(7);
  std::vector<sim_node> nodes;
  uint64_t seed = 1;

  static udx_endpoint endpoint_of(size_t i) {
    // distinct hosts: tokens are bound to the host
    return udx_endpoint::parse("10.1." + std::to_string(i / 250) + "."
                                 + std::to_string(i % 250 + 1),
                               static_cast<uint16_t>(20000 + i));
  }

  /// A persistent node (a configured public address, like hyperdht's
  /// bootstrapper) joining through `bootstrap`.
  sim_node& add_node(const std::vector<rpc::ipv4_address>& bootstrap,
                     rpc::node_mode mode = rpc::node_mode::persistent) {
    sim_node n;
    n.endpoint = endpoint_of(nodes.size());
    n.address = *to_ipv4(n.endpoint);
    n.id = rpc::node_id(n.address);
    n.socket = spawn_virtual_udx_socket(sys, net, n.endpoint);
    dht_node_options o;
    o.config.bootstrap = bootstrap;
    o.config.mode = mode;
    if (mode == rpc::node_mode::persistent)
      o.config.public_address = n.address;
    o.config.seed = seed++;
    o.sockets.push_back(n.socket);
    n.node = spawn_dht_node(sys, std::move(o));
    nodes.push_back(std::move(n));
    return nodes.back();
  }

  /// The node stops answering (its actor exits, its socket stays: datagrams
  /// to it vanish).
  void silence(size_t i) {
    caf::anon_send_exit(nodes[i].node, caf::exit_reason::user_shutdown);
    nodes[i].alive = false;
  }

  /// The node and its socket are gone.
  void kill(size_t i) {
    caf::anon_send_exit(nodes[i].node, caf::exit_reason::kill);
    caf::anon_send_exit(nodes[i].socket, caf::exit_reason::kill);
    nodes[i].alive = false;
  }

  caf::timespan now() const {
    return sched.clock().current_time.time_since_epoch();
  }

  /// Discrete-event run: fires the next timer (the clock jumps to it), runs
  /// to quiescence, until pred() or `limit` of simulated time has passed.
  template <class Pred>
  bool run_events(Pred pred, caf::timespan limit) {
    auto end = sched.clock().current_time + limit;
    run();
    while (!pred()) {
      if (!sched.clock().has_pending_timeout())
        return pred();
      if (sched.clock().current_time >= end)
        return false;
      sched.trigger_timeout();
      run();
    }
    return true;
  }

  /// Lets simulated time pass (all events in it), with no condition.
  void run_for(caf::timespan d) {
    run_events([] { return false; }, d);
  }

  /// The k closest live node ids to target: the truth a lookup from node
  /// `from` must find (a node never asks itself, so it is not in its own
  /// result).
  std::vector<rpc::key32> true_closest(const rpc::key32& target, size_t k,
                                       size_t from = SIZE_MAX) const {
    std::vector<rpc::key32> ids;
    for (size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].alive && i != from)
        ids.push_back(nodes[i].id);
    std::sort(ids.begin(), ids.end(), [&](auto& a, auto& b) {
      return xor_compare(target, a, b) < 0;
    });
    if (ids.size() > k)
      ids.resize(k);
    return ids;
  }

  ~sim_network() {
    for (auto& n : nodes) {
      caf::anon_send_exit(n.node, caf::exit_reason::kill);
      caf::anon_send_exit(n.socket, caf::exit_reason::kill);
    }
    run();
  }
};

/// The ids of a query's closest replies (from_id present), in order.
inline std::vector<rpc::key32> ids_of(const std::vector<rpc::reply>& replies) {
  std::vector<rpc::key32> out;
  for (auto& r : replies)
    if (r.from_id)
      out.push_back(*r.from_id);
  return out;
}

} // namespace ht::dht::test
