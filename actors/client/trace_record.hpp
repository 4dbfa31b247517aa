#pragma once
// One entry handed from a host thread to the client actor: a trace to
// serialize, or props to merge into every later trace. Built on the host
// thread with as little work as possible (no serialization there).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "actors/client/tracer.hpp"

namespace ht {

struct trace_record {
  enum class kind : uint8_t { trace, add_props };
  kind what = kind::trace;
  std::chrono::system_clock::time_point time;
  std::string id;                              // empty: null
  std::shared_ptr<const trace_object> object;
  call_site caller;                            // literals of the call site
  std::string caller_filename;                 // add_trace(): owned strings,
  std::string caller_function;                 // used when caller is empty
  bool has_caller_props = false;
  json props;                                  // caller props or props to add
  /// Memory the record holds beyond what the tracer owns anyway (set by
  /// the producer for what only it knows, completed by the queue): what
  /// it counts against its byte bound.
  size_t charge = 0;

  std::atomic<trace_record*> next{nullptr};    // ingress queue link
};

/// About how many bytes of heap `j` holds (its nodes, strings, keys), for
/// byte budgets; not exact, but it grows with what the value really holds.
size_t approx_heap_bytes(const json& j) noexcept;
size_t approx_string_heap_bytes(const std::string& s) noexcept;

} // namespace ht
