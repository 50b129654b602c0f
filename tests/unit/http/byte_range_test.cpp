// Cases ported from Go's net/http fs_test.go (ServeFileRangeTests), nginx-tests range.t and
// lighttpd's test_http_range.c; where spliced's policy differs (README "Ranges"), the policy is
// what is tested.
#include "spliced/http/byte_range.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace spliced::http;

namespace {

struct row {
    std::string header;
    std::uint64_t size;
    range_decision decision;
    std::vector<byte_range> ranges;
};

const char* name(range_decision d) {
    switch (d) {
    case range_decision::whole:
        return "whole";
    case range_decision::partial:
        return "partial";
    case range_decision::unsatisfiable:
        return "unsatisfiable";
    }
    return "?";
}

} // namespace

TEST_CASE("plan_ranges: the table") {
    using enum range_decision;
    const std::uint64_t k = 1000;
    const std::string many = [] {
        std::string h = "bytes=";
        for (int i = 0; i < 17; ++i)
            h += std::to_string(i * 10) + "-" + std::to_string(i * 10 + 1) + ",";
        return h;
    }();
    const std::string sixteen = [] {
        std::string h = "bytes=";
        for (int i = 0; i < 16; ++i)
            h += std::to_string(i * 10) + "-" + std::to_string(i * 10 + 1) + ",";
        return h;
    }();
    const row rows[] = {
        // single ranges (Go: ServeFileRangeTests)
        {"bytes=0-4", k, partial, {{0, 4}}},
        {"bytes=2-", k, partial, {{2, 999}}},
        {"bytes=-5", k, partial, {{995, 999}}},
        {"bytes=3-7", k, partial, {{3, 7}}},
        {"bytes=0-", k, partial, {{0, 999}}},
        {"bytes=0-999", k, partial, {{0, 999}}},
        {"bytes=5-1000", k, partial, {{5, 999}}}, // last-pos past the end is clipped
        {"bytes=990-5000", k, partial, {{990, 999}}},
        {"bytes=-12345", k, partial, {{0, 999}}}, // suffix longer than the file
        {"bytes=999-999", k, partial, {{999, 999}}},
        // several ranges
        {"bytes=0-0,-2", k, partial, {{0, 0}, {998, 999}}},
        {"bytes=0-1,5-8", k, partial, {{0, 1}, {5, 8}}},
        {"bytes=0-1,5-", k, partial, {{0, 1}, {5, 999}}},
        {"bytes=5-8,0-1", k, partial, {{0, 1}, {5, 8}}},  // sorted
        {"bytes=0-5,3-9", k, partial, {{0, 9}}},          // overlapping: merged
        {"bytes=0-1,2-3", k, partial, {{0, 3}}},          // adjacent: merged
        {"bytes=0-1, 3-4", k, partial, {{0, 1}, {3, 4}}}, // OWS after the comma
        {"bytes=,0-1,,", k, partial, {{0, 1}}},           // empty list elements
        {"bytes=0-1,2000-3000", k, partial, {{0, 1}}},    // unsatisfiable specs dropped
        {sixteen, k, partial, {}},                        // 16 ranges: allowed (checked below)
        // unit and syntax (ignored: whole file)
        {"Bytes=0-1", k, partial, {{0, 1}}},
        {"items=0-1", k, whole, {}},
        {"bytes=", k, whole, {}},
        {"bytes=-", k, whole, {}},
        {"bytes=1-0", k, whole, {}}, // last < first makes the field invalid
        {"bytes=a-b", k, whole, {}},
        {"bytes=1-2-3", k, whole, {}},
        {"bytes 0-1", k, whole, {}},
        {"bytes=0-1,x", k, whole, {}},
        {"bytes=--1", k, whole, {}},
        {"bytes=+1-2", k, whole, {}},
        // abuse limits
        {many, k, whole, {}},                   // more than max_ranges
        {"bytes=0-,1-,2-,3-,4-", k, whole, {}}, // adds up to more than the file
        {"bytes=0-999,0-999", k, whole, {}},
        // unsatisfiable: 416
        {"bytes=1000-", k, unsatisfiable, {}},
        {"bytes=12345-", k, unsatisfiable, {}},
        {"bytes=-0", k, unsatisfiable, {}},
        {"bytes=1000-2000,3000-", k, unsatisfiable, {}},
        // 64-bit edges
        {"bytes=0-18446744073709551615", k, partial, {{0, 999}}},
        {"bytes=0-99999999999999999999999", k, partial, {{0, 999}}},
        {"bytes=18446744073709551616-", k, unsatisfiable, {}}, // first-pos overflows
        {"bytes=18446744073709551615-", k, unsatisfiable, {}},
        {"bytes=-18446744073709551616", k, partial, {{0, 999}}},
        {"bytes=4294967296-4294967306", 5ull << 30, partial, {{4294967296, 4294967306}}},
        {"bytes=-10", 5ull << 30, partial, {{(5ull << 30) - 10, (5ull << 30) - 1}}},
        // empty file: a range is ignored (200, empty body)
        {"bytes=0-", 0, whole, {}},
        {"bytes=-1", 0, whole, {}},
    };
    for (const auto& r : rows) {
        CAPTURE(r.header);
        CAPTURE(r.size);
        auto plan = plan_ranges(r.header, r.size, 16);
        CHECK(std::string(name(plan.decision)) == name(r.decision));
        if (r.header == sixteen) {
            CHECK(plan.ranges.size() == 16);
            continue;
        }
        CHECK(plan.ranges == r.ranges);
    }
}

TEST_CASE("plan_ranges: a 1,300-range header is refused after the limit, not parsed to the end") {
    std::string h = "bytes=";
    for (int i = 0; i < 1300; ++i)
        h += std::to_string(i) + "-" + std::to_string(i) + ",";
    h += "garbage"; // never reached: the limit answers first
    auto plan = plan_ranges(h, 100000, 16);
    CHECK(plan.decision == range_decision::whole);
}

TEST_CASE("parse_content_range: strict") {
    using cr = parsed_content_range;
    CHECK(parse_content_range("bytes 0-9/100") == cr{byte_range{0, 9}, 100});
    CHECK(parse_content_range("BYTES 99-99/100") == cr{byte_range{99, 99}, 100});
    CHECK(parse_content_range("bytes 0-9/*") == cr{byte_range{0, 9}, std::nullopt});
    CHECK(parse_content_range("bytes */100") == cr{std::nullopt, 100});
    for (const char* bad : {"bytes 0-100/100", "bytes 9-0/100", "bytes */*", "items 0-9/100",
                            "bytes 0-9", "bytes -9/100", "bytes 0-/100", "bytes 0-9/1x0",
                            "bytes 0-99999999999999999999/*", "bytes0-9/100", ""}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_content_range(bad));
    }
}
