#pragma once
// Helpers for UDX tests against udx-native over real UDP on 127.0.0.1:
// a handler that hashes what each stream receives, a writer actor that
// streams pseudo-random bytes with backpressure and hashes them, a JS peer
// (tests/interop/udx-peer.js) wrapper, and a lossy UDP relay.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "messages/udx.hpp"
#include "support/node_process.hpp"

namespace ht::udx::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

/// A real (threaded) actor system that keeps CAF's logger quiet.
struct quiet_config : caf::actor_system_config {
  quiet_config() {
    set("logger.verbosity", caf::atom("quiet"));
    set("logger.console", caf::atom("none"));
  }
};

inline std::string hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

/// Incremental SHA-256 (libsodium) of a byte stream.
struct sha256 {
  crypto_hash_sha256_state st;
  sha256() { crypto_hash_sha256_init(&st); }
  void update(const bytes& b) { crypto_hash_sha256_update(&st, b.data(), b.size()); }
  std::string hex_digest() {
    unsigned char out[32];
    crypto_hash_sha256_final(&st, out);
    return hex(out, 32);
  }
};

/// What the C++ side observed on each stream.
struct stream_result {
  uint64_t received = 0;
  sha256 hash;
  std::string digest;      // set at end
  bool ended = false;
  bool closed = false;
  std::string error;
  std::vector<ht::bytes> messages;
  uint64_t after_close = 0; // events that arrived after `closed` (must stay 0)
};

struct results {
  std::mutex mtx;
  std::condition_variable cv;
  std::map<uint32_t, stream_result> by_id;
  std::vector<std::pair<udx_endpoint, bytes>> datagrams;

  template <class Pred>
  bool wait(Pred pred, std::chrono::seconds limit = 120s) {
    std::unique_lock<std::mutex> g{mtx};
    return cv.wait_for(g, limit, [&] { return pred(*this); });
  }
};
using results_ptr = std::shared_ptr<results>;

inline udx_stream_handler_actor::behavior_type
hashing_handler(udx_stream_handler_actor::pointer, results_ptr r) {
  auto touch = [r](uint32_t id, auto f) {
    {
      std::lock_guard<std::mutex> g{r->mtx};
      auto& s = r->by_id[id];
      if (s.closed)
        ++s.after_close; // `closed` must be the last event of a stream
      f(s);
    }
    r->cv.notify_all();
  };
  return {
    [=](udx_data_atom, uint32_t id, const bytes& b) {
      touch(id, [&](stream_result& s) {
        s.received += b.size();
        s.hash.update(b);
      });
    },
    [=](udx_end_atom, uint32_t id) {
      touch(id, [&](stream_result& s) {
        s.ended = true;
        s.digest = s.hash.hex_digest();
      });
    },
    [=](udx_msg_atom, uint32_t id, const bytes& m) {
      touch(id, [&](stream_result& s) { s.messages.push_back(m); });
    },
    [=](closed_atom, uint32_t id, const std::string& e) {
      touch(id, [&](stream_result& s) {
        s.closed = true;
        s.error = e;
      });
    },
  };
}

inline udx_datagram_handler_actor::behavior_type
datagram_sink(udx_datagram_handler_actor::pointer, results_ptr r,
              udx_handler_backlog_ptr backlog) {
  return {
    [=](udx_recv_atom, uint8_t, const udx_datagrams& batch) {
      for (auto& d : batch) {
        if (backlog)
          udx_handler_release(*backlog, d.from, d.data.size());
        std::lock_guard<std::mutex> g{r->mtx};
        r->datagrams.emplace_back(d.from, d.data);
      }
      r->cv.notify_all();
    },
  };
}

/// Result of a writer: total bytes and their SHA-256, once all writes were
/// accepted by the stream.
struct write_result {
  std::mutex mtx;
  std::condition_variable cv;
  bool done = false;
  std::string error;
  std::string digest;
  bool wait(std::chrono::seconds limit = 300s) {
    std::unique_lock<std::mutex> g{mtx};
    return cv.wait_for(g, limit, [&] { return done; });
  }
};
using write_result_ptr = std::shared_ptr<write_result>;

/// Writes `total` pseudo-random bytes in chunks, one write request in
/// flight at a time (the stream's withheld replies are the backpressure),
/// then ends the stream if asked.
inline caf::behavior writer(caf::event_based_actor* self, udx_stream_actor s,
                            uint64_t total, bool end, uint64_t seed,
                            write_result_ptr out) {
  struct st_t {
    std::mt19937_64 rng;
    sha256 hash;
    uint64_t left;
  };
  auto st = std::make_shared<st_t>(st_t{std::mt19937_64(seed), sha256{}, total});
  auto finish = [=](std::string err) {
    std::lock_guard<std::mutex> g{out->mtx};
    out->done = true;
    out->error = std::move(err);
    out->digest = st->hash.hex_digest();
    out->cv.notify_all();
  };
  // The step function re-arms itself through a weak reference: a strong
  // one would be a cycle (and leak); the behavior below owns it.
  auto step = std::make_shared<std::function<void()>>();
  std::weak_ptr<std::function<void()>> weak_step = step;
  *step = [=] {
    if (st->left == 0) {
      if (end)
        self->send(s, udx_end_atom::value);
      finish("");
      self->quit();
      return;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(st->left, 256 * 1024));
    bytes chunk(n);
    for (size_t i = 0; i < n; i += 8) {
      uint64_t v = st->rng();
      std::memcpy(chunk.data() + i, &v, std::min<size_t>(8, n - i));
    }
    st->hash.update(chunk);
    st->left -= n;
    self->request(s, caf::infinite, write_atom::value, std::move(chunk))
      .then([=](uint64_t) {
              if (auto f = weak_step.lock())
                (*f)();
            },
            [=](caf::error& e) {
              finish(to_string(e));
              self->quit();
            });
  };
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      (*step)();
    },
  };
}

