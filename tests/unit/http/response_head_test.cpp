#include "spliced/http/response_head.hpp"

#include <doctest/doctest.h>

using namespace spliced::http;

TEST_CASE("response_head writes status line, fields and the right Connection field") {
    response_head h;
    h.start(status::ok, "Thu, 01 Jan 1970 00:00:00 GMT");
    h.field("Content-Length", std::uint64_t(5'000'000'000));
    h.finish(true, 11);
    CHECK(h.bytes() ==
          "HTTP/1.1 200 OK\r\nServer: spliced\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
          "Content-Length: 5000000000\r\n\r\n");
    h.start(status::not_found, "D");
    h.finish(false, 11);
    CHECK(h.bytes() ==
          "HTTP/1.1 404 Not Found\r\nServer: spliced\r\nDate: D\r\nConnection: close\r\n\r\n");
    h.start(status::ok, "D");
    h.finish(true, 10);
    CHECK(h.bytes().ends_with("Connection: keep-alive\r\n\r\n"));
}

TEST_CASE("write_simple_response: Content-Length matches the body; HEAD gets no body") {
    response_head h;
    write_simple_response(h, status::method_not_allowed, "D", true, 11, "Allow: GET, HEAD\r\n");
    auto text = h.bytes();
    auto split = text.find("\r\n\r\n");
    REQUIRE(split != std::string_view::npos);
    auto body = text.substr(split + 4);
    CHECK(body == "405 Method Not Allowed\n");
    CHECK(text.find("Content-Length: 23\r\n") != std::string_view::npos);
    CHECK(text.find("Allow: GET, HEAD\r\n") != std::string_view::npos);
    write_simple_response(h, status::not_found, "D", true, 11, {}, false);
    CHECK(h.bytes().ends_with("\r\n\r\n"));
    CHECK(h.bytes().find("Content-Length: 14\r\n") != std::string_view::npos);
}

TEST_CASE("status_from_errno is the one errno mapping") {
    CHECK(status_from_errno(ENOENT) == status::not_found);
    CHECK(status_from_errno(ENOTDIR) == status::not_found);
    CHECK(status_from_errno(EXDEV) == status::not_found);
    CHECK(status_from_errno(ELOOP) == status::not_found);
    CHECK(status_from_errno(EACCES) == status::forbidden);
    CHECK(status_from_errno(EMFILE) == status::service_unavailable);
    CHECK(status_from_errno(ENFILE) == status::service_unavailable);
    CHECK(status_from_errno(EIO) == status::internal_server_error);
}
