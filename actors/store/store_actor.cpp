// The file-writer actor: a thin owner of client_log objects, timers and
// response promises. Framing, rotation and recovery rules live in the plain
// classes (client_log.hpp, tail_recovery.hpp); this file decides *when* to
// write, sync, retry and reply.
#include "actors/store/store.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <iostream>
#include <set>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/store/client_log.hpp"
#include "actors/store/log_paths.hpp"
#include "actors/store/tail_recovery.hpp"

namespace ht {

namespace {

using store::client_log;
using store::io_status;

// Timers the store sends itself.
enum class timer : uint8_t { write = 1, sync = 2 };

using store_impl_actor = store_actor::extend<caf::reacts_to<tick_atom, uint8_t>>;

std::string describe(const io_status& st) {
  return std::string{"cannot "} + st.op + " " + st.path + ": " + std::strerror(st.err);
}

class store_impl : public store_impl_actor::base {
public:
  store_impl(caf::actor_config& ac, store_config cfg,
             std::shared_ptr<store::file_system> fs)
    : store_impl_actor::base(ac), cfg_(std::move(cfg)), fs_(std::move(fs)) {
    policy_.folder = cfg_.folder.empty() ? "." : cfg_.folder;
    policy_.rotate_bytes = cfg_.rotate_bytes;
    policy_.rotate_keep = cfg_.rotate_keep;
  }

  const char* name() const override {
    return "ht.store";
  }

  behavior_type make_behavior() override {
    return {
      [this](append_atom, const std::string& hex,
             const std::vector<std::string>& lines) -> caf::result<uint64_t> {
        return on_append(hex, lines);
      },
      [this](flush_atom) -> caf::result<bool> {
        return flush_everything();
      },
      [this](recover_atom, const std::string& hex) -> caf::result<last_seen_trace> {
        return on_recover(hex);
      },
      [this](status_atom) -> caf::result<store_status> {
        status_.buffered_bytes = buffered_;
        status_.withheld_replies = 0;
        for (auto* e : waiting_)
          status_.withheld_replies += e->replies.size();
        status_.failing = failing_;
        return status_;
      },
      [this](tick_atom, uint8_t which) {
        if (which == static_cast<uint8_t>(timer::write)) {
          // Every tick due by now is this one (a later arm for an earlier
          // time may have left a second tick behind it).
          auto now = clock().now();
          while (!write_ticks_.empty() && *write_ticks_.begin() <= now)
            write_ticks_.erase(write_ticks_.begin());
          write_pass();
        } else if (which == static_cast<uint8_t>(timer::sync)) {
          sync_timer_armed_ = false;
          sync_pass();
        }
      },
    };
  }

  void on_exit() override {
    // Orderly or not, try to get everything accepted onto disk and durable.
    write_pass(/*all=*/true);
    sync_all();
    deliver_replies(/*final=*/true);
    if (buffered_ > 0)
      std::cerr << "hypertrace-logger store: exiting with " << buffered_
                << " bytes not written: " << status_.last_error << std::endl;
    clients_.clear(); // closes every file
  }

private:
  struct pending_reply {
    uint64_t end; // stream offset just past the request's last line
    caf::typed_response_promise<uint64_t> rp;
  };

  struct client_entry {
    client_entry(store::file_system& fs, const store::log_policy& p, std::string hex)
      : log(fs, p, std::move(hex)) {
    }
    client_log log;
    std::deque<pending_reply> replies;
    bool in_pending = false;  // listed in pending_ (unwritten bytes)
    bool in_waiting = false;  // listed in waiting_ (undelivered replies)
    caf::actor_clock::time_point last_write{};
    // Write errors back off per file, so one client's failing file does not
    // slow down the others: 0 while its writes succeed.
    caf::timespan backoff{0};
    caf::actor_clock::time_point retry_at{};
  };

