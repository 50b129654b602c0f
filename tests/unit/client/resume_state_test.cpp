#include "spliced/client/resume_state.hpp"

#include <cstdlib>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace spliced::client;
using spliced::http::byte_range;

namespace {

resume_state sample() {
    return {"http://127.0.0.1:8080/a/b.iso", 1000, "\"6a1f-3e8\"",
            "Tue, 01 Dec 2026 10:00:00 GMT", 256,  {{0, 99}, {200, 599}, {990, 999}}};
}

struct temp_dir {
    std::filesystem::path path;
    int fd;
    temp_dir() {
        char name[] = "/tmp/spliced-state-test-XXXXXX";
        path = ::mkdtemp(name);
        fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    ~temp_dir() {
        ::close(fd);
        std::filesystem::remove_all(path);
    }
};

} // namespace

TEST_CASE("resume_state: the text form round-trips") {
    auto text = to_text(sample());
    REQUIRE(text.has_value());
    auto back = parse_resume_state(*text);
    REQUIRE(back.has_value());
    CHECK(*back == sample());
}

TEST_CASE("resume_state: a damaged or foreign file is refused whole") {
    const std::string good = *to_text(sample());
    auto replace = [&](std::string from, std::string to) {
        std::string s = good;
        s.replace(s.find(from), from.size(), to);
        return s;
    };
    const std::string cases[] = {
        replace("spliced-get-state 1", "spliced-get-state 2"),
        replace("present 200-599", "present 50-599"),   // overlaps 0-99
        replace("present 200-599", "present 100-599"),  // adjacent: never written so
        replace("present 990-999", "present 990-1000"), // past the end
        replace("present 990-999\n", "present 990-999\npresent 1-2\n"), // out of order
        replace("present 200-599", "present 599-200"),
        replace("size 1000", "size 1e3"),
        replace("size 1000\n", ""),
        replace("piece-size 256", "piece-size 0"),
        replace("etag ", "etag2 "),
        replace("size 1000\n", "size 1000\nsize 1000\n"),
        good.substr(0, good.size() - 1), // torn last line
        "",
    };
    for (const auto& text : cases) {
        CAPTURE(text);
        CHECK(parse_resume_state(text).error() == std::errc::invalid_argument);
    }
    auto injected = sample();
    injected.etag = "\"a\"\npresent 0-999";
    CHECK(to_text(injected).error() == std::errc::invalid_argument);
}

TEST_CASE("resume_state: saved durably, replaced by rename, absent means none") {
    temp_dir dir;
    auto none = load_resume_state(dir.fd, "f.part.state");
    REQUIRE(none.has_value());
    CHECK_FALSE(none->has_value());

    int part = ::openat(dir.fd, "f.part", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(part >= 0);
    auto first = sample();
    REQUIRE(save_resume_state(part, dir.fd, "f.part.state", first).has_value());
    auto second = first;
    second.present = {{0, 999}};
    REQUIRE(save_resume_state(part, dir.fd, "f.part.state", second).has_value());
    auto loaded = load_resume_state(dir.fd, "f.part.state");
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->has_value());
    CHECK(**loaded == second);
    CHECK_FALSE(std::filesystem::exists(dir.path / "f.part.state.tmp"));

    // A save that cannot sync the data claims nothing: the old state stays.
    CHECK(save_resume_state(-1, dir.fd, "f.part.state", first).error() ==
          std::errc::bad_file_descriptor);
    CHECK(**load_resume_state(dir.fd, "f.part.state") == second);
    ::close(part);

    std::ofstream(dir.path / "f.part.state") << "garbage\n";
    CHECK(load_resume_state(dir.fd, "f.part.state").error() == std::errc::invalid_argument);
}
