#include "spliced/http/client_request.hpp"
#include "spliced/http/repr_digest.hpp"

#include <doctest/doctest.h>

using namespace spliced::http;

TEST_CASE("write_request: a piece request with its preconditions") {
    client_request r;
    r.target = "/a/b.iso";
    r.authority = "127.0.0.1:8080";
    r.range = byte_range{100, 199};
    r.if_match = "\"e1\"";
    r.want_repr_digest = true;
    r.user_agent = "spliced-get/0.1.0";
    CHECK(write_request(r) == "GET /a/b.iso HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                              "Range: bytes=100-199\r\nIf-Match: \"e1\"\r\n"
                              "Want-Repr-Digest: sha-256=10\r\nUser-Agent: spliced-get/0.1.0\r\n"
                              "Accept-Encoding: identity\r\n\r\n");
}

TEST_CASE("write_request: a value from a hostile server cannot split the request") {
    client_request r;
    r.target = "/f";
    r.authority = "example.org";
    r.if_range = std::string("\"x\"\r\nX-Injected: 1");
    r.head = true;
    CHECK(write_request(r) ==
          "HEAD /f HTTP/1.1\r\nHost: example.org\r\nAccept-Encoding: identity\r\n\r\n");
}

TEST_CASE("Repr-Digest: parse, format and hex") {
    // sha-256 of the empty string
    const char* hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const char* field = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";
    auto digest = parse_hex_sha256(hex);
    REQUIRE(digest);
    CHECK(to_hex(*digest) == hex);
    CHECK(format_repr_digest(*digest) == field);
    CHECK(parse_repr_digest_sha256(field) == digest);
    const std::string listed =
        "sha-512=:AAAA:, sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";
    const std::string with_parameter = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:;p=1";
    CHECK(parse_repr_digest_sha256(listed) == digest);
    CHECK(parse_repr_digest_sha256(with_parameter) == digest);
    CHECK_FALSE(parse_repr_digest_sha256("sha-512=:AAAA:"));
    CHECK_FALSE(parse_repr_digest_sha256("sha-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
    CHECK_FALSE(parse_repr_digest_sha256("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=:"));
    CHECK_FALSE(parse_repr_digest_sha256("sha-256=:AAAA:"));
    CHECK_FALSE(parse_hex_sha256("e3b0"));
    CHECK_FALSE(parse_hex_sha256(std::string(64, 'g')));
}

TEST_CASE("repr_digest_wanted: absent or sha-256 above 0; 0 or only other algorithms: no") {
    using spliced::http::repr_digest_wanted;
    CHECK(repr_digest_wanted(std::nullopt));
    CHECK(repr_digest_wanted(std::string("sha-256=10")));
    CHECK(repr_digest_wanted(std::string("sha-512=3, sha-256=1")));
    CHECK(repr_digest_wanted(std::string("sha-256=5;x=1")));
    CHECK_FALSE(repr_digest_wanted(std::string("sha-256=0")));
    CHECK_FALSE(repr_digest_wanted(std::string("sha-256=00")));
    CHECK_FALSE(repr_digest_wanted(std::string("sha-512=10")));
    CHECK_FALSE(repr_digest_wanted(std::string("sha-512=10, sha-256=0")));
    CHECK(repr_digest_wanted(std::string("garbage")));      // malformed: as if absent
    CHECK(repr_digest_wanted(std::string("sha-256=high"))); // likewise
    CHECK(repr_digest_wanted(std::string("")));
}
