#include "spliced/http/request_reader.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using spliced::http::method;
using spliced::http::request_reader;
using spliced::http::status;
using state = request_reader::state;

namespace {

struct parsed {
    method m;
    std::string target;
    unsigned version;
    bool keep_alive;
};

// Feeds `wire` to a reader the way a connection does: whatever has arrived so far, with the
// arrival split at `split`. Returns every request parsed.
std::vector<parsed> parse_all(const std::string& wire, std::size_t split) {
    request_reader reader(8192);
    std::vector<parsed> out;
    std::string buffer;
    std::size_t delivered = 0;
    auto deliver = [&](std::size_t upto) {
        buffer.append(wire, delivered, upto - delivered);
        delivered = upto;
    };
    deliver(split);
    while (true) {
        auto o = reader.feed(buffer);
        if (o.result == state::need_more) {
            if (delivered == wire.size())
                break;
            deliver(wire.size());
            continue;
        }
        REQUIRE(o.result == state::done);
        const auto& h = reader.head();
        out.push_back({h.method, h.target, h.version, h.keep_alive});
        buffer.erase(0, o.consumed);
        reader.reset();
    }
    return out;
}

} // namespace

TEST_CASE("four pipelined requests parse identically at every split position") {
    const std::string wire = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                             "HEAD /b%20c HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /c HTTP/1.0\r\n\r\n"
                             "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (std::size_t split = 0; split <= wire.size(); ++split) {
        CAPTURE(split);
        auto got = parse_all(wire, split);
        REQUIRE(got.size() == 4);
        CHECK(got[0].m == method::get);
        CHECK(got[0].target == "/a");
        CHECK(got[0].keep_alive);
        CHECK(got[1].m == method::head);
        CHECK(got[1].target == "/b%20c");
        CHECK(got[2].version == 10);
        CHECK_FALSE(got[2].keep_alive);
        CHECK(got[3].target == "/d");
        CHECK_FALSE(got[3].keep_alive);
    }
}

TEST_CASE("keep-alive follows HTTP/1.0 and HTTP/1.1 rules") {
    struct row {
        std::string wire;
        bool keep_alive;
        unsigned version;
    };
    const row rows[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true, 11},
        {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false, 11},
        {"GET / HTTP/1.0\r\n\r\n", false, 10},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, 10},
        {"GET / HTTP/1.2\r\nHost: x\r\n\r\n", true, 11},
    };
    for (const auto& r : rows) {
        CAPTURE(r.wire);
        request_reader reader(8192);
        auto o = reader.feed(r.wire);
        REQUIRE(o.result == state::done);
        CHECK(o.consumed == r.wire.size());
        CHECK(reader.head().keep_alive == r.keep_alive);
        CHECK(reader.head().version == r.version);
    }
}

