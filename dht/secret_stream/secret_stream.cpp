#include "dht/secret_stream/secret_stream.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include <sodium.h>

namespace ht::secret_stream {

static_assert(crypto_secretstream_xchacha20poly1305_ABYTES == abytes);
static_assert(crypto_secretstream_xchacha20poly1305_HEADERBYTES == 24);

const char* to_string(errc c) {
  switch (c) {
    case errc::handshake_failed: return "handshake failed";
    case errc::remote_key_mismatch: return "remote public key mismatch";
    case errc::invalid_header: return "invalid header message";
    case errc::bad_stream_id: return "invalid stream id in header";
    case errc::frame_too_short: return "frame too short";
    case errc::frame_too_large: return "frame too large";
    case errc::incoming_too_large: return "incoming message above the limit";
    case errc::decrypt_failed: return "message failed to decrypt";
    case errc::after_final: return "message after the final message";
    case errc::message_too_large: return "message too large";
    case errc::not_open: return "stream not open";
    case errc::send_exhausted: return "unordered send exhausted";
    case errc::closed: return "stream closed";
  }
  return "unknown";
}

namespace {
// Noise messages are at most 65535 bytes, so a larger frame during the
// handshake is hostile: refuse it before buffering it.
constexpr size_t max_handshake_frame = 65535;
} // namespace

struct stream::state {
  crypto_secretstream_xchacha20poly1305_state push;
  crypto_secretstream_xchacha20poly1305_state pull;
  ~state() { sodium_memzero(this, sizeof *this); }
};

stream::stream(const noise::handshake_result& hs, options opts)
  : initiator_(hs.initiator), opts_(std::move(opts)) {
  setup(hs);
}

stream::stream(bool initiator, const noise::keypair& kp, const std::optional<key32>& expected_remote,
               options opts, noise::handshake::options hs_opts)
  : initiator_(initiator), opts_(std::move(opts)), expected_remote_(expected_remote) {
  hs_ = std::make_unique<noise::handshake>(noise::pattern::XX, initiator, kp, bytes{}, std::nullopt,
                                           std::move(hs_opts));
  if (initiator) {
    bytes m = hs_->send();
    push_frame_header(m.size());
    tx_buf_.insert(tx_buf_.end(), m.begin(), m.end());
  }
}

stream::~stream() = default;

std::optional<key32> stream::remote_public_key() const {
  if (!keys_) return std::nullopt;
  return keys_->remote_public_key;
}

void stream::fail(errc code, const std::string& what) {
  closed_ = true;
  hs_.reset();
  throw error(code, what);
}

void stream::push_frame_header(size_t body_len) {
  tx_buf_.push_back(static_cast<uint8_t>(body_len));
  tx_buf_.push_back(static_cast<uint8_t>(body_len >> 8));
  tx_buf_.push_back(static_cast<uint8_t>(body_len >> 16));
}

void stream::setup(const noise::handshake_result& hs) {
  noise::ensure_sodium();
  keys_ = hs;
  st_ = std::make_unique<state>();
  remote_id_ = noise::stream_id(hs.hash, !initiator_);
  key32 id = noise::stream_id(hs.hash, initiator_);

  std::array<uint8_t, 24> header;
  if (opts_.fixed_header) {
    // init_pull derives exactly the state init_push would have derived from
    // this header, so pushing with it reproduces a peer's output bit for bit.
    header = *opts_.fixed_header;
    crypto_secretstream_xchacha20poly1305_init_pull(&st_->push, header.data(), hs.tx.data());
  } else {
    crypto_secretstream_xchacha20poly1305_init_push(&st_->push, header.data(), hs.tx.data());
  }
  box_.emplace(hs.hash, initiator_, opts_.fixed_send_counter, opts_.unordered_replay_window);

  push_frame_header(id_header_bytes);
  tx_buf_.insert(tx_buf_.end(), id.begin(), id.end());
  tx_buf_.insert(tx_buf_.end(), header.begin(), header.end());

  while (!queued_writes_.empty()) {
    encrypt_into_tx(queued_writes_.front().data(), queued_writes_.front().size());
    queued_writes_.pop_front();
  }
}

void stream::encrypt_into_tx(const uint8_t* data, size_t n) {
  size_t at = tx_buf_.size();
  push_frame_header(n + abytes);
  tx_buf_.resize(at + 3 + n + abytes);
  unsigned long long clen = 0;
  crypto_secretstream_xchacha20poly1305_push(&st_->push, tx_buf_.data() + at + 3, &clen, data, n,
                                             nullptr, 0, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
}

void stream::write(const uint8_t* data, size_t n) {
  if (closed_) throw error(errc::closed, "write on a closed stream");
  if (n > max_message)
    throw error(errc::message_too_large,
                std::to_string(n) + " bytes, the maximum is " + std::to_string(max_message));
  if (!keys_) {
    queued_writes_.emplace_back(data, data + n);
    return;
  }
  encrypt_into_tx(data, n);
}

bytes stream::take_transmit() {
  bytes out;
  out.swap(tx_buf_);
  return out;
}

void stream::take_transmit(bytes& out) {
  if (out.empty()) out.swap(tx_buf_);
  else out.insert(out.end(), tx_buf_.begin(), tx_buf_.end());
  tx_buf_.clear();
}

std::optional<bytes> stream::poll_message() {
  if (inbox_.empty()) return std::nullopt;
  bytes m = std::move(inbox_.front());
  inbox_.pop_front();
  return m;
}

void stream::feed(const uint8_t* data, size_t n) {
  if (closed_) throw error(errc::closed, "feed on a closed stream");
  size_t off = 0;
  while (off < n && !closed_) {
    if (!in_body_) {
      while (len_bytes_ < 3 && off < n) len_ |= uint32_t{data[off++]} << (8 * len_bytes_++);
      if (len_bytes_ < 3) break;
      in_body_ = true;
      // Bound the frame before buffering any of it.
      if (hs_ && len_ > max_handshake_frame)
        fail(errc::frame_too_large, "handshake frame of " + std::to_string(len_) + " bytes");
      if (!hs_ && !established_ && len_ != id_header_bytes)
        fail(errc::invalid_header, "header frame of " + std::to_string(len_) + " bytes, expected 56");
      if (established_ && len_ > opts_.max_incoming_message + abytes)
        fail(errc::incoming_too_large,
             "message of " + std::to_string(len_ < abytes ? 0 : len_ - abytes)
               + " bytes exceeds the limit of " + std::to_string(opts_.max_incoming_message)
               + " bytes");
    }
    size_t avail = n - off;
    if (partial_.empty() && avail >= len_) {
      // The whole frame is in this chunk: no copy.
      const uint8_t* body = data + off;
      off += len_;
      size_t len = len_;
      len_ = 0;
      len_bytes_ = 0;
      in_body_ = false;
      on_frame(body, len);
      continue;
    }
    size_t need = len_ - partial_.size();
    size_t chunk = avail < need ? avail : need;
    // Grow with the bytes that arrived, never from the length prefix alone:
    // a peer announcing a large frame and sending nothing more costs us
    // nothing. Doubling keeps the copies amortized; the frame size caps it.
    if (partial_.size() + chunk > partial_.capacity()) {
      size_t want = partial_.size() + chunk;
      size_t grown = std::max(want, std::min<size_t>(2 * partial_.capacity(), len_));
      partial_.reserve(grown);
    }
    partial_.insert(partial_.end(), data + off, data + off + chunk);
    off += chunk;
    if (partial_.size() == len_) {
      bytes body;
      body.swap(partial_);
      len_ = 0;
      len_bytes_ = 0;
      in_body_ = false;
      on_frame(body.data(), body.size());
    }
  }
}

void stream::on_frame(const uint8_t* body, size_t n) {
  if (hs_) {
    on_handshake_message(body, n);
    return;
  }
  if (!established_) {
    if (n != id_header_bytes) fail(errc::invalid_header, "header of " + std::to_string(n) + " bytes");
    if (sodium_memcmp(body, remote_id_.data(), 32) != 0)
      fail(errc::bad_stream_id, "the header belongs to another handshake");
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st_->pull, body + 32, keys_->rx.data()) != 0)
      fail(errc::invalid_header, "secretstream header rejected");
    established_ = true;
    return;
  }
  if (remote_final_) fail(errc::after_final, "frame after the FINAL tag");
  if (n < abytes) fail(errc::frame_too_short, std::to_string(n) + " bytes, at least 17 needed");
  bytes plain(n - abytes);
  unsigned long long mlen = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&st_->pull, plain.data(), &mlen, &tag, body, n,
                                                 nullptr, 0) != 0)
    fail(errc::decrypt_failed, "frame of " + std::to_string(n) + " bytes did not authenticate");
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) remote_final_ = true;
  if (plain.empty() && opts_.filter_zero_length) return;
  inbox_.push_back(std::move(plain));
}

void stream::on_handshake_message(const uint8_t* body, size_t n) {
  try {
    hs_->recv(body, n);
    if (!hs_->complete()) {
      bytes m = hs_->send();
      push_frame_header(m.size());
      tx_buf_.insert(tx_buf_.end(), m.begin(), m.end());
    }
  } catch (const noise::error& e) {
    fail(errc::handshake_failed, e.what());
  }
  if (!hs_->complete()) return;
  noise::handshake_result r = hs_->final();
  hs_.reset();
  if (expected_remote_ && *expected_remote_ != r.remote_public_key)
    fail(errc::remote_key_mismatch, "the peer authenticated with an unexpected key");
  setup(r);
}

bytes stream::box(const uint8_t* data, size_t n) {
  if (closed_) throw error(errc::closed, "send on a closed stream");
  if (!box_) throw error(errc::not_open, "unordered send before the handshake finished");
  return box_->seal(data, n);
}

std::optional<bytes> stream::unbox(const uint8_t* data, size_t n) {
  if (closed_ || !box_) return std::nullopt;  // secret-stream drops these too
  return box_->open(data, n);
}

} // namespace ht::secret_stream
