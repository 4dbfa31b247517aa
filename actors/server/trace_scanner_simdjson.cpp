// scan_trace on simdjson (Debian's libsimdjson-dev): its DOM parser
// validates the whole message (grammar, UTF-8, escapes, numbers) with SIMD,
// then the few fields the session needs are read from the parsed document.
//
// Where simdjson and nlohmann's strict parser (the contract) differ, the
// difference is handled here:
// - nlohmann skips one UTF-8 BOM at the very start: so do we, by hand.
// - nlohmann reads a NUL byte where a token starts as the end of input
//   (anywhere else it is an error either way): we cut the text at the first
//   NUL, which gives the same verdict in every position.
// - nesting: simdjson's own depth limit counts differently for objects and
//   arrays, so it is set far above ours and the depth is counted on the
//   parsed document's tape.
// - integers beyond 64 bits: nlohmann reads them as doubles (finite ones
//   are accepted), simdjson refuses them. On a number error the verdict is
//   left to nlohmann (rare: such messages are bad or odd anyway).
#include "actors/server/trace_scanner.hpp"

#include <cstring>
#include <memory>

#include <simdjson.h>

namespace ht {

namespace {

using kind = trace_fields::kind;

// One parser and buffer per thread, kept for messages up to this size;
// larger ones (at most the session's message limit) get their own, so a
// thread does not keep the memory of its largest message forever.
constexpr size_t kept_parser_capacity = 64 << 10;
// Far above max_trace_nesting: the exact limit is checked on the tape.
constexpr size_t simdjson_depth = 1024;

struct thread_parser {
  simdjson::dom::parser parser;
  std::unique_ptr<char[]> buffer; // the message, padded as simdjson needs
  size_t buffer_size = 0;

  thread_parser() {
    if (parser.allocate(kept_parser_capacity, simdjson_depth) != simdjson::SUCCESS)
      throw std::bad_alloc();
  }

  char* padded_copy(std::string_view text) {
    size_t need = text.size() + simdjson::SIMDJSON_PADDING;
    if (need > buffer_size) {
      buffer.reset(new char[need]);
      buffer_size = need;
    }
    std::memcpy(buffer.get(), text.data(), text.size());
    std::memset(buffer.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    return buffer.get();
  }
};

kind kind_of(simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING: return kind::string;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64: return kind::integer;
    default: return kind::other;
  }
}

// A string field: kind, and the value copied into the fields' own storage
// (the parser's strings are overwritten by the next message).
void read_string_field(simdjson::dom::element v, kind& k, std::string_view& view,
                       std::string& storage) {
  k = kind_of(v);
  if (k == kind::string) {
    std::string_view s = v.get_string().value_unsafe();
    storage.assign(s.data(), s.size());
    view = storage;
  }
}

void read_number_field(simdjson::dom::element v, trace_fields& f) {
  f.number_kind = kind_of(v);
  f.trace_number = 0;
  f.number_negative_or_huge = false;
  if (v.type() == simdjson::dom::element_type::INT64) {
    f.trace_number = v.get_int64().value_unsafe();
    f.number_negative_or_huge = f.trace_number < 0;
  } else if (v.type() == simdjson::dom::element_type::UINT64) {
    f.number_negative_or_huge = true; // above INT64_MAX: simdjson's int64 otherwise
  }
}

// The deepest nesting of objects and arrays, from the document's tape.
size_t nesting(const simdjson::dom::document& doc) {
  const uint64_t* tape = doc.tape.get();
  // tape[0] is the root; its payload is the index of the closing root word.
  size_t end = static_cast<size_t>(tape[0] & 0xFFFFFFFFFFFFFFull);
  size_t depth = 0, deepest = 0;
  for (size_t i = 1; i < end; ++i) {
    switch (static_cast<char>(tape[i] >> 56)) {
      case '{':
      case '[':
        if (++depth > deepest)
          deepest = depth;
        break;
      case '}':
      case ']':
        --depth;
        break;
      case 'l':
      case 'u':
      case 'd':
        ++i; // the number's value takes the next word
        break;
      default:
        break;
    }
  }
  return deepest;
}

// The fields, as field_sink reads them from SAX events: top-level keys,
// the last occurrence winning, and username/alias in any top-level "props"
// object.
void extract(simdjson::dom::element root, trace_fields& f) {
  if (root.type() != simdjson::dom::element_type::OBJECT)
    return;
  f.top_is_object = true;
  // (Objects taken out of their simdjson_result first: a range-for over
  // the result's value would outlive the temporary.)
  simdjson::dom::object top = root.get_object().value_unsafe();
  for (auto field : top) {
    std::string_view key = field.key;
    if (key == "time" || key == "userId") {
      f.has_reserved_key = true;
    } else if (key == "traceSessionId") {
      read_string_field(field.value, f.session_kind, f.session_id, f.session_id_storage);
    } else if (key == "traceNumber") {
      read_number_field(field.value, f);
    } else if (key == "props"
               && field.value.type() == simdjson::dom::element_type::OBJECT) {
      simdjson::dom::object props = field.value.get_object().value_unsafe();
      for (auto prop : props) {
        if (prop.key == "username")
          read_string_field(prop.value, f.username_kind, f.username, f.username_storage);
        else if (prop.key == "alias")
          read_string_field(prop.value, f.alias_kind, f.alias, f.alias_storage);
      }
    }
  }
}

bool parse_and_extract(simdjson::dom::parser& parser, const char* padded,
                       size_t size, std::string_view text, trace_fields& out) {
  auto doc = parser.parse(padded, size, false);
  if (doc.error() == simdjson::NUMBER_ERROR)
    return scan_trace_nlohmann(text, out); // see the top of this file
  if (doc.error())
    return false;
  if (nesting(parser.doc) > max_trace_nesting)
    return false;
  extract(doc.value_unsafe(), out);
  return true;
}

} // namespace

bool scan_trace(std::string_view text, trace_fields& out) {
  if (auto nul = std::memchr(text.data(), '\0', text.size()))
    text = text.substr(0, static_cast<size_t>(static_cast<const char*>(nul) - text.data()));
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0)
    text.remove_prefix(3);
  if (text.size() <= kept_parser_capacity) {
    thread_local thread_parser tp;
    return parse_and_extract(tp.parser, tp.padded_copy(text), text.size(), text, out);
  }
  simdjson::dom::parser big;
  if (big.allocate(text.size(), simdjson_depth) != simdjson::SUCCESS)
    return false;
  simdjson::padded_string padded(text.data(), text.size());
  return parse_and_extract(big, padded.data(), text.size(), text, out);
}

} // namespace ht