  caf::result<uint64_t> on_append(const std::string& hex,
                                  const std::vector<std::string>& lines) {
    if (!store::is_client_key_hex(hex))
      return caf::make_error(caf::sec::invalid_argument,
                             store::describe_bad_client_key(hex));
    // All or nothing: one bad line rejects the request, so a session never
    // has to guess which of its lines were taken.
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto& l = lines[i];
      if (l.empty() || std::memchr(l.data(), '\n', l.size()) != nullptr)
        return caf::make_error(caf::sec::invalid_argument,
                               "line " + std::to_string(i)
                                 + (l.empty() ? " is empty" : " contains a newline"));
    }
    auto& e = entry(hex);
    uint64_t before = e.log.buffered();
    uint64_t end = e.log.accepted();
    size_t total = 0;
    for (const auto& l : lines)
      total += l.size() + 1;
    e.log.reserve(total);
    for (const auto& l : lines)
      end = e.log.append(l.data(), l.size());
    buffered_ += e.log.buffered() - before;
    if (e.log.committed() >= end && !withheld(e, fair_share()) && e.replies.empty())
      return buffered_; // nothing to write (no lines): answer at once
    auto rp = make_response_promise<uint64_t>();
    e.replies.push_back(pending_reply{end, rp});
    if (!e.in_waiting) {
      e.in_waiting = true;
      waiting_.push_back(&e);
    }
    if (e.log.has_pending() && !e.in_pending) {
      e.in_pending = true;
      pending_.push_back(&e);
    }
    if (e.backoff.count() == 0 && e.log.buffered() >= cfg_.flush_bytes) {
      write_pass();
    } else {
      auto now = clock().now(); // only this file's due time can be new
      arm_write_timer_at(write_due(e, now), now);
    }
    return rp;
  }

  bool flush_everything() {
    write_pass(/*all=*/true);
    bool ok = sync_all();
    maybe_recovered();
    deliver_replies(false); // fsync_interval 0: acknowledged once durable
    return ok && pending_.empty() && !failing_;
  }

  caf::result<last_seen_trace> on_recover(const std::string& hex) {
    if (!store::is_client_key_hex(hex))
      return caf::make_error(caf::sec::invalid_argument,
                             store::describe_bad_client_key(hex));
    // Lines accepted but not yet written are newer than anything on disk.
    if (auto i = clients_.find(hex); i != clients_.end())
      if (auto t = store::last_trace_in(i->second->log.unwritten_lines()))
        return *t;
    auto r = store::recover_client(*fs_, policy_.folder, hex, policy_.rotate_keep);
    if (r.err != 0)
      return caf::make_error(caf::sec::runtime_error,
                             "cannot read " + r.failed_path + ": "
                               + std::strerror(r.err));
    return r.trace;
  }

  client_entry& entry(const std::string& hex) {
    auto i = clients_.find(hex);
    if (i == clients_.end())
      i = clients_.emplace(hex, std::make_unique<client_entry>(*fs_, policy_, hex)).first;
    return *i->second;
  }

  // Writes every file with unwritten lines (those backing off after an
  // error only once their retry is due, or with `all`); replies for what got
  // written.
  void write_pass(bool all = false) {
    io_status first_error;
    bool failed = false;
    bool wrote = false;
    auto now = clock().now();
    for (size_t i = 0; i < pending_.size();) {
      auto* e = pending_[i];
      if (!all && e->backoff.count() > 0 && now < e->retry_at) {
        ++i;
        continue;
      }
      auto before_buffered = e->log.buffered();
      auto before_committed = e->log.committed();
      auto before_lines = e->log.committed_lines();
      auto before_calls = e->log.write_calls();
      auto before_rot = e->log.rotations();
      auto before_reopen = e->log.reopens();
      auto st = e->log.write_pending();
      if (!st && (st.err == EMFILE || st.err == ENFILE) && close_quiet_files(e) > 0)
        st = e->log.write_pending(); // out of descriptors: freed some, retry once
      buffered_ -= before_buffered - e->log.buffered();
      status_.write_calls += e->log.write_calls() - before_calls;
      status_.rotations += e->log.rotations() - before_rot;
      status_.reopened_files += e->log.reopens() - before_reopen;
      if (e->log.committed() != before_committed) {
        status_.written_lines += e->log.committed_lines() - before_lines;
        e->last_write = now;
        wrote = true;
      }
      if (!st) {
        ++status_.write_errors;
        if (!failed)
          first_error = st;
        failed = true;
        e->backoff = e->backoff.count() == 0 ? cfg_.retry_min
                                             : std::min(e->backoff * 2, cfg_.retry_max);
        e->retry_at = now + e->backoff;
      } else {
        e->backoff = caf::timespan{0};
      }
      if (!e->log.has_pending()) {
        e->in_pending = false;
        pending_[i] = pending_.back();
        pending_.pop_back();
      } else {
        ++i;
      }
    }
    if (wrote) {
      if (cfg_.fsync_interval.count() == 0)
        sync_all(); // the policy: durable before acknowledged
      arm_sync_timer();
    }
    if (failed)
      on_write_error(first_error);
    else
      maybe_recovered();
    deliver_replies(false);
    if (!pending_.empty())
      arm_write_timer();
  }

