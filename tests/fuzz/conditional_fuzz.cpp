// Conditional requests (RFC 9110 §13) for any header values. Properties:
// - an HTTP-date that parses formats back to an IMF-fixdate that parses to the same second;
// - a strong entity-tag match is also a weak match;
// - evaluate() follows §13.2.2's order, checked against the component functions: If-Match
//   (else If-Unmodified-Since) fails first, then If-None-Match (else If-Modified-Since) gives 304;
// - If-Range lets a range apply only for the current strong tag or exactly Last-Modified.
// Input: fields separated by '\n': If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since, If-Range, the file's ETag, Accept-Encoding; a missing field is absent.
// The first byte (before the fields) picks the file's Last-Modified.

#include "fuzz_check.hpp"
#include "spliced/http/conditional.hpp"
#include "spliced/http/date.hpp"

#include <array>
#include <optional>
#include <string_view>

namespace {

namespace http = spliced::http;

void check_date(std::string_view text) {
    auto t = http::parse_http_date(text);
    if (!t)
        return;
    auto formatted = http::format_http_date(*t);
    auto again = http::parse_http_date(http::view(formatted));
    FUZZ_CHECK(again && *again == *t);
}

// §13.2.2 written out from the primitives, to compare evaluate() against.
http::precondition expected(const http::conditions& c, const http::validators& v) {
    auto date = [](std::optional<std::string_view> f) {
        return f ? http::parse_http_date(*f) : std::nullopt;
    };
    if (c.if_match) {
        if (!http::etag_list_matches(*c.if_match, v.etag, true))
            return http::precondition::failed;
    } else if (auto since = date(c.if_unmodified_since); since && v.last_modified > *since) {
        return http::precondition::failed;
    }
    if (c.if_none_match) {
        if (http::etag_list_matches(*c.if_none_match, v.etag, false))
            return http::precondition::not_modified;
    } else if (auto since = date(c.if_modified_since); since && v.last_modified <= *since) {
        return http::precondition::not_modified;
    }
    return http::precondition::proceed;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1)
        return 0;
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    std::array<std::optional<std::string_view>, 7> field;
    for (auto& f : field) {
        if (rest.empty())
            break;
        auto nl = rest.find('\n');
        f = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
    const auto& [if_match, if_none_match, ims, ius, if_range, etag, accept] = field;

    // Around a fixed day, so that fuzzed dates can land before, on and after it.
    const std::int64_t last_modified = 784111777 + (std::int64_t(data[0]) - 128) * 3600;
    const std::string_view tag = etag.value_or("\"abc\"");
    const http::validators v{tag, last_modified};

    for (const auto& f : field)
        if (f) {
            check_date(*f);
            if (http::etag_list_matches(*f, tag, true))
                FUZZ_CHECK(http::etag_list_matches(*f, tag, false));
        }

    const http::conditions c{if_match, if_none_match, ims, ius};
    FUZZ_CHECK(http::evaluate(c, v) == expected(c, v));

    if (if_range && http::if_range_allows(*if_range, v)) {
        const auto trimmed = spliced::fuzz::trim_ows(*if_range);
        auto date = http::parse_http_date(trimmed);
        const bool strong_tag = trimmed == tag && !tag.starts_with("W/");
        FUZZ_CHECK(strong_tag || (date && *date == last_modified));
    }
    if (accept) {
        (void)http::accepts_encoding(*accept, "gzip");
        (void)http::accepts_encoding(*accept, "br");
    }
    return 0;
}
