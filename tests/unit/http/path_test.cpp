#include "spliced/http/path.hpp"

#include <doctest/doctest.h>

using spliced::http::normalize_target;

TEST_CASE("normalize_target: accepted targets") {
    struct row {
        std::string_view target;
        std::string_view relative;
        bool trailing_slash;
    };
    const row rows[] = {
        {"/", ".", true},
        {"/a.txt", "a.txt", false},
        {"/a/b/c.bin", "a/b/c.bin", false},
        {"/dir/", "dir", true},
        {"/a/./b", "a/b", false},
        {"/a/../b", "b", false},
        {"/a/b/..", "a", true},
        {"//a///b", "a/b", false},
        {"/a?x=1", "a", false},
        {"/a%20b", "a b", false},
        {"/%2e%2e%2fetc", "etc", false}, // decoded once: "/../etc" is above the root...
        {"/a/%2e%2e/b", "b", false},
        {"/a%2fb", "a/b", false},
        {"/%252e%252e/x", "%2e%2e/x", false},                   // double encoding stays literal
        {"/..\\..\\etc\\passwd", "..\\..\\etc\\passwd", false}, // a file name on Linux
        {"http://example.com/a/b", "a/b", false},
        {"HTTP://example.com", ".", true},
        {"/caf%C3%A9", "caf\xC3\xA9", false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.target);
        auto got = normalize_target(r.target);
        if (r.target == "/%2e%2e%2fetc") {
            CHECK_FALSE(got.has_value()); // ...so it is refused, not clamped
            continue;
        }
        REQUIRE(got.has_value());
        CHECK(got->relative == r.relative);
        CHECK(got->trailing_slash == r.trailing_slash);
        CHECK(got->absolute.front() == '/');
    }
}

TEST_CASE("normalize_target: refused targets") {
    const std::string_view rows[] = {
        "",
        "a.txt",
        "*",
        "/../etc/passwd",
        "/a/../../b",
        "/%2e%2e/x",
        "/..",
        "/a%00b",
        "/a%",
        "/a%2",
        "/a%zz",
        "/%2E%2E/%2E%2E/etc",
        "/a/%2e%2e/%2e%2e/etc",
        std::string_view("/a\0b", 4),
    };
    for (auto target : rows) {
        CAPTURE(target);
        CHECK_FALSE(normalize_target(target).has_value());
    }
}

TEST_CASE("normalize_target never yields dot segments or empty segments") {
    const std::string_view rows[] = {"/./././a", "/a/.//./b/", "/a/b/./../c", "/.%2e/x/..%2f"};
    for (auto target : rows) {
        CAPTURE(target);
        auto got = normalize_target(target);
        if (!got)
            continue;
        std::string_view rel = got->relative;
        CHECK(rel.find("//") == std::string_view::npos);
        CHECK(rel.find("/./") == std::string_view::npos);
        CHECK(rel.find("..") == std::string_view::npos);
    }
}

TEST_CASE("normalize_target keeps the query for redirects") {
    auto got = normalize_target("/dir?a=1&b=%20#frag");
    REQUIRE(got.has_value());
    CHECK(got->relative == "dir");
    CHECK(got->query == "a=1&b=%20");
    CHECK(normalize_target("/dir")->query.empty());
}

TEST_CASE("percent_encode_path escapes everything that could break a header") {
    using spliced::http::percent_encode_path;
    CHECK(percent_encode_path("/a/b-c_d.e~f") == "/a/b-c_d.e~f");
    CHECK(percent_encode_path("/a b") == "/a%20b");
    CHECK(percent_encode_path("/x\r\nSet-Cookie: y") == "/x%0D%0ASet-Cookie:%20y");
    CHECK(percent_encode_path("/caf\xC3\xA9") == "/caf%C3%A9");
    CHECK(percent_encode_path("/100%") == "/100%25");
    CHECK(percent_encode_path("/?#") == "/%3F%23");
}

TEST_CASE("hidden paths: a segment beginning with '.', after decoding; .well-known exempt") {
    auto hidden = [](const char* target) { return normalize_target(target).value().hidden; };
    CHECK(hidden("/.env"));
    CHECK(hidden("/%2eenv"));
    CHECK(hidden("/a/.git/config"));
    CHECK(hidden("/.git%2fconfig"));
    CHECK(hidden("/a/..%2f.git/config"));
    CHECK(hidden("/.well-known/.private"));
    CHECK(hidden("/..."));
    CHECK_FALSE(hidden("/.well-known/acme-challenge/x"));
    CHECK_FALSE(hidden("/a/./b"));
    CHECK_FALSE(hidden("/a/../b"));
    CHECK_FALSE(hidden("/a.txt"));
    CHECK_FALSE(hidden("/"));
    CHECK(hidden("/a/.well-known/x")); // only the root's own is exempt
}
