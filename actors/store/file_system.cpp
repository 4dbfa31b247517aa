#include "actors/store/file_system.hpp"

#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ht::store {

namespace {

file_info to_info(const struct stat& st) {
  file_info i;
  i.dev = static_cast<uint64_t>(st.st_dev);
  i.ino = static_cast<uint64_t>(st.st_ino);
  i.size = static_cast<uint64_t>(st.st_size);
  i.nlink = static_cast<uint64_t>(st.st_nlink);
  return i;
}

class posix_file_system final : public file_system {
public:
  int open_append(const std::string& path, int& fd) override {
    do {
      fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? errno : 0;
  }

  int open_read(const std::string& path, int& fd) override {
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? errno : 0;
  }

  int close(int fd) override {
    // Never retry close(2) on EINTR: Linux releases the descriptor anyway.
    return ::close(fd) == 0 ? 0 : errno;
  }

  int writev(int fd, const iovec* iov, int iovcnt, size_t& written) override {
    ssize_t n;
    do {
      n = ::writev(fd, iov, iovcnt);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      written = 0;
      return errno;
    }
    written = static_cast<size_t>(n);
    return 0;
  }

  int pread(int fd, char* buf, size_t n, uint64_t offset, size_t& got) override {
    got = 0;
    while (got < n) {
      auto r = ::pread(fd, buf + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return errno;
      if (r == 0)
        break;
      got += static_cast<size_t>(r);
    }
    return 0;
  }

  int fsync(int fd) override {
    int r;
    do {
      r = ::fsync(fd);
    } while (r != 0 && errno == EINTR);
    return r == 0 ? 0 : errno;
  }

  int fstat(int fd, file_info& out) override {
    struct stat st;
    if (::fstat(fd, &st) != 0)
      return errno;
    out = to_info(st);
    return 0;
  }

  int stat(const std::string& path, file_info& out) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return errno;
    out = to_info(st);
    return 0;
  }

  int rename(const std::string& from, const std::string& to) override {
    return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
  }

  int unlink(const std::string& path) override {
    return ::unlink(path.c_str()) == 0 ? 0 : errno;
  }

  int mkdir(const std::string& path) override {
    return ::mkdir(path.c_str(), 0755) == 0 ? 0 : errno;
  }

  int fsync_dir(const std::string& path) override {
    int fd;
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
      return errno;
    int err = fsync(fd);
    ::close(fd);
    return err;
  }
};

} // namespace

std::shared_ptr<file_system> make_posix_file_system() {
  return std::make_shared<posix_file_system>();
}

int make_directories(file_system& fs, const std::string& path) {
  if (path.empty())
    return 0;
  // Create each prefix ending before a '/', then the whole path.
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/')
      continue;
    auto prefix = path.substr(0, pos);
    int err = fs.mkdir(prefix);
    if (err != 0 && err != EEXIST)
      return err;
  }
  file_info info;
  return fs.stat(path, info);
}

int write_all(file_system& fs, int fd, const char* data, size_t size) {
  while (size > 0) {
    iovec iov{const_cast<char*>(data), size};
    size_t n = 0;
    if (int err = fs.writev(fd, &iov, 1, n); err != 0)
      return err;
    if (n == 0)
      return EIO; // no progress and no error: do not spin
    data += n;
    size -= n;
  }
  return 0;
}

} // namespace ht::store
