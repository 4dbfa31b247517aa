#include "actors/udx/socket_actor.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "actors/udx/send_queue.hpp"
#include "actors/udx/sockaddr.hpp"
#include "dht/udx/header.hpp"

namespace ht {

namespace {

constexpr unsigned batch_size = 64;     // datagrams per recvmmsg
constexpr size_t slot_size = 4096;      // larger datagrams are truncated: dropped

struct route {
  udx_packet_sink_actor sink;
  udx_backlog_ptr backlog;
};

// Shared by the actor (registrations, sends) and the I/O thread (receives,
// flushing sends the kernel refused).
struct socket_core {
  int fd = -1;
  int wake_fd = -1;
  udx_endpoint local;
  int64_t backlog_cap = 0;
  int64_t handler_cap = 0;
  std::mutex mtx;
  std::unordered_map<uint32_t, route> routes;
  udx_datagram_handler_actor handler;
  udx_handler_backlog_ptr handler_backlog;
  uint8_t handler_tag = 0;
  std::atomic<uint64_t> handler_dropped{0};
  std::atomic<uint64_t> stream_dropped{0};
  // The send path: the socket is non-blocking; the lock is only ever held
  // around non-blocking syscalls.
  std::mutex send_mtx;
  udx_detail::send_queue sendq{0};
  udx_detail::send_queue::send_fn send_fn;
  std::atomic<bool> stopping{false};
  std::vector<uint8_t> rx_buffers = std::vector<uint8_t>(batch_size * slot_size); // I/O thread only
  std::thread reader;

  ~socket_core() {
    stop_reader();
    if (fd >= 0)
      ::close(fd);
    if (wake_fd >= 0)
      ::close(wake_fd);
  }

  /// Ends the I/O thread (when the actor terminates; a udx_sender may keep
  /// the core, and so the fd, a little longer, but sends nothing more).
  /// Never on the I/O thread itself.
  void stop_reader() {
    stopping = true;
    if (reader.joinable()) {
      wake();
      reader.join();
    }
  }
  void wake() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }
  void read_loop();
  void receive();
  void dispatch(const mmsghdr* msgs, const sockaddr_storage* addrs, unsigned n);
};

void socket_core::read_loop() {
  for (;;) {
    bool want_out;
    {
      std::lock_guard<std::mutex> guard{send_mtx};
      want_out = !sendq.empty();
    }
    short events = POLLIN | (want_out ? POLLOUT : 0);
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    if (fds[1].revents) {
      uint64_t count;
      [[maybe_unused]] auto n = ::read(wake_fd, &count, sizeof count);
      if (stopping)
        return;
    }
    if (fds[0].revents & POLLOUT) {
      // A few batches per lock hold: the actor's sends wait for this lock,
      // and poll reports POLLOUT again at once if more fits.
      std::lock_guard<std::mutex> guard{send_mtx};
      sendq.flush(send_fn, 4);
    }
    if (fds[0].revents & POLLIN)
      receive();
  }
}

void socket_core::receive() {
  auto& buffers = rx_buffers;
  mmsghdr msgs[batch_size];
  iovec iovs[batch_size];
  sockaddr_storage addrs[batch_size];
  // Drain what is queued, a bounded number of rounds per wake-up.
  for (int round = 0; round < 16; ++round) {
    for (unsigned i = 0; i < batch_size; ++i) {
      iovs[i] = {buffers.data() + i * slot_size, slot_size};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    }
    int n = ::recvmmsg(fd, msgs, batch_size, MSG_DONTWAIT, nullptr);
    if (n <= 0)
      break;
    dispatch(msgs, addrs, static_cast<unsigned>(n));
    if (static_cast<unsigned>(n) < batch_size)
      break;
  }
}

void socket_core::dispatch(const mmsghdr* msgs, const sockaddr_storage* addrs, unsigned n) {
  // Group per stream so each stream actor gets one message per batch.
  std::vector<std::pair<route, udx_datagrams>> per_stream;
  // One message for the handler per batch: a burst costs the handler one
  // wake-up, not one per datagram.
  udx_datagrams admitted;
  udx_datagram_handler_actor h;
  uint8_t tag;
  {
    std::lock_guard<std::mutex> guard{mtx};
    h = handler;
    tag = handler_tag;
    auto* hb = handler_backlog.get();
    for (unsigned i = 0; i < n; ++i) {
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
        continue; // oversized: neither UDX nor a valid DHT message
      udx_endpoint from;
      if (!udx_detail::from_sockaddr(addrs[i], from))
        continue;
      const uint8_t* p = rx_buffers.data() + static_cast<size_t>(i) * slot_size;
      size_t len = msgs[i].msg_len;
      auto it = udx::looks_like_udx(p, len) ? routes.find(udx::peek_stream_id(p)) : routes.end();
      if (it != routes.end()) {
        auto slot = std::find_if(per_stream.begin(), per_stream.end(),
                                 [&](auto& e) { return e.first.sink == it->second.sink; });
        if (slot == per_stream.end()) {
          per_stream.emplace_back(it->second, udx_datagrams{});
          slot = per_stream.end() - 1;
        }
        slot->second.push_back(udx_datagram{from, bytes(p, p + len)});
        continue;
      }
      // Not UDX, or UDX for a stream we do not know: like udx-native, an
      // ordinary datagram for the socket's handler, if there is one.
      if (!h)
        continue;
      // Empty datagrams are read by nothing above UDP and would cost the
      // handler's backlog nothing: dropped. Over the cap or over its
      // source's share (a peer flooding us, or the handler behind):
      // dropped too, so the handler's mailbox cannot grow without bound and
      // one source cannot take the room of others. Admission comes before
      // the copy, so a flood's excess costs no allocation. DHT RPC
      // retries; a drop is a lost datagram.
      if (len == 0 || (hb && !udx_handler_admit(*hb, handler_cap, from, len))) {
        ++handler_dropped;
        continue;
      }
      admitted.push_back(udx_datagram{from, bytes(p, p + len)});
    }
  }
  for (auto& [r, datagrams] : per_stream) {
    if (r.backlog) {
      int64_t size = 0;
      for (auto& d : datagrams)
        size += static_cast<int64_t>(d.data.size());
      if (r.backlog->bytes.load(std::memory_order_relaxed) + size > backlog_cap) {
        // The stream actor is behind: drop like a full buffer.
        stream_dropped += datagrams.size();
        continue;
      }
      r.backlog->bytes.fetch_add(size, std::memory_order_relaxed);
    }
    caf::anon_send(r.sink, udx_recv_atom::value, std::move(datagrams));
  }
  if (!admitted.empty())
    caf::anon_send(h, udx_recv_atom::value, tag, std::move(admitted));
}

/// The direct send path (messages/udx.hpp, udx_sender): the same queue
/// and lock as the actor's udx_send, called from the handler's thread.
class direct_sender final : public udx_sender {
public:
  explicit direct_sender(std::shared_ptr<socket_core> core) : core_(std::move(core)) {}

