#pragma once
// The client library's ready-made HyperDHT transport: one hyperdht stack
// (UDX socket + dht node + hyperdht node) per client, and a create_socket
// that connects to the server's public key through it on every call.
//
//   auto hd = ht::hyperdht_client_socket::start(sys, {server_key, bootstrap});
//   if (!hd) ... // bad bind
//   ht::client_options opts;
//   opts.create_socket = hd->create_socket();
//   auto client = ht::client::start(sys, std::move(opts));
//
// Keep the hyperdht_client_socket alive as long as the client runs; its
// destructor (or stop()) closes the stack.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "actors/hd_client/hd_connect.hpp"
#include "actors/hyperdht/hyperdht_stack.hpp"

namespace ht {

struct hyperdht_client_socket_options {
  public_key server{};                         // the server's public key
  std::vector<rpc::ipv4_address> bootstrap;    // required: never the public network by accident
  std::optional<noise::keypair> keys;          // default: a fresh random key pair
  std::string host = "0.0.0.0";                // where our socket binds
  uint16_t port = 0;
  hyperdht::client_connect_config connect;
  secret_stream_connection_options connection;
  // stop(): how long the connections this socket made may take to finish
  // (a close in progress: its END exchange, or a close timeout's DESTROY),
  // and the socket to hand the kernel the datagrams it holds (those the
  // kernel refused with EAGAIN), before the stack ends.
  caf::timespan stop_limit = std::chrono::seconds(1);
};

class hyperdht_client_socket : public std::enable_shared_from_this<hyperdht_client_socket> {
public:
  /// Binds the socket and spawns the stack (blocks briefly; call from a
  /// host thread, not from inside an actor). Errors: a bad host, a port in
  /// use, an empty bootstrap list.
  static caf::expected<std::shared_ptr<hyperdht_client_socket>>
  start(caf::actor_system& sys, hyperdht_client_socket_options opts);
  /// Runs on a stack the caller built (scenario tests build one on virtual
  /// sockets); `opts` host, port and bootstrap are not used.
  static std::shared_ptr<hyperdht_client_socket>
  adopt(caf::actor_system& sys, hyperdht_client_socket_options opts, hyperdht_stack stack);

  ~hyperdht_client_socket();
  /// For client_options::create_socket: each call starts one connect. The
  /// function shares ownership of this object (the stack stays up while the
  /// client holds it).
  std::function<connection_actor()> create_socket();
  /// One connect now.
  connection_actor connect();
  const hyperdht_stack& stack() const { return stack_; }
  const noise::keypair& keys() const { return keys_; }
  /// The figures of every connect made so far (thread-safe).
  hd_connect_stats stats() const { return counters_->snapshot(); }
  /// Closes the stack, without blocking: once every connection this socket
  /// made has ended (at most `stop_limit`; those still open then are cut),
  /// the socket sends every datagram it was asked to send before (a
  /// connection's last END, DESTROY or ack), then ends.
  void stop();
  /// stop(), and waits until the socket has ended (so has sent what it was
  /// asked to before), at most `limit`. For a program about to exit; not
  /// from inside an actor (it blocks).
  void stop_after_flush(std::chrono::milliseconds limit);

private:
  hyperdht_client_socket(caf::actor_system& sys) : sys_(sys) {}
  caf::actor_system& sys_;
  hyperdht_client_socket_options opts_;
  noise::keypair keys_;
  hyperdht_stack stack_;
  std::shared_ptr<hd_connect_counters> counters_ = std::make_shared<hd_connect_counters>();
  std::mutex mtx_;                          // connect() runs on the client's actor threads
  std::vector<caf::actor_addr> connections_;  // made by connect(), for stop()
  bool stopped_ = false;
};

} // namespace ht
