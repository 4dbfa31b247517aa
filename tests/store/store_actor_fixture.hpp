#pragma once
// A deterministic store scenario: the CAF test coordinator, a temp folder,
// a fault-injecting file system, and helpers that ask the store and record
// the reply (the test thread runs actors with run()/advance()).
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "doubles/faulty_file_system.hpp"
#include "actors/store/log_paths.hpp"
#include "actors/store/store.hpp"
#include "store_test_util.hpp"
#include "support/caf_fixture.hpp"

namespace ht::store::test {

template <class T>
struct outcome {
  bool done = false;
  T value{};
  caf::error err;
  bool ok() const { return done && !err; }
};

/// Replies to a stream of appends sent by one "session" actor, in order.
struct append_log {
  std::vector<uint64_t> values; // one per delivered reply
  std::vector<caf::error> errors;
  size_t delivered() const { return values.size() + errors.size(); }
};

/// Captures std::cerr (the store's episode reports) for the test's scope.
struct cerr_capture {
  std::stringstream buf;
  std::streambuf* old = std::cerr.rdbuf(buf.rdbuf());
  ~cerr_capture() { std::cerr.rdbuf(old); }
  size_t count(const std::string& what) const {
    auto s = buf.str();
    size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1))
      ++n;
    return n;
  }
};

// CAF 0.17.6 dereferences a null argument tuple when a function actor is
// spawned without arguments (UBSan: reference binding to null pointer in
// init_fun_factory.hpp); one dummy argument avoids it.
constexpr int no_args_workaround = 0;

struct store_fixture : ht::test::caf_fixture {
  temp_dir dir;
  std::shared_ptr<faulty_file_system> fs = std::make_shared<faulty_file_system>();
  ht::store_config cfg;
  std::vector<ht::store_actor> spawned_;

  store_fixture() {
    cfg.folder = dir.path();
  }

  ht::store_actor spawn() {
    auto s = ht::spawn_store(sys, cfg, fs);
    spawned_.push_back(s);
    run();
    return s;
  }

  ~store_fixture() {
    // A failed REQUIRE skips the test's own stop(): end every store here so
    // the actor system can shut down (and pending requests get an error).
    for (auto& s : spawned_)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    run();
  }

  /// Advances the clock in small steps, so timers re-armed by timers (the
  /// write-error backoff) fire as they would in real time.
  void advance_steps(caf::timespan total, caf::timespan step = std::chrono::milliseconds(10)) {
    for (caf::timespan t{0}; t < total; t += step)
      advance(step);
  }

  std::string path(const std::string& hex = key_a, uint32_t gen = 0) const {
    return log_path(cfg.folder, hex, gen);
  }

  template <class T, class... Ts>
  std::shared_ptr<outcome<T>> ask(const ht::store_actor& store, Ts... xs) {
    auto out = std::make_shared<outcome<T>>();
    sys.spawn(
      [=](caf::event_based_actor* self, int) {
        self->request(store, caf::infinite, xs...)
          .then([=](T& v) { out->value = std::move(v); out->done = true; },
                [=](caf::error& e) { out->err = std::move(e); out->done = true; });
      },
      no_args_workaround);
    run();
    return out;
  }

  /// One actor sends every batch as its own append request, in order.
  std::shared_ptr<append_log> append_batches(const ht::store_actor& store,
                                             const std::string& hex,
                                             std::vector<std::vector<std::string>> batches) {
    auto out = std::make_shared<append_log>();
    sys.spawn(
      [=](caf::event_based_actor* self, int) {
        for (auto& b : batches)
          self->request(store, caf::infinite, ht::append_atom::value, hex, b)
            .then([=](uint64_t v) { out->values.push_back(v); },
                  [=](caf::error& e) { out->errors.push_back(std::move(e)); });
      },
      no_args_workaround);
    run();
    return out;
  }

  /// Appends traces [from, to) of session `sid`, one request per trace.
  std::shared_ptr<append_log> append_traces(const ht::store_actor& store, int from, int to,
                                            const std::string& hex = key_a,
                                            size_t size = 0, const std::string& sid = "s") {
    std::vector<std::vector<std::string>> batches;
    for (int i = from; i < to; ++i)
      batches.push_back({trace_line(sid, i, size)});
    return append_batches(store, hex, std::move(batches));
  }

  ht::store_status status(const ht::store_actor& store) {
    auto s = ask<ht::store_status>(store, ht::status_atom::value);
    REQUIRE(s->ok());
    return s->value;
  }

  void stop(const ht::store_actor& store) {
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
    run();
  }
};

/// The file's content as traces [from, to) would write it.
inline std::string expected_traces(int from, int to, size_t size = 0,
                                   const std::string& sid = "s") {
  std::string s;
  for (int i = from; i < to; ++i)
    s += trace_line(sid, i, size) + "\n";
  return s;
}

} // namespace ht::store::test
