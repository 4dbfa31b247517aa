#pragma once
// Recovery of a client's last trace from the tail of its log file(s), so a
// restarted server (even after SIGKILL) continues each client's session
// where the disk says it ended: nothing duplicated, nothing lost.
//
// A trace line is a complete line (ending in '\n') holding a JSON object
// with a string "traceSessionId" and an integer "traceNumber". Note lines,
// corrupt lines and a crash-truncated last line (no '\n') are skipped.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "actors/store/file_system.hpp"
#include "messages/store.hpp"

namespace ht::store {

/// Parses one line (without its '\n'); the trace fields, or nullopt if the
/// line is not a trace line. Never throws.
std::optional<last_seen_trace> parse_trace_line(std::string_view line);

/// The last trace line among the complete lines of `data`. Bytes after the
/// last '\n' are an unfinished line and ignored.
std::optional<last_seen_trace> last_trace_in(std::string_view data);

/// How the tail of a file is read.
struct tail_scan_options {
  size_t chunk_bytes = 64 * 1024;
  /// Lines longer than this are skipped instead of buffered (bounded memory
  /// on garbage files). Our own lines are far smaller.
  size_t max_line_bytes = 16u << 20;
};

/// What a tail scan of one file found.
struct tail_scan_result {
  int err = 0;                  // 0, or the errno that stopped the scan
  bool exists = true;           // false: the file does not exist (ENOENT)
  std::optional<last_seen_trace> trace;
  uint64_t bytes_read = 0;      // for tests: the tail, not the whole file
};

/// Scans `path` backwards from its end, chunk by chunk, until it finds a
/// trace line or reaches the start.
tail_scan_result scan_file_tail(file_system& fs, const std::string& path,
                                const tail_scan_options& opts = {});

/// What recovering a client found.
struct recovery_result {
  int err = 0;              // 0, or an errno from reading a file
  std::string failed_path;  // the file that could not be read, if err != 0
  last_seen_trace trace;    // found == false: no trace line anywhere
  uint64_t bytes_read = 0;
};

/// Looks in <hex>.log, then <hex>.log.1 ... <hex>.log.<keep>, and returns the
/// first trace found (the newest). A missing file is skipped.
recovery_result recover_client(file_system& fs, const std::string& folder,
                               const std::string& hex, uint32_t keep,
                               const tail_scan_options& opts = {});

} // namespace ht::store
