#pragma once
// Timestamps as the JS server writes them: Date.prototype.toISOString(),
// i.e. ISO 8601 UTC with milliseconds, "2026-11-24T06:42:57.879Z".
#include <chrono>
#include <string>

namespace ht {

/// Formats a wall-clock time point; cheap enough to call once per trace.
std::string iso8601_ms(std::chrono::system_clock::time_point t);

} // namespace ht
