#include "spliced/http/file_response.hpp"

#include <doctest/doctest.h>
#include <string>

using namespace spliced::http;

namespace {

const file_facts file{1000, "\"3e8-1\"", 784111777, "Sun, 06 Nov 1994 08:49:37 GMT", "text/plain"};

request_head with_range(std::string range) {
    request_head h;
    h.range = std::move(range);
    return h;
}

} // namespace

TEST_CASE("plan_file_response: whole, single range, multipart, 304, 412, 416") {
    auto whole = plan_file_response({}, file, 16, "B");
    CHECK(whole.code == status::ok);
    CHECK(whole.content_length == 1000);
    REQUIRE(whole.ranges.size() == 1);
    CHECK(whole.ranges[0] == byte_range{0, 999});

    auto single = plan_file_response(with_range("bytes=10-19"), file, 16, "B");
    CHECK(single.code == status::partial_content);
    CHECK(single.content_length == 10);
    CHECK(single.pieces.empty());

    auto multi = plan_file_response(with_range("bytes=0-4,100-104"), file, 16, "XYZ");
    CHECK(multi.code == status::partial_content);
    REQUIRE(multi.pieces.size() == 3);
    CHECK(multi.pieces[0] ==
          "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-4/1000\r\n\r\n");
    CHECK(multi.pieces[2] == "\r\n--XYZ--\r\n");
    std::uint64_t total = 10;
    for (const auto& p : multi.pieces)
        total += p.size();
    CHECK(multi.content_length == total);

    request_head cond;
    cond.if_none_match = "\"3e8-1\"";
    CHECK(plan_file_response(cond, file, 16, "B").code == status::not_modified);
    cond = {};
    cond.if_match = "\"other\"";
    CHECK(plan_file_response(cond, file, 16, "B").code == status::precondition_failed);
    CHECK(plan_file_response(with_range("bytes=5000-"), file, 16, "B").code ==
          status::range_not_satisfiable);
}

TEST_CASE("plan_file_response: If-Range decides whether Range applies") {
    auto req = with_range("bytes=0-9");
    req.if_range = "\"3e8-1\"";
    CHECK(plan_file_response(req, file, 16, "B").code == status::partial_content);
    req.if_range = "W/\"3e8-1\"";
    CHECK(plan_file_response(req, file, 16, "B").code == status::ok);
    req.if_range = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(plan_file_response(req, file, 16, "B").code == status::partial_content);
    req.if_range = "Sun, 06 Nov 1994 08:49:38 GMT";
    CHECK(plan_file_response(req, file, 16, "B").code == status::ok);
}

TEST_CASE("plan_file_response: a precondition is evaluated before Range") {
    auto req = with_range("bytes=0-9");
    req.if_none_match = "*";
    CHECK(plan_file_response(req, file, 16, "B").code == status::not_modified);
}

TEST_CASE("write_file_head: 206 and 304 heads") {
    response_head h;
    auto single = plan_file_response(with_range("bytes=10-19"), file, 16, "B");
    write_file_head(h, single, file, "D", true, 11);
    auto text = std::string(h.bytes());
    CHECK(text.find("HTTP/1.1 206 Partial Content\r\n") == 0);
    CHECK(text.find("Content-Range: bytes 10-19/1000\r\n") != std::string::npos);
    CHECK(text.find("Content-Length: 10\r\n") != std::string::npos);

    auto multi = plan_file_response(with_range("bytes=0-1,5-6"), file, 16, "QQ");
    write_file_head(h, multi, file, "D", true, 11);
    text = h.bytes();
    CHECK(text.find("Content-Type: multipart/byteranges; boundary=QQ\r\n") != std::string::npos);
    CHECK(text.find("Content-Range") == std::string::npos);

    request_head cond;
    cond.if_none_match = "*";
    write_file_head(h, plan_file_response(cond, file, 16, "B"), file, "D", true, 11);
    text = h.bytes();
    CHECK(text.find("HTTP/1.1 304 Not Modified\r\n") == 0);
    CHECK(text.find("ETag: \"3e8-1\"\r\n") != std::string::npos);
    CHECK(text.find("Last-Modified: ") != std::string::npos);
    CHECK(text.find("Content-Type") == std::string::npos);
    CHECK(text.find("Content-Length") == std::string::npos);
}

TEST_CASE("multipart boundaries are 20 hex digits and differ each time") {
    spliced::http::boundary_generator g;
    const auto a = g.next(), b = g.next();
    CHECK(a.size() == 20);
    CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(a != b);
}
