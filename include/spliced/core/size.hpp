#pragma once
// Byte sizes as operators write them: "65536", "64k", "1M", "2G" (binary multiples).

#include <cstdint>
#include <optional>
#include <string_view>

namespace spliced {

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;

} // namespace spliced
