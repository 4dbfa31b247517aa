// spawn_hyperdht_stack on a real socket (127.0.0.1): a persistent stack
// takes the bound port into its public address and serves storage; a
// persistent stack without a public address is refused before binding.
#include <catch2/catch.hpp>

#include <thread>

#include <caf/all.hpp>

#include "actors/hyperdht/hyperdht_stack.hpp"

using namespace ht;

TEST_CASE("spawn_hyperdht_stack binds, spawns both nodes, and refuses a persistent node without an address",
          "[scenario]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  hyperdht_stack_options bad;
  bad.host = "127.0.0.1";
  bad.mode = rpc::node_mode::persistent;
  CHECK_FALSE(spawn_hyperdht_stack(sys, bad));

  hyperdht_stack_options o;
  o.host = "127.0.0.1";
  o.mode = rpc::node_mode::persistent;
  o.public_address = rpc::ipv4_address::parse("127.0.0.1", 0);
  auto stack = spawn_hyperdht_stack(sys, o);
  REQUIRE(stack);
  CHECK(stack->bound.port != 0);
  caf::scoped_actor self{sys};
  std::optional<hd_status> st;
  // The storage is created once the dht node's persistent event arrived.
  for (int i = 0; i < 50 && !(st && st->serving_storage); ++i) {
    self->request(stack->hyperdht, std::chrono::seconds(5), status_atom::value)
      .receive([&](const hd_status& s) { st = s; }, [](caf::error&) {});
    if (!(st && st->serving_storage))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(st);
  CHECK(st->serving_storage);
  REQUIRE(st->dht.public_address);
  CHECK(st->dht.public_address->port == stack->bound.port);
  self->send_exit(stack->hyperdht, caf::exit_reason::user_shutdown);
  self->send(stack->dht, close_atom::value);
  self->wait_for(stack->dht);
  self->send_exit(stack->socket, caf::exit_reason::user_shutdown);
  self->wait_for(stack->socket);
}
