#pragma once
// One client's log file and the lines accepted for it but not yet written:
// the group-commit and framing engine of the store, as a plain class (no
// actors, no timers) so every rule is unit-tested directly.
//
// Rules it keeps:
//  - Lines are buffered and written with as few write calls as possible
//    (one writev per batch, more only for short writes or rotation).
//  - A tailer never sees a corrupt line: after a short write the rest of
//    that line is written before anything else; a write error leaves the
//    unwritten bytes buffered for a retry; a line whose start went to a file
//    that has since been removed is rewritten whole in the new file.
//  - Size-based rotation renames <hex>.log to <hex>.log.1 (and so on) only
//    at a line boundary; a line never straddles two files.
//  - Before each batch the file's identity is checked against its name
//    (one stat): a removed or replaced file, or a removed folder, is
//    recreated and the batch goes there.
//  - A file opened for the first time that does not end in '\n' (a line cut
//    short by a crash) gets a '\n' first, so a new line never merges with it.
#include <cstdint>
#include <string>

#include "actors/store/file_system.hpp"

namespace ht::store {

struct log_policy {
  std::string folder;
  uint64_t rotate_bytes = 0; // 0: never rotate
  uint32_t rotate_keep = 5;
};

/// The result of a write attempt: 0 or errno, plus which operation failed.
struct io_status {
  int err = 0;
  const char* op = "";   // "open", "write", "rename", "fsync", ...
  std::string path;
  explicit operator bool() const { return err == 0; }
};

class client_log {
public:
  client_log(file_system& fs, const log_policy& policy, std::string hex);
  ~client_log();
  client_log(const client_log&) = delete;
  client_log& operator=(const client_log&) = delete;

  /// Buffers one line (the '\n' is added here). Returns the stream offset
  /// just past the line: once committed() reaches it, the line is in the
  /// file. Precondition: the line contains no '\n'.
  uint64_t append(const char* data, size_t size);
  /// Room for `bytes` more of lines (their '\n' included) in one
  /// allocation, before appending a batch.
  void reserve(size_t bytes) { buf_.reserve(buf_.size() + bytes); }
  /// The buffer's allocation (for tests: what an idle client pins).
  size_t buffer_capacity() const { return buf_.capacity(); }

  /// Writes what is buffered. On error the rest stays buffered; call again
  /// to retry.
  io_status write_pending();

  /// Fsyncs the file (and the folder after a create or rename) if anything
  /// was written since the last sync.
  io_status sync();

  /// Closes the descriptor (after a best-effort sync of written data).
  /// Buffered bytes stay buffered; the next write reopens by name.
  void close();

  /// Stream offset up to which every line is in the file.
  uint64_t committed() const { return committed_; }
  /// Stream offset just past the last accepted line.
  uint64_t accepted() const { return base_ + buf_.size(); }
  /// Accepted bytes not yet completely written.
  uint64_t buffered() const { return accepted() - committed_; }
  /// Lines in the file (of those accepted by this object).
  uint64_t committed_lines() const { return committed_lines_; }
  bool has_pending() const { return accepted() != written_; }
  /// Written since the last successful sync().
  bool dirty() const { return dirty_ || dir_dirty_; }
  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  const std::string& hex() const { return hex_; }
  /// The unwritten complete lines, for recovery of a client that has some.
  std::string_view unwritten_lines() const;

  // Counters for status and tests.
  uint64_t write_calls() const { return write_calls_; }
  uint64_t rotations() const { return rotations_; }
  uint64_t reopens() const { return reopens_; }

private:
  io_status ensure_open();
  io_status open_file();
  io_status rotate();
  void drop_written_prefix();
  void count_committed_lines(uint64_t from);

  file_system& fs_;
  const log_policy& policy_;
  std::string hex_;
  std::string path_;
  int fd_ = -1;
  file_info id_;            // identity of fd_
  uint64_t file_size_ = 0;  // bytes in fd_'s file, tracked as we write
  bool need_newline_ = false; // the file ends in an unfinished line
  bool dirty_ = false;
  bool dir_dirty_ = false;

  std::string buf_;         // accepted bytes from stream offset base_
  uint64_t base_ = 0;
  uint64_t written_ = 0;    // stream offset: bytes handed to write(2)
  uint64_t committed_ = 0;  // stream offset: whole lines in the file
  uint64_t accepted_lines_ = 0;
  uint64_t committed_lines_ = 0;

  uint64_t write_calls_ = 0;
  uint64_t rotations_ = 0;
  uint64_t reopens_ = 0;
};

} // namespace ht::store
