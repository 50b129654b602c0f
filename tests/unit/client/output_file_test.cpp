#include "spliced/client/output_file.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace spliced::client;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        char name[] = "/tmp/spliced-output-test-XXXXXX";
        path = ::mkdtemp(name);
    }
    ~temp_dir() { fs::remove_all(path); }
    std::string file(const char* name) const { return (path / name).string(); }
};

std::string contents(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

TEST_CASE("output_file: FILE appears only on commit, whole") {
    temp_dir dir;
    auto out = output_file::open(dir.file("f.bin"), false);
    REQUIRE(out.has_value());
    REQUIRE(out->reserve(5).has_value());
    CHECK(out->length().value() == 5);
    REQUIRE(::pwrite(out->fd(), "hello", 5, 0) == 5);
    std::ofstream(dir.path / "f.bin.part.state") << "state\n";
    CHECK_FALSE(fs::exists(dir.path / "f.bin"));
    REQUIRE(out->commit().has_value());
    CHECK(contents(dir.path / "f.bin") == "hello");
    CHECK_FALSE(fs::exists(dir.path / "f.bin.part"));
    CHECK_FALSE(fs::exists(dir.path / "f.bin.part.state"));
}

TEST_CASE("output_file: an existing FILE is kept unless replacing is asked for") {
    temp_dir dir;
    std::ofstream(dir.path / "f.bin") << "old";
    CHECK(output_file::open(dir.file("f.bin"), false).error() == std::errc::file_exists);
    CHECK_FALSE(fs::exists(dir.path / "f.bin.part"));
    auto out = output_file::open(dir.file("f.bin"), true);
    REQUIRE(out.has_value());
    REQUIRE(::pwrite(out->fd(), "new", 3, 0) == 3);
    // FILE appearing while downloading is not overwritten by a run that did not ask to replace.
    auto racing = output_file::open(dir.file("g.bin"), false);
    REQUIRE(racing.has_value());
    std::ofstream(dir.path / "g.bin") << "someone else's";
    CHECK(racing->commit().error() == std::errc::file_exists);
    CHECK(contents(dir.path / "g.bin") == "someone else's");
    REQUIRE(out->commit().has_value());
    CHECK(contents(dir.path / "f.bin") == "new");
    CHECK(output_file::open(dir.file(""), false).error() == std::errc::is_a_directory);
    CHECK(output_file::open(dir.path.string(), true).error() == std::errc::is_a_directory);
}

TEST_CASE("output_file: a second process on the same output is refused as locked") {
    temp_dir dir;
    auto first = output_file::open(dir.file("f.bin"), false);
    REQUIRE(first.has_value());
    pid_t child = ::fork();
    if (child == 0) {
        auto second = output_file::open(dir.file("f.bin"), false);
        ::_exit(!second && second.error() == std::errc::operation_would_block ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    first->discard();
    CHECK_FALSE(fs::exists(dir.path / "f.bin.part"));
}
