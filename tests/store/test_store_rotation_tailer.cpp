// Rotation under load while a concurrent tailer follows the file by name,
// the way promtail does: read to EOF, and when the name points to a new
// file, drain the old descriptor and switch. The tailer must see only whole
// lines and every line exactly once across rotations.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "store_actor_fixture.hpp"

using namespace std::chrono_literals;
using namespace ht;
using namespace ht::store::test;

namespace {

class name_follower {
public:
  explicit name_follower(std::string path) : path_(std::move(path)) {
    thread_ = std::thread([this] { run(); });
  }
  ~name_follower() { finish(); }

  /// Stops after reading everything currently reachable by name.
  void finish() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
  }

  /// The inode the tailer has open (0: none yet).
  uint64_t following() const { return ino_; }

  // After finish():
  std::vector<std::string> lines;
  std::vector<std::string> problems; // partial lines left behind, etc.
  size_t files = 0;

private:
  void drain(int fd) {
    char buf[65536];
    for (;;) {
      auto n = ::read(fd, buf, sizeof(buf));
      if (n <= 0)
        return;
      carry_.append(buf, static_cast<size_t>(n));
      size_t pos = 0;
      for (auto nl = carry_.find('\n'); nl != std::string::npos;
           nl = carry_.find('\n', pos)) {
        lines.push_back(carry_.substr(pos, nl - pos));
        pos = nl + 1;
      }
      carry_.erase(0, pos);
    }
  }

  void run() {
    int fd = -1;
    struct stat mine {};
    for (;;) {
      bool stopping = stop_; // read before the last pass: see all data
      if (fd < 0) {
        fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
          ::fstat(fd, &mine);
          ino_ = static_cast<uint64_t>(mine.st_ino);
          ++files;
        }
      }
      if (fd >= 0) {
        drain(fd);
        struct stat now {};
        if (::stat(path_.c_str(), &now) == 0 && now.st_ino != mine.st_ino) {
          drain(fd); // rotated: whatever is left in the old file, then switch
          if (!carry_.empty())
            problems.push_back("partial line left in a rotated file: " + carry_);
          carry_.clear();
          ::close(fd);
          fd = -1;
          continue;
        }
      }
      if (stopping)
        break;
      std::this_thread::yield();
    }
    if (fd >= 0)
      ::close(fd);
    if (!carry_.empty())
      problems.push_back("partial line at the end: " + carry_);
  }

  std::string path_;
  std::string carry_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> ino_{0};
  std::thread thread_;
};

uint64_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

// Waits (bounded, on the real clock) until the tailer follows the file that
// has the name now, so one rotation per step never laps it. This is the
// one real-time wait: the tailer is a real concurrent reader.
bool wait_until_following(const name_follower& t, const std::string& path) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (t.following() != inode_of(path)) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::yield();
  }
  return true;
}

} // namespace

