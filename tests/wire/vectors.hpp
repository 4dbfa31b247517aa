#pragma once
// Access to tests/wire/vectors.json, the output of tests/interop/wire-vectors.js.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/vector_file.hpp"

namespace ht::wire_test {

using bytes = std::vector<uint8_t>;

const nlohmann::json& vectors();
using test::hex;
using test::unhex;
using test::unhex_array;

} // namespace ht::wire_test