TEST_CASE("bad heads map to the right status") {
    struct row {
        std::string wire;
        status want;
    };
    const row rows[] = {
        {"GET / HTTP/1.1\r\n\r\n", status::bad_request},                       // no Host
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status::bad_request}, // two Hosts
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", status::version_not_supported},
        {"GET / FOO/1.1\r\nHost: x\r\n\r\n", status::bad_request},
        {"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", status::bad_request},
        {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", status::bad_request},
        {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         status::bad_request},
        {"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", status::bad_request},
        {std::string("\x00\x01garbage\r\n\r\n", 13), status::bad_request},
        {"GET /\r\n\r\n", status::bad_request}, // HTTP/0.9
        {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", status::uri_too_long},
        {"GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(9000, 'a') + "\r\n\r\n",
         status::header_fields_too_large},
    };
    for (const auto& r : rows) {
        CAPTURE(r.wire.substr(0, 60));
        request_reader reader(8192);
        auto o = reader.feed(r.wire);
        REQUIRE(o.result == state::error);
        CHECK(o.error == r.want);
    }
}

TEST_CASE("an unknown method is parsed so the server can answer 405") {
    request_reader reader(8192);
    auto o = reader.feed("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(o.result == state::done);
    CHECK(reader.head().method == method::other);
    CHECK(reader.head().method_text == "BREW");
}

TEST_CASE("smuggling and framing: each malformed head is one error response") {
    struct row {
        std::string wire;
        status want;
    };
    const std::string h = "GET / HTTP/1.1\r\nHost: x\r\n";
    const row rows[] = {
        {h + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", status::bad_request},
        {h + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", status::bad_request},
        {h + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n", status::bad_request},
        {h + "Content-Length: 0\r\nContent-Length: 5\r\n\r\n", status::bad_request},
        {h + "Content-Length: -1\r\n\r\n", status::bad_request},
        {h + "Content-Length: 1x\r\n\r\n", status::bad_request},
        {h + "Content-Length: 0, 0\r\n\r\n", status::bad_request},
        {h + "Content-Length: 99999999999999999999999\r\n\r\n", status::bad_request},
        {h + "Transfer-Encoding: gzip\r\n\r\n", status::not_implemented},
        {h + "Transfer-Encoding: identity\r\n\r\n", status::not_implemented},
        {h + "Transfer-Encoding: gzip, chunked\r\n\r\n", status::not_implemented},
        {h + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status::bad_request},
        {h + "X: a\r\n  folded\r\n\r\n", status::bad_request},         // obs-fold
        {h + "X: a\rb\r\n\r\n", status::bad_request},                  // bare CR
        {h + std::string("X: a\0b\r\n\r\n", 10), status::bad_request}, // NUL
        {h + "X: a\x01b\r\n\r\n", status::bad_request},                // control char
        {h + "X : a\r\n\r\n", status::bad_request},                    // space before colon
        {h + "X\t: a\r\n\r\n", status::bad_request},
        {"GET / HTTP/1.1\nHost: x\n\n", status::bad_request}, // bare LF
        {"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", status::bad_request},
        {"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", status::bad_request},
        {"GET /\r\n", status::bad_request}, // HTTP/0.9
    };
    for (const auto& r : rows) {
        CAPTURE(r.wire);
        request_reader reader(8192);
        auto o = reader.feed(r.wire);
        CHECK(o.result == state::error);
        CHECK(o.error == r.want);
    }
}

// What a reader answers when `wire` arrives `step` bytes at a time: the error status, or 0 while
// it is still waiting.
int answer_in_steps(const std::string& wire, std::size_t step, std::size_t limit = 8192) {
    request_reader reader(limit);
    for (std::size_t n = step;; n += step) {
        auto o = reader.feed(std::string_view(wire).substr(0, n));
        if (o.result == state::error)
            return int(o.error);
        REQUIRE(o.result == state::need_more);
        if (n >= wire.size())
            return 0;
    }
}

TEST_CASE("a malformed head is refused the same however it arrives (found by fuzzing)") {
    const std::string rows[] = {
        "GET / HTTP/1.1\r\nHostET / HTTP/1.1\n\r\n", // a field line without ':', then LF CR LF
        "GET /\r\n",                            // HTTP/0.9: refused before a head that never comes
        "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", // obs-fold
        "GET / FOO/1.1\r\n",
    };
    for (const auto& wire : rows) {
        CAPTURE(wire);
        const int at_once = answer_in_steps(wire, wire.size());
        CHECK(at_once == 400);
        for (std::size_t step : {1, 2, 3, 7})
            CHECK(answer_in_steps(wire, step) == at_once);
    }
    // A bare LF past the limit decides nothing: the head is too large whether or not it arrived.
    const std::string tail = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(100, 'a') + "\n";
    CHECK(answer_in_steps(tail, tail.size(), 64) == 431);
    CHECK(answer_in_steps(tail, 1, 64) == 431);
}

TEST_CASE("20,000 tiny headers are refused as soon as the limit is passed") {
    std::string wire = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 20000; ++i)
        wire += "a: b\r\n";
    wire += "\r\n";
    request_reader reader(8192);
    auto o = reader.feed(wire);
    REQUIRE(o.result == state::error);
    CHECK(o.error == status::header_fields_too_large);
}

TEST_CASE("Want-Repr-Digest is collected whatever its case, joined when repeated") {
    request_reader reader(8192);
    std::string wire = "GET /f HTTP/1.1\r\nHost: h\r\nwant-REPR-digest: sha-512=3\r\n"
                       "Want-Repr-Digest: sha-256=10\r\n\r\n";
    REQUIRE(reader.feed(wire).result == state::done);
    REQUIRE(reader.head().want_repr_digest.has_value());
    CHECK(*reader.head().want_repr_digest == "sha-512=3, sha-256=10");
    reader.reset();
    REQUIRE(reader.feed("GET /f HTTP/1.1\r\nHost: h\r\n\r\n").result == state::done);
    CHECK_FALSE(reader.head().want_repr_digest.has_value());
}
