#include "actors/store/client_log.hpp"

#include <cerrno>
#include <cstring>

#include "actors/store/log_paths.hpp"

namespace ht::store {

namespace {

char newline[] = "\n";

// A buffer larger than this is released once everything in it is written,
// so a burst does not pin its buffer for the life of the client: with 1,000
// clients that each sent ~45 KB at once, keeping up to 1 MiB each kept
// 34 MB in use after the burst (bench_connections). A busy client's batch
// is reserved whole (reserve()), so releasing costs one allocation a batch.
constexpr size_t keep_capacity = 16u << 10;

} // namespace

client_log::client_log(file_system& fs, const log_policy& policy, std::string hex)
  : fs_(fs), policy_(policy), hex_(std::move(hex)),
    path_(log_path(policy.folder, hex_)) {
}

client_log::~client_log() {
  close();
}

uint64_t client_log::append(const char* data, size_t size) {
  buf_.append(data, size);
  buf_ += '\n';
  ++accepted_lines_;
  return accepted();
}

std::string_view client_log::unwritten_lines() const {
  return std::string_view{buf_}.substr(static_cast<size_t>(committed_ - base_));
}

io_status client_log::write_pending() {
  while (has_pending()) {
    if (auto st = ensure_open(); !st)
      return st;
    const char* p = buf_.data() + (written_ - base_);
    auto len = static_cast<size_t>(accepted() - written_);
    bool at_boundary = written_ == committed_;
    if (!at_boundary) {
      // Finish the started line, and only it, before anything else: the
      // next line may belong in a fresh file, or the name may have moved.
      auto nl = static_cast<const char*>(std::memchr(p, '\n', len));
      len = static_cast<size_t>(nl - p) + 1; // every buffered line has its '\n'
    } else if (policy_.rotate_bytes > 0 && file_size_ + len > policy_.rotate_bytes) {
      // Write the whole lines that still fit, rotate before the rest.
      auto room = file_size_ < policy_.rotate_bytes
                    ? static_cast<size_t>(policy_.rotate_bytes - file_size_)
                    : size_t{0};
      auto nl = room > 0 ? static_cast<const char*>(::memrchr(p, '\n', std::min(room, len)))
                         : nullptr;
      if (nl == nullptr && file_size_ > 0) {
        if (auto st = rotate(); !st)
          return st;
        continue;
      }
      if (nl == nullptr) // a line bigger than rotate_bytes: alone, whole
        nl = static_cast<const char*>(std::memchr(p, '\n', len));
      len = static_cast<size_t>(nl - p) + 1;
    }
    iovec iov[2];
    int cnt = 0;
    if (need_newline_)
      iov[cnt++] = iovec{newline, 1};
    iov[cnt++] = iovec{const_cast<char*>(p), len};
    size_t n = 0;
    ++write_calls_;
    if (int err = fs_.writev(fd_, iov, cnt, n); err != 0)
      return {err, "write", path_};
    if (n == 0) // no error, no progress: treat as an I/O error, never spin
      return {EIO, "write", path_};
    dirty_ = true;
    file_size_ += n;
    if (need_newline_) {
      need_newline_ = false;
      --n;
    }
    if (n > 0) {
      if (auto nl = static_cast<const char*>(::memrchr(p, '\n', n))) {
        auto old = committed_;
        committed_ = written_ + static_cast<uint64_t>(nl - p) + 1;
        count_committed_lines(old);
      }
      written_ += n;
    }
  }
  drop_written_prefix();
  return {};
}

void client_log::count_committed_lines(uint64_t from) {
  // The common case (everything written) costs nothing; a partial batch
  // (short write, rotation) counts the newly finished lines.
  if (committed_ == accepted()) {
    committed_lines_ = accepted_lines_;
    return;
  }
  const char* p = buf_.data() + (from - base_);
  const char* end = buf_.data() + (committed_ - base_);
  while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p))))) {
    ++committed_lines_;
    ++p;
  }
}

