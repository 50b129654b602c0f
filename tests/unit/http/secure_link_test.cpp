#include "spliced/http/secure_link.hpp"

#include <doctest/doctest.h>
#include <string>

using namespace spliced::http;

TEST_CASE("the signature is unpadded base64url of HMAC-SHA-256(secret, path + expires)") {
    // python3 -c "import hmac,hashlib,base64; print(base64.urlsafe_b64encode(hmac.new(
    //     b'topsecret', b'/dl/a.txt1000', hashlib.sha256).digest()).rstrip(b'=').decode())"
    CHECK(sign_link("topsecret", "/dl/a.txt", 1000) ==
          "9U9DRcDJOy-Yt_ttQuhSxRFjayO2w4Jm3h3SdNkvPnk");
}

TEST_CASE("check_link: valid, expired, and every way to be wrong") {
    const std::string good = sign_link("k", "/dl/a", 2000);
    const std::string q = "expires=2000&sig=" + good;
    CHECK(check_link("k", "/dl/a", q, 1999) == link_verdict::valid);
    CHECK(check_link("k", "/dl/a", q, 2000) == link_verdict::valid);
    CHECK(check_link("k", "/dl/a", q, 2001) == link_verdict::expired);
    CHECK(check_link("k", "/dl/a", "x=1&" + q + "&y=2", 1000) == link_verdict::valid);
    CHECK(check_link("other", "/dl/a", q, 1000) == link_verdict::bad_signature);
    CHECK(check_link("k", "/dl/b", q, 1000) == link_verdict::bad_signature);
    CHECK(check_link("k", "/dl/a", "expires=2001&sig=" + good, 1000) ==
          link_verdict::bad_signature);
    CHECK(check_link("k", "/dl/a", "expires=02000&sig=" + good, 1000) ==
          link_verdict::bad_signature);
    CHECK(check_link("k", "/dl/a", "expires=2000", 1000) == link_verdict::bad_signature);
    CHECK(check_link("k", "/dl/a", "sig=" + good, 1000) == link_verdict::bad_signature);
    CHECK(check_link("k", "/dl/a", "expires=-5&sig=" + good, 1000) == link_verdict::bad_signature);
    CHECK(check_link("k", "/dl/a", "expires=2000&sig=" + good + "A", 1000) ==
          link_verdict::bad_signature);
    CHECK(check_link("k", "/dl/a", "", 1000) == link_verdict::bad_signature);
    // An expired link with a wrong signature says nothing about expiry.
    CHECK(check_link("other", "/dl/a", q, 5000) == link_verdict::bad_signature);
}

TEST_CASE("under_prefix") {
    CHECK(under_prefix("/dl/", "/dl/a"));
    CHECK(under_prefix("/dl/", "/dl/"));
    CHECK(under_prefix("/dl/", "/dl"));
    CHECK_FALSE(under_prefix("/dl/", "/dlx/a"));
    CHECK_FALSE(under_prefix("/dl/", "/d"));
    CHECK_FALSE(under_prefix("/dl/", "/"));
}
