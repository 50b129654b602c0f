#include "spliced/http/response_reader.hpp"

#include <doctest/doctest.h>
#include <string>

using namespace spliced::http;

namespace {

const std::string partial =
    "HTTP/1.1 206 Partial Content\r\n"
    "Content-Length: 10\r\n"
    "Content-Range: bytes 0-9/100\r\n"
    "ETag: \"abc\"\r\n"
    "Last-Modified: Tue, 01 Dec 2026 10:00:00 GMT\r\n"
    "Repr-Digest: sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\r\n"
    "Accept-Ranges: bytes\r\n"
    "\r\n";

} // namespace

TEST_CASE("response_reader: a 206 head, fed whole and byte by byte") {
    for (bool trickle : {false, true}) {
        CAPTURE(trickle);
        response_reader reader;
        const std::string input = partial + "0123456789";
        response_reader::outcome out;
        if (trickle) {
            for (std::size_t n = 1; n <= input.size(); ++n) {
                out = reader.feed(std::string_view(input).substr(0, n));
                if (out.result != response_reader::state::need_more)
                    break;
                CHECK(n < partial.size());
            }
        } else {
            out = reader.feed(input);
        }
        REQUIRE(out.result == response_reader::state::done);
        CHECK(out.consumed == partial.size());
        const auto& h = reader.head();
        CHECK(h.status == 206);
        CHECK(h.keep_alive);
        CHECK(h.content_length == 10u);
        CHECK(h.content_range == "bytes 0-9/100");
        CHECK(h.etag == "\"abc\"");
        CHECK(h.last_modified == "Tue, 01 Dec 2026 10:00:00 GMT");
        CHECK(h.repr_digest == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
        CHECK(h.accept_ranges == "bytes");
        CHECK_FALSE(h.retry_after);
    }
}

TEST_CASE("response_reader: framing and keep-alive") {
    struct row {
        std::string head;
        bool head_request;
        response_reader::state result;
        std::optional<std::uint64_t> length;
        bool keep_alive;
    };
    using enum response_reader::state;
    const row rows[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, done, 5, true},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, done, 0, true},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n", false, done, 1ull << 40, true},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false, done, 0, true},
        {"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", false, done, 5, false},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", false, done, std::nullopt, false},
        {"HTTP/1.1 503 Busy\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n", false, done, 0, true},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", false, error, {}, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         false,
         error,
         {},
         0},
        {"HTTP/1.1 206 P\r\nContent-Range: bytes 0-1/9\r\nContent-Range: bytes 2-3/9\r\n\r\n",
         false,
         error,
         {},
         0},
        {"HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\n", false, error, {}, 0},
        {"HTTP/2 200 OK\r\n\r\n", false, error, {}, 0},
        {"SSH-2.0-OpenSSH\r\n\r\n", false, error, {}, 0},
    };
    for (const auto& r : rows) {
        CAPTURE(r.head);
        response_reader reader;
        auto out = reader.feed(r.head, r.head_request);
        CHECK(out.result == r.result);
        if (out.result == done) {
            CHECK(reader.head().content_length == r.length);
            CHECK(reader.head().keep_alive == r.keep_alive);
        }
    }
}

TEST_CASE("response_reader: an endless head is an error at the limit, not a buffer that grows") {
    response_reader reader(1024);
    std::string head = "HTTP/1.1 200 OK\r\n";
    while (head.size() < 1024)
        head += "X-Filler: aaaaaaaaaaaaaaaa\r\n";
    CHECK(reader.feed(head).result == response_reader::state::error);
}

TEST_CASE("response_reader: reset reads the next response on the connection") {
    response_reader reader;
    REQUIRE(reader.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: \"a\"\r\n\r\n").result ==
            response_reader::state::done);
    reader.reset();
    REQUIRE(reader.feed("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").result ==
            response_reader::state::done);
    CHECK(reader.head().status == 404);
    CHECK_FALSE(reader.head().etag);
}
