// Cases from Go's TestServeContent (preconditions), nginx-tests not_modified.t and
// range_if_range.t, and RFC 9110 §8.8.3.2's comparison table.
#include "spliced/http/conditional.hpp"

#include <doctest/doctest.h>
#include <optional>
#include <string>

using namespace spliced::http;

namespace {
constexpr std::int64_t lm = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT
const validators file{"\"abc-123\"", lm};
} // namespace

TEST_CASE("parse_http_date accepts the three formats and refuses the rest") {
    struct row {
        std::string text;
        std::optional<std::int64_t> want;
    };
    const row rows[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", lm},
        {"Sunday, 06-Nov-94 08:49:37 GMT", lm},
        {"Sun Nov  6 08:49:37 1994", lm},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Tue, 29 Feb 2000 12:00:00 GMT", 951825600},
        {"Sun, 06 Nov 1994 08:49:37 UTC", std::nullopt},
        {"Sun, 6 Nov 1994 08:49:37 GMT", std::nullopt},
        {"Sun, 06 Foo 1994 08:49:37 GMT", std::nullopt},
        {"Sun, 06 Nov 1994 25:49:37 GMT", std::nullopt},
        {"Sun, 06 Nov 1994 08:49 GMT", std::nullopt},
        {"", std::nullopt},
        {"yesterday", std::nullopt},
        {"784111777", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        CHECK(parse_http_date(r.text) == r.want);
    }
}

TEST_CASE("etag_list_matches: strong and weak comparison (RFC 9110 §8.8.3.2)") {
    struct row {
        std::string header;
        std::string etag;
        bool strong;
        bool weak;
    };
    const row rows[] = {
        {"W/\"1\"", "W/\"1\"", false, true},
        {"W/\"1\"", "W/\"2\"", false, false},
        {"W/\"1\"", "\"1\"", false, true},
        {"\"1\"", "\"1\"", true, true},
        {"*", "\"1\"", true, true},
        {"\"x\", \"1\"", "\"1\"", true, true},
        {"\"x\",W/\"1\" ,\"y\"", "\"1\"", false, true},
        {"\"x\"", "\"1\"", false, false},
        {"1", "\"1\"", false, false},          // unquoted: malformed
        {"\"1", "\"1\"", false, false},        // unterminated
        {"\"1\" junk", "\"1\"", false, false}, // garbage after a tag
        {"", "\"1\"", false, false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.header);
        CAPTURE(r.etag);
        CHECK(etag_list_matches(r.header, r.etag, true) == r.strong);
        CHECK(etag_list_matches(r.header, r.etag, false) == r.weak);
    }
}

TEST_CASE("evaluate follows RFC 9110 §13.2.2") {
    using enum precondition;
    const std::string before = "Sat, 05 Nov 1994 08:49:37 GMT";
    const std::string same = "Sun, 06 Nov 1994 08:49:37 GMT";
    const std::string after = "Mon, 07 Nov 1994 08:49:37 GMT";
    struct row {
        const char* what;
        conditions c;
        precondition want;
    };
    const row rows[] = {
        {"none", {}, proceed},
        {"If-Match equal", {"\"abc-123\"", {}, {}, {}}, proceed},
        {"If-Match other", {"\"zzz\"", {}, {}, {}}, failed},
        {"If-Match weak never matches", {"W/\"abc-123\"", {}, {}, {}}, failed},
        {"If-Match *", {"*", {}, {}, {}}, proceed},
        {"If-Match list", {"\"a\", \"abc-123\"", {}, {}, {}}, proceed},
        {"If-Unmodified-Since before", {{}, {}, {}, before}, failed},
        {"If-Unmodified-Since same", {{}, {}, {}, same}, proceed},
        {"If-Unmodified-Since invalid is ignored", {{}, {}, {}, "garbage"}, proceed},
        {"If-Match wins over If-Unmodified-Since", {"\"abc-123\"", {}, {}, before}, proceed},
        {"If-None-Match equal", {{}, "\"abc-123\"", {}, {}}, not_modified},
        {"If-None-Match weak equal", {{}, "W/\"abc-123\"", {}, {}}, not_modified},
        {"If-None-Match *", {{}, "*", {}, {}}, not_modified},
        {"If-None-Match other", {{}, "\"zzz\"", {}, {}}, proceed},
        {"If-Modified-Since same", {{}, {}, same, {}}, not_modified},
        {"If-Modified-Since after", {{}, {}, after, {}}, not_modified},
        {"If-Modified-Since before", {{}, {}, before, {}}, proceed},
        {"If-Modified-Since invalid", {{}, {}, "garbage", {}}, proceed},
        {"If-None-Match wins over If-Modified-Since", {{}, "\"zzz\"", same, {}}, proceed},
        {"412 before 304", {"\"zzz\"", "\"abc-123\"", {}, {}}, failed},
        {"If-Match ok then 304", {"\"abc-123\"", "\"abc-123\"", {}, {}}, not_modified},
    };
    for (const auto& r : rows) {
        CAPTURE(r.what);
        CHECK(evaluate(r.c, file) == r.want);
    }
}

TEST_CASE("if_range_allows: exact strong ETag or exact Last-Modified only") {
    CHECK(if_range_allows("\"abc-123\"", file));
    CHECK_FALSE(if_range_allows("W/\"abc-123\"", file));
    CHECK_FALSE(if_range_allows("\"other\"", file));
    CHECK(if_range_allows("Sun, 06 Nov 1994 08:49:37 GMT", file));
    CHECK_FALSE(if_range_allows("Sun, 06 Nov 1994 08:49:38 GMT", file));
    CHECK_FALSE(if_range_allows("Mon, 07 Nov 1994 08:49:37 GMT", file));
    CHECK_FALSE(if_range_allows("garbage", file));
    CHECK_FALSE(if_range_allows("", file));
}

TEST_CASE("accepts_encoding: RFC 9110 §12.5.3") {
    struct row {
        const char* header;
        const char* coding;
        bool want;
    };
    const row rows[] = {
        {"gzip, br", "br", true},    {"gzip", "br", false},
        {"BR", "br", true},          {"br;q=0", "br", false},
        {"br;q=0.000", "br", false}, {"br;q=0.001", "br", true},
        {"br; q=1", "br", true},     {"*", "br", true},
        {"*;q=0", "br", false},      {"*, br;q=0", "br", false},
        {"br;q=0, *", "br", false},  {"gzip;q=0.5, *;q=0", "br", false},
        {"", "br", false},           {"identity", "gzip", false},
        {"br;q=x", "br", false}, // malformed q: not accepted
    };
    for (const auto& r : rows) {
        CAPTURE(r.header);
        CAPTURE(r.coding);
        CHECK(accepts_encoding(r.header, r.coding) == r.want);
    }
}
