#include "actors/server/keys.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace ht {

namespace {

void init_sodium() {
  if (sodium_init() < 0)
    throw key_file_error("libsodium failed to initialize");
}

template <size_t N>
void hex_field(const nlohmann::json& doc, const char* name, std::array<uint8_t, N>& out) {
  auto i = doc.find(name);
  if (i == doc.end())
    throw key_file_error(std::string("missing \"") + name + "\"");
  if (!i->is_string())
    throw key_file_error(std::string("\"") + name + "\" is not a string");
  bytes raw;
  if (!from_hex(i->get<std::string>(), raw))
    throw key_file_error(std::string("\"") + name + "\" is not hex");
  if (raw.size() != N)
    throw key_file_error(std::string("\"") + name + "\" has " + std::to_string(raw.size())
                         + " bytes, expected " + std::to_string(N));
  std::copy(raw.begin(), raw.end(), out.begin());
}

} // namespace

key_pair generate_key_pair() {
  init_sodium();
  key_pair kp;
  crypto_sign_keypair(kp.public_key_bytes.data(), kp.secret_key.data());
  return kp;
}

key_pair parse_key_file(const std::string& text) {
  init_sodium();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw key_file_error(std::string("not JSON: ") + e.what());
  }
  if (!doc.is_object())
    throw key_file_error("not a JSON object");
  key_pair kp;
  hex_field(doc, "publicKey", kp.public_key_bytes);
  hex_field(doc, "secretKey", kp.secret_key);
  // The secret key embeds its public key; a mismatch means a damaged or
  // hand-edited file, which would make the server unreachable.
  public_key derived;
  crypto_sign_ed25519_sk_to_pk(derived.data(), kp.secret_key.data());
  if (derived != kp.public_key_bytes)
    throw key_file_error("publicKey does not belong to secretKey");
  return kp;
}

std::string format_key_file(const key_pair& kp) {
  return "{\"publicKey\":\"" + to_hex(kp.public_key_bytes) + "\",\"secretKey\":\""
         + to_hex(kp.secret_key.data(), kp.secret_key.size()) + "\"}";
}

key_pair load_or_create_key_file(const std::string& path, bool* created) {
  auto fail = [&](const std::string& why) {
    return key_file_error("key file " + path + ": " + why);
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT)
    throw fail(std::strerror(errno));
  if (fd >= 0) {
    std::string text;
    char buf[4096];
    for (;;) {
      auto n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        auto err = errno;
        ::close(fd);
        throw fail(std::strerror(err));
      }
      if (n == 0)
        break;
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > 64 * 1024) {
        ::close(fd);
        throw fail("larger than 64 KiB, not a key file");
      }
    }
    ::close(fd);
    if (created)
      *created = false;
    try {
      return parse_key_file(text);
    } catch (const key_file_error& e) {
      throw fail(e.what());
    }
  }
  // Create it: write a temporary file with mode 0600, fsync, then link it
  // into place so a crash never leaves a half-written key file, and a
  // concurrent start never overwrites one.
  auto kp = generate_key_pair();
  auto text = format_key_file(kp);
  auto tmp = path + ".tmp." + std::to_string(::getpid());
  fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw fail(std::string("cannot create: ") + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size())
            && ::fsync(fd) == 0;
  auto err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    throw fail(std::string("cannot write: ") + std::strerror(err));
  }
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) // another process created it first: use that one
      return load_or_create_key_file(path, created);
    throw fail(std::string("cannot create: ") + std::strerror(err));
  }
  ::unlink(tmp.c_str());
  if (created)
    *created = true;
  return kp;
}

} // namespace ht
