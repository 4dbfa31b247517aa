#pragma once
// JSON text exactly as the JS client writes it: JSON.stringify(value,
// jsonStringifyReplacer) of hypertrace-logger's client.js. That means
//  - object keys in insertion order (ht::json is an ordered_json),
//  - numbers formatted as JavaScript's Number#toString (1.0 -> 1,
//    1e21 -> 1e+21, NaN/Infinity -> null, -0 -> 0),
//  - strings escaped as JSON.stringify does (control characters as \u00xx,
//    everything else, including non-ASCII, written as is),
//  - the replacer: binary values, and objects {"type":"Buffer","data":[..]}
//    (a Node Buffer's toJSON), become lowercase hex strings.
// What JS could not stringify throws js_json_error: a string that is not
// valid UTF-8, a "Buffer" object without a data array, nesting deeper than
// max_depth (JS throws RangeError on deep recursion).
#include <stdexcept>
#include <string>
#include <string_view>

#include "actors/client/tracer.hpp"

namespace ht {

struct js_json_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr int js_json_max_depth = 256;

/// Appends the JSON text of `value` to `out`. On error throws js_json_error;
/// `out` may then hold a partial text.
void append_js_json(std::string& out, const json& value);

/// Appends a JSON string literal (with quotes).
void append_js_string(std::string& out, std::string_view s);

/// Appends a number formatted as JavaScript's Number#toString.
void append_js_number(std::string& out, double d);

/// A JS Error as the replacer writes it: {code, message}, code left out when
/// empty (JS leaves out undefined).
json error_json(std::string_view code, std::string_view message);
json error_json(const std::exception& e);

} // namespace ht
