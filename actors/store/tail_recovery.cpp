#include "actors/store/tail_recovery.hpp"

#include <cerrno>
#include <limits>

#include <nlohmann/json.hpp>

#include "actors/store/log_paths.hpp"

namespace ht::store {

std::optional<last_seen_trace> parse_trace_line(std::string_view line) {
  // Note lines are the common non-trace line: skip them without parsing.
  // A line with a backslash is parsed in any case: the session keeps the
  // client's text, whose keys may be escaped ("trace\u004eumber").
  if (line.find("\"traceNumber\"") == std::string_view::npos
      && line.find('\\') == std::string_view::npos)
    return std::nullopt;
  auto doc = nlohmann::json::parse(line.begin(), line.end(), nullptr,
                                   /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return std::nullopt;
  auto sid = doc.find("traceSessionId");
  auto num = doc.find("traceNumber");
  if (sid == doc.end() || num == doc.end() || !sid->is_string())
    return std::nullopt;
  last_seen_trace t;
  if (num->is_number_unsigned()) {
    auto u = num->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    t.trace_number = static_cast<int64_t>(u);
  } else if (num->is_number_integer()) {
    t.trace_number = num->get<int64_t>();
  } else {
    return std::nullopt;
  }
  t.found = true;
  t.session_id = sid->get<std::string>();
  return t;
}

std::optional<last_seen_trace> last_trace_in(std::string_view data) {
  auto right = data.rfind('\n');
  while (right != std::string_view::npos) {
    auto left = right == 0 ? std::string_view::npos : data.rfind('\n', right - 1);
    auto begin = left == std::string_view::npos ? 0 : left + 1;
    if (auto t = parse_trace_line(data.substr(begin, right - begin)))
      return t;
    right = left;
  }
  return std::nullopt;
}

namespace {

// Closes a descriptor on every path out of the scan.
struct fd_guard {
  file_system& fs;
  int fd;
  ~fd_guard() {
    if (fd >= 0)
      fs.close(fd);
  }
};

} // namespace

tail_scan_result scan_file_tail(file_system& fs, const std::string& path,
                                const tail_scan_options& opts) {
  tail_scan_result res;
  int fd = -1;
  if (int err = fs.open_read(path, fd); err != 0) {
    if (err == ENOENT)
      res.exists = false;
    else
      res.err = err;
    return res;
  }
  fd_guard guard{fs, fd};
  file_info info;
  if (int err = fs.fstat(fd, info); err != 0) {
    res.err = err;
    return res;
  }
  const size_t chunk_size = opts.chunk_bytes > 0 ? opts.chunk_bytes : 64 * 1024;
  uint64_t pos = info.size;
  // Invariant between rounds: `carry` holds the already-read bytes from the
  // start of the unread region's last line up to and including its '\n'.
  std::string carry;
  std::string region;
  bool first = true;
  bool skipping = false; // inside an over-long line: drop bytes up to its start
  while (pos > 0) {
    auto n = static_cast<size_t>(std::min<uint64_t>(chunk_size, pos));
    auto start = pos - n;
    region.resize(n);
    size_t got = 0;
    if (int err = fs.pread(fd, region.data(), n, start, got); err != 0) {
      res.err = err;
      return res;
    }
    if (got != n) { // the file shrank under us: read what is there now
      res.err = EAGAIN;
      return res;
    }
    res.bytes_read += n;
    pos = start;
    size_t right;
    if (skipping) {
      right = region.rfind('\n');
      if (right == std::string::npos)
        continue;
      skipping = false;
      region.resize(right + 1);
    } else if (first) {
      first = false;
      // Bytes after the last '\n' are a line cut short by a crash: ignore.
      right = region.rfind('\n');
      if (right == std::string::npos) {
        if (pos == 0)
          return res;
        region.clear(); // the whole chunk is that unfinished line
        continue;
      }
      region.resize(right + 1);
    } else {
      region += carry;
      right = region.size() - 1;
      if (region[right] != '\n') { // only when carry was empty
        right = region.rfind('\n');
        if (right == std::string::npos)
          continue;
        region.resize(right + 1);
      }
    }
    carry.clear();
    // region ends with the '\n' at `right`; examine whole lines leftwards.
    for (;;) {
      auto left = right == 0 ? std::string::npos : region.rfind('\n', right - 1);
      if (left == std::string::npos && pos > 0) {
        // The line starts in an earlier chunk: keep its end for next round.
        if (right + 1 > opts.max_line_bytes) {
          skipping = true;
        } else {
          carry.assign(region, 0, right + 1);
        }
        break;
      }
      auto begin = left == std::string::npos ? 0 : left + 1;
      auto line = std::string_view{region}.substr(begin, right - begin);
      if (auto t = parse_trace_line(line)) {
        res.trace = std::move(t);
        return res;
      }
      if (left == std::string::npos)
        break; // the file's first line: done
      right = left;
    }
  }
  return res;
}

recovery_result recover_client(file_system& fs, const std::string& folder,
                               const std::string& hex, uint32_t keep,
                               const tail_scan_options& opts) {
  recovery_result out;
  for (uint32_t gen = 0; gen <= keep; ++gen) {
    auto path = log_path(folder, hex, gen);
    auto r = scan_file_tail(fs, path, opts);
    out.bytes_read += r.bytes_read;
    if (r.err != 0) {
      out.err = r.err;
      out.failed_path = path;
      return out;
    }
    if (r.trace) {
      out.trace = std::move(*r.trace);
      return out;
    }
  }
  return out;
}

} // namespace ht::store