  void on_write_error(const io_status& st) {
    status_.last_error = describe(st);
    if (!failing_) {
      failing_ = true;
      // Once per episode: a full disk must not flood the log.
      std::cerr << "hypertrace-logger store: " << status_.last_error
                << " (keeping " << buffered_ << " bytes in memory, retrying)"
                << std::endl;
    }
  }

  // An episode ends when nothing is left to write and the last fsyncs
  // succeeded; ending it on a good write alone would flap while a disk
  // accepts writes but fails fsync.
  void maybe_recovered() {
    if (failing_ && pending_.empty() && !sync_failed_)
      on_write_recovered();
  }

  void on_write_recovered() {
    failing_ = false;
    std::cerr << "hypertrace-logger store: writing again after: "
              << status_.last_error << std::endl;
    status_.last_error.clear();
  }

  // Each client with unwritten bytes gets an equal share of the memory cap
  // (never below min_share_bytes, nor above the cap).
  uint64_t fair_share() const {
    uint64_t active = 0;
    for (auto* e : pending_)
      active += e->log.buffered() > 0 ? 1 : 0;
    auto floor = std::min(cfg_.min_share_bytes, cfg_.memory_cap_bytes);
    return std::max(cfg_.memory_cap_bytes / std::max<uint64_t>(active, 1), floor);
  }

  // Backpressure: replies are withheld, even for lines already written, from
  // a client holding more than its share, and, past the store-wide cap (the
  // last bound), from every client that still holds unwritten bytes. The
  // withheld replies are what stops that client's session from reading
  // more; a client whose lines are all in the file is never held back by
  // another one's pile.
  bool withheld(const client_entry& e, uint64_t share) const {
    auto mine = e.log.buffered();
    return mine > share || (buffered_ > cfg_.memory_cap_bytes && mine > 0);
  }

  void deliver_replies(bool final) {
    bool sync_first = cfg_.fsync_interval.count() == 0 && !final;
    auto share = fair_share();
    for (size_t i = 0; i < waiting_.size();) {
      auto* e = waiting_[i];
      if (!final && withheld(*e, share)) {
        ++i;
        continue;
      }
      // With fsync on every write, a file whose fsync failed is not
      // acknowledged until a later fsync succeeds.
      auto done = sync_first && e->log.dirty() ? uint64_t{0} : e->log.committed();
      while (!e->replies.empty() && e->replies.front().end <= done) {
        e->replies.front().rp.deliver(buffered_);
        e->replies.pop_front();
      }
      if (final) {
        for (auto& r : e->replies)
          r.rp.deliver(caf::make_error(caf::sec::runtime_error,
                                       "store stopped before the lines were written: "
                                         + status_.last_error));
        e->replies.clear();
      }
      if (e->replies.empty()) {
        e->in_waiting = false;
        waiting_[i] = waiting_.back();
        waiting_.pop_back();
      } else {
        ++i;
      }
    }
  }

  bool sync_one(client_entry& e) {
    if (!e.log.dirty())
      return true;
    auto st = e.log.sync();
    ++status_.fsyncs;
    if (!st) {
      ++status_.write_errors;
      sync_failed_ = true;
      on_write_error(st);
      return false;
    }
    return true;
  }

  bool sync_all() {
    sync_failed_ = false;
    bool ok = true;
    for (auto& kv : clients_)
      ok = sync_one(*kv.second) && ok;
    return ok;
  }

