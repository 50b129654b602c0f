#include "spliced/http/url.hpp"

#include <doctest/doctest.h>
#include <string>

using namespace spliced::http;

TEST_CASE("parse_url: where to connect and what to ask for") {
    struct row {
        std::string text, host;
        unsigned port;
        std::string authority, target;
    };
    const row rows[] = {
        {"http://example.org", "example.org", 80, "example.org", "/"},
        {"http://Example.ORG/a/b.iso", "example.org", 80, "example.org", "/a/b.iso"},
        {"HTTP://127.0.0.1:8080/x?y=1", "127.0.0.1", 8080, "127.0.0.1:8080", "/x?y=1"},
        {"http://[::1]:9000/f", "::1", 9000, "[::1]:9000", "/f"},
        {"http://[::1]/f", "::1", 80, "[::1]", "/f"},
        {"http://h:/f", "h", 80, "h", "/f"},
        {"http://h?q", "h", 80, "h", "/?q"},
        {"http://h/f#frag", "h", 80, "h", "/f"},
        {"http://h/a%20b", "h", 80, "h", "/a%20b"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        auto u = parse_url(r.text);
        REQUIRE(u.has_value());
        CHECK(u->host == r.host);
        CHECK(u->port == r.port);
        CHECK(u->authority == r.authority);
        CHECK(u->target == r.target);
    }
}

TEST_CASE("parse_url: refusals") {
    CHECK(parse_url("https://h/f").error() == std::errc::protocol_not_supported);
    CHECK(parse_url("ftp://h/f").error() == std::errc::protocol_not_supported);
    for (const char* bad : {"h/f", "http://", "http:///f", "http://u:p@h/f", "http://h:0/",
                            "http://h:65536/", "http://h:8x/", "http://h/a b", "http://h/a\r\nX: y",
                            "http://[::1/f", "http://h\xc3\xa9/", "http://h/\xc3\xa9"}) {
        CAPTURE(bad);
        CHECK(parse_url(bad).error() == std::errc::invalid_argument);
    }
}

TEST_CASE("file_name_for: a plain name in the current directory, or none") {
    auto name = [](const char* text) { return file_name_for(*parse_url(text)); };
    CHECK(name("http://h/a/b.iso") == "b.iso");
    CHECK(name("http://h/a/b%20c.iso?x=1") == "b c.iso");
    CHECK(name("http://h/") == "index.html");
    CHECK(name("http://h") == "index.html");
    CHECK(name("http://h/dir/") == "index.html");
    CHECK(name("http://h/.hidden") == ".hidden");
    CHECK_FALSE(name("http://h/a/.."));
    CHECK_FALSE(name("http://h/a/."));
    CHECK_FALSE(name("http://h/a/%2e%2e"));
    CHECK_FALSE(name("http://h/a/..%2F..%2Fetc%2Fpasswd"));
    CHECK_FALSE(name("http://h/a/x%00y"));
    CHECK_FALSE(name("http://h/a/x%0Ay"));
    CHECK_FALSE(name("http://h/a/x%zz"));
}