TEST_CASE("store: rotation under load, a tailer reads whole lines exactly once", "[scenario]") {
  store_fixture f;
  f.cfg.rotate_bytes = 256 * 1024;
  f.cfg.rotate_keep = 2; // old files vanish while the tailer may still read them
  bool short_writes = GENERATE(false, true);
  if (short_writes)
    f.fs->short_writes(4093); // batches land in many pieces, mid-line
  auto store = f.spawn();
  constexpr int steps = 50;
  constexpr int per_step = 400; // ~180 KB per step: at most one rotation
  // The tailer starts before the file exists, like promtail on a new client.
  name_follower tailer(f.path());
  int n = 0;
  for (int s = 0; s < steps; ++s) {
    auto r = f.append_traces(store, n, n + per_step, key_a, 448);
    f.advance(f.cfg.flush_interval);
    REQUIRE(r->values.size() == per_step);
    n += per_step;
    REQUIRE(wait_until_following(tailer, f.path()));
  }
  tailer.finish();
  auto st = f.status(store);
  CHECK(st.rotations >= 30);
  INFO(tailer.problems.size() << " problems, first: "
       << (tailer.problems.empty() ? "" : tailer.problems.front()));
  CHECK(tailer.problems.empty());
  REQUIRE(tailer.lines.size() == static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    REQUIRE(tailer.lines[static_cast<size_t>(i)] == trace_line("s", i, 448));
  CHECK(tailer.files == st.rotations + 1);
  // On disk: .log, .log.1 and .log.2 only, each ending on a line boundary.
  CHECK(file_exists(f.path(key_a, 2)));
  CHECK_FALSE(file_exists(f.path(key_a, 3)));
  for (uint32_t g = 0; g <= 2; ++g) {
    auto data = read_file(f.path(key_a, g));
    CHECK(data.size() <= f.cfg.rotate_bytes);
    CHECK(data.back() == '\n');
  }
  f.stop(store);
}

namespace {

// A tailer that falls behind: it reads only when polled, and meanwhile the
// store may rotate several times. On a rotation it drains the descriptor it
// holds (the data stays readable even once the name is gone), then reads
// the rotated files newer than its own (.log.<k-1> .. .log.1, found by its
// file's inode among the names), then follows .log again. Driven from the
// test thread between store steps, so every case is deterministic.
class lagging_tailer {
public:
  lagging_tailer(std::string path, uint32_t keep) : path_(std::move(path)), keep_(keep) {}
  ~lagging_tailer() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  void poll() {
    if (fd_ < 0 && !open_current())
      return;
    read_all(fd_);
    if (inode_of(path_) == ino_)
      return;
    // Rotated (once or more) since the last look.
    if (!carry_.empty())
      problems.push_back("partial line left in a rotated file: " + carry_);
    carry_.clear();
    ::close(fd_);
    fd_ = -1;
    uint32_t mine = keep_ + 1; // not found: rotated away, every name is newer
    for (uint32_t k = 1; k <= keep_; ++k)
      if (inode_of(path_ + "." + std::to_string(k)) == ino_)
        mine = k;
    for (uint32_t k = mine - 1; k >= 1; --k) {
      int fd = ::open((path_ + "." + std::to_string(k)).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        problems.push_back("cannot open rotated file " + std::to_string(k));
        continue;
      }
      ++files;
      read_all(fd);
      ::close(fd);
      if (!carry_.empty())
        problems.push_back("rotated file not ending in a whole line");
      carry_.clear();
    }
    open_current();
    if (fd_ >= 0)
      read_all(fd_);
  }

  std::vector<std::string> lines;
  std::vector<std::string> problems;
  size_t files = 0;

private:
  bool open_current() {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      return false;
    struct stat st {};
    ::fstat(fd_, &st);
    ino_ = static_cast<uint64_t>(st.st_ino);
    ++files;
    return true;
  }

  void read_all(int fd) {
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) {
      carry_.append(buf, static_cast<size_t>(n));
      size_t pos = 0;
      for (auto nl = carry_.find('\n'); nl != std::string::npos; nl = carry_.find('\n', pos)) {
        lines.push_back(carry_.substr(pos, nl - pos));
        pos = nl + 1;
      }
      carry_.erase(0, pos);
    }
  }

  std::string path_;
  uint32_t keep_;
  int fd_ = -1;
  uint64_t ino_ = 0;
  std::string carry_;
};

// Writes `steps` batches (at most one rotation each); the tailer looks only
// once the store has rotated `lag` times since its last look, and at the end.
struct lag_run {
  int lines_written = 0;
  uint64_t rotations = 0;
  int looks_after_lag = 0;
  uint64_t behind_at_end = 0; // rotations between the last two looks
};

lag_run run_with_lag(store_fixture& f, lagging_tailer& t, uint32_t lag) {
  auto store = f.spawn();
  constexpr int steps = 40;
  constexpr int per_step = 400; // ~190 KB per step: at most one rotation
  lag_run run;
  uint64_t at_last_look = 0;
  for (int s = 0; s < steps; ++s) {
    auto r = f.append_traces(store, run.lines_written, run.lines_written + per_step, key_a, 448);
    f.advance(f.cfg.flush_interval);
    REQUIRE(r->values.size() == per_step);
    run.lines_written += per_step;
    auto rot = f.status(store).rotations;
    if (s == 0) {
      REQUIRE(rot == 0);
      t.poll(); // the tailer finds the new file, then falls behind
    } else if (rot - at_last_look >= lag) {
      REQUIRE(rot - at_last_look == lag);
      t.poll();
      at_last_look = rot;
      ++run.looks_after_lag;
    }
  }
  t.poll();
  run.rotations = f.status(store).rotations;
  run.behind_at_end = run.rotations - at_last_look;
  f.stop(store);
  return run;
}

} // namespace

TEST_CASE("store: rotation while a tailer lags several rotations behind: every line once while the lag is within rotate_keep", "[scenario]") {
  store_fixture f;
  f.cfg.rotate_bytes = 256 * 1024;
  f.cfg.rotate_keep = 3;
  lagging_tailer t(f.path(), f.cfg.rotate_keep);
  // Four rotations between looks: the tailer's own file has been rotated
  // off the end (.log.4 would be its name; keep is 3), yet it still holds
  // it open, and the three files written since are .log.3 .. .log.1.
  auto run = run_with_lag(f, t, 4);
  CHECK(run.looks_after_lag >= 5);
  INFO(t.problems.size() << " problems, first: "
       << (t.problems.empty() ? "" : t.problems.front()));
  CHECK(t.problems.empty());
  REQUIRE(t.lines.size() == static_cast<size_t>(run.lines_written));
  for (int i = 0; i < run.lines_written; ++i)
    REQUIRE(t.lines[static_cast<size_t>(i)] == trace_line("s", i, 448));
  CHECK(t.files == run.rotations + 1);
}

TEST_CASE("store: rotation while a tailer lags further behind than rotate_keep allows: the documented limit", "[scenario]") {
  // docs/store.md: at most rotate_keep old files remain. A tailer that is
  // `lag` rotations behind finds its own file (still open) and the
  // rotate_keep newest rotated ones; the lag - 1 - rotate_keep files in
  // between were removed before it got to them. What it does read is whole
  // lines, in order, each once.
  store_fixture f;
  f.cfg.rotate_bytes = 256 * 1024;
  f.cfg.rotate_keep = 1;
  const uint32_t lag = 4;
  lagging_tailer t(f.path(), f.cfg.rotate_keep);
  auto run = run_with_lag(f, t, lag);
  CHECK(t.problems.empty());
  auto lost_in = [&](uint64_t behind) -> uint64_t {
    return behind > 1 + f.cfg.rotate_keep ? behind - 1 - f.cfg.rotate_keep : 0;
  };
  auto lost_files = static_cast<uint64_t>(run.looks_after_lag) * lost_in(lag)
                    + lost_in(run.behind_at_end);
  CHECK(lost_files > 0);
  CHECK(t.files + lost_files == run.rotations + 1);
  CHECK(t.lines.size() < static_cast<size_t>(run.lines_written));
  int64_t last = -1;
  for (auto& l : t.lines) {
    auto j = nlohmann::json::parse(l); // throws on a partial line
    auto n = j["traceNumber"].get<int64_t>();
    REQUIRE(n > last); // in order, no duplicates; gaps only where files went
    last = n;
  }
  CHECK(last == run.lines_written - 1); // it ends up current
}
