#include "spliced/fs/root.hpp"

#include <cstdio>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using spliced::fs::hidden_below;
using spliced::fs::real_path;

TEST_CASE("a path is hidden below the root through a segment beginning with '.'") {
    CHECK(hidden_below("/srv", "/srv/.env"));
    CHECK(hidden_below("/srv", "/srv/a/.git/config"));
    CHECK(hidden_below("/srv/", "/srv/.env"));
    CHECK(hidden_below("/srv", "/srv/.well-known/.private"));
    CHECK(hidden_below("/srv", "/srv/a/.well-known/x")); // only the root's own is exempt
    CHECK(hidden_below("/", "/.env"));
    CHECK_FALSE(hidden_below("/srv", "/srv/a.txt"));
    CHECK_FALSE(hidden_below("/srv", "/srv/a.b/c.d"));
    CHECK_FALSE(hidden_below("/srv", "/srv/.well-known/security.txt"));
    CHECK_FALSE(hidden_below("/home/u/.www", "/home/u/.www/a.txt")); // above the root: not ours
    CHECK_FALSE(hidden_below("/srv", "/srvx/.env"));                 // not below the root
    CHECK_FALSE(hidden_below("/srv", "/srv"));
    CHECK_FALSE(hidden_below("/srv", ""));
}

TEST_CASE("real_path names where a descriptor is, symlinks resolved") {
    char dir[] = "/tmp/spliced-root-test-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    std::string file = std::string(dir) + "/.env", link = std::string(dir) + "/innocent";
    int w = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(w >= 0);
    ::close(w);
    REQUIRE(::symlink(".env", link.c_str()) == 0);
    int fd = ::open(link.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(real_path(fd) == file);
    CHECK(hidden_below(dir, real_path(fd)));
    ::close(fd);
    CHECK(real_path(-1).empty());
    ::unlink(link.c_str());
    ::unlink(file.c_str());
    ::rmdir(dir);
}
