#include "spliced/client/response_check.hpp"

#include <doctest/doctest.h>

using namespace spliced::client;
using spliced::http::byte_range;
using spliced::http::response_head;

namespace {

response_head partial(std::string range, std::uint64_t length, std::string etag = "\"v1\"") {
    response_head h;
    h.status = 206;
    h.content_range = range;
    h.content_length = length;
    if (!etag.empty())
        h.etag = etag;
    return h;
}

response_head status(unsigned code) {
    response_head h;
    h.status = code;
    h.content_length = 0;
    return h;
}

const pinned v1{1000, "\"v1\"", "", true};

} // namespace

TEST_CASE("check_probe: pins size and a strong validator") {
    auto c = check_probe(partial("bytes 0-0/1000", 1), std::nullopt);
    CHECK(c.what == verdict::body);
    REQUIRE(c.pin);
    CHECK(*c.pin == v1);
    // A weak ETag pins nothing; Last-Modified is the fallback only when no ETag is sent at all.
    auto weak = partial("bytes 0-0/1000", 1, "W/\"v1\"");
    weak.last_modified = "Tue, 01 Dec 2026 10:00:00 GMT";
    CHECK(check_probe(weak, std::nullopt).pin == pinned{1000, "", "", true});
    auto dated = partial("bytes 0-0/1000", 1, "");
    dated.last_modified = "Tue, 01 Dec 2026 10:00:00 GMT";
    CHECK(check_probe(dated, std::nullopt).pin->last_modified == *dated.last_modified);
}

TEST_CASE("check_probe: the table") {
    auto whole = status(200);
    whole.content_length = 1000;
    whole.etag = "\"v1\"";
    auto whole_v2 = whole;
    whole_v2.etag = "\"v2\"";
    auto empty = status(416);
    empty.content_range = "bytes */0";
    auto retry = status(503);
    retry.retry_after = "7";
    auto coded = partial("bytes 0-0/1000", 1);
    coded.content_encoding = "gzip";
    struct row {
        const char* name;
        response_head head;
        std::optional<pinned> resuming;
        verdict what;
    };
    const row rows[] = {
        {"206 same version on resume", partial("bytes 0-0/1000", 1), v1, verdict::body},
        {"206 other ETag on resume", partial("bytes 0-0/1000", 1, "\"v2\""), v1, verdict::changed},
        {"206 other size on resume", partial("bytes 0-0/999", 1), v1, verdict::changed},
        {"206 wrong range", partial("bytes 0-9/1000", 10), std::nullopt, verdict::malformed},
        {"206 wrong length", partial("bytes 0-0/1000", 2), std::nullopt, verdict::malformed},
        {"206 coded", coded, std::nullopt, verdict::malformed},
        {"200: Range ignored", whole, std::nullopt, verdict::whole},
        {"200 same validators on resume: Range ignored", whole, pinned{1000, "\"v1\"", "", true},
         verdict::whole},
        {"200 new ETag on resume: changed", whole_v2, v1, verdict::changed},
        {"416 */0: empty file", empty, std::nullopt, verdict::empty},
        {"416 */0 on resume of 1000 bytes", empty, v1, verdict::changed},
        {"503", retry, std::nullopt, verdict::retry},
        {"429", status(429), std::nullopt, verdict::retry},
        {"404", status(404), std::nullopt, verdict::refused},
        {"403", status(403), std::nullopt, verdict::refused},
        {"301", status(301), std::nullopt, verdict::malformed},
        {"304", status(304), std::nullopt, verdict::unchanged},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        CHECK(check_probe(r.head, r.resuming).what == r.what);
    }
    CHECK(check_probe(retry, std::nullopt).retry_after == std::chrono::seconds(7));
}

TEST_CASE("check_piece: only the piece asked for, of the pinned version") {
    const byte_range asked{100, 199};
    struct row {
        const char* name;
        response_head head;
        verdict what;
    };
    auto no_etag = partial("bytes 100-199/1000", 100, "");
    const row rows[] = {
        {"exact", partial("bytes 100-199/1000", 100), verdict::body},
        {"other range", partial("bytes 100-198/1000", 99), verdict::malformed},
        {"shifted range", partial("bytes 101-200/1000", 100), verdict::malformed},
        {"other total", partial("bytes 100-199/1001", 100), verdict::malformed},
        {"length disagrees", partial("bytes 100-199/1000", 99), verdict::malformed},
        {"other ETag", partial("bytes 100-199/1000", 100, "\"v2\""), verdict::changed},
        {"no ETag", no_etag, verdict::changed},
        {"412", status(412), verdict::changed},
        {"200",
         [] {
             auto h = status(200);
             h.content_length = 1000;
             return h;
         }(),
         verdict::malformed},
        {"502", status(502), verdict::retry},
        {"404", status(404), verdict::refused},
    };
    for (const auto& r : rows) {
        CAPTURE(r.name);
        auto c = check_piece(r.head, asked, v1);
        CHECK(c.what == r.what);
        if (c.what == verdict::body) {
            CHECK(c.offset == 100);
            CHECK(c.length == 100);
        }
    }
}

TEST_CASE("parse_retry_after: seconds, dates, garbage") {
    CHECK(parse_retry_after("120", 0) == std::chrono::seconds(120));
    CHECK(parse_retry_after("99999999", 0) == std::chrono::seconds(24 * 3600));
    CHECK(parse_retry_after("Thu, 03 Dec 2026 10:00:10 GMT", 1796292000) ==
          std::chrono::seconds(10));
    CHECK(parse_retry_after("Thu, 03 Dec 2026 09:00:00 GMT", 1796292000) ==
          std::chrono::seconds(0));
    CHECK_FALSE(parse_retry_after("soon", 0));
    CHECK_FALSE(parse_retry_after("-1", 0));
}