  void sync_pass() {
    sync_all();
    maybe_recovered();
    deliver_replies(false);
    // Close files nobody wrote to for a while: a server with many clients
    // must not hold a descriptor per client forever.
    auto now = clock().now();
    bool any_open = false;
    for (auto i = clients_.begin(); i != clients_.end();) {
      auto& e = *i->second;
      if (e.log.is_open() && !e.log.has_pending() && !e.log.dirty()
          && now - e.last_write >= cfg_.close_idle_after)
        e.log.close();
      // A closed, empty entry is forgotten: clients come and go.
      if (!e.log.is_open() && !e.in_pending && !e.in_waiting && e.log.buffered() == 0
          && !e.log.dirty()) {
        i = clients_.erase(i);
        continue;
      }
      any_open = any_open || e.log.is_open(); // dirty ones included: retried
      ++i;
    }
    if (any_open)
      arm_sync_timer();
  }

  // Closes the open files with nothing to write (synced first), except
  // `keep`; returns how many. Used when the process runs out of descriptors.
  size_t close_quiet_files(client_entry* keep) {
    size_t n = 0;
    for (auto& kv : clients_) {
      auto& e = *kv.second;
      if (&e == keep || !e.log.is_open() || e.log.has_pending())
        continue;
      if (!sync_one(e))
        continue;
      e.log.close();
      ++n;
    }
    return n;
  }

  // The next write pass is due after flush_interval for files writing
  // normally and at its retry time for a file backing off after an error
  // (a failing fsync alone, retried on the sync timer, does not slow down
  // writing). One tick per distinct earlier due time: a tick already due
  // sooner covers a later one.
  caf::actor_clock::time_point write_due(const client_entry& e,
                                        caf::actor_clock::time_point now) const {
    return e.backoff.count() > 0 ? std::max(e.retry_at, now) : now + cfg_.flush_interval;
  }

  // After a write pass: the earliest due time of every file left to write.
  void arm_write_timer() {
    auto now = clock().now();
    auto due = caf::actor_clock::time_point::max();
    for (auto* e : pending_)
      due = std::min(due, write_due(*e, now));
    arm_write_timer_at(due, now);
  }

  void arm_write_timer_at(caf::actor_clock::time_point due,
                          caf::actor_clock::time_point now) {
    if (due == caf::actor_clock::time_point::max())
      return;
    if (!write_ticks_.empty() && *write_ticks_.begin() <= due)
      return;
    write_ticks_.insert(due);
    delayed_send(this, due - now, tick_atom::value, static_cast<uint8_t>(timer::write));
  }

  void arm_sync_timer() {
    if (sync_timer_armed_)
      return;
    sync_timer_armed_ = true;
    auto delay = cfg_.fsync_interval.count() > 0
                   ? std::min(cfg_.fsync_interval, cfg_.close_idle_after)
                   : cfg_.close_idle_after;
    delayed_send(this, delay, tick_atom::value, static_cast<uint8_t>(timer::sync));
  }

  store_config cfg_;
  std::shared_ptr<store::file_system> fs_;
  store::log_policy policy_;
  std::unordered_map<std::string, std::unique_ptr<client_entry>> clients_;
  std::vector<client_entry*> pending_; // entries with unwritten bytes
  std::vector<client_entry*> waiting_; // entries with undelivered replies
  uint64_t buffered_ = 0;
  bool failing_ = false;
  bool sync_failed_ = false; // the last fsync attempt of some file failed
  std::set<caf::actor_clock::time_point> write_ticks_; // write timers in flight
  bool sync_timer_armed_ = false;
  store_status status_;
};

} // namespace

store_actor spawn_store(caf::actor_system& sys, store_config cfg,
                        std::shared_ptr<store::file_system> fs) {
  if (!fs)
    fs = store::make_posix_file_system();
  if (cfg.detached)
    return caf::actor_cast<store_actor>(
      sys.spawn<store_impl, caf::detached>(std::move(cfg), std::move(fs)));
  return caf::actor_cast<store_actor>(sys.spawn<store_impl>(std::move(cfg), std::move(fs)));
}

} // namespace ht
