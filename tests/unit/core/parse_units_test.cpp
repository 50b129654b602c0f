#include "spliced/core/duration.hpp"
#include "spliced/core/size.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;

TEST_CASE("parse_duration accepts unit suffixes and refuses everything else") {
    struct row {
        const char* text;
        std::optional<std::chrono::milliseconds> want;
    };
    const row rows[] = {
        {"500ms", 500ms},
        {"5s", 5000ms},
        {"2m", 120000ms},
        {"1h", 3600000ms},
        {"7", 7000ms},
        {"0ms", 0ms},
        {"", std::nullopt},
        {"s", std::nullopt},
        {"5x", std::nullopt},
        {"-5s", std::nullopt},
        {"5 s", std::nullopt},
        {"1.5s", std::nullopt},
        {"99999999999999999999h", std::nullopt},
        {"9999999999999999h", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        CHECK(spliced::parse_duration(r.text) == r.want);
    }
}

TEST_CASE("parse_size accepts binary multiples") {
    struct row {
        const char* text;
        std::optional<std::uint64_t> want;
    };
    const row rows[] = {
        {"4096", 4096},        {"64k", 65536},      {"1M", 1048576},
        {"2G", 2147483648ull}, {"1MiB", 1048576},   {"", std::nullopt},
        {"1T", std::nullopt},  {"k", std::nullopt}, {"18446744073709551615G", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        CHECK(spliced::parse_size(r.text) == r.want);
    }
}
