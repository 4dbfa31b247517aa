#pragma once
// A simulated network of persistent C++ hyperdht nodes (dht node actor +
// hyperdht node actor on virtual sockets, CAF test_coordinator, virtual
// time), plus bare dht nodes that play a hyperdht client or server by
// sending the requests hyperdht sends, signed with dht/hyperdht/signing.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "actors/hyperdht/hyperdht_node.hpp"
#include "dht/dht_fixture.hpp"
#include "dht/encoding/compact.hpp"
#include "dht/hyperdht/messages.hpp"
#include "dht/hyperdht/signing.hpp"

namespace ht::hd_test {

using namespace ht::dht::test;
namespace hd = ht::hyperdht;

inline rpc::key32 fill(uint8_t b) {
  rpc::key32 k;
  k.fill(b);
  return k;
}

inline bytes text(const char* s) {
  return bytes(s, s + std::char_traits<char>::length(s));
}

struct hd_network : sim_network {
  std::vector<std::optional<hyperdht_node_actor>> hds;  // per node, if it runs one

  /// A persistent dht node with a hyperdht node on it.
  size_t add_hd_node(const std::vector<rpc::ipv4_address>& bootstrap,
                     rpc::node_mode mode = rpc::node_mode::persistent,
                     hyperdht_node_options opts = {}) {
    auto& n = add_node(bootstrap, mode);
    hds.resize(nodes.size());
    hds.back() = spawn_hyperdht_node(sys, n.node, opts);
    return nodes.size() - 1;
  }

  /// A bare ephemeral dht node (a client, or a server we play by hand).
  size_t add_peer() {
    add_node({nodes[0].address}, rpc::node_mode::ephemeral);
    hds.resize(nodes.size());
    return nodes.size() - 1;
  }

  /// `count` persistent hyperdht nodes, all bootstrapped.
  explicit hd_network(size_t count = 8, hyperdht_node_options opts = {}) {
    add_hd_node({}, rpc::node_mode::persistent, opts);
    for (size_t i = 1; i < count; ++i)
      add_hd_node({nodes[0].address}, rpc::node_mode::persistent, opts);
    run_for(std::chrono::seconds(10));
  }

  template <class T>
  T wait(const answer_ptr<T>& a, caf::timespan limit = std::chrono::seconds(30)) {
    run_events([&] { return a->done(); }, limit);
    REQUIRE(a->done());
    if (a->error)
      FAIL("request failed: " << describe(*a->error));
    return *a->value;
  }

  rpc::query_done_event query(size_t from, const rpc::key32& target, uint64_t command,
                              std::optional<bytes> value = std::nullopt) {
    rpc::query_options o;
    o.target = target;
    o.command = command;
    o.value = std::move(value);
    return wait(ask<rpc::query_done_event>(sys, nodes[from].node, dht_query_atom::value, o));
  }

  /// One request; the answer (reply or error), not required to succeed.
  answer_ptr<rpc::reply> send_request(size_t from, const rpc::ipv4_address& to, uint64_t command,
                                      const rpc::key32& target, std::optional<bytes> value,
                                      std::optional<rpc::key32> token = std::nullopt) {
    rpc::request_options o;
    o.to = to;
    o.command = command;
    o.target = target;
    o.value = std::move(value);
    o.token = token;
    auto a = ask<rpc::reply>(sys, nodes[from].node, dht_request_atom::value, o);
    run_events([&] { return a->done(); }, std::chrono::seconds(30));
    return a;
  }

  hd_status status(size_t i) {
    return wait(ask<hd_status>(sys, *hds[i], status_atom::value));
  }

  /// Announces (or unannounces) kp's record under target to the closest
  /// persistent nodes, as a hyperdht server does: a LOOKUP for tokens, then
  /// a request signed for each replier's id and token. Returns how many
  /// were answered.
  size_t announce(size_t from, const rpc::key32& target, const noise::keypair& kp,
                  bool unannounce = false, std::vector<rpc::ipv4_address> relays = {}) {
    auto done = query(from, target, hd::command::lookup);
    size_t answered = 0;
    for (auto& r : done.closest) {
      if (!r.token || !r.from_id)
        continue;
      hd::announce_message a;
      a.peer = hd::peer_record{kp.public_key, relays};
      a.signature = unannounce ? hd::sign_unannounce(target, *r.token, *r.from_id, a, kp)
                               : hd::sign_announce(target, *r.token, *r.from_id, a, kp);
      auto ans = send_request(from, r.from,
                              unannounce ? hd::command::unannounce : hd::command::announce,
                              target, enc::encode(a), r.token);
      if (ans->value && ans->value->error == 0)
        ++answered;
    }
    return answered;
  }

  /// FIND_PEER: the peer records the replies carry.
  std::vector<hd::peer_record> find_peer(size_t from, const rpc::key32& target) {
    auto done = query(from, target, hd::command::find_peer);
    std::vector<hd::peer_record> out;
    for (auto& r : done.closest)
      if (r.value)
        out.push_back(hd::decode_value<hd::peer_record>(*r.value));
    return out;
  }

  /// LOOKUP: every record of every reply.
  std::vector<hd::peer_record> lookup(size_t from, const rpc::key32& target) {
    auto done = query(from, target, hd::command::lookup);
    std::vector<hd::peer_record> out;
    for (auto& r : done.closest)
      if (r.value)
        for (auto& p : hd::decode_value<hd::lookup_reply>(*r.value).peers)
          out.push_back(p);
    return out;
  }

  /// How many hyperdht nodes hold a router entry (forward) / a record.
  size_t nodes_with_forwards() {
    size_t n = 0;
    for (size_t i = 0; i < hds.size(); ++i)
      if (hds[i] && status(i).forwards > 0)
        ++n;
    return n;
  }

  ~hd_network() {
    for (auto& h : hds)
      if (h)
        caf::anon_send_exit(*h, caf::exit_reason::kill);
    run();
  }
};

} // namespace ht::hd_test
