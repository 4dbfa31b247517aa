// What persistent C++ hyperdht nodes store and answer, on virtual sockets:
// signed ANNOUNCE / UNANNOUNCE to the closest nodes then FIND_PEER / LOOKUP
// from elsewhere, bad signatures and tokens, mutable and immutable put/get,
// expiry on the node's timer, and no storage on an ephemeral node.
#include "hd_fixture.hpp"

using namespace ht;
using namespace ht::hd_test;
using namespace std::chrono_literals;

TEST_CASE("a signed announce to the closest nodes is found by FIND_PEER and LOOKUP; unannounce removes it",
          "[scenario]") {
  hd_network net;
  auto server = net.add_peer();
  auto client = net.add_peer();
  net.run_for(5s);
  auto kp = noise::keypair::from_seed(fill(7));
  auto target = hd::hash32(kp.public_key);

  REQUIRE(net.find_peer(client, target).empty());
  auto relay = net.nodes[0].address;
  CHECK(net.announce(server, target, kp, false, {relay}) >= 3);
  // hash(pk) == target: the record is a router forward on every storing node
  CHECK(net.nodes_with_forwards() >= 3);

  auto found = net.find_peer(client, target);
  REQUIRE_FALSE(found.empty());
  for (auto& p : found) {
    CHECK(p.public_key == kp.public_key);
    REQUIRE(p.relay_addresses.size() == 1);
    CHECK(p.relay_addresses[0] == relay);
  }
  auto looked = net.lookup(client, target);
  REQUIRE_FALSE(looked.empty());
  CHECK(looked[0].public_key == kp.public_key);

  // A topic announce (target != hash(pk)) is a LOOKUP record, not a forward.
  auto topic = fill(0x33);
  auto other = noise::keypair::from_seed(fill(8));
  CHECK(net.announce(server, topic, other) >= 3);
  auto in_topic = net.lookup(client, topic);
  REQUIRE_FALSE(in_topic.empty());
  CHECK(in_topic[0].public_key == other.public_key);
  CHECK(net.find_peer(client, topic).empty());

  CHECK(net.announce(server, target, kp, true) >= 3);
  CHECK(net.find_peer(client, target).empty());
  CHECK(net.lookup(client, target).empty());
  CHECK(net.nodes_with_forwards() == 0);
}

TEST_CASE("announces with a bad signature or token are not stored", "[scenario]") {
  hd_network net;
  auto server = net.add_peer();
  auto client = net.add_peer();
  net.run_for(5s);
  auto kp = noise::keypair::from_seed(fill(9));
  auto wrong = noise::keypair::from_seed(fill(10));
  auto target = hd::hash32(kp.public_key);

  auto done = net.query(server, target, hd::command::lookup);
  REQUIRE_FALSE(done.closest.empty());
  auto& r = done.closest[0];
  REQUIRE(r.token);
  REQUIRE(r.from_id);

  // Signed by another key: dropped, no reply (the request times out).
  hd::announce_message a;
  a.peer = hd::peer_record{kp.public_key, {}};
  a.signature = hd::sign_announce(target, *r.token, *r.from_id, a, wrong);
  auto bad_sig = net.send_request(server, r.from, hd::command::announce, target, enc::encode(a), r.token);
  REQUIRE(bad_sig->error);
  CHECK(dht_error_of(*bad_sig->error) == dht_error::timeout);

  // Signed for another node id: dropped too (the signable binds the storer).
  a.signature = hd::sign_announce(target, *r.token, fill(0x55), a, kp);
  auto bad_id = net.send_request(server, r.from, hd::command::announce, target, enc::encode(a), r.token);
  REQUIRE(bad_id->error);

  // A token that is not the node's: dht-rpc's INVALID_TOKEN.
  auto forged = fill(0x77);
  a.signature = hd::sign_announce(target, forged, *r.from_id, a, kp);
  auto bad_token = net.send_request(server, r.from, hd::command::announce, target, enc::encode(a), forged);
  REQUIRE(bad_token->value);
  CHECK(bad_token->value->error == rpc::error_code::invalid_token);

  // No token at all: dropped.
  auto no_token = net.send_request(server, r.from, hd::command::announce, target, enc::encode(a));
  CHECK(no_token->error);

  CHECK(net.find_peer(client, target).empty());
  CHECK(net.nodes_with_forwards() == 0);
  size_t dropped = 0;
  for (size_t i = 0; i < net.hds.size(); ++i)
    if (net.hds[i])
      dropped += net.status(i).store.dropped;
  CHECK(dropped >= 3);
}

