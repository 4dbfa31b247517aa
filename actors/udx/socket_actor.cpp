#include "actors/udx/socket_actor.hpp"

#include <algorithm>
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

#include "actors/udx/sockaddr.hpp"
#include "dht/udx/header.hpp"

namespace ht {

namespace {

constexpr unsigned batch_size = 64;     // datagrams per recvmmsg/sendmmsg
constexpr size_t slot_size = 4096;      // larger datagrams are truncated: dropped

struct route {
  udx_packet_sink_actor sink;
  udx_backlog_ptr backlog;
};

// Shared by the actor (registrations, sends) and the I/O thread (receives).
struct socket_core {
  int fd = -1;
  int wake_fd = -1;
  udx_endpoint local;
  int64_t backlog_cap = 0;
  std::mutex mtx;
  std::unordered_map<uint32_t, route> routes;
  udx_datagram_handler_actor handler;
  std::thread reader;

  ~socket_core() {
    if (reader.joinable()) {
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
      reader.join();
    }
    if (fd >= 0)
      ::close(fd);
    if (wake_fd >= 0)
      ::close(wake_fd);
  }

  void read_loop();
  void dispatch(udx_datagrams& batch);
};

void socket_core::read_loop() {
  std::vector<uint8_t> buffers(batch_size * slot_size);
  mmsghdr msgs[batch_size];
  iovec iovs[batch_size];
  sockaddr_storage addrs[batch_size];
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    if (fds[1].revents)
      return;
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
      udx_datagrams batch;
      batch.reserve(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
          continue; // oversized: neither UDX nor a valid DHT message
        udx_datagram d;
        if (!udx_detail::from_sockaddr(addrs[i], d.from))
          continue;
        const uint8_t* p = buffers.data() + static_cast<size_t>(i) * slot_size;
        d.data.assign(p, p + msgs[i].msg_len);
        batch.push_back(std::move(d));
      }
      dispatch(batch);
      if (static_cast<unsigned>(n) < batch_size)
        break;
    }
  }
}

void socket_core::dispatch(udx_datagrams& batch) {
  // Group per stream so each stream actor gets one message per batch.
  std::vector<std::pair<route, udx_datagrams>> per_stream;
  std::vector<udx_datagram> others;
  udx_datagram_handler_actor h;
  {
    std::lock_guard<std::mutex> guard{mtx};
    h = handler;
    for (auto& d : batch) {
      const uint8_t* p = d.data.data();
      auto it = udx::looks_like_udx(p, d.data.size())
                  ? routes.find(udx::peek_stream_id(p))
                  : routes.end();
      if (it == routes.end()) {
        // Not UDX, or UDX for a stream we do not know: like udx-native,
        // it is an ordinary datagram for the socket's handler.
        others.push_back(std::move(d));
        continue;
      }
      auto slot = std::find_if(per_stream.begin(), per_stream.end(),
                               [&](auto& e) { return e.first.sink == it->second.sink; });
      if (slot == per_stream.end()) {
        per_stream.emplace_back(it->second, udx_datagrams{});
        slot = per_stream.end() - 1;
      }
      slot->second.push_back(std::move(d));
    }
  }
  for (auto& [r, datagrams] : per_stream) {
    if (r.backlog) {
      int64_t size = 0;
      for (auto& d : datagrams)
        size += static_cast<int64_t>(d.data.size());
      if (r.backlog->bytes.load(std::memory_order_relaxed) + size > backlog_cap)
        continue; // the stream actor is behind: drop like a full buffer
      r.backlog->bytes.fetch_add(size, std::memory_order_relaxed);
    }
    caf::anon_send(r.sink, udx_recv_atom::value, std::move(datagrams));
  }
  if (h)
    for (auto& d : others)
      caf::anon_send(h, udx_recv_atom::value, d.from, std::move(d.data));
}

struct socket_state {
  std::shared_ptr<socket_core> core;
  static inline const char* name = "udx_socket";
};

udx_socket_actor::behavior_type
socket_actor(udx_socket_actor::stateful_pointer<socket_state> self,
             std::shared_ptr<socket_core> core) {
  self->state.core = core;
  // The I/O thread stops (and the fd closes) when the actor terminates.
  self->attach_functor([core]() mutable { core.reset(); });
  core->reader = std::thread([raw = core.get()] { raw->read_loop(); });
  return {
    [=](udx_send_atom, const udx_endpoint& to, std::vector<bytes>& datagrams) {
      sockaddr_storage sa;
      socklen_t len = udx_detail::to_sockaddr(to, sa);
      size_t done = 0;
      while (done < datagrams.size()) {
        mmsghdr msgs[batch_size];
        iovec iovs[batch_size];
        unsigned n = 0;
        for (; n < batch_size && done + n < datagrams.size(); ++n) {
          auto& d = datagrams[done + n];
          iovs[n] = {d.data(), d.size()};
          std::memset(&msgs[n], 0, sizeof msgs[n]);
          msgs[n].msg_hdr.msg_iov = &iovs[n];
          msgs[n].msg_hdr.msg_iovlen = 1;
          msgs[n].msg_hdr.msg_name = &sa;
          msgs[n].msg_hdr.msg_namelen = len;
        }
        int sent = ::sendmmsg(core->fd, msgs, n, 0);
        if (sent < 0) {
          if (errno == EINTR)
            continue;
          // Unreachable destination or a full buffer: UDP semantics, the
          // datagram is lost and the protocols above recover.
          ++done;
          continue;
        }
        done += static_cast<size_t>(sent);
      }
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
    [=](udx_handler_atom, udx_datagram_handler_actor h) {
      std::lock_guard<std::mutex> guard{core->mtx};
      core->handler = std::move(h);
    },
    [=](udx_address_atom) { return core->local; },
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
  core->fd = ::socket(want.family == 6 ? AF_INET6 : AF_INET,
                      SOCK_DGRAM | SOCK_CLOEXEC, 0);
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
  core->wake_fd = ::eventfd(0, EFD_CLOEXEC);
  if (core->wake_fd < 0)
    return sys_error("udx eventfd");
  return sys.spawn(socket_actor, std::move(core));
}

} // namespace ht
