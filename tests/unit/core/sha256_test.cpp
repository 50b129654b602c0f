#include "spliced/core/sha256.hpp"
#include "spliced/http/repr_digest.hpp"

#include <cstdlib>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace spliced;

TEST_CASE("sha256: known answers, whole and from a file range") {
    sha256 empty;
    CHECK(spliced::http::to_hex(empty.finish()) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char name[] = "/tmp/spliced-sha256-test-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::unlink(name);
    REQUIRE(::write(fd, "xxabcxx", 7) == 7);
    sha256 h;
    REQUIRE(hash_file_range(h, fd, 2, 5).has_value());
    CHECK(h.bytes() == 3);
    CHECK(spliced::http::to_hex(h.finish()) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256 past_end;
    CHECK(hash_file_range(past_end, fd, 0, 100).error() == std::errc::io_error);
    ::close(fd);
}
