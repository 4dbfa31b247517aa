#include "actors/hd_client/hd_socket_factory.hpp"

#include <algorithm>

#include <caf/all.hpp>

namespace ht {

namespace {

constexpr auto flush_poll = std::chrono::milliseconds(10);
using stop_limit_atom = caf::atom_constant<caf::atom("stoplimit")>;

// Ends the socket once it has sent what it was asked to send before. A
// request queues behind every send already in the socket's mailbox, so its
// answer says they reached the kernel, or the socket's own send queue
// (datagrams the kernel refused with EAGAIN, sent by its I/O thread): those
// get until `deadline` to leave, as an exit would drop them.
void end_socket_after_sends(caf::event_based_actor* self, udx_socket_actor socket,
                            caf::actor_clock::time_point deadline) {
  self->request(socket, caf::infinite, udx_stats_atom::value)
    .then(
      [self, socket, deadline](const udx_socket_info& info) {
        if (info.send_queued > 0 && self->clock().now() < deadline) {
          self->delayed_send(self, flush_poll, tick_atom::value);
          self->become([self, socket, deadline](tick_atom) {
            end_socket_after_sends(self, socket, deadline);
          });
          return;
        }
        self->send_exit(socket, caf::exit_reason::user_shutdown);
        self->quit();
      },
      [self](caf::error&) { self->quit(); }); // gone already
}

struct stopper_state {
  size_t open = 0;       // connections not ended yet
  bool closing = false;  // the stack is being closed
};

// Closes a client socket's stack once the connections made on it ended:
// their last packets (END, the ack of the server's END, a DESTROY) go to
// the socket before they report closed, so they leave before it ends.
void stop_stack(caf::stateful_actor<stopper_state>* self, hyperdht_stack stack,
                std::vector<caf::actor_addr> connections, caf::timespan limit) {
  auto deadline = self->clock().now() + limit;
  auto close_stack = [self, stack, deadline] {
    if (self->state.closing) return;
    self->state.closing = true;
    self->send(stack.dht, close_atom::value);
    self->send_exit(stack.hyperdht, caf::exit_reason::user_shutdown);
    end_socket_after_sends(self, stack.socket, deadline);
  };
  self->set_down_handler([self, close_stack](caf::down_msg&) {
    if (--self->state.open == 0) close_stack();
  });
  for (auto& c : connections)
    if (auto h = caf::actor_cast<caf::actor>(c)) {
      self->monitor(h);
      ++self->state.open;
    }
  if (self->state.open == 0) {
    close_stack();
    return;
  }
  self->set_default_handler(caf::drop);  // a late stop_limit_atom
  self->delayed_send(self, limit, stop_limit_atom::value);
  self->become([close_stack](stop_limit_atom) { close_stack(); });
}

} // namespace

caf::expected<std::shared_ptr<hyperdht_client_socket>>
hyperdht_client_socket::start(caf::actor_system& sys, hyperdht_client_socket_options opts) {
  if (opts.bootstrap.empty())
    return caf::make_error(caf::sec::invalid_argument, "a bootstrap list is required");
  hyperdht_stack_options so;
  so.host = opts.host;
  so.port = opts.port;
  so.mode = rpc::node_mode::ephemeral;
  so.bootstrap = opts.bootstrap;
  auto stack = spawn_hyperdht_stack(sys, so);
  if (!stack) return stack.error();
  return adopt(sys, std::move(opts), *stack);
}

std::shared_ptr<hyperdht_client_socket>
hyperdht_client_socket::adopt(caf::actor_system& sys, hyperdht_client_socket_options opts,
                              hyperdht_stack stack) {
  std::shared_ptr<hyperdht_client_socket> out(new hyperdht_client_socket(sys));
  out->keys_ = opts.keys ? *opts.keys : noise::keypair::random();
  out->opts_ = std::move(opts);
  out->stack_ = std::move(stack);
  return out;
}

hyperdht_client_socket::~hyperdht_client_socket() { stop(); }

void hyperdht_client_socket::stop() {
  std::vector<caf::actor_addr> connections;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopped_) return;
    stopped_ = true;
    connections.swap(connections_);
  }
  sys_.spawn(stop_stack, stack_, std::move(connections), opts_.stop_limit);
}

void hyperdht_client_socket::stop_after_flush(std::chrono::milliseconds limit) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopped_) return;
  }
  caf::scoped_actor self{sys_};
  self->monitor(stack_.socket);
  stop();
  self->receive([](const caf::down_msg&) {}, caf::after(limit) >> [] {});
}

connection_actor hyperdht_client_socket::connect() {
  hd_connect_params p;
  p.socket = stack_.socket;
  p.dht = stack_.dht;
  p.keys = keys_;
  p.server = opts_.server;
  p.connect = opts_.connect;
  p.connection = opts_.connection;
  p.counters = counters_;
  auto conn = spawn_hd_connect(sys_, std::move(p));
  std::lock_guard<std::mutex> guard{mtx_};
  // Those that ended are forgotten (a client reconnects for as long as it runs).
  connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                    [](const caf::actor_addr& a) {
                                      return !caf::actor_cast<caf::strong_actor_ptr>(a);
                                    }),
                     connections_.end());
  connections_.push_back(conn.address());
  return caf::actor_cast<connection_actor>(conn);
}

std::function<connection_actor()> hyperdht_client_socket::create_socket() {
  // The factory holds the stack alive for as long as the client keeps it.
  auto keep = shared_from_this();
  return [keep] { return keep->connect(); };
}

} // namespace ht
