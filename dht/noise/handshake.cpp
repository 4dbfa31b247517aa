#include "dht/noise/handshake.hpp"

#include <cstring>
#include <string>

#include <sodium.h>

namespace ht::noise {

namespace {

constexpr size_t max_noise_message = 65535;  // the Noise spec's limit, enforced by noise-handshake
constexpr size_t tag_len = 16;

// The 96-bit ChaChaPoly nonce: 4 zero bytes then the counter, little-endian.
void make_nonce(uint8_t nonce[12], uint64_t n) {
  std::memset(nonce, 0, 12);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(n >> (8 * i));
}

} // namespace

handshake::handshake(pattern p, bool initiator, const keypair& static_keypair, const bytes& prologue,
                     const std::optional<key32>& remote_static, options opts)
  : initiator_(initiator), s_(static_keypair), fixed_e_(std::move(opts.ephemeral)) {
  ensure_sodium();
  const char* name;
  if (p == pattern::IK) {
    name = "Noise_IK_Ed25519_ChaChaPoly_BLAKE2b";
    messages_ = {{token::e, token::es, token::s, token::ss}, {token::e, token::ee, token::se}};
  } else {
    name = "Noise_XX_Ed25519_ChaChaPoly_BLAKE2b";
    messages_ = {{token::e}, {token::e, token::ee, token::s, token::es}, {token::s, token::se}};
  }
  // The protocol name is shorter than HASHLEN, so it is zero-padded into h.
  std::memcpy(h_.data(), name, std::strlen(name));
  ck_ = h_;
  mix_hash(prologue.data(), prologue.size());
  if (p == pattern::IK) {
    // Pre-message "<- s": both sides hash the responder's static key.
    if (initiator) {
      if (!remote_static) throw error(errc::invalid_key, "IK initiator needs the responder's public key");
      rs_ = remote_static;
      mix_hash(rs_->data(), rs_->size());
    } else {
      mix_hash(s_.public_key.data(), s_.public_key.size());
    }
  }
}

handshake::~handshake() {
  sodium_memzero(h_.data(), h_.size());
  sodium_memzero(ck_.data(), ck_.size());
  sodium_memzero(s_.secret_key.data(), s_.secret_key.size());
  if (e_) sodium_memzero(e_->secret_key.data(), e_->secret_key.size());
  if (fixed_e_) sodium_memzero(fixed_e_->secret_key.data(), fixed_e_->secret_key.size());
  if (k_) sodium_memzero(k_->data(), k_->size());
  sodium_memzero(result_.tx.data(), 32);
  sodium_memzero(result_.rx.data(), 32);
}

bool handshake::my_turn() const {
  if (complete_ || failed_) return false;
  return (next_ % 2 == 0) == initiator_;
}

void handshake::check_usable(bool sending) const {
  if (failed_) throw error(errc::failed, "the handshake already failed");
  if (complete_) throw error(errc::out_of_order, "the handshake is already complete");
  if (my_turn() != sending)
    throw error(errc::out_of_order, sending ? "it is the peer's turn to send"
                                            : "a message arrived while it is our turn to send");
}

void handshake::mix_hash(const uint8_t* p, size_t n) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 64);
  crypto_generichash_update(&st, h_.data(), h_.size());
  if (n) crypto_generichash_update(&st, p, n);
  crypto_generichash_final(&st, h_.data(), 64);
}

void handshake::mix_key(const key32& remote, const keypair& local) {
  key32 dh = dh_ed25519(remote, local);
  auto [ck, temp_k] = hkdf2(ck_, dh.data(), dh.size());
  sodium_memzero(dh.data(), dh.size());
  ck_ = ck;
  key32 k;
  std::memcpy(k.data(), temp_k.data(), 32);
  k_ = k;
  n_ = 0;
  sodium_memzero(temp_k.data(), temp_k.size());
}

bytes handshake::encrypt_and_hash(const uint8_t* p, size_t n) {
  bytes out;
  if (!k_) {
    out.assign(p, p + n);
  } else {
    if (n + tag_len > max_noise_message)
      throw error(errc::too_long, "payload of " + std::to_string(n) + " bytes");
    out.resize(n + tag_len);
    uint8_t nonce[12];
    make_nonce(nonce, n_);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &clen, p, n, h_.data(), h_.size(),
                                              nullptr, nonce, k_->data());
    ++n_;
  }
  mix_hash(out.data(), out.size());
  return out;
}

