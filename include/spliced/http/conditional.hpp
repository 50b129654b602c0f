#pragma once
// Conditional requests (RFC 9110 §13): entity-tag comparison, HTTP-date parsing, and the
// evaluation order of §13.2.2. Pure functions of header values and the file's validators.

#include <cstdint>
#include <optional>
#include <string_view>

namespace spliced::http {

// Parses an HTTP-date in any of the three formats recipients must accept (RFC 9110 §5.6.7):
// IMF-fixdate, obsolete RFC 850 and asctime. Returns seconds since the epoch.
std::optional<std::int64_t> parse_http_date(std::string_view text) noexcept;

// Does the If-Match / If-None-Match list `header` match `etag` ("*" matches any current
// representation)? Strong comparison requires both tags strong and equal; weak comparison
// ignores "W/". A malformed list matches nothing.
bool etag_list_matches(std::string_view header, std::string_view etag, bool strong) noexcept;

// Does Accept-Encoding `header` allow `coding` (RFC 9110 §12.5.3)? Listed with q > 0, or covered
// by "*" with q > 0 and not listed with q=0. Codings compare case-insensitively.
bool accepts_encoding(std::string_view header, std::string_view coding) noexcept;

struct validators {
    std::string_view etag;          // strong, quoted
    std::int64_t last_modified = 0; // seconds
};

struct conditions {
    std::optional<std::string_view> if_match;
    std::optional<std::string_view> if_none_match;
    std::optional<std::string_view> if_modified_since;
    std::optional<std::string_view> if_unmodified_since;
};

enum class precondition { proceed, not_modified, failed };

// RFC 9110 §13.2.2 for a GET or HEAD of an existing file: If-Match, else If-Unmodified-Since
// (412); then If-None-Match, else If-Modified-Since (304). Unparseable dates are ignored.
precondition evaluate(const conditions& c, const validators& v) noexcept;

// If-Range (RFC 9110 §13.1.5): a strong ETag equal to the current one, or an HTTP-date equal to
// Last-Modified, lets the Range apply; anything else (a weak tag, another date, garbage) means
// the whole file is sent.
bool if_range_allows(std::string_view if_range, const validators& v) noexcept;

} // namespace spliced::http