/// The JS peer: udx-native on 127.0.0.1 behind JSON lines.
class js_peer {
public:
  js_peer() : proc_("udx-peer.js") {
    auto ready = next([](const json& j) { return j["event"] == "ready"; });
    port = ready["port"].get<uint16_t>();
  }
  ~js_peer() {
    try {
      proc_.write_line(R"({"cmd":"exit"})");
      proc_.wait(5000);
    } catch (...) {
    }
  }

  void send(const json& cmd) { proc_.write_line(cmd.dump()); }

  /// Next event matching pred (earlier non-matching ones are kept).
  template <class Pred>
  json next(Pred pred, int timeout_ms = 240000) {
    for (auto it = backlog_.begin(); it != backlog_.end(); ++it)
      if (pred(*it)) {
        json j = *it;
        backlog_.erase(it);
        return j;
      }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0)
        throw std::runtime_error("js peer: expected event did not arrive");
      json j = json::parse(proc_.read_line(static_cast<int>(left)));
      if (pred(j))
        return j;
      backlog_.push_back(std::move(j));
    }
  }
  json event(const std::string& name, uint32_t id, int timeout_ms = 240000) {
    return next([&](const json& j) { return j["event"] == name && j.value("id", 0u) == id; },
                timeout_ms);
  }

  uint16_t port = 0;

private:
  ht::test::node_process proc_;
  std::deque<json> backlog_;
};

/// A UDP relay between our socket and the JS socket that drops, duplicates
/// and delays (reorders) datagrams with a seeded PRNG. Our side sends to
/// port_a(), the JS side to port_b().
class loss_proxy {
public:
  struct profile {
    double loss = 0.01;
    double duplicate = 0.01;
    double reorder = 0.02;
    int max_delay_us = 3000;
  };

  loss_proxy(uint16_t ours, uint16_t theirs, profile p, uint64_t seed)
    : prof_(p), rng_(seed), ours_(ours), theirs_(theirs) {
    a_ = open_socket(port_a_);
    b_ = open_socket(port_b_);
    thread_ = std::thread([this] { loop(); });
  }
  ~loss_proxy() {
    stop_ = true;
    thread_.join();
    ::close(a_);
    ::close(b_);
  }
  uint16_t port_a() const { return port_a_; }
  uint16_t port_b() const { return port_b_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t forwarded() const { return forwarded_; }

private:
  struct held {
    std::chrono::steady_clock::time_point at;
    int fd;
    uint16_t to;
    bytes data;
  };

  static int open_socket(uint16_t& port) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int size = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw std::runtime_error("proxy bind failed");
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
    return fd;
  }

  static void send_to(int fd, uint16_t port, const bytes& d) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    ::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }

  void route(int out_fd, uint16_t to, bytes d) {
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng_) < prof_.loss) {
      ++dropped_;
      return;
    }
    int copies = u(rng_) < prof_.duplicate ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      ++forwarded_;
      if (u(rng_) < prof_.reorder) {
        auto delay = std::chrono::microseconds(
          static_cast<int>(u(rng_) * prof_.max_delay_us));
        held_.push_back(held{std::chrono::steady_clock::now() + delay, out_fd, to, d});
      } else {
        send_to(out_fd, to, d);
      }
    }
  }

  void loop() {
    bytes buf(65536);
    while (!stop_) {
      pollfd fds[2] = {{a_, POLLIN, 0}, {b_, POLLIN, 0}};
      ::poll(fds, 2, held_.empty() ? 20 : 1);
      for (int side = 0; side < 2; ++side) {
        int fd = side == 0 ? a_ : b_;
        for (int i = 0; i < 256; ++i) {
          auto n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
          if (n < 0)
            break;
          bytes d(buf.begin(), buf.begin() + n);
          // from ours (on a) goes out of b to theirs, and vice versa
          if (side == 0)
            route(b_, theirs_, std::move(d));
          else
            route(a_, ours_, std::move(d));
        }
      }
      auto now = std::chrono::steady_clock::now();
      for (auto it = held_.begin(); it != held_.end();) {
        if (it->at <= now) {
          send_to(it->fd, it->to, it->data);
          it = held_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  profile prof_;
  std::mt19937_64 rng_;
  uint16_t ours_, theirs_;
  uint16_t port_a_ = 0, port_b_ = 0;
  int a_ = -1, b_ = -1;
  std::deque<held> held_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> dropped_{0}, forwarded_{0};
  std::thread thread_;
};

} // namespace ht::udx::test
