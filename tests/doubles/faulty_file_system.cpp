#include "doubles/faulty_file_system.hpp"

#include <algorithm>
#include <vector>

namespace ht::store {

int faulty_file_system::fault::take() {
  if (times == 0)
    return 0;
  if (skip > 0) {
    --skip;
    return 0;
  }
  if (times > 0)
    --times;
  return err;
}

faulty_file_system::faulty_file_system(std::shared_ptr<file_system> inner)
  : inner_(std::move(inner)) {
}

void faulty_file_system::fail_writes(int err, int64_t times, int64_t after) {
  std::lock_guard<std::mutex> g{mtx_};
  write_fault_ = fault{err, times, after};
}

void faulty_file_system::short_writes(size_t max_bytes, int64_t times) {
  std::lock_guard<std::mutex> g{mtx_};
  short_max_ = std::max<size_t>(max_bytes, 1);
  short_times_ = times;
}

void faulty_file_system::fail_fsyncs(int err, int64_t times) {
  std::lock_guard<std::mutex> g{mtx_};
  fsync_fault_ = fault{err, times};
}

void faulty_file_system::fail_opens(int err, int64_t times) {
  std::lock_guard<std::mutex> g{mtx_};
  open_fault_ = fault{err, times};
}

void faulty_file_system::fail_reads(int err, int64_t times) {
  std::lock_guard<std::mutex> g{mtx_};
  read_fault_ = fault{err, times};
}

void faulty_file_system::fault_only_paths(std::string part) {
  std::lock_guard<std::mutex> g{mtx_};
  only_part_ = std::move(part);
}

bool faulty_file_system::targeted(const std::string& path) const {
  return only_part_.empty() || path.find(only_part_) != std::string::npos;
}

bool faulty_file_system::targeted(int fd) const {
  if (only_part_.empty())
    return true;
  auto i = paths_.find(fd);
  return i != paths_.end() && targeted(i->second);
}

void faulty_file_system::clear_faults() {
  std::lock_guard<std::mutex> g{mtx_};
  read_fault_ = fault{};
  only_part_.clear();
  write_fault_ = fault{};
  fsync_fault_ = fault{};
  open_fault_ = fault{};
  short_times_ = 0;
}

faulty_file_system::counters faulty_file_system::stats() const {
  std::lock_guard<std::mutex> g{mtx_};
  return stats_;
}

int faulty_file_system::open_append(const std::string& path, int& fd) {
  {
    std::lock_guard<std::mutex> g{mtx_};
    ++stats_.open_append_calls;
    if (targeted(path))
      if (int err = open_fault_.take(); err != 0) {
        fd = -1;
        return err;
      }
  }
  int err = inner_->open_append(path, fd);
  if (err == 0) {
    std::lock_guard<std::mutex> g{mtx_};
    paths_[fd] = path;
  }
  return err;
}

int faulty_file_system::open_read(const std::string& path, int& fd) {
  {
    std::lock_guard<std::mutex> g{mtx_};
    if (targeted(path))
      if (int err = read_fault_.take(); err != 0) {
        fd = -1;
        return err;
      }
  }
  return inner_->open_read(path, fd);
}

int faulty_file_system::close(int fd) {
  {
    std::lock_guard<std::mutex> g{mtx_};
    paths_.erase(fd);
  }
  return inner_->close(fd);
}

int faulty_file_system::writev(int fd, const iovec* iov, int iovcnt, size_t& written) {
  size_t limit = 0;
  {
    std::lock_guard<std::mutex> g{mtx_};
    ++stats_.writev_calls;
    if (!targeted(fd)) {
      // Not a faulty path: written as is.
    } else if (int err = write_fault_.take(); err != 0) {
      written = 0;
      return err;
    }
    if (short_times_ != 0) {
      if (short_times_ > 0)
        --short_times_;
      limit = short_max_;
    }
  }
  int err;
  if (limit == 0) {
    err = inner_->writev(fd, iov, iovcnt, written);
  } else {
    // Trim the vector to `limit` bytes: a short write as the kernel does it.
    std::vector<iovec> cut;
    size_t left = limit;
    for (int i = 0; i < iovcnt && left > 0; ++i) {
      auto n = std::min(left, iov[i].iov_len);
      cut.push_back(iovec{iov[i].iov_base, n});
      left -= n;
    }
    err = inner_->writev(fd, cut.data(), static_cast<int>(cut.size()), written);
  }
  std::lock_guard<std::mutex> g{mtx_};
  stats_.bytes_written += written;
  return err;
}

int faulty_file_system::pread(int fd, char* buf, size_t n, uint64_t offset, size_t& got) {
  return inner_->pread(fd, buf, n, offset, got);
}

int faulty_file_system::fsync(int fd) {
  {
    std::lock_guard<std::mutex> g{mtx_};
    ++stats_.fsync_calls;
    if (int err = fsync_fault_.take(); err != 0)
      return err;
  }
  return inner_->fsync(fd);
}

int faulty_file_system::fstat(int fd, file_info& out) {
  return inner_->fstat(fd, out);
}

int faulty_file_system::stat(const std::string& path, file_info& out) {
  return inner_->stat(path, out);
}

int faulty_file_system::rename(const std::string& from, const std::string& to) {
  {
    std::lock_guard<std::mutex> g{mtx_};
    ++stats_.renames;
  }
  return inner_->rename(from, to);
}

int faulty_file_system::unlink(const std::string& path) {
  return inner_->unlink(path);
}

int faulty_file_system::mkdir(const std::string& path) {
  return inner_->mkdir(path);
}

int faulty_file_system::fsync_dir(const std::string& path) {
  return inner_->fsync_dir(path);
}

} // namespace ht::store