bytes handshake::decrypt_and_hash(const uint8_t* p, size_t n) {
  bytes out;
  if (!k_) {
    out.assign(p, p + n);
  } else {
    if (n > max_noise_message) throw error(errc::too_long, "ciphertext of " + std::to_string(n) + " bytes");
    if (n < tag_len) throw error(errc::truncated, "ciphertext shorter than its tag");
    out.resize(n - tag_len);
    uint8_t nonce[12];
    make_nonce(nonce, n_);
    unsigned long long mlen = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &mlen, nullptr, p, n, h_.data(),
                                                  h_.size(), nonce, k_->data()) != 0)
      throw error(errc::decrypt_failed, "handshake message did not authenticate");
    ++n_;
  }
  mix_hash(p, n);
  return out;
}

void handshake::dh_token(token t) {
  // Which of our keys meets which of theirs (noise spec, §7.3 token rules).
  switch (t) {
    case token::ee: mix_key(*re_, *e_); break;
    case token::ss: mix_key(*rs_, s_); break;
    case token::es:
      if (initiator_) mix_key(*rs_, *e_);
      else mix_key(*re_, s_);
      break;
    case token::se:
      if (initiator_) mix_key(*re_, s_);
      else mix_key(*rs_, *e_);
      break;
    default: break;
  }
}

bytes handshake::send(const uint8_t* payload, size_t n) {
  check_usable(true);
  try {
    bytes out;
    for (token t : messages_[next_]) {
      if (t == token::e) {
        if (!e_) e_ = fixed_e_ ? *fixed_e_ : keypair::random();
        mix_hash(e_->public_key.data(), 32);
        out.insert(out.end(), e_->public_key.begin(), e_->public_key.end());
      } else if (t == token::s) {
        bytes c = encrypt_and_hash(s_.public_key.data(), 32);
        out.insert(out.end(), c.begin(), c.end());
      } else {
        dh_token(t);
      }
    }
    bytes c = encrypt_and_hash(payload, n);
    out.insert(out.end(), c.begin(), c.end());
    ++next_;
    if (next_ == messages_.size()) finish();
    return out;
  } catch (...) {
    failed_ = true;
    throw;
  }
}

bytes handshake::recv(const uint8_t* msg, size_t n) {
  check_usable(false);
  try {
    if (n > max_noise_message) throw error(errc::too_long, "message of " + std::to_string(n) + " bytes");
    size_t off = 0;
    auto take = [&](size_t len, const char* what) {
      if (n - off < len) throw error(errc::truncated, std::string("missing ") + what);
      const uint8_t* p = msg + off;
      off += len;
      return p;
    };
    for (token t : messages_[next_]) {
      if (t == token::e) {
        key32 re;
        std::memcpy(re.data(), take(32, "ephemeral key"), 32);
        re_ = re;
        mix_hash(re.data(), 32);
      } else if (t == token::s) {
        size_t len = k_ ? 32 + tag_len : 32;
        bytes plain = decrypt_and_hash(take(len, "static key"), len);
        key32 rs;
        std::memcpy(rs.data(), plain.data(), 32);
        rs_ = rs;
      } else {
        dh_token(t);
      }
    }
    bytes payload = decrypt_and_hash(msg + off, n - off);
    ++next_;
    if (next_ == messages_.size()) finish();
    return payload;
  } catch (...) {
    failed_ = true;
    throw;
  }
}

void handshake::finish() {
  auto [k1, k2] = hkdf2(ck_, nullptr, 0);
  result_.initiator = initiator_;
  std::memcpy(result_.tx.data(), (initiator_ ? k1 : k2).data(), 32);
  std::memcpy(result_.rx.data(), (initiator_ ? k2 : k1).data(), 32);
  result_.hash = h_;
  result_.public_key = s_.public_key;
  result_.remote_public_key = *rs_;
  sodium_memzero(k1.data(), k1.size());
  sodium_memzero(k2.data(), k2.size());
  if (e_) sodium_memzero(e_->secret_key.data(), e_->secret_key.size());
  complete_ = true;
}

handshake_result handshake::final() const {
  if (!complete_) throw error(errc::not_complete, "final() before the last handshake message");
  return result_;
}

} // namespace ht::noise
