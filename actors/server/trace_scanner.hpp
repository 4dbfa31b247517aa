#pragma once
// One pass over a client's trace message: is it one strict JSON value (as
// nlohmann's strict SAX parser accepts it, nested at most 128 deep), and
// what are the few fields the session needs.
//
// Two implementations with the same contract: scan_trace, on simdjson's
// validating parser (Debian's libsimdjson-dev), for the hot path, and
// scan_trace_nlohmann, nlohmann's SAX parser, which also explains a
// rejection. The unit suite compares them on 200,000 random and mutated
// inputs; any disagreement is a bug in scan_trace. (A hand-written scanner
// was replaced: simdjson measured as fast or faster in
// bench_server_pipeline, with less of our own code on the hot path.)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ht {

constexpr size_t max_trace_nesting = 128;

/// What a scan learned. Top-level fields follow JSON.parse: the last
/// occurrence of a key wins. Views point into this object's own storage, so
/// it is neither copied nor moved.
struct trace_fields {
  enum class kind : uint8_t { none, string, integer, other };

  kind session_kind = kind::none;
  std::string_view session_id;
  kind number_kind = kind::none;
  int64_t trace_number = 0;
  bool number_negative_or_huge = false;
  kind username_kind = kind::none; // props.username
  std::string_view username;
  kind alias_kind = kind::none;    // props.alias
  std::string_view alias;
  bool has_reserved_key = false;   // a top-level "time" or "userId"
  bool top_is_object = false;

  trace_fields() = default;
  trace_fields(const trace_fields&) = delete;
  trace_fields& operator=(const trace_fields&) = delete;

  // Backing storage for unescaped string values.
  std::string session_id_storage;
  std::string username_storage;
  std::string alias_storage;
};

/// Why scan_trace_nlohmann rejected a message.
struct trace_rejection {
  bool too_deep = false; // nested deeper than max_trace_nesting
  std::string error;     // nlohmann's message otherwise
};

/// The fast scanner: true when `text` is accepted; `out` is meaningful then.
bool scan_trace(std::string_view text, trace_fields& out);

/// The reference: nlohmann's strict SAX parse with the same extraction.
bool scan_trace_nlohmann(std::string_view text, trace_fields& out,
                         trace_rejection* why = nullptr);

} // namespace ht
