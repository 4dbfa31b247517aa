#include "actors/udx/send_queue.hpp"

#include <cerrno>
#include <cstring>

namespace ht::udx_detail {

namespace {
constexpr unsigned batch_size = 64; // datagrams per sendmmsg
}

bool send_queue::send(const sockaddr_storage& to, socklen_t len,
                      std::vector<bytes>&& datagrams, const send_fn& fn) {
  for (auto& d : datagrams)
    push(to, len, std::move(d));
  return flush(fn);
}

bool send_queue::send_views(const view* v, size_t n, const send_fn& fn) {
  auto queue_rest = [&](size_t from) {
    for (size_t i = from; i < n; ++i)
      push(*v[i].to, v[i].len, bytes(v[i].data, v[i].data + v[i].size));
  };
  if (!queue_.empty()) {
    // Order: behind what already waits.
    queue_rest(0);
    return flush(fn);
  }
  mmsghdr msgs[batch_size];
  iovec iovs[batch_size];
  size_t done = 0;
  while (done < n) {
    unsigned k = 0;
    for (; k < batch_size && done + k < n; ++k) {
      auto& d = v[done + k];
      iovs[k] = {const_cast<uint8_t*>(d.data), d.size};
      std::memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_iov = &iovs[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
      msgs[k].msg_hdr.msg_name = const_cast<sockaddr_storage*>(d.to);
      msgs[k].msg_hdr.msg_namelen = d.len;
    }
    int sent = fn(msgs, k);
    if (sent < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ++would_block;
        queue_rest(done);
        return !queue_.empty();
      }
      sent = 1; // this datagram is lost (see flush)
      ++errors;
    } else if (sent == 0) {
      ++would_block;
      queue_rest(done);
      return !queue_.empty();
    }
    done += static_cast<size_t>(sent);
  }
  return false;
}

void send_queue::push(const sockaddr_storage& to, socklen_t len, bytes&& datagram) {
  if (bytes_ + datagram.size() > cap_) {
    ++dropped;
    return;
  }
  bytes_ += datagram.size();
  queue_.push_back(item{to, len, std::move(datagram)});
}

bool send_queue::flush(const send_fn& fn, unsigned max_calls) {
  mmsghdr msgs[batch_size];
  iovec iovs[batch_size];
  for (unsigned calls = 0; !queue_.empty() && calls < max_calls; ++calls) {
    unsigned n = 0;
    for (; n < batch_size && n < queue_.size(); ++n) {
      auto& it = queue_[n];
      iovs[n] = {it.data.data(), it.data.size()};
      std::memset(&msgs[n], 0, sizeof msgs[n]);
      msgs[n].msg_hdr.msg_iov = &iovs[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      msgs[n].msg_hdr.msg_name = &it.to;
      msgs[n].msg_hdr.msg_namelen = it.len;
    }
    int sent = fn(msgs, n);
    if (sent < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ++would_block;
        return true; // the kernel buffer is full: wait for POLLOUT
      }
      // Unreachable destination, message too long, ...: UDP semantics, this
      // datagram is lost and the protocols above recover.
      sent = 1;
      ++errors;
    } else if (sent == 0) {
      ++would_block; // not what sendmmsg does, but never spin on it
      return true;
    }
    for (int i = 0; i < sent; ++i) {
      bytes_ -= queue_.front().data.size();
      queue_.pop_front();
    }
  }
  return !queue_.empty();
}

} // namespace ht::udx_detail
