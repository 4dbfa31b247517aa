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