  void send(const udx_datagram_view* ds, size_t n) override {
    if (n == 0 || core_->stopping.load(std::memory_order_relaxed))
      return;
    // Chunks of 64 with their addresses on the stack: no allocation
    // unless the kernel refuses some (then they are copied into the queue).
    constexpr size_t chunk = 64;
    sockaddr_storage addrs[chunk];
    udx_detail::send_queue::view views[chunk];
    bool waiting = false;
    for (size_t at = 0; at < n; at += chunk) {
      size_t k = std::min(chunk, n - at);
      for (size_t i = 0; i < k; ++i) {
        auto& d = ds[at + i];
        views[i] = {&addrs[i], udx_detail::to_sockaddr(d.to, addrs[i]), d.data, d.size};
      }
      std::lock_guard<std::mutex> guard{core_->send_mtx};
      waiting = core_->sendq.send_views(views, k, core_->send_fn);
    }
    if (waiting)
      core_->wake(); // the I/O thread flushes on POLLOUT
  }

private:
  std::shared_ptr<socket_core> core_;
};

struct socket_state {
  std::shared_ptr<socket_core> core;
  static inline const char* name = "udx_socket";
};

udx_socket_actor::behavior_type
socket_actor(udx_socket_actor::stateful_pointer<socket_state> self,
             std::shared_ptr<socket_core> core) {
  self->state.core = core;
  // The I/O thread stops (and the fd closes) when the actor terminates.
  self->attach_functor([core]() mutable {
    core->stop_reader(); // now, even if a udx_sender still holds the core
    core.reset();
  });
  core->reader = std::thread([raw = core.get()] { raw->read_loop(); });
  return {
    [=](udx_send_atom, const udx_endpoint& to, std::vector<bytes>& datagrams) {
      sockaddr_storage sa;
      socklen_t len = udx_detail::to_sockaddr(to, sa);
      bool waiting;
      {
        std::lock_guard<std::mutex> guard{core->send_mtx};
        waiting = core->sendq.send(sa, len, std::move(datagrams), core->send_fn);
      }
      if (waiting)
        core->wake(); // the I/O thread flushes on POLLOUT
    },
    [=](udx_send_atom, udx_datagrams& datagrams) {
      bool waiting;
      {
        std::lock_guard<std::mutex> guard{core->send_mtx};
        for (auto& d : datagrams) {
          sockaddr_storage sa;
          socklen_t len = udx_detail::to_sockaddr(d.from, sa);
          core->sendq.push(sa, len, std::move(d.data));
        }
        waiting = core->sendq.flush(core->send_fn);
      }
      if (waiting)
        core->wake();
    },
    [=](udx_register_atom, uint32_t id, udx_packet_sink_actor sink,
        udx_backlog_ptr backlog) {
      std::lock_guard<std::mutex> guard{core->mtx};
      return core->routes.emplace(id, route{std::move(sink), std::move(backlog)}).second;
    },
    [=](udx_unregister_atom, uint32_t id) {
      std::lock_guard<std::mutex> guard{core->mtx};
      core->routes.erase(id);
    },
    [=](udx_handler_atom, udx_datagram_handler_actor h, udx_handler_backlog_ptr backlog,
        uint8_t tag) {
      std::lock_guard<std::mutex> guard{core->mtx};
      core->handler = std::move(h);
      core->handler_backlog = std::move(backlog);
      core->handler_tag = tag;
    },
    [=](udx_stats_atom) {
      udx_socket_info info;
      info.handler_dropped = core->handler_dropped.load();
      info.stream_dropped = core->stream_dropped.load();
      std::lock_guard<std::mutex> guard{core->send_mtx};
      info.send_would_block = core->sendq.would_block;
      info.send_dropped = core->sendq.dropped;
      info.send_errors = core->sendq.errors;
      info.send_queued = core->sendq.queued();
      return info;
    },
    [=](udx_address_atom) { return core->local; },
    [=](udx_sender_atom) -> udx_sender_ptr { return std::make_shared<direct_sender>(core); },
  };
}

caf::error sys_error(const char* what) {
  return caf::make_error(caf::sec::runtime_error,
                         std::string(what) + ": " + std::strerror(errno));
}

} // namespace