void client_log::drop_written_prefix() {
  // Bytes before committed_ are never needed again; bytes of a partly
  // written line are (it is rewritten whole if its file disappears).
  if (committed_ == accepted()) {
    if (buf_.capacity() > keep_capacity)
      std::string{}.swap(buf_);
    else
      buf_.clear();
    base_ = committed_;
    return;
  }
  auto drop = static_cast<size_t>(committed_ - base_);
  if (drop > buf_.size() / 2) {
    buf_.erase(0, drop);
    base_ = committed_;
  }
}

io_status client_log::ensure_open() {
  if (fd_ >= 0) {
    file_info cur;
    int err = fs_.stat(path_, cur);
    if (err == 0 && cur.same_file(id_))
      return {};
    if (err != 0 && err != ENOENT && err != ENOTDIR)
      return {err, "stat", path_};
    bool mid_line = written_ != committed_;
    if (mid_line) {
      // The name moved on. If our file still exists (renamed away), finish
      // the started line there first; the next batch goes to the new name.
      file_info mine;
      if (fs_.fstat(fd_, mine) == 0 && mine.nlink > 0)
        return {};
      // Removed: the line's start is gone with it; write it whole again.
      written_ = committed_;
    }
    if (dirty_)
      fs_.fsync(fd_); // best effort: a renamed-away file keeps its data
    fs_.close(fd_);
    fd_ = -1;
    dirty_ = false;
    ++reopens_;
  }
  return open_file();
}

io_status client_log::open_file() {
  int fd = -1;
  int err = fs_.open_append(path_, fd);
  if (err == ENOENT) {
    // The folder is gone (or never existed): recreate it.
    if (int e = make_directories(fs_, policy_.folder); e != 0)
      return {e, "mkdir", policy_.folder};
    err = fs_.open_append(path_, fd);
  }
  if (err != 0)
    return {err, "open", path_};
  file_info info;
  if (int e = fs_.fstat(fd, info); e != 0) {
    fs_.close(fd);
    return {e, "stat", path_};
  }
  need_newline_ = false;
  if (info.size > 0) {
    // A crash may have cut the last line short: never let ours merge with it.
    char last = '\n';
    size_t got = 0;
    if (int e = fs_.pread(fd, &last, 1, info.size - 1, got); e != 0) {
      fs_.close(fd);
      return {e, "read", path_};
    }
    need_newline_ = got == 1 && last != '\n';
  } else {
    dir_dirty_ = true; // possibly created: make the name durable too
  }
  fd_ = fd;
  id_ = info;
  file_size_ = info.size;
  return {};
}

io_status client_log::rotate() {
  if (fd_ >= 0) {
    // The finished file leaves the name now: make its data durable first.
    if (dirty_) {
      if (int e = fs_.fsync(fd_); e != 0)
        return {e, "fsync", path_};
    }
    fs_.close(fd_);
    fd_ = -1;
    dirty_ = false;
  }
  if (policy_.rotate_keep == 0) {
    if (int e = fs_.unlink(path_); e != 0 && e != ENOENT)
      return {e, "unlink", path_};
  } else {
    // .log.(keep-1) -> .log.keep replaces (drops) the oldest; .log -> .log.1
    // last, so the name is free for the fresh file only at the very end.
    for (uint32_t k = policy_.rotate_keep; k >= 1; --k) {
      auto from = log_path(policy_.folder, hex_, k - 1);
      auto to = log_path(policy_.folder, hex_, k);
      if (int e = fs_.rename(from, to); e != 0 && e != ENOENT)
        return {e, "rename", from};
    }
  }
  dir_dirty_ = true;
  ++rotations_;
  return open_file();
}

io_status client_log::sync() {
  if (dirty_ && fd_ >= 0) {
    if (int e = fs_.fsync(fd_); e != 0)
      return {e, "fsync", path_};
    dirty_ = false;
  }
  if (dir_dirty_) {
    if (int e = fs_.fsync_dir(policy_.folder.empty() ? "." : policy_.folder); e != 0)
      return {e, "fsync", policy_.folder};
    dir_dirty_ = false;
  }
  return {};
}

void client_log::close() {
  if (fd_ < 0)
    return;
  if (dirty_)
    fs_.fsync(fd_); // best effort; callers that need the result sync() first
  fs_.close(fd_);
  fd_ = -1;
  dirty_ = false;
  if (buf_.empty() && buf_.capacity() > 0)
    std::string{}.swap(buf_);
}

} // namespace ht::store
