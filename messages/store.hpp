#pragma once
// The log store: one file writer actor for the server, owning every
// <folder>/<client key hex>.log file (see actors/store/).
#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/atoms.hpp"

namespace ht {

/// The last trace of a client: what its log file(s) end with (the store's
/// recover) and what a session has accepted (the handshake it sends, the
/// state the root keeps between sessions). found == false: none yet, the
/// handshake's null/null.
struct last_seen_trace {
  bool found = false;
  std::string session_id;
  int64_t trace_number = 0;

  static last_seen_trace of(std::string session_id, int64_t trace_number) {
    return {true, std::move(session_id), trace_number};
  }
  bool operator==(const last_seen_trace& other) const {
    return found == other.found
           && (!found
               || (session_id == other.session_id && trace_number == other.trace_number));
  }
  bool operator!=(const last_seen_trace& other) const { return !(*this == other); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, last_seen_trace& x) {
  return f(caf::meta::type_name("last_seen_trace"), x.found, x.session_id,
           x.trace_number);
}

/// A snapshot of the store for metrics and tests.
struct store_status {
  uint64_t buffered_bytes = 0;   // accepted, not yet written
  uint64_t written_lines = 0;    // since start
  uint64_t write_errors = 0;     // failed write attempts since start
  std::string last_error;        // empty when the last attempt succeeded
  // Added with actors/store (additive):
  bool failing = false;          // inside a write-error episode
  uint64_t withheld_replies = 0; // append replies not yet delivered
  uint64_t write_calls = 0;      // write(2)/writev(2) calls since start
  uint64_t fsyncs = 0;           // file fsyncs since start
  uint64_t rotations = 0;        // size rotations since start
  uint64_t reopened_files = 0;   // files found removed/replaced and reopened
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_status& x) {
  return f(caf::meta::type_name("store_status"), x.buffered_bytes,
           x.written_lines, x.write_errors, x.last_error, x.failing,
           x.withheld_replies, x.write_calls, x.fsyncs, x.rotations,
           x.reopened_files);
}

using store_actor = caf::typed_actor<
  // Appends whole lines (each one JSON object, no trailing newline) to the
  // client's log file. The reply comes once the lines are in the file
  // (write(2) done, fsync per policy) and carries the bytes the store still
  // buffers; while the store cannot write (disk full, folder gone) it keeps
  // the lines and retries, and while it holds more than its memory cap it
  // withholds replies, which is how sessions learn to stop reading.
  caf::replies_to<append_atom, std::string /* client key hex */,
                  std::vector<std::string> /* lines */>::with<uint64_t>,
  // Writes and fsyncs everything accepted so far; replies true on success.
  caf::replies_to<flush_atom>::with<bool>,
  // Finds the last trace line of a client in <hex>.log (and, if that has
  // none, its rotated predecessors) from the file tail.
  caf::replies_to<recover_atom, std::string /* client key hex */>::with<
    last_seen_trace>,
  caf::replies_to<status_atom>::with<store_status>>;

/// How the store writes. Defaults match the issue: fsync at most every
/// second and on shutdown.
struct store_config {
  std::string folder = "./";
  caf::timespan flush_interval = std::chrono::milliseconds(50);
  caf::timespan fsync_interval = std::chrono::seconds(1); // 0: every write
  uint64_t rotate_bytes = 256ull << 20;   // 0: never rotate
  uint32_t rotate_keep = 5;               // <hex>.log.1 .. .log.<keep>
  uint64_t memory_cap_bytes = 256ull << 20;
  // Added with actors/store (additive):
  uint64_t flush_bytes = 256ull << 10;  // write at once when a file buffers this much
  caf::timespan retry_min = std::chrono::milliseconds(100); // write-error backoff
  caf::timespan retry_max = std::chrono::seconds(5);
  caf::timespan close_idle_after = std::chrono::seconds(10); // frees idle fds
  bool detached = false; // own thread (production: file I/O blocks); tests: false
  // Fair share of memory_cap_bytes: each client with unwritten bytes may
  // hold cap / (such clients), never less than this, before its replies are
  // withheld (its session pauses) while the others go on.
  uint64_t min_share_bytes = 1ull << 20;
};

} // namespace ht
