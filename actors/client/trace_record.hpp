#pragma once
// One entry handed from a host thread to the client actor: a trace to
// serialize, or props to merge into every later trace. Built on the host
// thread with as little work as possible (no serialization there).
#include <atomic>
#include <chrono>
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

  std::atomic<trace_record*> next{nullptr};    // ingress queue link
};

} // namespace ht
