#pragma once
// IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".

#include <array>
#include <cstdint>
#include <string_view>

namespace spliced::http {

// Exactly 29 characters; the buffer type keeps formatting allocation-free.
using http_date = std::array<char, 29>;

http_date format_http_date(std::int64_t unix_seconds) noexcept;

inline std::string_view view(const http_date& d) noexcept {
    return {d.data(), d.size()};
}

} // namespace spliced::http
