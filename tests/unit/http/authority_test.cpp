#include "spliced/http/authority.hpp"

#include <doctest/doctest.h>
#include <optional>
#include <string>

using spliced::http::absolute_form_authority;
using spliced::http::valid_authority;

TEST_CASE("valid hosts (RFC 3986 reg-name, IPv4, IP-literal) with and without a port") {
    for (const char* host :
         {"example.com", "example.com:8080", "EXAMPLE.com", "a-b_c~d.e", "127.0.0.1",
          "127.0.0.1:80", "[::1]", "[::1]:8080", "[abcd::ef98:0:7654:321]", "[2001:db8::1]:443",
          "[v1.fe:80]", "ex%41mple.com", "sub!$&'()*+,;=delims", "example.com:", "localhost"})
        CHECK_MESSAGE(valid_authority(host, false), host);
}

TEST_CASE("invalid hosts are refused") {
    for (const char* host :
         {"example.com/\\:552", "example.com/", "exa mple.com", "[abcd::ef98:0:7654:321",
          "[abcd::ef98:0:7654:321]x", "[::1]:8a", "example.com:1.2", "example.com:9000:80",
          "user@example.com", "example.com:80 ", "[not-an-ip]", "[::1%eth0]", "ex%4", "ex%zzmple",
          "[v.x]", "[vz.x]", "a\"b", "a<b>"})
        CHECK_FALSE_MESSAGE(valid_authority(host, true), host);
}

TEST_CASE("an empty host: valid in Host, never in an http URI") {
    CHECK(valid_authority("", true));
    CHECK_FALSE(valid_authority("", false));
    CHECK_FALSE(valid_authority(":80", false));
}

TEST_CASE("the authority of absolute-form targets") {
    CHECK(absolute_form_authority("/a/b") == std::nullopt);
    CHECK(*absolute_form_authority("http://example.com/a") == "example.com");
    CHECK(*absolute_form_authority("HTTPS://example.com:8443?x") == "example.com:8443");
    CHECK(*absolute_form_authority("http:///") == "");
    CHECK(*absolute_form_authority("http://[abcd::ef98:0:7654:321/") == "[abcd::ef98:0:7654:321");
    CHECK(absolute_form_authority("ftp://example.com/") == std::nullopt);
}