caf::expected<udx_socket_actor> spawn_udx_socket(caf::actor_system& sys,
                                                 const udx_socket_options& opts) {
  udx_endpoint want;
  try {
    want = udx_endpoint::parse(opts.host, opts.port);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::invalid_argument, e.what());
  }
  auto core = std::make_shared<socket_core>();
  core->backlog_cap = opts.stream_backlog_cap;
  core->handler_cap = opts.handler_backlog_cap;
  core->sendq = udx_detail::send_queue{opts.send_queue_bytes};
  // Non-blocking: the actor's sends run on a CAF worker, which must never
  // wait for the kernel (see send_queue.hpp).
  core->fd = ::socket(want.family == 6 ? AF_INET6 : AF_INET,
                      SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (core->fd < 0)
    return sys_error("udx socket");
  if (want.family == 6) {
    int off = 0; // dual stack: IPv4 peers too, where the OS allows it
    ::setsockopt(core->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  for (int opt : {SO_RCVBUF, SO_SNDBUF}) {
    int size = opts.buffer_bytes;
    int force = opt == SO_RCVBUF ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
    if (::setsockopt(core->fd, SOL_SOCKET, force, &size, sizeof size) != 0)
      ::setsockopt(core->fd, SOL_SOCKET, opt, &size, sizeof size);
  }
  sockaddr_storage sa;
  socklen_t len = udx_detail::to_sockaddr(want, sa);
  if (::bind(core->fd, reinterpret_cast<sockaddr*>(&sa), len) != 0)
    return sys_error(("udx bind " + want.to_string()).c_str());
  len = sizeof sa;
  if (::getsockname(core->fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return sys_error("udx getsockname");
  udx_detail::from_sockaddr(sa, core->local);
  if (want.family == 6 && core->local.family == 4)
    core->local.family = 6; // keep the bound family
  if (opts.send_hook)
    core->send_fn = [fd = core->fd, hook = opts.send_hook](mmsghdr* m, unsigned n) {
      return hook(fd, m, n);
    };
  else
    core->send_fn = [fd = core->fd](mmsghdr* m, unsigned n) {
      return ::sendmmsg(fd, m, n, MSG_DONTWAIT);
    };
  core->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (core->wake_fd < 0)
    return sys_error("udx eventfd");
  return sys.spawn(socket_actor, std::move(core));
}

} // namespace ht
