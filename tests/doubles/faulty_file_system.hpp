#pragma once
// A file_system wrapper that counts calls and injects faults, for tests of
// the store (and of anything built on it): disk full, I/O errors, short
// writes. A removed folder needs no injection: tests remove it for real.
// Thread-safe, so a test thread may change faults while the store runs.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "actors/store/file_system.hpp"

namespace ht::store {

class faulty_file_system final : public file_system {
public:
  /// Counters of calls that reached this wrapper (failed ones included).
  struct counters {
    uint64_t writev_calls = 0;
    uint64_t bytes_written = 0;
    uint64_t fsync_calls = 0;
    uint64_t open_append_calls = 0;
    uint64_t renames = 0;
  };

  static constexpr int64_t forever = -1;

  explicit faulty_file_system(std::shared_ptr<file_system> inner = make_posix_file_system());

  /// After `after` more calls pass, the next `times` writev calls fail with
  /// `err` (forever: until cleared).
  void fail_writes(int err, int64_t times = forever, int64_t after = 0);
  /// The next `times` writev calls write at most `max_bytes` (at least 1).
  void short_writes(size_t max_bytes, int64_t times = forever);
  /// The next `times` fsync calls fail with `err`.
  void fail_fsyncs(int err, int64_t times = forever);
  /// The next `times` open_append calls fail with `err`.
  void fail_opens(int err, int64_t times = forever);
  /// The next `times` open_read calls fail with `err` (recovery scans).
  void fail_reads(int err, int64_t times = forever);
  /// Write, open and read faults hit only paths containing `part` (e.g. one
  /// client's key); calls on other paths pass and do not use them up.
  /// Empty (the default): every path.
  void fault_only_paths(std::string part);
  /// Removes every injected fault (and the path filter).
  void clear_faults();

  counters stats() const;

  int open_append(const std::string& path, int& fd) override;
  int open_read(const std::string& path, int& fd) override;
  int close(int fd) override;
  int writev(int fd, const iovec* iov, int iovcnt, size_t& written) override;
  int pread(int fd, char* buf, size_t n, uint64_t offset, size_t& got) override;
  int fsync(int fd) override;
  int fstat(int fd, file_info& out) override;
  int stat(const std::string& path, file_info& out) override;
  int rename(const std::string& from, const std::string& to) override;
  int unlink(const std::string& path) override;
  int mkdir(const std::string& path) override;
  int fsync_dir(const std::string& path) override;

private:
  struct fault {
    int err = 0;
    int64_t times = 0;
    int64_t skip = 0; // calls that pass before the fault starts
    // Consumes one occurrence; the errno to inject or 0.
    int take();
  };

  std::shared_ptr<file_system> inner_;
  mutable std::mutex mtx_;
  fault write_fault_;
  fault fsync_fault_;
  fault open_fault_;
  fault read_fault_;
  std::string only_part_;                  // empty: faults hit every path
  std::unordered_map<int, std::string> paths_; // open fds for the filter
  bool targeted(const std::string& path) const;
  bool targeted(int fd) const;
  size_t short_max_ = 0;
  int64_t short_times_ = 0;
  counters stats_;
};

} // namespace ht::store