TEST_CASE("mutable and immutable put/get through the closest nodes", "[scenario]") {
  hd_network net;
  auto writer = net.add_peer();
  auto reader = net.add_peer();
  net.run_for(5s);

  // IMMUTABLE: target = hash(value)
  auto value = text("an immutable value");
  auto itarget = hd::hash32(value);
  auto idone = net.query(writer, itarget, hd::command::immutable_get);
  size_t stored = 0;
  for (auto& r : idone.closest) {
    REQUIRE(r.token);
    auto a = net.send_request(writer, r.from, hd::command::immutable_put, itarget, value, r.token);
    stored += a->value && a->value->error == 0;
  }
  CHECK(stored >= 3);
  // A value that does not hash to the target is dropped.
  auto liar = net.send_request(writer, idone.closest[0].from, hd::command::immutable_put, itarget,
                               text("something else"), idone.closest[0].token);
  CHECK(liar->error);
  size_t got = 0;
  for (auto& r : net.query(reader, itarget, hd::command::immutable_get).closest)
    if (r.value) {
      CHECK(*r.value == value);
      ++got;
    }
  CHECK(got >= 3);

  // MUTABLE: target = hash(pk), signed (seq, value)
  auto kp = noise::keypair::from_seed(fill(11));
  auto mtarget = hd::hash32(kp.public_key);
  auto put = [&](uint64_t seq, const bytes& v) {
    hd::mutable_put_request m{kp.public_key, seq, v, hd::sign_mutable(seq, v, kp)};
    std::vector<uint64_t> errors;
    for (auto& r : net.query(writer, mtarget, hd::command::mutable_get, hd::encode_uint_value(0)).closest) {
      auto a = net.send_request(writer, r.from, hd::command::mutable_put, mtarget, enc::encode(m), r.token);
      if (a->value)
        errors.push_back(a->value->error);
    }
    return errors;
  };
  auto first = put(2, text("v2"));
  REQUIRE(first.size() >= 3);
  for (auto e : first)
    CHECK(e == 0);
  auto get = [&](uint64_t min_seq) {
    std::vector<hd::mutable_get_response> out;
    for (auto& r : net.query(reader, mtarget, hd::command::mutable_get, hd::encode_uint_value(min_seq)).closest)
      if (r.value)
        out.push_back(hd::decode_value<hd::mutable_get_response>(*r.value));
    return out;
  };
  auto values = get(0);
  REQUIRE(values.size() >= 3);
  for (auto& v : values) {
    CHECK(v.seq == 2);
    CHECK(v.value == text("v2"));
    CHECK(hd::verify_mutable(v.signature, v.seq, v.value, kp.public_key));
  }
  CHECK(get(3).empty());  // nothing at seq >= 3
  for (auto e : put(1, text("older")))
    CHECK(e == hd::error_code::seq_too_low);
  for (auto e : put(2, text("same seq, other value")))
    CHECK(e == hd::error_code::seq_reused);
  // A bad signature is dropped: no answers at all.
  hd::mutable_put_request forged{kp.public_key, 5, text("forged"), hd::sign_mutable(4, text("forged"), kp)};
  auto r0 = net.query(writer, mtarget, hd::command::mutable_get, hd::encode_uint_value(0)).closest.at(0);
  CHECK(net.send_request(writer, r0.from, hd::command::mutable_put, mtarget, enc::encode(forged), r0.token)->error);
  CHECK(get(0).at(0).seq == 2);
}

TEST_CASE("announced records expire on the node's timer (20 min, two generations)", "[scenario]") {
  hyperdht_node_options opts;
  opts.expiry_interval = 60s;
  hd_network net(6, opts);
  auto server = net.add_peer();
  net.run_for(5s);
  auto kp = noise::keypair::from_seed(fill(12));
  auto target = hd::hash32(kp.public_key);
  REQUIRE(net.announce(server, target, kp) >= 3);
  REQUIRE(net.nodes_with_forwards() >= 3);
  net.run_for(10min);
  CHECK(net.nodes_with_forwards() >= 3);  // still within maxAge
  // No request touches the caches: only the expiry timer can empty them.
  net.run_for(35min);
  CHECK(net.nodes_with_forwards() == 0);
}

TEST_CASE("an ephemeral node answers the storage commands UNKNOWN_COMMAND, relays nothing stored", "[scenario]") {
  hd_network net(3);
  auto eph = net.add_hd_node({net.nodes[0].address}, rpc::node_mode::ephemeral);
  auto client = net.add_peer();
  net.run_for(5s);
  auto target = fill(0x42);
  auto a = net.send_request(client, net.nodes[eph].address, hd::command::find_peer, target, std::nullopt);
  REQUIRE(a->value);
  CHECK(a->value->error == rpc::error_code::unknown_command);
  auto s = net.status(eph);
  CHECK_FALSE(s.serving_storage);
  CHECK(net.status(0).serving_storage);
}
