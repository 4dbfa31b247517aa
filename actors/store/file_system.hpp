#pragma once
// The file operations the store needs, behind an interface so tests can
// inject faults (ENOSPC, EIO, short writes, a removed folder) and count
// calls. Every function returns 0 or an errno value; nothing throws, so a
// failing disk is ordinary data for the caller, never an exception.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <sys/types.h>
#include <sys/uio.h>

namespace ht::store {

/// What the store needs to know about a file: identity (to notice that the
/// name now points elsewhere or nowhere), size and link count.
struct file_info {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  uint64_t nlink = 0;
  bool same_file(const file_info& o) const { return dev == o.dev && ino == o.ino; }
};

class file_system {
public:
  virtual ~file_system() = default;

  /// Opens (creating with mode 0644) `path` for appending; fd on success.
  /// The fd is also readable (pread of the last byte, see client_log).
  virtual int open_append(const std::string& path, int& fd) = 0;
  /// Opens `path` read-only.
  virtual int open_read(const std::string& path, int& fd) = 0;
  virtual int close(int fd) = 0;
  /// One write call (writev(2) semantics: may write less than asked).
  virtual int writev(int fd, const iovec* iov, int iovcnt, size_t& written) = 0;
  /// Reads up to `n` bytes at `offset`; `got` < n only at end of file.
  virtual int pread(int fd, char* buf, size_t n, uint64_t offset, size_t& got) = 0;
  virtual int fsync(int fd) = 0;
  virtual int fstat(int fd, file_info& out) = 0;
  virtual int stat(const std::string& path, file_info& out) = 0;
  virtual int rename(const std::string& from, const std::string& to) = 0;
  virtual int unlink(const std::string& path) = 0;
  /// Creates one directory level (mode 0755); EEXIST when it exists.
  virtual int mkdir(const std::string& path) = 0;
  /// Fsyncs a directory, making renames and file creations durable.
  virtual int fsync_dir(const std::string& path) = 0;
};

/// The real thing: POSIX calls, retried on EINTR.
std::shared_ptr<file_system> make_posix_file_system();

/// mkdir -p: creates every missing level of `path`. 0 or an errno value.
int make_directories(file_system& fs, const std::string& path);

/// Writes everything (looping over short writes); 0 or an errno value.
/// For tests and recovery repairs; the store's hot path handles short writes
/// itself so it never interleaves a line.
int write_all(file_system& fs, int fd, const char* data, size_t size);

} // namespace ht::store
