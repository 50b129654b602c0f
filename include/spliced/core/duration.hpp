#pragma once
// Durations as operators write them on the command line: "500ms", "5s", "2m", "1h".

#include <chrono>
#include <optional>
#include <string_view>

namespace spliced {

// Parses a non-negative duration with a unit suffix (ms, s, m, h); a bare number means seconds.
// Returns nullopt for anything else, including overflow.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) noexcept;

} // namespace spliced
